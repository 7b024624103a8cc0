"""The notify service's RPC contract: the mail queue, mailouts, the newsletter and unsubscribing."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from nszm.contracts.common import EmailAddress, PageQuerySchema, aware, cross_field_rules, flag, page_schema, text
from nszm.contracts.events import REGISTRATION_STATUSES
from nszm.contracts.members import MEMBER_TYPES, REGIONS
from nszm.contracts.privacy import ConsentSchema, consent_input

SERVICE = "notify"
MAIL_STATUSES = ("pending", "sent", "failed")


class MailSchema(Schema):
    id = fields.String(required=True, metadata={"description": "the id of the event that caused the mail"})
    kind = fields.String(required=True, metadata={"description": "that event's type"})
    to = fields.String(required=True)
    subject = fields.String(allow_none=True, metadata={"description": "none once the recipient's data is erased"})
    status = fields.String(required=True, validate=validate.OneOf(MAIL_STATUSES))
    attempts = fields.Integer(required=True)
    last_error = fields.String(allow_none=True)
    created_at = aware(required=True)
    sent_at = aware(allow_none=True)
    next_attempt_at = aware(allow_none=True)


class MailQuerySchema(PageQuerySchema):
    status = fields.String(validate=validate.OneOf(MAIL_STATUSES))
    to = text(254, metadata={"description": "recipient address"})


MailPageSchema = page_schema(MailSchema, "MailPage")


# -- mailouts -----------------------------------------------------------------------------

class MailingContactSchema(Schema):
    """One person an audience names, as the service that knows them answers: members, events."""

    email = fields.String(required=True)
    name = fields.String(allow_none=True)
    organization = fields.String(allow_none=True)


MAILOUT_STATUSES = ("draft", "scheduled", "sending", "paused", "sent", "cancelled", "failed")
RECIPIENT_STATUSES = ("queued", "sent", "failed", "skipped")
PARTICIPANT_STATUSES = (*REGISTRATION_STATUSES, "attended")
BODY_FORMATS = ("markdown", "text")


class MembersAudienceSchema(Schema):
    """Healthy City coordinators of active members; no filter means every member."""

    type = fields.List(fields.String(validate=validate.OneOf(list(MEMBER_TYPES))), load_default=list,
                       validate=validate.Length(max=len(MEMBER_TYPES)))
    region = fields.List(fields.String(validate=validate.OneOf(REGIONS)), load_default=list,
                         validate=validate.Length(max=len(REGIONS)))


class EventAudienceSchema(Schema):
    id = text(120, required=True)
    status = fields.List(fields.String(validate=validate.OneOf(PARTICIPANT_STATUSES)),
                         load_default=lambda: ["confirmed"], validate=validate.Length(min=1, max=4),
                         metadata={"description": "registration statuses; `attended` = checked in"})


@cross_field_rules(anyOf=[{"required": ["members"]}, {"required": ["event"]},
                          {"required": ["newsletter"], "properties": {"newsletter": {"enum": [True]}}}])
class AudienceSchema(Schema):
    """Who gets a mailout; several keys are a union, de-duplicated by address."""

    members = fields.Nested(MembersAudienceSchema)
    event = fields.Nested(EventAudienceSchema)
    newsletter = flag(metadata={"description": "confirmed newsletter subscribers"})

    @validates_schema
    def not_empty(self, data, **kwargs):
        if not (data.get("members") is not None or data.get("event") or data.get("newsletter")):
            raise ValidationError("Name at least one audience: members, event or newsletter.", "_schema")


class MailoutInputSchema(Schema):
    subject = text(300, required=True, metadata={"description": "a Jinja2 template, like the body"})
    body = text(100_000, required=True, metadata={
        "description": "a Jinja2 template (Markdown allowed) with {{ name }}, {{ organization }}, {{ email }} "
                       "and {{ unsubscribe_url }}"})
    format = fields.String(load_default="markdown", validate=validate.OneOf(BODY_FORMATS),
                           metadata={"description": "markdown: plain text and HTML; text: plain text only"})
    audience = fields.Nested(AudienceSchema, required=True)


class AudienceCountSchema(Schema):
    recipients = fields.Integer(required=True, metadata={"description": "distinct addresses that will get it"})
    held = fields.Integer(required=True, metadata={
        "description": "addresses skipped because they get no bulk mail (unsubscribed, or refused by their server)"})


class MailoutSchema(Schema):
    id = fields.String(required=True)
    subject = fields.String(required=True)
    body = fields.String(required=True)
    format = fields.String(required=True)
    audience = fields.Nested(AudienceSchema, required=True)
    status = fields.String(required=True, validate=validate.OneOf(MAILOUT_STATUSES))
    recipients = fields.Integer(required=True, metadata={"description": "the audience's size (frozen once sending)"})
    total = fields.Integer(required=True)
    sent = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    skipped = fields.Integer(required=True)
    queued = fields.Integer(required=True)
    created_at = aware(required=True)
    scheduled_at = aware(allow_none=True)
    started_at = aware(allow_none=True)
    finished_at = aware(allow_none=True)


class MailoutQuerySchema(PageQuerySchema):
    status = fields.String(validate=validate.OneOf(MAILOUT_STATUSES))


MailoutPageSchema = page_schema(MailoutSchema, "MailoutPage")


class SendSchema(Schema):
    at = aware(metadata={"description": "send at this time instead of now"})


class TestSendSchema(Schema):
    email = EmailAddress(required=True)


class PreviewQuerySchema(Schema):
    email = EmailAddress(required=True, metadata={"description": "a recipient of the mailout"})


class PreviewSchema(Schema):
    to = fields.String(required=True)
    subject = fields.String(required=True)
    text = fields.String(required=True)
    html = fields.String(allow_none=True)
    headers = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class RecipientSchema(Schema):
    email = fields.String(required=True)
    name = fields.String(allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(RECIPIENT_STATUSES))
    attempts = fields.Integer(required=True)
    last_error = fields.String(allow_none=True)
    sent_at = aware(allow_none=True)


class RecipientQuerySchema(PageQuerySchema):
    status = fields.String(validate=validate.OneOf(RECIPIENT_STATUSES))


RecipientPageSchema = page_schema(RecipientSchema, "RecipientPage")


# -- newsletter and unsubscribing ---------------------------------------------------------

class SubscriptionInputSchema(Schema):
    email = EmailAddress(required=True)
    name = text(200)
    consent = fields.Nested(consent_input("newsletter"), metadata={
        "description": "the consent text the form showed; recorded as given when the link is confirmed"})


class SubscriptionReceiptSchema(Schema):
    status = fields.String(required=True, metadata={"description": "always `confirmation_sent`"})


class LinkTokenQuerySchema(Schema):
    token = fields.String(validate=validate.Length(max=500))


class UnsubscribeResultSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["unsubscribed"]))


class SubscriptionResultSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["subscribed"]))


# -- a person's data export ----------------------------------------------------------------

class PersonalMailSchema(Schema):
    id = fields.String(required=True)
    kind = fields.String(required=True)
    subject = fields.String(allow_none=True)
    status = fields.String(required=True)
    created_at = aware(required=True)
    sent_at = aware(allow_none=True)


class PersonalMailoutSchema(Schema):
    mailout_id = fields.String(required=True)
    subject = fields.String(allow_none=True)
    email = fields.String(required=True)
    name = fields.String(allow_none=True)
    organization = fields.String(allow_none=True)
    status = fields.String(required=True)
    sent_at = aware(allow_none=True)


class PersonalSubscriptionSchema(Schema):
    email = fields.String(required=True)
    name = fields.String(allow_none=True)
    status = fields.String(required=True)
    created_at = aware(required=True)
    confirmed_at = aware(allow_none=True)
    consent = fields.Nested(ConsentSchema, allow_none=True)


class SuppressionSchema(Schema):
    reason = fields.String(required=True, metadata={"description": "unsubscribed, refused (by the server) or erased"})
    at = aware(required=True)
