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
