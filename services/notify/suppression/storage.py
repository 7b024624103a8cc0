"""The suppression list (by the person's keyed hash; the address itself only where it does not
take mail), the bounces and complaints that came back, soft-bounce scores, and which messages
of the bounce mailbox were read already."""
import re
from datetime import datetime
from typing import Protocol

from pymongo import ASCENDING, DESCENDING

from nszm.storage import StoreVerbs, find_in, from_document, paged, utcnow
from services.notify.part import NotifyStorePart

LEGACY_REASONS = {"refused": "bounced"}  # a server's refusal while sending is a hard bounce


class SuppressionStoreVerbs(StoreVerbs, Protocol):
    """What the suppression list and bounce handling ask of the store."""

    def suppression_reasons(self, people) -> dict[str, str]: ...
    def suppression_of(self, person: str) -> dict | None: ...
    def put_suppression(self, person: str, entry: dict) -> None: ...
    def lift_suppression(self, person: str, reasons: tuple[str, ...] | None = None) -> bool: ...
    def list_suppressions(self, *, page: int, per_page: int, reason=None, q=None, person=None
                          ) -> tuple[list[dict], int]: ...
    def suppressions_of_people(self, people: list[str]) -> list[dict]: ...
    def soft_score_of(self, person: str) -> dict | None: ...
    def save_soft_score(self, person: str, score: dict) -> None: ...
    def record_bounce(self, key: str, person: str, record: dict) -> bool: ...
    def bounces_of_person(self, person: str) -> list[dict]: ...
    def drop_bounces(self, before: datetime) -> int: ...
    def known_inbox_keys(self, keys: list[str]) -> set[str]: ...
    def remember_inbox_key(self, key: str, outcome: str) -> None: ...


class SuppressionStore(NotifyStorePart):
    def __init__(self, client, db_name, pseudonyms=None):
        super().__init__(client, db_name, pseudonyms)
        self.suppressions = self.collection("holds")
        self.bounces = self.collection("bounces")
        self.soft_scores = self.collection("soft_bounces")
        self.inbox = self.collection("bounce_inbox")

    def ensure_indexes(self):
        super().ensure_indexes()
        self.suppressions.create_index([("at", DESCENDING)])
        self.suppressions.create_index([("reason", ASCENDING), ("at", DESCENDING)])
        self.suppressions.create_index("email", sparse=True)
        self.bounces.create_index([("person", ASCENDING), ("at", ASCENDING)])
        self.bounces.create_index("at")
        self.soft_scores.create_index("at")  # also makes the collection, which a transaction cannot
        self._by_person_only()
        for old, new in LEGACY_REASONS.items():
            self.suppressions.update_many({"reason": old}, {"$set": {"reason": new}})

    def _by_person_only(self):
        """Entries stored under the address itself become entries under the person's keyed hash."""
        for held in self.suppressions.find({"_id": {"$regex": "@"}}):
            person = self.pseudonyms.person(held.get("email") or held["_id"])
            self.suppressions.update_one({"_id": person}, {"$setOnInsert": {
                "reason": held.get("reason", "unsubscribed"), "at": held.get("at") or utcnow()}}, upsert=True)
            self.suppressions.delete_one({"_id": held["_id"]})

    def suppression_reasons(self, people) -> dict[str, str]:
        """Of these people (keyed hashes), those on the list, each with its reason."""
        people = list(people)
        found: dict[str, str] = {}
        for start in range(0, len(people), 1000):
            found |= {d["_id"]: d["reason"] for d in self.suppressions.find(
                {"_id": {"$in": people[start:start + 1000]}}, {"reason": 1}, session=self.session)}
        return found

    def suppression_of(self, person: str) -> dict | None:
        return from_document(self.suppressions.find_one({"_id": person}, session=self.session), "person")

    def put_suppression(self, person: str, entry: dict):
        self.suppressions.replace_one({"_id": person}, {key: value for key, value in entry.items() if key != "person"},
                                      upsert=True, session=self.session)

    def lift_suppression(self, person: str, reasons: tuple[str, ...] | None = None) -> bool:
        query: dict = {"_id": person}
        if reasons is not None:
            query["reason"] = {"$in": list(reasons)}
        return self.suppressions.delete_one(query, session=self.session).deleted_count == 1

    def list_suppressions(self, *, page: int, per_page: int, reason=None, q=None, person=None):
        """Newest first; `q` is part of an address (only undeliverable ones are kept as addresses),
        `person` the keyed hash of a whole address typed in."""
        query: dict = {"reason": reason} if reason else {}
        if q:
            matches: list[dict] = [{"email": {"$regex": re.escape(q.strip().lower())}}]
            if person:
                matches.append({"_id": person})
            query["$or"] = matches
        return paged(self.suppressions, query, [("at", DESCENDING), ("_id", ASCENDING)], page, per_page,
                     lambda d: from_document(d, "person"))

    def suppressions_of_people(self, people: list[str]) -> list[dict]:
        return [from_document(d, "person") for d in find_in(self.suppressions, "_id", people, session=self.session)]

    def soft_score_of(self, person: str) -> dict | None:
        return from_document(self.soft_scores.find_one({"_id": person}, session=self.session), "person")

    def save_soft_score(self, person: str, score: dict):
        self.soft_scores.replace_one({"_id": person}, score, upsert=True, session=self.session)

    def record_bounce(self, key: str, person: str, record: dict) -> bool:
        """Keep a bounce or complaint under its key; False when it was recorded before. (Looked up
        first: a refused insert would abort the transaction; two at once conflict, and the one
        retried finds the other's.)"""
        if self.bounces.find_one({"_id": key}, {"_id": 1}, session=self.session) is not None:
            return False
        self.bounces.insert_one({"_id": key, "person": person, **record}, session=self.session)
        return True

    def bounces_of_person(self, person: str) -> list[dict]:
        return [from_document(d) for d in self.bounces.find({"person": person}).sort("at", ASCENDING)]

    def drop_bounces(self, before: datetime) -> int:
        self.soft_scores.delete_many({"at": {"$lt": before}})
        self.inbox.delete_many({"at": {"$lt": before}})
        return self.bounces.delete_many({"at": {"$lt": before}}).deleted_count

    def known_inbox_keys(self, keys: list[str]) -> set[str]:
        return {d["_id"] for d in self.inbox.find({"_id": {"$in": keys}}, {"_id": 1})}

    def remember_inbox_key(self, key: str, outcome: str):
        """A message of the bounce mailbox that stays there (no bounce of ours): not read again."""
        self.inbox.update_one({"_id": key}, {"$setOnInsert": {"outcome": outcome, "at": utcnow()}}, upsert=True)
