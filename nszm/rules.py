"""What a domain returns when it decides a change, and raises when its rules refuse a request:
pure Python, no nameko, no database."""
from dataclasses import dataclass
from typing import Generic, TypeVar

Record = TypeVar("Record")


@dataclass(frozen=True)
class Decided(Generic[Record]):
    """A domain's decision: the record as it is to be stored, and the events that announce it
    (committed with it: `tx.commit(decided.events)`)."""

    record: Record
    events: list[dict]


class Refusal(Exception):
    """A domain's rules refuse a request; `field` names the input at fault, if any, and `code`
    the rule, for a client that shows its own words for it."""

    def __init__(self, message: str, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


class RuleBroken(Refusal):
    """The input breaks a rule (HTTP 422)."""


class Refused(Refusal):
    """Valid input that conflicts with the current state: a deadline passed, done already (HTTP 409)."""
