"""The shapes of records the services keep, written once: what a domain builds, its store keeps
and the unit tests' fakes hold. A store asserts the shape of what it reads back (`typing.cast`)."""
from datetime import datetime
from typing import NotRequired, TypedDict


class Vote(TypedDict):
    """A NEJpraxe vote, counted once its mailed link is followed (practice)."""

    id: str
    competition_id: str
    practice: str
    email: str
    person: str  # the keyed hash of the address (`nszm.privacy`): one counted vote per person
    token_hash: str
    created_at: datetime
    expires_at: datetime
    confirmed_at: datetime | None
    counted: bool
    pseudonymised_at: NotRequired[datetime]


class Mailout(TypedDict):
    """A staff message to an audience (notify)."""

    id: str
    subject: str
    body: str
    format: str
    audience: dict
    status: str
    created_at: datetime
    scheduled_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    total: int
    recipients: NotRequired[int]  # before sending: the audience's size now
    cursor: NotRequired[int]  # the next recipient number to hand out
    start_lease: NotRequired[datetime]  # held by the one sender freezing the audience, until then
    progress: NotRequired[dict[str, int]]


class Recipient(TypedDict):
    """One person of a mailout's frozen audience (notify)."""

    id: str
    mailout_id: str
    seq: int
    key: str
    person: str
    email: str
    name: str | None
    organization: str | None
    status: str
    attempts: int
    last_error: str | None
    sent_at: datetime | None
    message_id: str | None
    next_attempt_at: NotRequired[datetime]
    bounce_token: NotRequired[str]  # of its return path (VERP)
    skip_reason: NotRequired[str]  # why it was skipped: the suppression list's reason
    bounce: NotRequired[dict]  # what came back, once it bounced


class Session(TypedDict):
    """A session of an event; its counters are kept apart from the event and joined when read."""

    id: str
    title: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    audience: str
    hours: float
    description: NotRequired[str | None]
    seats_taken: NotRequired[int]
    seats_left: NotRequired[int]
    waiting: NotRequired[int]
    waitlist_seq: NotRequired[int]


class Event(TypedDict):
    """An event of the association with its sessions (events)."""

    id: str
    title: str
    type: str
    description: NotRequired[str | None]
    starts_at: datetime
    ends_at: datetime
    venue: NotRequired[dict | None]
    online: bool
    join_url: NotRequired[str | None]
    accredited: bool
    accreditation: NotRequired[str | None]
    min_attendance_share: NotRequired[float]
    reminder_days: NotRequired[int]  # events created before reminders existed are reminded by the default  # events created before it earn certificates at the default
    cancellation_deadline: datetime
    sessions: list[Session]
    questions: NotRequired[list[dict]]  # the registration form's own questions (`QuestionSchema`)
    videos: list[dict]
    status: str
    created_at: datetime
    published_at: datetime | None


class Seat(TypedDict):
    """A registration's place in one session: confirmed, waitlisted (with its ticket) or cancelled."""

    id: str
    status: str | None
    ticket: int | None
    waitlist_position: int | None


class Attendance(TypedDict):
    """A registration's presence at one session: when they came and, if it was recorded, left."""

    session_id: str
    checked_in_at: datetime
    checked_out_at: datetime | None


class Registration(TypedDict):
    """A person's registration for sessions of one event (events)."""

    id: str
    event_id: str
    name: str
    email: str
    email_key: str
    person: str
    organization: str
    phone: NotRequired[str | None]
    note: NotRequired[str | None]
    consent: NotRequired[dict | None]
    answers: NotRequired[dict]  # to the event's questions, by question id
    sessions: list[Seat]
    status: str | None
    created_at: datetime
    cancelled_at: datetime | None
    checked_in_at: datetime | None  # the first check-in, to any session
    attendance: list[Attendance]  # in the order of arrival
    attended_sessions: list[str]  # the sessions of `attendance`, kept for the registration's readers
    hours: float | None
    certificate_id: str | None
    certificate_issued_at: NotRequired[datetime]
    reminded_at: NotRequired[datetime]
    revision: NotRequired[int]  # the store's count of the registration's changes: one change at a time
    verification_code: NotRequired[str]
    request_id: NotRequired[str]
    erased_at: NotRequired[datetime]
    expired_at: NotRequired[datetime]
