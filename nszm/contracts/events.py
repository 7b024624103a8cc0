"""The events service's RPC contract: event types, events with sessions, registrations."""
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from nszm.contracts.common import (
    EmailAddress,
    Moment,
    PageQuerySchema,
    VideoSchema,
    aware,
    cross_field_rules,
    flag,
    page_schema,
    text,
    web_url,
)
from nszm.contracts.privacy import ConsentSchema, consent_input

SERVICE = "events"

EVENT_TYPES = {
    "school": "Škola Zdravých měst",
    "conference": "konference",
    "meeting": "setkání",
    "training": "školení",
    "forum": "fórum",
}
AUDIENCES = {"everyone": "všichni zájemci", "coordinators": "koordinátoři členských municipalit"}
REGISTRATION_STATUSES = ("confirmed", "waitlisted", "cancelled")
MAX_CAPACITY = 100_000
DEFAULT_MIN_ATTENDANCE_SHARE = 0.8
# what a scan at the door did: the first two change the attendance, the others only say so
SCAN_OUTCOMES = ("checked_in", "checked_out", "already_checked_in", "already_checked_out")


class VenueSchema(Schema):
    name = text(200, required=True)
    address = text(300)
    city = text(100)


class SessionInputSchema(Schema):
    title = text(200, required=True)
    starts_at = aware(required=True)
    ends_at = aware(required=True)
    capacity = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_CAPACITY))
    audience = fields.String(load_default="everyone", validate=validate.OneOf(list(AUDIENCES)))
    hours = fields.Float(validate=validate.Range(min=0, max=24),
                         metadata={"description": "accredited hours; defaults to the session's length"})
    description = text(2000)

    @validates_schema
    def ends_after_start(self, data, **kwargs):
        if "starts_at" in data and "ends_at" in data and data["ends_at"] <= data["starts_at"]:
            raise ValidationError("Must be after starts_at.", "ends_at")


@cross_field_rules(anyOf=[
    {"required": ["online", "join_url"], "properties": {"online": {"enum": [True]}, "join_url": {"type": "string"}}},
    {"required": ["venue"], "properties": {"venue": {"type": "object"}, "online": {"enum": [False]}}},
])
class EventInputSchema(Schema):
    title = text(200, required=True)
    type = fields.String(required=True, validate=validate.OneOf(list(EVENT_TYPES)))
    description = text(10_000)
    starts_at = aware(required=True)
    ends_at = aware(required=True)
    venue = fields.Nested(VenueSchema, allow_none=True)
    online = flag(load_default=False)
    join_url = web_url(500, allow_none=True, metadata={"description": "sent only to registered people"})
    accredited = flag(load_default=False)
    accreditation = text(200, metadata={"description": "e.g. the Ministry of the Interior's accreditation number"})
    cancellation_deadline = aware(metadata={"description": "self-service cancellation closes then; "
                                                           "defaults to 24 hours before the start"})
    min_attendance_share = fields.Float(
        load_default=DEFAULT_MIN_ATTENDANCE_SHARE, validate=validate.Range(min=0, max=1, min_inclusive=False),
        metadata={"description": "the share of the hours of the sessions a participant holds seats in that they "
                                 "must attend to earn the certificate (accredited events)"})
    sessions = fields.List(fields.Nested(SessionInputSchema), required=True, validate=validate.Length(min=1, max=50))
    videos = fields.List(fields.Nested(VideoSchema), load_default=list, validate=validate.Length(max=50))

    @validates_schema
    def coherent(self, data, **kwargs):
        errors = {}
        if "starts_at" in data and "ends_at" in data and data["ends_at"] <= data["starts_at"]:
            errors["ends_at"] = ["Must be after starts_at."]
        if data.get("online") and not data.get("join_url"):
            errors["join_url"] = ["An online event needs a join link."]
        if not data.get("online") and not data.get("venue"):
            errors["venue"] = ["An event needs a venue, or online: true."]
        if errors:
            raise ValidationError(errors)


class SessionSchema(Schema):
    id = fields.String(required=True)
    title = fields.String(required=True)
    starts_at = aware(required=True)
    ends_at = aware(required=True)
    capacity = fields.Integer(required=True)
    seats_left = fields.Integer(required=True)
    waiting = fields.Integer(required=True, metadata={"description": "people on the waiting list"})
    audience = fields.String(required=True)
    hours = fields.Float(required=True)
    description = fields.String()


class EventSchema(Schema):
    """An event as the public calendar shows it (no join link)."""

    id = fields.String(required=True)
    title = fields.String(required=True)
    type = fields.String(required=True)
    description = fields.String()
    starts_at = aware(required=True)
    ends_at = aware(required=True)
    venue = fields.Nested(VenueSchema, allow_none=True)
    online = fields.Boolean(required=True)
    accredited = fields.Boolean(required=True)
    accreditation = fields.String(allow_none=True)
    min_attendance_share = fields.Float(dump_default=DEFAULT_MIN_ATTENDANCE_SHARE)
    cancellation_deadline = aware(required=True)
    sessions = fields.List(fields.Nested(SessionSchema), required=True)
    videos = fields.List(fields.Nested(VideoSchema))
    published_at = aware(allow_none=True)


class EventDetailSchema(EventSchema):
    """An event as staff see it."""

    status = fields.String(required=True, validate=validate.OneOf(["draft", "published"]))
    join_url = fields.String(allow_none=True)
    created_at = aware()


class EventQuerySchema(PageQuerySchema):
    from_ = Moment(data_key="from", metadata={"description": "events ending after this (default: now)"})
    to = Moment(metadata={"description": "events starting before this"})
    type = fields.String(validate=validate.OneOf(list(EVENT_TYPES)))
    sort = fields.String(load_default="start", validate=validate.OneOf(["start", "newest"]),
                         metadata={"description": "by start (default), or most recently published first"})


EventPageSchema = page_schema(EventSchema, "EventPage")


class EventDetailQuerySchema(PageQuerySchema):
    """Staff's list: drafts too, past and future, latest start first."""

    status = fields.String(validate=validate.OneOf(["draft", "published"]))
    type = fields.String(validate=validate.OneOf(list(EVENT_TYPES)))


EventDetailPageSchema = page_schema(EventDetailSchema, "EventDetailPage")


class RegistrationInputSchema(Schema):
    name = text(200, required=True)
    email = EmailAddress(required=True)
    organization = text(200, required=True)
    sessions = fields.List(fields.String(validate=validate.Length(max=40)), required=True,
                           validate=validate.Length(min=1, max=50))
    phone = text(40)
    note = text(2000)
    consent = fields.Nested(consent_input("registration"), metadata={
        "description": "the consent text the form showed; recorded with the time"})


class SeatSchema(Schema):
    id = fields.String(required=True, metadata={"description": "session id"})
    status = fields.String(required=True, validate=validate.OneOf(REGISTRATION_STATUSES))
    waitlist_position = fields.Integer(allow_none=True)


class SessionAttendanceSchema(Schema):
    session_id = fields.String(required=True)
    checked_in_at = aware(required=True)
    checked_out_at = aware(allow_none=True)


class RegistrationReceiptSchema(Schema):
    id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["confirmed", "waitlisted"]))
    cancel_url = fields.String(required=True)
    sessions = fields.List(fields.Nested(SeatSchema), required=True)


class RegistrationSchema(Schema):
    """A registration as staff see it."""

    id = fields.String(required=True)
    event_id = fields.String(required=True)
    name = fields.String(required=True)
    email = fields.String(required=True)
    organization = fields.String(required=True)
    phone = fields.String()
    note = fields.String()
    status = fields.String(required=True, validate=validate.OneOf(REGISTRATION_STATUSES))
    sessions = fields.List(fields.Nested(SeatSchema), required=True)
    created_at = aware(required=True)
    cancelled_at = aware(allow_none=True)
    checked_in_at = aware(allow_none=True, metadata={"description": "the first check-in, to any session"})
    attendance = fields.List(fields.Nested(SessionAttendanceSchema), dump_default=list,
                             metadata={"description": "each session attended, in the order of arrival"})
    hours = fields.Float(allow_none=True, metadata={"description": "the accredited hours of the sessions attended"})
    certificate_id = fields.String(allow_none=True)
    certificate_issued_at = aware(allow_none=True)
    consent = fields.Nested(ConsentSchema, allow_none=True)
    erased_at = aware(allow_none=True, metadata={"description": "the person's data was erased on request"})
    expired_at = aware(allow_none=True, metadata={"description": "the contact was dropped at the end of retention"})


class RegistrationExportSchema(RegistrationSchema):
    """A registration in its person's data export."""

    event_title = fields.String(required=True)
    attended_sessions = fields.List(fields.String(), required=True)


class RegistrationMailSchema(Schema):
    """What notify mails a registered person beyond the event's bus data: fetched, never published."""

    name = fields.String(required=True)
    email = fields.String(required=True)
    organization = fields.String(required=True)
    cancel_url = fields.String(required=True)
    certificate_url = fields.String(allow_none=True)
    join_url = fields.String(allow_none=True)


class RegistrationQuerySchema(PageQuerySchema):
    status = fields.String(validate=validate.OneOf(REGISTRATION_STATUSES))


RegistrationPageSchema = page_schema(RegistrationSchema, "RegistrationPage")


class LinkTokenSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    token = fields.String(validate=validate.Length(max=300),
                          metadata={"description": "the signed token of the registration's links"})


class CheckInSchema(Schema):
    sessions = fields.List(fields.String(), validate=validate.Length(min=1, max=50),
                           metadata={"description": "sessions attended; default: every confirmed one"})


class ScanSchema(Schema):
    code = text(300, required=True, metadata={
        "description": "what the scanner read from the QR code of the registration (its id), or the id typed"})


class ScanResultSchema(Schema):
    """What a scan at a session's door did, and whose registration it was."""

    outcome = fields.String(required=True, validate=validate.OneOf(SCAN_OUTCOMES))
    session_id = fields.String(required=True)
    registration = fields.Nested(RegistrationSchema, required=True)


class AttendeeQuerySchema(PageQuerySchema):
    q = text(100, metadata={"description": "part of the name or organisation, with or without diacritics"})


class AttendeeSchema(Schema):
    """A person holding a seat in a session, with their attendance of it."""

    registration_id = fields.String(required=True)
    name = fields.String(required=True)
    organization = fields.String(required=True)
    email = fields.String(required=True)
    seat = fields.String(required=True, validate=validate.OneOf(REGISTRATION_STATUSES))
    checked_in_at = aware(allow_none=True)
    checked_out_at = aware(allow_none=True)


AttendeePageSchema = page_schema(AttendeeSchema, "AttendeePage")


class IssuedCertificateSchema(Schema):
    """An entry of the register of certificates issued for an event, as the ministry asks for it."""

    certificate_id = fields.String(required=True)
    name = fields.String(required=True)
    organization = fields.String(required=True)
    hours = fields.Float(required=True)
    issued_at = aware(required=True)


class CertificateSessionSchema(Schema):
    title = fields.String(required=True)
    starts_at = aware(required=True)
    ends_at = aware(required=True)
    hours = fields.Float(required=True)


class CertificateSchema(Schema):
    certificate_id = fields.String(required=True)
    verification_code = fields.String(allow_none=True, metadata={"description": "printed on the certificate"})
    name = fields.String(required=True)
    organization = fields.String(required=True)
    event_title = fields.String(required=True)
    event_type = fields.String(required=True)
    starts_at = aware(required=True)
    ends_at = aware(required=True)
    venue = fields.String(allow_none=True)
    hours = fields.Float(required=True)
    sessions = fields.List(fields.Nested(CertificateSessionSchema), required=True,
                           metadata={"description": "the sessions attended, in time order"})
    accreditation = fields.String(allow_none=True)
    issued_at = aware(required=True)


class CertificateCheckQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    code = fields.String(validate=validate.Length(max=40),
                         metadata={"description": "the verification code printed on the certificate"})


class CertificateCheckSchema(Schema):
    """What anyone holding the certificate's number and code learns: no organization, no e-mail."""

    certificate_id = fields.String(required=True)
    name = fields.String(required=True)
    event_title = fields.String(required=True)
    starts_at = aware(required=True)
    ends_at = aware(required=True)
    hours = fields.Float(required=True)
