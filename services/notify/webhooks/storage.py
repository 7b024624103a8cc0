"""Webhook endpoints and their deliveries: one delivery per endpoint and event, tried until it
succeeds or a day has passed."""
import time
from datetime import datetime
from typing import Protocol

from pymongo import ASCENDING, DESCENDING, ReturnDocument

from nszm.contracts.errors import NotFound
from nszm.storage import StoreVerbs, found, from_document, paged, to_document, utcnow
from services.notify.part import CLAIM_LEASE, NotifyStorePart

# Every public event asks which webhooks want it, and webhooks seldom change: the enabled ones are
# read at most this often. A change made through this process counts at once; one made through
# another replica counts here within this time.
WEBHOOKS_FRESH_SECONDS = 2.0


class WebhookStoreVerbs(StoreVerbs, Protocol):
    """What webhooks ask of the store."""

    def add_webhook(self, webhook: dict) -> None: ...
    def get_webhook(self, webhook_id: str) -> dict: ...
    def list_webhooks(self, *, page: int, per_page: int) -> tuple[list[dict], int]: ...
    def webhooks_for(self, event_type: str) -> list[dict]: ...
    def save_webhook(self, webhook: dict) -> None: ...
    def delete_webhook(self, webhook_id: str) -> None: ...
    def add_deliveries(self, deliveries: list[dict]) -> None: ...
    def claim_deliveries(self, now: datetime, limit: int) -> list[dict]: ...
    def save_delivery(self, delivery: dict) -> None: ...
    def list_deliveries(self, webhook_id: str, *, page: int, per_page: int, status=None
                        ) -> tuple[list[dict], int]: ...
    def drop_deliveries(self, created_before: datetime) -> int: ...


class WebhookStore(NotifyStorePart):
    def __init__(self, client, db_name, pseudonyms=None):
        super().__init__(client, db_name, pseudonyms)
        self.webhooks = self.collection("webhooks")
        self.deliveries = self.collection("deliveries")
        self._enabled_webhooks: tuple[float, list[dict]] | None = None  # (monotonic time read, webhooks)

    def ensure_indexes(self):
        super().ensure_indexes()
        # next_attempt_at exists only while a delivery is still to be tried: the index holds just those.
        self.deliveries.create_index([("next_attempt_at", ASCENDING)], sparse=True)
        self.deliveries.create_index([("webhook_id", ASCENDING), ("created_at", DESCENDING)])
        self.deliveries.create_index([("status", ASCENDING), ("created_at", ASCENDING)])

    def add_webhook(self, webhook: dict):
        self.webhooks.insert_one(to_document(webhook))
        self._enabled_webhooks = None

    def get_webhook(self, webhook_id: str) -> dict:
        return found(from_document(self.webhooks.find_one({"_id": webhook_id})), f"No webhook '{webhook_id}'.")

    def list_webhooks(self, *, page: int, per_page: int) -> tuple[list[dict], int]:
        return paged(self.webhooks, {}, [("created_at", ASCENDING), ("_id", ASCENDING)], page, per_page)

    def webhooks_for(self, event_type: str) -> list[dict]:
        read_at, enabled = self._enabled_webhooks or (float("-inf"), [])
        if time.monotonic() - read_at > WEBHOOKS_FRESH_SECONDS:
            read_at = time.monotonic()
            enabled = [from_document(d) for d in self.webhooks.find({"enabled": True})]
            self._enabled_webhooks = (read_at, enabled)
        return [dict(webhook) for webhook in enabled if event_type in webhook["events"]]

    def save_webhook(self, webhook: dict):
        self.webhooks.replace_one({"_id": webhook["id"]}, to_document(webhook))
        self._enabled_webhooks = None

    def delete_webhook(self, webhook_id: str):
        self._enabled_webhooks = None
        if self.webhooks.delete_one({"_id": webhook_id}).deleted_count != 1:
            raise NotFound(f"No webhook '{webhook_id}'.")
        self.deliveries.delete_many({"webhook_id": webhook_id})

    def add_deliveries(self, deliveries: list[dict]):
        """Store new deliveries; one already stored (the same event again) is kept as it is."""
        for delivery in deliveries:
            document = to_document({**delivery, "claimed_until": delivery["created_at"]})
            self.deliveries.update_one({"_id": document["_id"]}, {"$setOnInsert": document}, upsert=True)

    def claim_deliveries(self, now: datetime, limit: int) -> list[dict]:
        """Lease up to `limit` deliveries that are due, longest waiting first."""
        claimed = []
        for _ in range(limit):
            document = self.deliveries.find_one_and_update(
                {"next_attempt_at": {"$lte": now}, "claimed_until": {"$lte": now}},
                {"$set": {"claimed_until": now + CLAIM_LEASE, "claimed_by": self.holder}},
                sort=[("next_attempt_at", ASCENDING)],
                return_document=ReturnDocument.AFTER)
            if document is None:
                break
            claimed.append(from_document(document, hidden=("claimed_until", "claimed_by")))
        return claimed

    def save_delivery(self, delivery: dict):
        """Store a delivery after a try, and end its lease; one not to be tried again leaves the index."""
        changes = {k: v for k, v in to_document(delivery).items() if k != "_id"}
        update: dict = {"$set": {**changes, "claimed_until": utcnow()}}
        if changes.get("next_attempt_at") is None:
            del update["$set"]["next_attempt_at"]
            update["$unset"] = {"next_attempt_at": ""}
        self.deliveries.update_one({"_id": delivery["id"]}, update)

    def list_deliveries(self, webhook_id: str, *, page: int, per_page: int, status=None) -> tuple[list[dict], int]:
        query = {"webhook_id": webhook_id, **({"status": status} if status else {})}
        return paged(self.deliveries, query, [("created_at", DESCENDING), ("_id", ASCENDING)], page, per_page,
                     lambda d: from_document(d, hidden=("claimed_until", "claimed_by")), projection={"envelope": 0})

    def drop_deliveries(self, created_before: datetime) -> int:
        """Webhook deliveries done with (delivered or failed) created before this moment."""
        return self.deliveries.delete_many({"status": {"$in": ["delivered", "failed"]},
                                            "created_at": {"$lt": created_before}}).deleted_count
