"""The notify store: the mail queue. A mail's id is the id of the event that caused it."""
from datetime import datetime, timedelta

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from nszm.storage import ServiceStore, StoreProvider, from_document, to_document, utcnow

CLAIM_LEASE = timedelta(minutes=2)


class NotifyStore(ServiceStore):
    service = "notify"

    def __init__(self, client, db_name):
        super().__init__(client, db_name)
        self.mails = self.collection("mails")

    def ensure_indexes(self):
        super().ensure_indexes()
        # next_attempt_at exists only while a mail waits for delivery: the index holds just those.
        self.mails.create_index([("next_attempt_at", ASCENDING)], sparse=True)
        self.mails.create_index("to")

    def enqueue(self, mail: dict) -> bool:
        """Queue a mail; False when this mail (this event) was queued before."""
        now = utcnow()
        document = {**to_document(mail), "status": "pending",
                    "attempts": 0, "next_attempt_at": now, "claimed_until": now - timedelta(seconds=1),
                    "created_at": now, "sent_at": None, "last_error": None, "message_id": None}
        try:
            self.mails.insert_one(document)
            return True
        except DuplicateKeyError:
            return False

    def claim(self, mail_id: str | None = None) -> dict | None:
        """Lease one mail that is due: the given one, or else the longest waiting."""
        now = utcnow()
        query = {"next_attempt_at": {"$lte": now}, "claimed_until": {"$lt": now}}
        if mail_id is not None:
            query["_id"] = mail_id
        return from_document(self.mails.find_one_and_update(
            query, {"$set": {"claimed_until": now + CLAIM_LEASE}}, sort=[("next_attempt_at", ASCENDING)],
            return_document=ReturnDocument.AFTER))

    def mark_sent(self, mail_id: str, message_id: str):
        self.mails.update_one({"_id": mail_id}, {"$set": {"status": "sent", "sent_at": utcnow(),
                                                          "message_id": message_id},
                                                 "$unset": {"next_attempt_at": ""}, "$inc": {"attempts": 1}})

    def mark_failed_attempt(self, mail_id: str, error: str, retry_at: datetime | None):
        """Record a failed try: retried at `retry_at`, or given up (status failed) when None."""
        changes = {"last_error": error[:1000], "claimed_until": utcnow()}
        update = {"$set": changes, "$inc": {"attempts": 1}}
        if retry_at is None:
            changes["status"] = "failed"
            update["$unset"] = {"next_attempt_at": ""}
        else:
            changes["next_attempt_at"] = retry_at
        self.mails.update_one({"_id": mail_id}, update)

    def get(self, mail_id: str) -> dict | None:
        return from_document(self.mails.find_one({"_id": mail_id}))

    def list_mails(self, *, page: int, per_page: int, status=None, to=None):
        query = {key: value for key, value in (("status", status), ("to", to)) if value}
        total = self.mails.count_documents(query)
        cursor = self.mails.find(query, {"text": 0, "attachments": 0}).sort("created_at", DESCENDING)
        return [from_document(d) for d in cursor.skip((page - 1) * per_page).limit(per_page)], total

    def retry(self, mail_id: str) -> bool:
        """Queue a failed mail again with a fresh set of attempts; False unless it had failed."""
        now = utcnow()
        result = self.mails.update_one(
            {"_id": mail_id, "status": "failed"},
            {"$set": {"status": "pending", "attempts": 0, "next_attempt_at": now,
                      "claimed_until": now - timedelta(seconds=1)}})
        return result.modified_count == 1

    def mails_to(self, address: str) -> list[dict]:
        return [from_document(d) for d in self.mails.find({"to": address}).sort("created_at", ASCENDING)]


class NotifyStoreProvider(StoreProvider):
    store_class = NotifyStore
