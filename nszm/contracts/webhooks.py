"""Webhooks (served by notify): HTTP endpoints that receive the platform's public events as JSON,
signed per the Standard Webhooks spec, and the log of each delivery."""
from marshmallow import Schema, fields, validate

from nszm.contracts.bus import PUBLIC_EVENTS
from nszm.contracts.common import PageQuerySchema, aware, page_schema, text

WEBHOOK_EVENT_TYPES = tuple(spec.name for spec in PUBLIC_EVENTS)
DELIVERY_STATUSES = ("pending", "delivered", "failed")


class WebhookInputSchema(Schema):
    url = fields.Url(required=True, schemes={"http", "https"}, require_tld=False,
                     validate=validate.Length(min=len("http://x"), max=2000),
                     metadata={"description": "http(s); private and loopback addresses are refused", "format": "uri",
                               "pattern": "^https?://[^/?#\\s]+"})
    events = fields.List(fields.String(validate=validate.OneOf(WEBHOOK_EVENT_TYPES)), required=True,
                         validate=validate.Length(min=1, max=len(WEBHOOK_EVENT_TYPES)),
                         metadata={"description": "the event types to receive"})
    description = text(200, allow_none=True)


class WebhookSchema(Schema):
    id = fields.String(required=True)
    url = fields.String(required=True)
    events = fields.List(fields.String(), required=True)
    description = fields.String(allow_none=True)
    enabled = fields.Boolean(required=True, metadata={"description": "false after a day of failed deliveries"})
    created_at = aware(required=True)
    failing_since = aware(allow_none=True, metadata={"description": "first failure since the last success"})
    disabled_at = aware(allow_none=True)


class WebhookCreatedSchema(WebhookSchema):
    secret = fields.String(required=True, metadata={
        "description": "`whsec_` + base64 key of the signatures; shown only in this answer"})


class WebhookQuerySchema(PageQuerySchema):
    pass


WebhookPageSchema = page_schema(WebhookSchema, "WebhookPage")


class DeliverySchema(Schema):
    id = fields.String(required=True)
    event_id = fields.String(required=True)
    event_type = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(DELIVERY_STATUSES))
    attempts = fields.Integer(required=True)
    last_status = fields.Integer(allow_none=True, metadata={"description": "the HTTP status of the last try"})
    last_error = fields.String(allow_none=True)
    created_at = aware(required=True)
    next_attempt_at = aware(allow_none=True)
    delivered_at = aware(allow_none=True)


class DeliveryQuerySchema(PageQuerySchema):
    status = fields.String(validate=validate.OneOf(DELIVERY_STATUSES))


DeliveryPageSchema = page_schema(DeliverySchema, "DeliveryPage")
