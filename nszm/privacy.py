"""Personal data: the keyed hash that names a person without their address, pseudonyms for erased
records, and how long each kind of record is kept.

A person is known across the services by `person`, an HMAC-SHA256 of their address folded as the
vote folds it (case, `+tag`, Gmail's dots: one mailbox, one person), keyed with a key derived from
SECRET_KEY. Every record that holds an address also holds this hash (indexed), so a service can
find a person's records from the hash alone: the `person_erased` event carries nothing else.
"""
import hashlib
import hmac
import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from nszm.addresses import voter_key
from nszm.contracts.privacy import DEFAULT_FORM, current_version
from nszm.signing import derived_key

ERASED_NAME = "Vymazaná osoba"  # what an erased person's name becomes wherever a name must stay
ERASED_DOMAIN = "vymazano.invalid"  # RFC 2606: no mail can ever go there


class Pseudonyms:
    """Keyed hashes of addresses; every platform process derives the same key from SECRET_KEY."""

    def __init__(self, secret: str | None):
        self._key = derived_key(secret, "person")

    @classmethod
    def from_env(cls, environ=None) -> "Pseudonyms":
        from nszm.config import Settings  # the settings read this module's retention periods

        return cls(Settings.from_env(environ).secret_key)

    def person(self, email: str) -> str:
        return hmac.new(self._key, voter_key(email).encode("utf-8"), hashlib.sha256).hexdigest()

    def value(self, value: str) -> str:
        """A keyed hash of any identifying value (a client address, a mailbox) kept only to count it."""
        return hmac.new(self._key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:40]


def erased_address(person: str) -> str:
    """What an erased person's address becomes: unique per person (unique indexes stay satisfied),
    undeliverable, and not the address."""
    return f"{person[:16]}@{ERASED_DOMAIN}"


@dataclass(frozen=True)
class Retention:
    """How long each kind of personal record is kept; each period is a setting (README, PRIVACY.md)."""

    mail_bodies: timedelta = timedelta(days=30)  # after sending: the text, its links and attachments
    webhook_deliveries: timedelta = timedelta(days=30)
    dead_letters: timedelta = timedelta(days=30)
    registrations: timedelta = timedelta(days=365)  # after the event: personal fields and answers
    rejected_applications: timedelta = timedelta(days=182)
    mailout_recipients: timedelta = timedelta(days=30)  # after the mailout ends
    unconfirmed_subscriptions: timedelta = timedelta(days=30)
    published_events: timedelta = timedelta(days=1)  # an outbox row after publishing

    SETTINGS = {  # environment variable -> (field, unit)
        "RETAIN_MAIL_BODIES_DAYS": ("mail_bodies", "days"),
        "RETAIN_WEBHOOK_DELIVERIES_DAYS": ("webhook_deliveries", "days"),
        "RETAIN_DEAD_LETTERS_DAYS": ("dead_letters", "days"),
        "RETAIN_REGISTRATIONS_MONTHS": ("registrations", "months"),
        "RETAIN_REJECTED_APPLICATIONS_MONTHS": ("rejected_applications", "months"),
        "RETAIN_MAILOUT_RECIPIENTS_DAYS": ("mailout_recipients", "days"),
        "RETAIN_UNCONFIRMED_SUBSCRIPTIONS_DAYS": ("unconfirmed_subscriptions", "days"),
    }

    @classmethod
    def from_env(cls, env=None) -> "Retention":
        env = os.environ if env is None else env
        periods = {}
        for variable, (field, unit) in cls.SETTINGS.items():
            raw = env.get(variable)
            if raw is None or str(raw).strip() == "":
                continue
            amount = float(raw)
            if amount < 0:
                raise ValueError(f"{variable} must not be negative")
            periods[field] = timedelta(days=amount * (365 / 12 if unit == "months" else 1))
        return cls(**periods)

    def cutoff(self, kind: str, now: datetime) -> datetime:
        """Records of `kind` whose clock started before this moment are due."""
        return now - getattr(self, kind)


def consent_given(purpose: str, given: dict | None, now: datetime) -> dict:
    """The record of a consent: when, from which form, to which version of the text (the current
    one when the form does not say)."""
    given = given or {}
    return {"purpose": purpose, "given_at": now, "form": given.get("form") or DEFAULT_FORM,
            "text_version": given.get("text_version") or current_version(purpose)}
