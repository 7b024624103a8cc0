"""The newsletter: subscribing with a confirmed address, and unsubscribing with a signed link."""
import uuid
from datetime import datetime, timedelta, timezone

from nszm.addresses import email_key
from nszm.contracts import bus
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
