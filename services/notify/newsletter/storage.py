"""Newsletter subscribers: confirmed, pending, and imported ones waiting for their confirmation."""
from datetime import datetime
from typing import Protocol

from pymongo import ReplaceOne

from nszm.storage import StoreVerbs, find_in, from_document, to_document
from services.notify.part import NotifyStorePart


class NewsletterStoreVerbs(StoreVerbs, Protocol):
    """What the newsletter asks of the store."""

    def get_subscriber(self, key: str) -> dict | None: ...
    def subscriber_by_token(self, hashed: str | None) -> dict | None: ...
    def save_subscriber(self, subscriber: dict) -> None: ...
    def delete_subscriber(self, key: str) -> None: ...
    def confirmed_subscribers(self) -> list[dict]: ...
    def subscriber_of_person(self, person: str) -> dict | None: ...
    def drop_unconfirmed_subscribers(self, requested_before: datetime) -> int: ...
    def subscribers_by_keys(self, keys: list[str]) -> dict[str, dict]: ...
    def save_subscribers(self, subscribers: list[dict]) -> None: ...


class NewsletterStore(NotifyStorePart):
    def __init__(self, client, db_name, pseudonyms=None):
        super().__init__(client, db_name, pseudonyms)
        self.subscribers = self.collection("subscribers")

    def ensure_indexes(self):
        super().ensure_indexes()
        self.subscribers.create_index("token_hash", sparse=True)
        self.subscribers.create_index("status")
        self.subscribers.create_index("person")
        self.backfill_people(self.subscribers, lambda document: [document.get("email")])

    def get_subscriber(self, key: str) -> dict | None:
        return from_document(self.subscribers.find_one({"_id": key}, session=self.session))

    def subscriber_by_token(self, hashed: str | None) -> dict | None:
        return from_document(self.subscribers.find_one({"token_hash": hashed}, session=self.session)) if hashed else None

    def save_subscriber(self, subscriber: dict):
        document = {**to_document(subscriber), "person": self.pseudonyms.person(subscriber["email"])}
        self.subscribers.replace_one({"_id": subscriber["id"]}, document, upsert=True, session=self.session)

    def subscribers_by_keys(self, keys: list[str]) -> dict[str, dict]:
        return {document["_id"]: from_document(document)
                for document in find_in(self.subscribers, "_id", keys, session=self.session)}

    def save_subscribers(self, subscribers: list[dict]):
        if subscribers:
            self.subscribers.bulk_write([ReplaceOne({"_id": subscriber["id"]}, {
                **to_document(subscriber), "person": self.pseudonyms.person(subscriber["email"])}, upsert=True)
                for subscriber in subscribers], session=self.session)

    def delete_subscriber(self, key: str):
        self.subscribers.delete_one({"_id": key}, session=self.session)

    def confirmed_subscribers(self) -> list[dict]:
        return [{"email": d["email"], "name": d.get("name"), "organization": None}
                for d in self.subscribers.find({"status": "confirmed"}, {"email": 1, "name": 1})]

    def subscriber_of_person(self, person: str) -> dict | None:
        return from_document(self.subscribers.find_one({"person": person}, session=self.session))

    def drop_unconfirmed_subscribers(self, requested_before: datetime) -> int:
        return self.subscribers.delete_many({"status": "pending", "mailed_at": {"$lt": requested_before}}).deleted_count
