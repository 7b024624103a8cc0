"""The audit log's contract: the entries every service keeps of its staff actions."""
from marshmallow import Schema, fields, validate

from nszm.contracts.common import PageQuerySchema, page_schema, text


class AuditQuerySchema(PageQuerySchema):
    actor = text(200, metadata={"description": "the staff token's name"})
    action = text(100, metadata={"description": "e.g. approve_application, send_mailout, issue_token"})


class AuditEntrySchema(Schema):
    id = fields.String(required=True)
    at = fields.AwareDateTime(required=True)
    actor = fields.String(required=True, metadata={"description": "who: the staff token's name"})
    token = fields.String(allow_none=True, metadata={"description": "the id of the token used"})
    service = fields.String(required=True)
    action = fields.String(required=True)
    target = fields.String(allow_none=True, metadata={"description": "the id or slug acted on"})
    status = fields.String(required=True, validate=validate.OneOf(["started", "done", "refused", "failed", "read"]),
                           metadata={"description": "done, refused or failed: an action's outcome; read: personal "
                                                    "data was read; started: an entry of an older version whose "
                                                    "outcome was not recorded"})
    error = fields.String(metadata={"description": "why it was refused or failed"})
    intact = fields.Boolean(metadata={"description": "false when the entry was changed after it was written "
                                                     "(its seal does not match)"})


class AuditSliceSchema(Schema):
    """One source's newest entries, for the gateway to merge."""

    items = fields.List(fields.Nested(AuditEntrySchema), required=True)
    total = fields.Integer(required=True)


AuditPageSchema = page_schema(AuditEntrySchema, "AuditPage")
