"""The notify service's RPC contract: the mail queue, mailouts, the newsletter and unsubscribing."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from nszm.contracts.common import EmailAddress, PageQuerySchema, aware, cross_field_rules, flag, page_schema, text
from nszm.contracts.events import REGISTRATION_STATUSES
from nszm.contracts.members import CONTACT_ROLES, MEMBER_TYPES, REGIONS
from nszm.contracts.privacy import ConsentSchema, consent_input

SERVICE = "notify"
MAIL_STATUSES = ("pending", "sent", "failed", "bounced", "suppressed")
SUPPRESSION_REASONS = {
    "bounced": "adresa neexistuje nebo zprávy trvale odmítá",
    "soft_bounced": "opakované dočasné chyby doručení",
    "complained": "příjemce označil zprávu za spam",
    "unsubscribed": "odhlásil/a se z hromadných e-mailů",
    "erased": "osobní údaje vymazány na žádost",
}


class BounceSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(["hard", "soft", "complaint"]))
    source = fields.String(required=True, metadata={"description": "mailbox, webhook or send (refused by the "
                                                                   "server while sending)"})
    at = aware(required=True)
    status = fields.String(allow_none=True)
    diagnostic = fields.String(allow_none=True)


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
    bounce = fields.Nested(BounceSchema, allow_none=True)


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
RECIPIENT_STATUSES = ("queued", "sent", "bounced", "failed", "skipped")
PARTICIPANT_STATUSES = (*REGISTRATION_STATUSES, "attended")
BODY_FORMATS = ("markdown", "text")


class MembersAudienceSchema(Schema):
    """Contacts of active members in these roles (default: the Healthy City coordinators); no type
    or region means every member."""

    type = fields.List(fields.String(validate=validate.OneOf(list(MEMBER_TYPES))), load_default=list,
                       validate=validate.Length(max=len(MEMBER_TYPES)))
    region = fields.List(fields.String(validate=validate.OneOf(REGIONS)), load_default=list,
                         validate=validate.Length(max=len(REGIONS)))
    roles = fields.List(fields.String(validate=validate.OneOf(list(CONTACT_ROLES))),
                        load_default=lambda: ["coordinator"], validate=validate.Length(min=1, max=len(CONTACT_ROLES)),
                        metadata={"description": "contact roles: coordinator, politician, other"})


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
    bounced = fields.Integer(required=True, metadata={"description": "of those sent, how many came back"})
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
    organization = fields.String(allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(RECIPIENT_STATUSES))
    skip_reason = fields.String(allow_none=True, metadata={"description": "why it was skipped: the suppression "
                                                                         "list's reason"})
    attempts = fields.Integer(required=True)
    last_error = fields.String(allow_none=True)
    sent_at = aware(allow_none=True)
    bounce = fields.Nested(BounceSchema, allow_none=True)


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


class SubscriberSourceSchema(Schema):
    name = fields.String(required=True, metadata={"description": "the list the address was imported from"})
    imported_at = aware(required=True)


class PersonalSubscriptionSchema(Schema):
    email = fields.String(required=True)
    name = fields.String(allow_none=True)
    status = fields.String(required=True)
    created_at = aware(required=True)
    confirmed_at = aware(allow_none=True)
    consent = fields.Nested(ConsentSchema, allow_none=True)
    source = fields.Nested(SubscriberSourceSchema, allow_none=True, metadata={
        "description": "where the address came from, if it was imported (none: the person subscribed)"})


# -- the suppression list and bounces --------------------------------------------------------

class SuppressionSchema(Schema):
    """An entry of the suppression list: the address gets no bulk mail, and if it is undeliverable
    (bounced, soft_bounced, complained) none of the platform's other mail unless asked for."""

    reason = fields.String(required=True, validate=validate.OneOf(list(SUPPRESSION_REASONS)))
    at = aware(required=True)
    email = fields.String(allow_none=True, metadata={
        "description": "kept for undeliverable addresses only; an unsubscribed or erased person is kept as "
                       "the keyed hash of their address"})
    detail = fields.String(allow_none=True, metadata={"description": "the server's words, for a bounce"})
    person = fields.String(metadata={"description": "the keyed hash of the address"})
    lifted = fields.Boolean()


class SuppressionQuerySchema(PageQuerySchema):
    reason = fields.String(validate=validate.OneOf(list(SUPPRESSION_REASONS)))
    q = text(254, metadata={"description": "part of an address, or a whole address (also finds unsubscribed "
                                           "people, who are kept by the address's keyed hash only)"})


SuppressionPageSchema = page_schema(SuppressionSchema, "SuppressionPage")


class AddressListSchema(Schema):
    emails = fields.List(EmailAddress(), required=True, validate=validate.Length(max=200))


class LiftSchema(Schema):
    email = EmailAddress(required=True)


BOUNCE_TYPES = ("hard", "soft")
RAW_MESSAGE_LIMIT = 2_000_000  # characters of a bounce as it came back


@cross_field_rules(anyOf=[{"required": ["message"]}, {"required": ["type", "email"]}])
class BounceInputSchema(Schema):
    """A bounce or complaint as a mail provider's webhook tells it: the message that came back
    (`message`), or what the provider says of it."""

    # Read, never shown: any characters a mail system wrote (ISO-2022 escapes, say) may be in it.
    message = fields.String(validate=validate.Length(min=1, max=RAW_MESSAGE_LIMIT), metadata={
        "description": "the bounce or complaint (RFC 3464 / RFC 5965) as it came back, headers and body"})
    type = fields.String(validate=validate.OneOf(["bounce", "complaint"]))
    email = EmailAddress(metadata={"description": "the recipient that bounced or complained"})
    bounce_type = fields.String(validate=validate.OneOf(BOUNCE_TYPES),
                                metadata={"description": "unset: by `status` (4.x.x soft, 5.x.x hard)"})
    status = fields.String(validate=validate.Regexp(r"^[245]\.\d{1,3}\.\d{1,3}$"),
                           metadata={"description": "the enhanced status code (RFC 3463), e.g. 5.1.1"})
    diagnostic = text(1000)
    message_id = text(998, metadata={"description": "the Message-ID of the message that bounced"})
    token = fields.String(validate=validate.Regexp(r"^[0-9a-f]{20}$"),
                          metadata={"description": "the bounce token of its return path (bounces+TOKEN@…)"})
    id = text(200, metadata={"description": "the provider's id of this event: the same event twice counts once"})

    @validates_schema
    def one_form(self, data, **kwargs):
        if data.get("message"):
            return
        if not data.get("type"):
            raise ValidationError("Give the message that came back, or its type and email.", "type")
        if not data.get("email"):
            raise ValidationError("Give the address that bounced or complained.", "email")


class BounceOutcomeSchema(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(["recorded", "duplicate", "ignored", "unmatched"]),
                            metadata={"description": "recorded; duplicate (seen before); ignored (no bounce: an "
                                                     "auto-reply, a delay); unmatched (names no message of ours)"})
