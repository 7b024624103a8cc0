"""Bus events: their names, sources, versions and payload schemas, and the envelope.

Every event travels as a nameko event (topic exchange `<source>.events`, routing key = the
event name) whose payload is the envelope `{event_id, event_type, source, occurred_at,
schema_version, data}`, so that subscribers not written with nameko can read it too.
"""
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from marshmallow import Schema, ValidationError, fields

from nszm.contracts import members


@dataclass(frozen=True)
class EventSpec:
    source: str
    name: str
    data_schema: type[Schema]
    summary: str
    schema_version: int = 1

    @property
    def exchange(self) -> str:
        return f"{self.source}.events"


class EnvelopeSchema(Schema):
    event_id = fields.String(required=True)
    event_type = fields.String(required=True)
    source = fields.String(required=True)
    occurred_at = fields.DateTime(required=True, format="iso")
    schema_version = fields.Integer(required=True)
    data = fields.Dict(required=True)


def envelope(spec: EventSpec, data: dict, occurred_at: datetime | None = None) -> dict:
    """A new event of type `spec`: the data is validated against the contract first."""
    errors = spec.data_schema().validate(data)
    if errors:
        raise ValidationError(errors)
    moment = (occurred_at or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return {
        "event_id": uuid.uuid4().hex,
        "event_type": spec.name,
        "source": spec.source,
        "occurred_at": moment.isoformat().replace("+00:00", "Z"),
        "schema_version": spec.schema_version,
        "data": data,
    }


class MemberAppliedData(Schema):
    application_id = fields.String(required=True)
    name = fields.String(required=True)
    type = fields.String(required=True)
    region = fields.String(required=True)
    population = fields.Integer(required=True)
    contact = fields.Nested(members.ContactSchema, required=True)


class MemberLeftData(Schema):
    slug = fields.String(required=True)
    name = fields.String(required=True)
    left_on = fields.Date(required=True)


MEMBER_APPLIED = EventSpec(
    members.SERVICE, "member_applied", MemberAppliedData, "A membership application was submitted."
)
MEMBER_JOINED = EventSpec(
    members.SERVICE, "member_joined", members.MemberSchema, "Staff approved an application; the member exists."
)
MEMBER_UPDATED = EventSpec(
    members.SERVICE, "member_updated", members.MemberSchema, "A member's public details changed."
)
MEMBER_LEFT = EventSpec(members.SERVICE, "member_left", MemberLeftData, "A member left the network.")

ALL_EVENTS = (MEMBER_APPLIED, MEMBER_JOINED, MEMBER_UPDATED, MEMBER_LEFT)
