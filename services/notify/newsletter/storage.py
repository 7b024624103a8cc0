"""Newsletter subscribers, and the holds: the people (by keyed hash only) who get no bulk mail."""
from datetime import datetime
from typing import Protocol

from nszm.storage import StoreVerbs, from_document, to_document, utcnow
from services.notify.part import NotifyStorePart


class NewsletterStoreVerbs(StoreVerbs, Protocol):
    """What the newsletter and the holds ask of the store."""

    def get_subscriber(self, key: str) -> dict | None: ...
    def subscriber_by_token(self, hashed: str | None) -> dict | None: ...
    def save_subscriber(self, subscriber: dict) -> None: ...
    def delete_subscriber(self, key: str) -> None: ...
    def confirmed_subscribers(self) -> list[dict]: ...
    def subscriber_of_person(self, person: str) -> dict | None: ...
    def drop_unconfirmed_subscribers(self, requested_before: datetime) -> int: ...
    def held_people(self, people) -> set[str]: ...
    def hold(self, person: str, reason: str) -> None: ...
    def lift_hold(self, person: str, reasons: tuple[str, ...]) -> None: ...
    def hold_of(self, person: str) -> dict | None: ...


class NewsletterStore(NotifyStorePart):
    def __init__(self, client, db_name, pseudonyms=None):
        super().__init__(client, db_name, pseudonyms)
        self.subscribers = self.collection("subscribers")
        self.holds = self.collection("holds")

    def ensure_indexes(self):
        super().ensure_indexes()
        self.subscribers.create_index("token_hash", sparse=True)
        self.subscribers.create_index("status")
        self.subscribers.create_index("person")
        self.backfill_people(self.subscribers, lambda document: [document.get("email")])
        self._hold_by_person_only()

    def _hold_by_person_only(self):
        """Holds stored under the address itself become holds under the person's keyed hash."""
        for held in self.holds.find({"email": {"$exists": True}}):
            self.hold(self.pseudonyms.person(held["email"]), held.get("reason", "unsubscribed"))
            self.holds.delete_one({"_id": held["_id"]})

    def get_subscriber(self, key: str) -> dict | None:
        return from_document(self.subscribers.find_one({"_id": key}, session=self.session))

    def subscriber_by_token(self, hashed: str | None) -> dict | None:
        return from_document(self.subscribers.find_one({"token_hash": hashed}, session=self.session)) if hashed else None

    def save_subscriber(self, subscriber: dict):
        document = {**to_document(subscriber), "person": self.pseudonyms.person(subscriber["email"])}
        self.subscribers.replace_one({"_id": subscriber["id"]}, document, upsert=True, session=self.session)

    def delete_subscriber(self, key: str):
        self.subscribers.delete_one({"_id": key}, session=self.session)

    def confirmed_subscribers(self) -> list[dict]:
        return [{"email": d["email"], "name": d.get("name"), "organization": None}
                for d in self.subscribers.find({"status": "confirmed"}, {"email": 1, "name": 1})]

    def subscriber_of_person(self, person: str) -> dict | None:
        return from_document(self.subscribers.find_one({"person": person}, session=self.session))

    def drop_unconfirmed_subscribers(self, requested_before: datetime) -> int:
        return self.subscribers.delete_many({"status": "pending", "mailed_at": {"$lt": requested_before}}).deleted_count

    def held_people(self, people) -> set[str]:
        """Of these people (keyed hashes), those that get no bulk mail (unsubscribed, erased, or
        refused by their server)."""
        people = list(people)
        found: set[str] = set()
        for start in range(0, len(people), 1000):
            found |= {d["_id"] for d in self.holds.find({"_id": {"$in": people[start:start + 1000]}}, {"_id": 1})}
        return found

    def hold(self, person: str, reason: str):
        """Keep bulk mail from the person; only the keyed hash of their address is kept."""
        self.holds.update_one({"_id": person}, {"$setOnInsert": {"reason": reason, "at": utcnow()}},
                              upsert=True, session=self.session)

    def lift_hold(self, person: str, reasons: tuple[str, ...]):
        self.holds.delete_one({"_id": person, "reason": {"$in": list(reasons)}}, session=self.session)

    def hold_of(self, person: str) -> dict | None:
        return from_document(self.holds.find_one({"_id": person}), "person")
