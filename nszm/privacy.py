"""Personal data: the keyed hash that names a person without their address, pseudonyms for erased
records, and recorded consent.

How long each kind of record is kept is configuration (`nszm.config.Retention`).

A person is known across the services by `person`, an HMAC-SHA256 of their address folded as the
vote folds it (case, `+tag`, Gmail's dots: one mailbox, one person), keyed with a key derived from
SECRET_KEY. Every record that holds an address also holds this hash (indexed), so a service can
find a person's records from the hash alone: the `person_erased` event carries nothing else.
"""
import hashlib
import hmac
from datetime import datetime

from nszm.addresses import canonical_mailbox
from nszm.config import Settings
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
        return cls(Settings.from_env(environ).secret_key)

    def person(self, email: str) -> str:
        return hmac.new(self._key, canonical_mailbox(email).encode("utf-8"), hashlib.sha256).hexdigest()

    def value(self, value: str) -> str:
        """A keyed hash of any identifying value (a client address, a mailbox) kept only to count it."""
        return hmac.new(self._key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:40]


def erased_address(person: str) -> str:
    """What an erased person's address becomes: unique per person (unique indexes stay satisfied),
    undeliverable, and not the address."""
    return f"{person[:16]}@{ERASED_DOMAIN}"


def consent_given(purpose: str, given: dict | None, now: datetime) -> dict:
    """The record of a consent: when, from which form, to which version of the text (the current
    one when the form does not say)."""
    given = given or {}
    return {"purpose": purpose, "given_at": now, "form": given.get("form") or DEFAULT_FORM,
            "text_version": given.get("text_version") or current_version(purpose)}
