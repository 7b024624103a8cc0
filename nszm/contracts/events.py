"""The events service's RPC contract: event types, events with sessions, registrations."""
from marshmallow import EXCLUDE, INCLUDE, Schema, ValidationError, fields, validate, validates_schema

from nszm.contracts.common import (
    ONE_LINE,
    WITHOUT_CONTROL_CHARACTERS,
    EmailAddress,
    JsonBoolean,
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
DEFAULT_REMINDER_DAYS = 2
MAX_REMINDER_DAYS = 60
QUESTION_TYPES = {
    "short_text": "krátký text",
    "long_text": "delší text",
    "single_choice": "výběr jedné možnosti",
    "multiple_choice": "výběr více možností",
    "consent": "souhlas (ano/ne)",
}
CHOICES = ("single_choice", "multiple_choice")
MAX_QUESTIONS = 30
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
    {"required": ["type", "options"], "properties": {"type": {"enum": list(CHOICES)},
                                                     "options": {"minItems": 2, "uniqueItems": True}}},
    {"properties": {"type": {"enum": [kind for kind in QUESTION_TYPES if kind not in CHOICES]},
                    "options": {"maxItems": 0}}},
])
class QuestionInputSchema(Schema):
    """A question of an event's registration form; its answers are kept with each registration."""

    label = text(300, required=True)
    type = fields.String(required=True, validate=validate.OneOf(list(QUESTION_TYPES)))
    required = flag(load_default=False, metadata={"description": "a required consent must be given (true)"})
    options = fields.List(text(200, required=True), load_default=list, validate=validate.Length(max=30),
                          metadata={"description": "the choices of a single or multiple choice (at least two)"})
    in_exports = flag(load_default=True, metadata={
        "description": "the answers go into the CSV and XLSX exports too; false: shown to staff in the console only"})
    session = fields.String(validate=validate.Length(max=40), allow_none=True, metadata={
        "description": "asked only of those registering for this session (its id, s1, s2, … in the order given)"})
    help = text(500, metadata={"description": "a hint shown with the question"})

    @validates_schema
    def options_fit_the_type(self, data, **kwargs):
        options = data.get("options") or []
        if data.get("type") in CHOICES and len(set(options)) < 2:
            raise ValidationError("A choice needs at least two different options.", "options")
        if data.get("type") not in CHOICES and options:
            raise ValidationError("Only a choice has options.", "options")
        if len(set(options)) != len(options):
            raise ValidationError("Each option once.", "options")


class QuestionSchema(Schema):
    id = fields.String(required=True, metadata={"description": "the key of its answer in `answers`"})
    label = fields.String(required=True)
    type = fields.String(required=True, validate=validate.OneOf(list(QUESTION_TYPES)))
    required = fields.Boolean(required=True)
    options = fields.List(fields.String(), required=True)
    in_exports = fields.Boolean(required=True)
    session = fields.String(allow_none=True)
    help = fields.String()


def answer_field(question: dict) -> fields.Field:
    """The field an answer to `question` must fit."""
    kind = question["type"]
    if kind == "short_text":
        return text(300)
    if kind == "long_text":
        return text(4000)
    if kind == "single_choice":
        return fields.String(validate=validate.OneOf(question["options"]))
    if kind == "multiple_choice":
        return fields.List(fields.String(validate=validate.OneOf(question["options"])),
                           validate=lambda chosen: len(set(chosen)) == len(chosen) or _twice())
    return JsonBoolean()


def _twice():
    raise ValidationError("Each option once.")


def answer_json_schema(question: dict) -> dict:
    """The JSON Schema of an answer to `question`, for the registration form's schema."""
    kind = question["type"]
    described = {"title": question["label"], **({"description": question["help"]} if question.get("help") else {})}
    if kind in ("short_text", "long_text"):
        long = kind == "long_text"
        return {**described, "type": "string", "maxLength": 4000 if long else 300,
                "pattern": WITHOUT_CONTROL_CHARACTERS if long else ONE_LINE,
                **({"minLength": 1} if question["required"] else {})}
    if kind == "single_choice":
        return {**described, "type": "string", "enum": question["options"]}
    if kind == "multiple_choice":
        return {**described, "type": "array", "items": {"type": "string", "enum": question["options"]},
                "uniqueItems": True, **({"minItems": 1} if question["required"] else {})}
    return {**described, "type": "boolean", **({"const": True} if question["required"] else {})}


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
    reminder_days = fields.Integer(
        load_default=DEFAULT_REMINDER_DAYS, strict=True, validate=validate.Range(min=0, max=MAX_REMINDER_DAYS),
        metadata={"description": "a reminder goes to confirmed participants this many days before; 0: none"})
    min_attendance_share = fields.Float(
        load_default=DEFAULT_MIN_ATTENDANCE_SHARE, validate=validate.Range(min=0.01, max=1),
        metadata={"description": "the share of the hours of the sessions a participant holds seats in that they "
                                 "must attend to earn the certificate (accredited events)"})
    sessions = fields.List(fields.Nested(SessionInputSchema), required=True, validate=validate.Length(min=1, max=50))
    questions = fields.List(fields.Nested(QuestionInputSchema), load_default=list,
                            validate=validate.Length(max=MAX_QUESTIONS),
                            metadata={"description": "the registration form's own questions, q1, q2, … in this order"})
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
    reminder_days = fields.Integer(dump_default=DEFAULT_REMINDER_DAYS)
    cancellation_deadline = aware(required=True)
    sessions = fields.List(fields.Nested(SessionSchema), required=True)
    questions = fields.List(fields.Nested(QuestionSchema), dump_default=list,
                            metadata={"description": "what the registration form asks beyond the person's contact"})
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
    answers = fields.Dict(keys=fields.String(validate=validate.Length(max=40)), load_default=dict,
                          validate=validate.Length(max=MAX_QUESTIONS), metadata={
                              "description": "the answers to the event's `questions`, by question id; "
                                             "`GET /api/v1/events/{id}/registration-schema` states each"})


class RegistrationEditSchema(Schema):
    """What a participant may change of their registration behind its link."""

    name = text(200, blank=False)
    organization = text(200, blank=False)
    phone = text(40)
    answers = fields.Dict(keys=fields.String(validate=validate.Length(max=40)),
                          validate=validate.Length(max=MAX_QUESTIONS),
                          metadata={"description": "all the answers, replacing those given before"})


@cross_field_rules(anyOf=[
    {"required": ["action", "sessions"], "properties": {"action": {"enum": ["sessions"]}}},
    {"properties": {"action": {"pattern": r"^(edit|leave:[a-z0-9]{1,40})$"}}},
])
class ManageFormSchema(Schema):
    """What the participant's page sends (a form): one action, and the fields it changes; the
    answers come as `answer_<question id>` (several values for a multiple choice)."""

    class Meta:
        unknown = INCLUDE

    action = fields.String(required=True, validate=validate.Regexp(r"^(edit|sessions|leave:[a-z0-9]{1,40})$"),
                           metadata={"pattern": r"^(edit|sessions|leave:[a-z0-9]{1,40})$",
                                     "description": "edit (name, organisation, phone, answers), sessions (the "
                                                    "sessions ticked), or leave:<session id> (a waiting list)"})
    name = text(200, blank=False)
    organization = text(200, blank=False)
    phone = text(40)
    sessions = fields.List(fields.String(validate=validate.Length(max=40)), validate=validate.Length(min=1, max=50),
                           metadata={"description": "with `sessions`: every session ticked"})

    @validates_schema
    def sessions_ticked(self, data, **kwargs):
        if data.get("action") == "sessions" and not data.get("sessions"):
            raise ValidationError("Tick at least one session, or cancel the registration.", "sessions")


class SessionChangeSchema(Schema):
    sessions = fields.List(fields.String(validate=validate.Length(max=40)), required=True,
                           validate=validate.Length(min=1, max=50),
                           metadata={"description": "every session the participant holds or waits for from now on"})
    answers = fields.Dict(keys=fields.String(validate=validate.Length(max=40)),
                          validate=validate.Length(max=MAX_QUESTIONS),
                          metadata={"description": "all the answers (a session taken may ask its own question)"})


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
    manage_url = fields.String(required=True, metadata={
        "description": "the participant's own page: see, edit, change sessions, leave the waiting list, cancel"})
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
    answers = fields.Dict(dump_default=dict, metadata={"description": "answers to the event's questions, by id"})
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
    manage_url = fields.String(required=True)
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
    answers = fields.Dict(dump_default=dict)


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


class RegistrationFormSchema(Schema):
    """A JSON Schema (draft 2020-12) document: what a registration for one event must hold."""

    schema = fields.String(data_key="$schema", required=True)
    title = fields.String(required=True)
    type = fields.String(required=True)
    required = fields.List(fields.String(), required=True)
    properties = fields.Dict(required=True)
    allOf = fields.List(fields.Dict())


def registration_json_schema(event: dict) -> dict:
    """The JSON Schema of a registration for this event: the contact, its sessions, and the
    answers its questions ask for (a question of one session is asked only with that session)."""
    questions = event.get("questions") or []
    answers = {"type": "object", "additionalProperties": False,
               "properties": {q["id"]: answer_json_schema(q) for q in questions},
               "required": [q["id"] for q in questions if q["required"] and not q.get("session")]}
    by_session = [{"if": {"properties": {"sessions": {"contains": {"const": q["session"]}}}},
                   "then": {"properties": {"answers": {"required": [q["id"]]}}, "required": ["answers"]}}
                  for q in questions if q["required"] and q.get("session")]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"Registrace: {event['title']}",
        "type": "object",
        "required": ["name", "email", "organization", "sessions", *(["answers"] if answers["required"] else [])],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "email": {"type": "string", "format": "email", "maxLength": 254},
            "organization": {"type": "string", "minLength": 1, "maxLength": 200},
            "phone": {"type": "string", "maxLength": 40},
            "note": {"type": "string", "maxLength": 2000},
            "sessions": {"type": "array", "minItems": 1, "uniqueItems": True,
                         "items": {"enum": [s["id"] for s in event["sessions"]]}},
            "consent": {"type": "object"},
            "answers": answers,
        },
        **({"allOf": by_session} if by_session else {}),
    }
