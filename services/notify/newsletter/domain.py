"""The newsletter: subscribing with a confirmed address, and unsubscribing with a signed link."""
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Callable

from nszm.addresses import email_key
from nszm.contracts import bus
from nszm.formatting import PRAGUE
from nszm.imports import row_error
from nszm.privacy import consent_given
from nszm.rules import Refused
from nszm.tokens import new_token, token_hash
from services.notify.mail.domain import rendered

UNSUBSCRIBE = "unsubscribe"  # what an unsubscribe link's token is signed for
# An unsubscribe link keeps working this long after the message that carried it.
UNSUBSCRIBE_LINK_VALIDITY = timedelta(days=5 * 365)

CONFIRMATION_RESEND_AFTER = timedelta(minutes=10)
CONFIRMATION_VALIDITY = timedelta(days=7)  # a subscription link not used by then is worth nothing


def subscription_requested(subscriber: dict | None, email: str, name: str | None, now: datetime,
                           consent: dict | None = None) -> tuple[dict | None, str | None]:
    """(the subscriber to store, the confirmation token to mail), or (None, None) when nothing is to be done.

    A confirmed subscriber is left alone; a pending one is mailed again only after a while, so
    that nobody can use the form to flood an address.
    """
    if subscriber and subscriber["status"] == "confirmed":
        return None, None
    if subscriber and subscriber["status"] == "pending" and now - subscriber["mailed_at"] < CONFIRMATION_RESEND_AFTER:
        return None, None
    token = new_token()
    return {
        "id": email_key(email), "email": email.strip(), "name": name or (subscriber or {}).get("name"),
        "status": "pending", "token_hash": token_hash(token), "mailed_at": now,
        "created_at": (subscriber or {}).get("created_at", now), "confirmed_at": None,
        "unsubscribed_at": (subscriber or {}).get("unsubscribed_at"),
        "consent_asked": consent or {},  # recorded as given when the person confirms
    }, token


def subscription_confirmed(subscriber: dict, now: datetime) -> dict:
    if subscriber["status"] == "confirmed":
        raise Refused("The subscription is confirmed already.")
    if subscriber.get("mailed_at") and _aware(subscriber["mailed_at"]) + CONFIRMATION_VALIDITY < now:
        raise Refused("This confirmation link has expired; subscribe again to get a new one.")
    return {**{key: value for key, value in subscriber.items() if key != "consent_asked"},
            "status": "confirmed", "confirmed_at": now, "token_hash": None,
            "consent": consent_given("newsletter", subscriber.get("consent_asked"), now)}


def _aware(moment: datetime) -> datetime:
    """A stored time as UTC (a database may hand times back without their zone)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def newsletter_confirmation(subscriber: dict, confirm_url: str) -> dict:
    """The double opt-in mail: a link to a page with a button."""
    subject, text = rendered("newsletter_confirmation.txt", {"name": subscriber.get("name"), "confirm_url": confirm_url})
    return {"id": f"newsletter-{uuid.uuid4().hex}", "kind": "newsletter_confirmation", "to": subscriber["email"],
            "to_name": subscriber.get("name"), "subject": subject, "text": text, "attachments": []}


def subscribed(person: str) -> dict:
    return bus.envelope(bus.NEWSLETTER_SUBSCRIBED, {"person": person})


def unsubscribed(person: str) -> dict:
    return bus.envelope(bus.NEWSLETTER_UNSUBSCRIBED, {"person": person})


# -- imported lists -----------------------------------------------------------------------------

IMPORTED_FORM = "import"  # the consent's form when a list brought it in
IMPORT_CONFIRMATION = "newsletter_import_confirmation"  # the mail asking an imported address to confirm


@dataclass
class SubscriberImport:
    """What an import of subscribers decides: the broken rows, each address's change, the
    subscribers to store, those of them to ask for a confirmation (with the link's token), and the
    events."""

    errors: list[dict] = field(default_factory=list)
    changes: list[dict] = field(default_factory=list)
    saved: list[dict] = field(default_factory=list)
    to_confirm: list[tuple[dict, str]] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)


def planned_subscriber_import(rows: list[dict], subscribers: dict[str, dict], suppressions: dict[str, dict],
                              person_of: Callable[[str], str], source: str, now: datetime) -> SubscriberImport:
    """An import of a list of addresses (`subscribers` and `suppressions` hold what is known of
    them, by address key and by person). Rows of one address make one change. An address on the
    suppression list stays there and gets nothing; a subscriber stays as they are. A row that
    records when consent was given subscribes its address; without it, the address is asked to
    confirm by mail, like a subscription from the form, and gets no newsletter until it does (an
    unconfirmed address is deleted after the retention period)."""
    plan = SubscriberImport()
    groups: dict[str, list[dict]] = {}
    for row in rows:
        if row.get("consent_at") and row["consent_at"] > now.astimezone(PRAGUE).date():
            plan.errors.append(row_error(row["line"], "consent_at", "A consent cannot be given in the future."))
            continue
        groups.setdefault(email_key(row["email"]), []).append(row)
    imported = {"name": source, "imported_at": now}
    for key, group in groups.items():
        email = group[0]["email"]
        name = next((row["name"] for row in group if row.get("name")), None)
        consented = max((row["consent_at"] for row in group if row.get("consent_at")), default=None)
        change = {"key": email, "name": name, "lines": [row["line"] for row in group]}
        person, existing = person_of(email), subscribers.get(key)
        if person in suppressions:
            plan.changes.append({**change, "action": "suppressed", "reason": suppressions[person]["reason"]})
        elif existing and existing["status"] == "confirmed":
            plan.changes.append({**change, "action": "unchanged"})
        elif consented is not None:
            subscriber = _imported(key, email, name, existing, imported, now)
            plan.saved.append({**subscriber, "status": "confirmed", "confirmed_at": now, "token_hash": None,
                               "consent": _recorded_consent(consented, source)})
            plan.events.append(subscribed(person))
            plan.changes.append({**change, "action": "subscribe"})
        elif existing and now - _aware(existing["mailed_at"]) < CONFIRMATION_VALIDITY:
            plan.changes.append({**change, "action": "unchanged"})
        else:
            token = new_token()
            subscriber = {**_imported(key, email, name, existing, imported, now), "status": "pending",
                          "token_hash": token_hash(token), "mailed_at": now, "confirmed_at": None,
                          "consent_asked": {"form": IMPORT_CONFIRMATION}}
            plan.saved.append(subscriber)
            plan.to_confirm.append((subscriber, token))
            plan.changes.append({**change, "action": "confirm"})
    return plan


def _imported(key: str, email: str, name: str | None, existing: dict | None, imported: dict, now: datetime) -> dict:
    return {**(existing or {}), "id": key, "email": email, "name": name or (existing or {}).get("name"),
            "created_at": (existing or {}).get("created_at", now), "unsubscribed_at": None, "source": imported}


def _recorded_consent(given_on: date, source: str) -> dict:
    """The consent a list recorded: on that day, through the list's source (its text is the source's)."""
    return {"purpose": "newsletter", "given_at": datetime.combine(given_on, time(0), PRAGUE),
            "form": f"{IMPORTED_FORM}: {source}", "text_version": IMPORTED_FORM}


def import_confirmation(subscriber: dict, confirm_url: str) -> dict:
    """The mail that asks an imported address to confirm: where the address came from, and that
    without a confirmation nothing more comes."""
    subject, text = rendered("newsletter_import_confirmation.txt", {
        "name": subscriber.get("name"), "confirm_url": confirm_url, "source": subscriber["source"]["name"],
        "days": CONFIRMATION_VALIDITY.days})
    return {"id": f"newsletter-{uuid.uuid4().hex}", "kind": IMPORT_CONFIRMATION, "to": subscriber["email"],
            "to_name": subscriber.get("name"), "subject": subject, "text": text, "attachments": []}
