"""Bus events: their names, sources, versions and payload schemas, and the envelope.

Every event travels as a nameko event (topic exchange `<source>.events`, routing key = the
event name) whose payload is the envelope `{event_id, event_type, source, occurred_at,
schema_version, data}`, so that subscribers not written with nameko can read it too. Internal
events, whose data is for one platform service only (an address and a confirmation link to
mail), travel on `<source>.internal`, which subscribers cannot read.
"""
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from marshmallow import Schema, ValidationError, fields, validate

from nszm.contracts import events, members, notify, practice
from nszm.contracts.common import aware
from nszm.schemas import cached_schema


@dataclass(frozen=True)
class EventSpec:
    source: str
    name: str
    data_schema: type[Schema]
    summary: str
    schema_version: int = 1
    internal: bool = False

    @property
    def exchange(self) -> str:
        return f"{self.source}.internal" if self.internal else f"{self.source}.events"


class EnvelopeSchema(Schema):
    event_id = fields.String(required=True)
    event_type = fields.String(required=True)
    source = fields.String(required=True)
    occurred_at = fields.DateTime(required=True, format="iso")
    schema_version = fields.Integer(required=True)
    data = fields.Dict(required=True)


def envelope(spec: EventSpec, data: dict, occurred_at: datetime | None = None) -> dict:
    """A new event of type `spec`: the data is validated against the contract first."""
    errors = cached_schema(spec.data_schema).validate(data)
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


PERSONAL = {"x-personal": True}  # field metadata: the field is personal data (pseudonymous), as AsyncAPI shows it
PERSON_DESCRIPTION = ("the keyed hash of the person's address (`nszm.privacy`): the same person in every event "
                      "and in `person_erased`; never the address itself")


def person_field(**kwargs) -> fields.String:
    return fields.String(metadata={**PERSONAL, "description": PERSON_DESCRIPTION}, **kwargs)


class MemberAppliedData(Schema):
    application_id = fields.String(required=True)
    name = fields.String(required=True)
    type = fields.String(required=True)
    region = fields.String(required=True)
    population = fields.Integer(required=True)
    contact_person = person_field(required=True)


class MemberLeftData(Schema):
    slug = fields.String(required=True)
    name = fields.String(required=True)
    left_on = fields.Date(required=True)


MEMBER_APPLIED = EventSpec(
    members.SERVICE, "member_applied", MemberAppliedData,
    "A membership application was submitted (its contact: `GET /api/v1/membership-applications/{id}`, "
    "role `members`).", schema_version=2,
)
MEMBER_JOINED = EventSpec(
    members.SERVICE, "member_joined", members.MemberSchema, "Staff approved an application; the member exists."
)
MEMBER_UPDATED = EventSpec(
    members.SERVICE, "member_updated", members.MemberSchema, "A member's public details changed."
)
MEMBER_LEFT = EventSpec(members.SERVICE, "member_left", MemberLeftData, "A member left the network.")


class MemberContactData(Schema):
    role = fields.String(required=True, validate=validate.OneOf(list(members.CONTACT_ROLES)))
    function = fields.String(allow_none=True, metadata={"description": "the person's office, e.g. místostarosta"})
    person = person_field(required=True)


class MemberContactsData(Schema):
    """A member's contacts after a change, without names or addresses (staff see them:
    `GET /api/v1/members/{slug}/detail`, role `members`)."""

    slug = fields.String(required=True)
    name = fields.String(required=True)
    version = fields.Integer(required=True, metadata={"description": "the member's version, as in member_updated"})
    contacts = fields.List(fields.Nested(MemberContactData), required=True)


MEMBER_CONTACTS_CHANGED = EventSpec(
    members.SERVICE, "member_contacts_changed", MemberContactsData,
    "A member's contacts changed: a new coordinator or politician after an election, say.",
)



class RegistrationRefData(Schema):
    """A registration as events name it: no name, address or organisation. A subscriber that needs
    them asks `GET /api/v1/registrations/{id}` with a staff token of role `events`."""

    id = fields.String(required=True)
    person = person_field(required=True)
    status = fields.String(required=True)
    sessions = fields.List(fields.Nested(events.SeatSchema), required=True)


class EventSummaryData(Schema):
    """The event a registration is for; its join link is mailed to registered people only, never published."""

    id = fields.String(required=True)
    title = fields.String(required=True)
    type = fields.String(required=True)
    starts_at = aware(required=True)
    ends_at = aware(required=True)
    venue = fields.Nested(events.VenueSchema, allow_none=True)
    online = fields.Boolean(required=True)
    accredited = fields.Boolean(required=True)
    cancellation_deadline = aware(required=True)


class SessionSummaryData(Schema):
    id = fields.String(required=True)
    title = fields.String(required=True)
    starts_at = aware(required=True)
    ends_at = aware(required=True)


class RegistrationEventData(Schema):
    registration = fields.Nested(RegistrationRefData, required=True)
    event = fields.Nested(EventSummaryData, required=True)
    sessions = fields.List(fields.Nested(SessionSummaryData), required=True,
                           metadata={"description": "the event's sessions this registration asked for"})
    changed_sessions = fields.List(fields.String(), required=True,
                                   metadata={"description": "sessions this event is about (promoted, freed, …)"})
    cancelled_by = fields.String(allow_none=True, validate=validate.OneOf(["participant", "staff"]))


class AttendanceData(Schema):
    registration = fields.Nested(RegistrationRefData, required=True)
    event = fields.Nested(EventSummaryData, required=True)
    session_id = fields.String(required=True, metadata={"description": "the session of this check-in or check-out"})
    action = fields.String(required=True, validate=validate.OneOf(["checked_in", "checked_out"]))
    attended_sessions = fields.List(fields.String(), required=True,
                                    metadata={"description": "every session attended so far"})
    hours = fields.Float(required=True, metadata={"description": "the accredited hours of those sessions"})
    certificate_id = fields.String(allow_none=True, metadata=PERSONAL)
    certificate_issued = fields.Boolean(required=True, metadata={
        "description": "this check-in earned the certificate (`certificate_id`): the event's minimum share reached"})


EVENT_PUBLISHED = EventSpec(events.SERVICE, "event_published", events.EventSchema, "An event appeared in the calendar.")
REGISTRATION_CONFIRMED = EventSpec(
    events.SERVICE, "registration_confirmed", RegistrationEventData, "A registration got every seat it asked for.",
    schema_version=2,
)
REGISTRATION_WAITLISTED = EventSpec(
    events.SERVICE, "registration_waitlisted", RegistrationEventData, "A registration waits for a seat.", schema_version=2,
)
REGISTRATION_PROMOTED = EventSpec(
    events.SERVICE, "registration_promoted", RegistrationEventData,
    "A waiting person got a freed seat (`changed_sessions`).", schema_version=2,
)
REGISTRATION_CANCELLED = EventSpec(
    events.SERVICE, "registration_cancelled", RegistrationEventData, "A registration was cancelled; its seats freed.",
    schema_version=2,
)
REGISTRATION_CHANGED = EventSpec(
    events.SERVICE, "registration_changed", RegistrationEventData,
    "A participant changed their sessions (`changed_sessions`: those taken or given up); their seats now.",
)
REGISTRATION_REMINDED = EventSpec(
    events.SERVICE, "registration_reminded", RegistrationEventData,
    "A participant with a seat is reminded of the event, its reminder days before (once).",
)
ATTENDANCE_RECORDED = EventSpec(
    events.SERVICE, "attendance_recorded", AttendanceData,
    "Staff checked a participant in to a session, or out of it.", schema_version=3,
)

class VoteRequestedData(Schema):
    """Travels to notify only so that it can mail the link; the address never leaves the bus."""

    competition_id = fields.String(required=True)
    competition_title = fields.String(required=True)
    practice = fields.String(required=True)
    practice_title = fields.String(required=True)
    email = fields.String(required=True)
    confirm_url = fields.String(required=True)
    expires_at = aware(required=True)


class VoteConfirmedData(Schema):
    """A counted vote: which nominee, never who voted."""

    competition_id = fields.String(required=True)
    practice = fields.String(required=True)


PRACTICE_PUBLISHED = EventSpec(
    practice.SERVICE, "practice_published", practice.PracticeSchema, "A good practice was published."
)
VOTE_REQUESTED = EventSpec(
    practice.SERVICE, "vote_requested", VoteRequestedData, "Someone voted; the confirmation link is to be mailed.",
    internal=True,
)
VOTE_CONFIRMED = EventSpec(practice.SERVICE, "vote_confirmed", VoteConfirmedData, "A vote was confirmed and counted.")
COMPETITION_CLOSED = EventSpec(
    practice.SERVICE, "competition_closed", practice.CompetitionSchema, "Voting closed; the results are final."
)

class MailoutFinishedData(Schema):
    id = fields.String(required=True)
    subject = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["sent", "cancelled"]))
    total = fields.Integer(required=True)
    sent = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    skipped = fields.Integer(required=True)
    finished_at = aware(required=True)


class NewsletterSubscriberData(Schema):
    person = person_field(required=True)


class PersonErasedData(Schema):
    """A person's data was erased on request: erase yours too (by `person`, the keyed hash)."""

    erasure_id = fields.String(required=True)
    person = person_field(required=True)
    requested_at = aware(required=True)


MAILOUT_FINISHED = EventSpec(
    notify.SERVICE, "mailout_finished", MailoutFinishedData, "A mailout has gone to everyone it will reach."
)
NEWSLETTER_SUBSCRIBED = EventSpec(
    notify.SERVICE, "newsletter_subscribed", NewsletterSubscriberData, "Someone confirmed a newsletter subscription.",
    schema_version=2,
)
NEWSLETTER_UNSUBSCRIBED = EventSpec(
    notify.SERVICE, "newsletter_unsubscribed", NewsletterSubscriberData,
    "An address unsubscribed: it gets no more bulk mail.", schema_version=2,
)
PERSON_ERASED = EventSpec(
    notify.SERVICE, "person_erased", PersonErasedData,
    "Staff erased a person's data on request (GDPR art. 17); every service erases its records of `person`.",
)

ALL_EVENTS = (
    MEMBER_APPLIED, MEMBER_JOINED, MEMBER_UPDATED, MEMBER_LEFT, MEMBER_CONTACTS_CHANGED,
    EVENT_PUBLISHED, REGISTRATION_CONFIRMED, REGISTRATION_WAITLISTED, REGISTRATION_PROMOTED,
    REGISTRATION_CANCELLED, REGISTRATION_CHANGED, REGISTRATION_REMINDED, ATTENDANCE_RECORDED,
    PRACTICE_PUBLISHED, VOTE_REQUESTED, VOTE_CONFIRMED, COMPETITION_CLOSED,
    MAILOUT_FINISHED, NEWSLETTER_SUBSCRIBED, NEWSLETTER_UNSUBSCRIBED, PERSON_ERASED,
)
# What the contract lists: every event but the internal ones (vote_requested holds an address and a link).
PUBLIC_EVENTS = tuple(spec for spec in ALL_EVENTS if not spec.internal)
BY_NAME = {spec.name: spec for spec in ALL_EVENTS}


@dataclass(frozen=True)
class Subscription:
    """A platform service's durable queue and the events bound to it: `<consumer>.<name>`.
    A `platform_only` subscription takes only events the platform signed (they cause official mail)."""

    consumer: str
    name: str
    events: tuple[EventSpec, ...]
    platform_only: bool = False

    @property
    def queue(self) -> str:
        return f"{self.consumer}.{self.name}"


NOTIFY_MAILS = Subscription(notify.SERVICE, "mails", (
    REGISTRATION_CONFIRMED, REGISTRATION_WAITLISTED, REGISTRATION_PROMOTED, REGISTRATION_CANCELLED,
    REGISTRATION_CHANGED, REGISTRATION_REMINDED, ATTENDANCE_RECORDED, VOTE_REQUESTED), platform_only=True)
NOTIFY_WEBHOOKS = Subscription(notify.SERVICE, "webhooks", PUBLIC_EVENTS)
PRACTICE_MEMBERS = Subscription(practice.SERVICE, "members", (MEMBER_UPDATED,))
# Each service erases its own records of a person; a service that is down erases when it is back.
MEMBERS_PRIVACY = Subscription(members.SERVICE, "privacy", (PERSON_ERASED,), platform_only=True)
EVENTS_PRIVACY = Subscription(events.SERVICE, "privacy", (PERSON_ERASED,), platform_only=True)
PRACTICE_PRIVACY = Subscription(practice.SERVICE, "privacy", (PERSON_ERASED,), platform_only=True)

# Every subscription of the platform's own services; each service declares them all when it
# starts, and a publisher makes sure an event's queues exist before it publishes the event.
SUBSCRIPTIONS = (NOTIFY_MAILS, NOTIFY_WEBHOOKS, PRACTICE_MEMBERS, MEMBERS_PRIVACY, EVENTS_PRIVACY, PRACTICE_PRIVACY)


def queues_of(consumer: str) -> list[str]:
    """The queues of one platform service's subscriptions."""
    return [s.queue for s in SUBSCRIPTIONS if s.consumer == consumer]


def subscriptions_of(spec: EventSpec) -> tuple[Subscription, ...]:
    return tuple(s for s in SUBSCRIPTIONS if spec in s.events)


class DeadLetterQuerySchema(Schema):
    queue = fields.String(validate=validate.OneOf([s.queue for s in SUBSCRIPTIONS]),
                          metadata={"description": "one subscription's queue; default: all"})


class DeadLetterSchema(Schema):
    queue = fields.String(required=True, metadata={"description": "the subscription that failed on it"})
    event_id = fields.String(allow_none=True)
    event_type = fields.String(allow_none=True)
    attempts = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True, metadata={"description": "the last try's error"})
    failed_at = fields.String(allow_none=True)


class ReplaySchema(DeadLetterQuerySchema):
    event_ids = fields.List(fields.String(validate=validate.Length(min=1, max=100)),
                            validate=validate.Length(min=1, max=1000),
                            metadata={"description": "replay just these; default: every dead letter (of `queue`)"})


class ReplayResultSchema(Schema):
    replayed = fields.List(fields.Nested(DeadLetterSchema), required=True)
