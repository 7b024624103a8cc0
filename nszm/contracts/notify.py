"""The notify service's RPC contract: the queue of mail it delivers, as staff see it."""
from marshmallow import Schema, fields, validate

from nszm.contracts.common import PageQuerySchema, aware, page_schema, text

SERVICE = "notify"
MAIL_STATUSES = ("pending", "sent", "failed")


class MailSchema(Schema):
    id = fields.String(required=True, metadata={"description": "the id of the event that caused the mail"})
    kind = fields.String(required=True, metadata={"description": "that event's type"})
    to = fields.String(required=True)
    subject = fields.String(required=True)
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
