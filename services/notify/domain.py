"""What notify does with a person's data on request: the erasure it announces, and what the
person's mail and recipient rows become."""
import uuid
from datetime import datetime

from nszm.contracts import bus
from nszm.privacy import ERASED_NAME, erased_address


def erasure(person: str, now: datetime) -> dict:
    """A request to erase a person's data everywhere: notify erases its own records at once and
    announces `person_erased`, on which every other service erases its own."""
    return {"id": uuid.uuid4().hex, "person": person,
            "requested_at": now.replace(microsecond=now.microsecond // 1000 * 1000)}  # as the database keeps it


def erased_values(person: str) -> dict:
    """What the person's mail and recipient rows become: the status, dates and counts stay; the
    address, name, subject and message do not, nor what a server answered (it may quote the address)."""
    address = erased_address(person)
    return {"mail": {"to": address, "to_name": None, "subject": None},
            "mail_dropped": ["text", "html", "attachments", "headers", "last_error", "bounce"],
            "recipient": {"email": address, "key": address, "name": ERASED_NAME, "organization": None,
                          "message_id": None},
            "recipient_dropped": ["last_error", "bounce"]}


def person_erased(erasure: dict) -> dict:
    """The event on which every other service (and subscriber) erases the person: their keyed hash,
    never their address."""
    return bus.envelope(bus.PERSON_ERASED, {"erasure_id": erasure["id"], "person": erasure["person"],
                                            "requested_at": erasure["requested_at"].isoformat()})
