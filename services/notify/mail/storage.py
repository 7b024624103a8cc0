"""The mail queue: a transactional mail's id is the id of the event that caused it, so an event
delivered twice queues one mail."""
from datetime import datetime
from typing import Protocol

from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, WriteError

from nszm.batches import Batches
from nszm.storage import DUPLICATE_KEY, StoreVerbs, from_document, paged, persistently, to_document, utcnow
from services.notify.part import CLAIM_LEASE, ENDED, NotifyStorePart


class MailStoreVerbs(StoreVerbs, Protocol):
    """What transactional mail asks of the store."""

    def enqueue(self, mail: dict, leased: bool = False) -> dict | None: ...
    def claim(self, mail_id: str | None = None) -> dict | None: ...
    def queue_mails(self, mails: list[dict]) -> None: ...
    def mark_sent(self, mail_id: str, message_id: str) -> None: ...
    def mark_failed_attempt(self, mail_id: str, error: str, retry_at: datetime | None) -> None: ...
    def get(self, mail_id: str) -> dict | None: ...
    def list_mails(self, *, page: int, per_page: int, status=None, to=None) -> tuple[list[dict], int]: ...
    def retry(self, mail_id: str) -> bool: ...
    def mails_of_person(self, person: str) -> list[dict]: ...
    def drop_mail_bodies(self, sent_before: datetime) -> int: ...
    def mail_by_bounce(self, tokens: tuple[str, ...], message_ids: tuple[str, ...]) -> dict | None: ...
    def mark_mail_bounced(self, mail_id: str, bounce: dict) -> bool: ...
    def mark_suppressed(self, mail_id: str, reason: str) -> None: ...


class MailStore(NotifyStorePart):
    def __init__(self, client, db_name, pseudonyms=None):
        super().__init__(client, db_name, pseudonyms)
        self.mails = self.collection("mails")
        self.batches = Batches()  # writes of mails that workers of this process make at the same time

    def ensure_indexes(self):
        super().ensure_indexes()
        # next_attempt_at exists only while a mail waits for delivery: the index holds just those.
        self.mails.create_index([("next_attempt_at", ASCENDING)], sparse=True)
        self.mails.create_index("to")
        self.mails.create_index("person")
        self.mails.create_index([("status", ASCENDING), ("created_at", ASCENDING)])
        self.mails.create_index("bounce_token", sparse=True)
        if "message_id_1" in self.mails.index_information():  # a mail's Message-ID names it by its id
            self.mails.drop_index("message_id_1")
        self.backfill_people(self.mails, lambda document: [document.get("to")])

    def enqueue(self, mail: dict, leased: bool = False) -> dict | None:
        """Queue a mail, leased to the caller (who sends it at once) or for whoever claims it first;
        the queued mail as `claim` gives it, or None when this mail (this event) was queued before."""
        return self.batches.submit("mails.queued", self._queued(mail, leased), self._queue_all)

    def _queued(self, mail: dict, leased: bool) -> dict:
        now = utcnow()
        return {**to_document(mail), "person": self.pseudonyms.person(mail["to"]), "status": "pending",
                "attempts": 0, "next_attempt_at": now,
                "claimed_until": now + CLAIM_LEASE if leased else now - ENDED,
                "claimed_by": self.holder if leased else None,
                "created_at": now, "sent_at": None, "last_error": None, "message_id": None}

    def queue_mails(self, mails: list[dict]):
        """Queue mails for whoever claims them first, in this unit of work (with what causes them)."""
        if mails:
            self.mails.insert_many([self._queued(mail, leased=False) for mail in mails], session=self.session)

    def _queue_all(self, documents: list[dict]) -> list:
        """Mails queued at the same time by workers of this process, in one insert: each the queued
        mail, None if it was queued before, or the error that kept it out."""
        try:
            self.mails.insert_many(documents, ordered=False)
            refused = {}
        except BulkWriteError as error:
            refused = {failure["index"]: failure for failure in error.details["writeErrors"]}
        return [from_document(document) if n not in refused
                else None if refused[n]["code"] == DUPLICATE_KEY
                else WriteError(refused[n]["errmsg"], refused[n]["code"], refused[n])
                for n, document in enumerate(documents)]

    def claim(self, mail_id: str | None = None) -> dict | None:
        """Lease one mail that is due: the given one, or else the longest waiting."""
        now = utcnow()
        query: dict[str, object] = {"next_attempt_at": {"$lte": now}, "claimed_until": {"$lt": now}}
        if mail_id is not None:
            query["_id"] = mail_id
        return from_document(self.mails.find_one_and_update(
            query, {"$set": {"claimed_until": now + CLAIM_LEASE, "claimed_by": self.holder}},
            sort=[("next_attempt_at", ASCENDING)], return_document=ReturnDocument.AFTER))

    def mark_sent(self, mail_id: str, message_id: str):
        """Recorded even across a restart of the database: a mail sent but not marked would be sent
        again. Marks that workers of this process make at the same time go in one write."""
        self.batches.submit("mails.sent", (mail_id, message_id, utcnow()), self._mark_all_sent)

    def _mark_all_sent(self, sent: list[tuple[str, str, datetime]]) -> list[None]:
        persistently(lambda: self.mails.bulk_write([UpdateOne(
            {"_id": mail_id, "status": "pending"},
            {"$set": {"status": "sent", "sent_at": sent_at, "message_id": message_id},
             "$unset": {"next_attempt_at": ""}, "$inc": {"attempts": 1}}) for mail_id, message_id, sent_at in sent],
            ordered=False))
        return [None] * len(sent)

    def mark_failed_attempt(self, mail_id: str, error: str, retry_at: datetime | None):
        """Record a failed try: retried at `retry_at`, or given up (status failed) when None."""
        changes = {"last_error": error[:1000], "claimed_until": utcnow()}
        update = {"$set": changes, "$inc": {"attempts": 1}}
        if retry_at is None:
            changes["status"] = "failed"
            update["$unset"] = {"next_attempt_at": ""}
        else:
            changes["next_attempt_at"] = retry_at
        persistently(lambda: self.mails.update_one({"_id": mail_id, "status": "pending"}, update))

    def get(self, mail_id: str) -> dict | None:
        return from_document(self.mails.find_one({"_id": mail_id}))

    def list_mails(self, *, page: int, per_page: int, status=None, to=None):
        query = {key: value for key, value in (("status", status), ("to", to)) if value}
        return paged(self.mails, query, [("created_at", DESCENDING)], page, per_page,
                     projection={"text": 0, "html": 0, "attachments": 0})

    def retry(self, mail_id: str) -> bool:
        """Queue a failed mail again with a fresh set of attempts; False unless it had failed."""
        now = utcnow()
        result = self.mails.update_one(
            {"_id": mail_id, "status": "failed"},
            {"$set": {"status": "pending", "attempts": 0, "next_attempt_at": now,
                      "claimed_until": now - ENDED}})
        return result.modified_count == 1

    def mails_of_person(self, person: str) -> list[dict]:
        return [from_document(d) for d in self.mails.find({"person": person}, {"text": 0, "html": 0, "attachments": 0})
                .sort("created_at", ASCENDING)]

    def drop_mail_bodies(self, sent_before: datetime) -> int:
        """The text, HTML, attachments and headers of mails sent (or given up, bounced, suppressed)
        before this moment, and what a server said of a bounce (it may quote the address)."""
        return self.mails.update_many(
            {"status": {"$in": ["sent", "failed", "bounced", "suppressed"]}, "created_at": {"$lt": sent_before},
             "text": {"$exists": True}},
            {"$unset": {"text": "", "html": "", "attachments": "", "headers": "", "bounce.diagnostic": ""},
             "$set": {"bodies_dropped_at": utcnow()}}).modified_count

    def mail_by_bounce(self, tokens: tuple[str, ...], message_ids: tuple[str, ...]) -> dict | None:
        """The sent mail a bounce names: by its return path's token, else by its Message-ID
        (`<mail id@domain>`, so found by id)."""
        ids = [message_id.strip("<>").rpartition("@")[0] for message_id in message_ids]
        for query in ([{"bounce_token": token} for token in tokens]
                      + ([{"_id": {"$in": ids}, "message_id": {"$in": list(message_ids)}}] if ids else [])):
            found = self.mails.find_one(query, {"text": 0, "html": 0, "attachments": 0}, session=self.session)
            if found is not None:
                return from_document(found)
        return None

    def mark_mail_bounced(self, mail_id: str, bounce: dict) -> bool:
        """A sent mail came back; False if it was marked before (or never sent)."""
        return self.mails.update_one({"_id": mail_id, "status": "sent"},
                                     {"$set": {"status": "bounced", "bounce": bounce}},
                                     session=self.session).modified_count == 1

    def mark_suppressed(self, mail_id: str, reason: str):
        """The mail was not sent: its address is on the suppression list for `reason`."""
        persistently(lambda: self.mails.update_one(
            {"_id": mail_id, "status": "pending"},
            {"$set": {"status": "suppressed", "last_error": f"suppressed: {reason}", "claimed_until": utcnow()},
             "$unset": {"next_attempt_at": ""}}))
