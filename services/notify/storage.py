"""The notify store: the mail queue, mailouts with their recipients, subscribers and held addresses.

A transactional mail's id is the id of the event that caused it. A mailout's recipients are
numbered when its audience is frozen (`<mailout id>:<number>`); senders lease ranges of numbers,
so a sender's reads and writes touch recipients by id only.
"""
import time
from datetime import datetime, timedelta
from typing import Protocol

from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError, WriteError

from nszm.batches import Batches
from nszm.contracts.errors import Conflict, NotFound
from nszm.links import LinkSigner
from nszm.storage import (
    DUPLICATE_KEY,
    ServiceStore,
    StoreProvider,
    StoreVerbs,
    found,
    from_document,
    paged,
    persistently,
    to_document,
    utcnow,
)

CLAIM_LEASE = timedelta(minutes=2)
RANGE_LEASE = timedelta(seconds=30)
ENDED = timedelta(seconds=1)  # a lease that ended this long ago: whoever comes next may claim
# Every public event asks which webhooks want it, and webhooks seldom change: the enabled ones are
# read at most this often. A change made through this process counts at once; one made through
# another replica counts here within this time.
WEBHOOKS_FRESH_SECONDS = 2.0


def _recipient_id(mailout_id: str, seq: int) -> str:
    return f"{mailout_id}:{seq:07d}"


class NotifyStoreVerbs(StoreVerbs, Protocol):
    """What the notify service asks of its store (the real one and the unit tests' fake); inside a
    unit of work the same verbs run in its transaction."""

    def signer(self) -> LinkSigner: ...
    def enqueue(self, mail: dict, leased: bool = False) -> dict | None: ...
    def claim(self, mail_id: str | None = None) -> dict | None: ...
    def mark_sent(self, mail_id: str, message_id: str) -> None: ...
    def mark_failed_attempt(self, mail_id: str, error: str, retry_at: datetime | None) -> None: ...
    def get(self, mail_id: str) -> dict | None: ...
    def list_mails(self, *, page: int, per_page: int, status=None, to=None) -> tuple[list[dict], int]: ...
    def retry(self, mail_id: str) -> bool: ...
    def add_mailout(self, mailout: dict) -> None: ...
    def get_mailout(self, mailout_id: str) -> dict: ...
    def list_mailouts(self, *, page: int, per_page: int, status=None) -> tuple[list[dict], int]: ...
    def mailouts_in(self, *statuses: str) -> list[dict]: ...
    def save_mailout(self, before: dict, after: dict) -> None: ...
    def held_people(self, people) -> set[str]: ...
    def hold(self, person: str, reason: str) -> None: ...
    def lift_hold(self, person: str, reasons: tuple[str, ...]) -> None: ...
    def hold_of(self, person: str) -> dict | None: ...
    def confirmed_subscribers(self) -> list[dict]: ...
    def freeze_recipients(self, mailout_id: str, deliver: list[dict], skipped: list[dict]) -> None: ...
    def claim_range(self, mailout_id: str, size: int) -> tuple[dict | None, list[dict]]: ...
    def interrupted(self, lease: dict) -> None: ...
    def settle_range(self, lease: dict, retry_at: datetime | None) -> None: ...
    def ranges_left(self, mailout_id: str) -> bool: ...
    def recipients_sent(self, sent: list[tuple[str, str, datetime]]) -> None: ...
    def recipient_failed(self, recipient: dict, status: str, retry_at: datetime | None, error: str,
                         hold_reason: str | None) -> None: ...
    def add_progress(self, mailout_id: str, **counts: int) -> None: ...
    def recipient_counts(self, mailout_id: str) -> dict[str, int]: ...
    def get_recipient(self, mailout_id: str, key: str) -> dict | None: ...
    def list_recipients(self, mailout_id: str, *, page: int, per_page: int, status=None
                        ) -> tuple[list[dict], int]: ...
    def get_subscriber(self, key: str) -> dict | None: ...
    def subscriber_by_token(self, hashed: str) -> dict | None: ...
    def save_subscriber(self, subscriber: dict) -> None: ...
    def delete_subscriber(self, key: str) -> None: ...
    def mails_of_person(self, person: str) -> list[dict]: ...
    def mailouts_of_person(self, person: str) -> list[dict]: ...
    def subscriber_of_person(self, person: str) -> dict | None: ...
    def erase_person(self, person: str, erased: dict) -> None: ...
    def drop_mail_bodies(self, sent_before: datetime) -> int: ...
    def drop_recipients(self, ended_before: datetime) -> int: ...
    def drop_unconfirmed_subscribers(self, requested_before: datetime) -> int: ...
    def drop_deliveries(self, created_before: datetime) -> int: ...
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


class NotifyStore(ServiceStore):
    service = "notify"

    def __init__(self, client, db_name, pseudonyms=None):
        super().__init__(client, db_name, pseudonyms)
        self.batches = Batches()  # writes of mails that workers of this process make at the same time
        self.mails = self.collection("mails")
        self.mailouts = self.collection("mailouts")
        self.recipients = self.collection("recipients")
        self.claims = self.collection("claims")
        self.subscribers = self.collection("subscribers")
        self.holds = self.collection("holds")
        self.webhooks = self.collection("webhooks")
        self.deliveries = self.collection("deliveries")
        self.holder: str | None = None  # see hold_as
        self._interrupted: dict[str, dict] = {}  # by mailout: the range this process stopped sending unsettled
        self._enabled_webhooks: tuple[float, list[dict]] | None = None  # (monotonic time read, webhooks)

    def ensure_indexes(self):
        super().ensure_indexes()
        # next_attempt_at exists only while a mail waits for delivery: the index holds just those.
        self.mails.create_index([("next_attempt_at", ASCENDING)], sparse=True)
        self.mails.create_index("to")
        self.mailouts.create_index([("status", ASCENDING), ("scheduled_at", ASCENDING)])
        self.mailouts.create_index([("created_at", DESCENDING)])
        self.recipients.create_index([("mailout_id", ASCENDING), ("seq", ASCENDING)])
        self.recipients.create_index([("mailout_id", ASCENDING), ("key", ASCENDING)])
        self.recipients.create_index([("mailout_id", ASCENDING), ("status", ASCENDING), ("seq", ASCENDING)])
        self.claims.create_index("mailout_id")
        self.subscribers.create_index("token_hash", sparse=True)
        self.subscribers.create_index("status")
        # next_attempt_at exists only while a delivery is still to be tried: the index holds just those.
        self.deliveries.create_index([("next_attempt_at", ASCENDING)], sparse=True)
        self.deliveries.create_index([("webhook_id", ASCENDING), ("created_at", DESCENDING)])
        self.deliveries.create_index([("status", ASCENDING), ("created_at", ASCENDING)])
        for collection in (self.mails, self.recipients, self.subscribers):
            collection.create_index("person")
        self.mails.create_index([("status", ASCENDING), ("created_at", ASCENDING)])
        self.mailouts.create_index([("status", ASCENDING), ("finished_at", ASCENDING)])
        self.backfill_people(self.mails, lambda document: [document.get("to")])
        self.backfill_people(self.recipients, lambda document: [document.get("email")])
        self.backfill_people(self.subscribers, lambda document: [document.get("email")])
        self._hold_by_person_only()

    def _hold_by_person_only(self):
        """Holds stored under the address itself become holds under the person's keyed hash."""
        for held in self.holds.find({"email": {"$exists": True}}):
            self.hold(self.pseudonyms.person(held["email"]), held.get("reason", "unsubscribed"))
            self.holds.delete_one({"_id": held["_id"]})

    def hold_as(self, holder: str | None):
        """Lease under `holder`, a name that one live process has at a time (its place in a
        supervisor), and take back at once what a predecessor of that name held: it is dead, so its
        mails, recipient ranges and webhook deliveries would otherwise wait for their leases to end.
        Anything it sent but did not record goes out again, as after a lease ends."""
        self.holder = holder
        if holder is None:
            return
        now = utcnow()
        ended = now - ENDED
        for collection in (self.mails, self.deliveries):
            collection.update_many({"claimed_by": holder, "claimed_until": {"$gt": now}},
                                   {"$set": {"claimed_until": ended, "claimed_by": None}})
        self.claims.update_many({"holder": holder, "until": {"$gt": now}}, {"$set": {"until": ended, "holder": None}})

    def enqueue(self, mail: dict, leased: bool = False) -> dict | None:
        """Queue a mail, leased to the caller (who sends it at once) or for whoever claims it first;
        the queued mail as `claim` gives it, or None when this mail (this event) was queued before."""
        now = utcnow()
        document = {**to_document(mail), "person": self.pseudonyms.person(mail["to"]), "status": "pending",
                    "attempts": 0, "next_attempt_at": now,
                    "claimed_until": now + CLAIM_LEASE if leased else now - ENDED,
                    "claimed_by": self.holder if leased else None,
                    "created_at": now, "sent_at": None, "last_error": None, "message_id": None}
        return self.batches.submit("mails.queued", document, self._queue_all)

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
        query = {"next_attempt_at": {"$lte": now}, "claimed_until": {"$lt": now}}
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

    # -- mailouts ------------------------------------------------------------------------

    def add_mailout(self, mailout: dict):
        self.mailouts.insert_one(to_document(mailout))

    def get_mailout(self, mailout_id: str) -> dict:
        return found(from_document(self.mailouts.find_one({"_id": mailout_id}, session=self.session)),
                     f"No mailout '{mailout_id}'.")

    def list_mailouts(self, *, page: int, per_page: int, status=None):
        query = {"status": status} if status else {}
        return paged(self.mailouts, query, [("created_at", DESCENDING), ("_id", ASCENDING)], page, per_page)

    def mailouts_in(self, *statuses: str) -> list[dict]:
        return [from_document(d) for d in self.mailouts.find({"status": {"$in": list(statuses)}})]

    def save_mailout(self, before: dict, after: dict):
        """Store `after` if the mailout is still as `before` left it (compare-and-set on its status)."""
        result = self.mailouts.replace_one({"_id": before["id"], "status": before["status"]},
                                           to_document(after), session=self.session)
        if result.matched_count != 1:
            raise Conflict("The mailout changed meanwhile; reload it and try again.")

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

    def confirmed_subscribers(self) -> list[dict]:
        return [{"email": d["email"], "name": d.get("name"), "organization": None}
                for d in self.subscribers.find({"status": "confirmed"}, {"email": 1, "name": 1})]

    def freeze_recipients(self, mailout_id: str, deliver: list[dict], skipped: list[dict]):
        """Store the audience as it is now, numbered; a freeze cut short by a crash is replaced whole."""
        self.recipients.delete_many({"mailout_id": mailout_id})
        now = utcnow()
        documents = [
            {"_id": _recipient_id(mailout_id, seq), "mailout_id": mailout_id, "seq": seq, "key": p["key"],
             "person": self.pseudonyms.person(p["email"]),
             "email": p["email"], "name": p.get("name"), "organization": p.get("organization"), "status": status,
             "attempts": 0, "last_error": None, "sent_at": None, "message_id": None,
             **({"next_attempt_at": now} if status == "queued" else {})}
            for seq, (p, status) in enumerate([(p, "queued") for p in deliver] + [(p, "skipped") for p in skipped])
        ]
        for start in range(0, len(documents), 1000):
            self.recipients.insert_many(documents[start:start + 1000])

    def claim_range(self, mailout_id: str, size: int) -> tuple[dict | None, list[dict]]:
        """Lease a range of recipients: one whose sender's lease ran out, else the next one never handed out.

        Returns the lease and the range's recipients still queued; (None, []) when there is none.
        A dead sender's range comes back when its lease ends; a range with retries left comes
        back when the earliest retry is due.
        """
        now = utcnow()
        mine = self._interrupted.pop(mailout_id, None)
        if mine is not None:  # unchanged since: nobody else has claimed it
            lease = self.claims.find_one_and_update({"_id": mine["id"], "until": mine["until"]},
                                                    {"$set": {"until": now + RANGE_LEASE, "holder": self.holder}},
                                                    return_document=ReturnDocument.AFTER)
            if lease is not None:
                return self._queued_in(lease)
        lease = self.claims.find_one_and_update({"mailout_id": mailout_id, "until": {"$lt": now}},
                                                {"$set": {"until": now + RANGE_LEASE, "holder": self.holder}},
                                                return_document=ReturnDocument.AFTER)
        if lease is None:
            before = self.mailouts.find_one_and_update({"_id": mailout_id}, {"$inc": {"cursor": size}},
                                                       {"cursor": 1, "total": 1})
            start = before.get("cursor", 0)
            if start >= before.get("total", 0):
                return self._claim_stray(mailout_id, size, before["total"], now)
            lease = {"_id": f"{mailout_id}:{start}", "mailout_id": mailout_id, "start": start,
                     "end": min(start + size, before["total"]), "until": now + RANGE_LEASE, "holder": self.holder}
            self.claims.insert_one(lease)
        return self._queued_in(lease)

    def _claim_stray(self, mailout_id: str, size: int, total: int, now: datetime) -> tuple[dict | None, list[dict]]:
        """Every range was handed out: lease again the range of a recipient still queued outside every
        live lease. Only a database that lost its last acknowledged writes in a crash leaves one (its
        record of a sent message gone after the range was settled); the message goes out again, with
        its Message-ID, as the crash bound allows."""
        live = [{"seq": {"$gte": c["start"], "$lt": c["end"]}} for c in self.claims.find({"mailout_id": mailout_id})]
        query = {"mailout_id": mailout_id, "status": "queued", "next_attempt_at": {"$lte": now},
                 **({"$nor": live} if live else {})}
        stray = self.recipients.find_one(query, {"seq": 1}, sort=[("seq", ASCENDING)])
        if stray is None:
            return None, []
        start = stray["seq"] - stray["seq"] % size
        lease = {"_id": f"{mailout_id}:{start}", "mailout_id": mailout_id, "start": start,
                 "end": min(start + size, total), "until": now + RANGE_LEASE, "holder": self.holder}
        try:
            self.claims.insert_one(lease)
        except DuplicateKeyError:  # another sender took it a moment ago
            return None, []
        return self._queued_in(lease)

    def _queued_in(self, lease: dict) -> tuple[dict, list[dict]]:
        """The lease and its range's recipients still queued, read by id alone: an exact-id lookup
        stays fast however many recipients the mailout has."""
        ids = [_recipient_id(lease["mailout_id"], seq) for seq in range(lease["start"], lease["end"])]
        found = sorted(self.recipients.find({"_id": {"$in": ids}}), key=lambda d: d["seq"])
        return from_document(lease), [from_document(d) for d in found if d["status"] == "queued"]

    def interrupted(self, lease: dict):
        """This process stopped sending `lease`'s range before settling it (the database went away
        mid-range): its next claim for the mailout takes the range back at once, unless someone
        claimed it meanwhile, instead of leaving it until the lease ends."""
        self._interrupted[lease["mailout_id"]] = lease

    def settle_range(self, lease: dict, retry_at: datetime | None):
        """A sender is done with its range: forget it, or keep it until the earliest retry is due."""
        if retry_at is None:
            self.claims.delete_one({"_id": lease["id"]})
        else:
            self.claims.update_one({"_id": lease["id"]}, {"$set": {"until": retry_at, "holder": None}})

    def ranges_left(self, mailout_id: str) -> bool:
        """True while some recipients of the mailout were never handed out or are still leased."""
        mailout = self.mailouts.find_one({"_id": mailout_id}, {"cursor": 1, "total": 1})
        return (mailout.get("cursor", 0) < mailout.get("total", 0)
                or self.claims.find_one({"mailout_id": mailout_id}, {"_id": 1}) is not None)

    def recipients_sent(self, sent: list[tuple[str, str, datetime]]):
        """Record messages the SMTP server accepted: (recipient id, Message-ID, when)."""
        self.recipients.bulk_write([
            UpdateOne({"_id": recipient_id}, {"$set": {"status": "sent", "sent_at": at, "message_id": message_id},
                                              "$unset": {"next_attempt_at": ""}, "$inc": {"attempts": 1}})
            for recipient_id, message_id, at in sent], ordered=False)

    def recipient_failed(self, recipient: dict, status: str, retry_at: datetime | None, error: str,
                         hold_reason: str | None):
        changes = {"status": status, "last_error": error[:1000]}
        update = {"$set": changes, "$inc": {"attempts": 1}}
        if retry_at is None:
            update["$unset"] = {"next_attempt_at": ""}
        else:
            changes["next_attempt_at"] = retry_at
        self.recipients.update_one({"_id": recipient["id"]}, update)
        if hold_reason:
            self.hold(self.pseudonyms.person(recipient["email"]), hold_reason)

    def add_progress(self, mailout_id: str, **counts: int):
        """Running totals for progress bars; exact counts are taken from the recipients at the end."""
        self.mailouts.update_one({"_id": mailout_id}, {"$inc": {f"progress.{k}": n for k, n in counts.items()}})

    def recipient_counts(self, mailout_id: str) -> dict[str, int]:
        grouped = self.recipients.aggregate([{"$match": {"mailout_id": mailout_id}},
                                             {"$group": {"_id": "$status", "n": {"$sum": 1}}}], session=self.session)
        return {d["_id"]: d["n"] for d in grouped}

    def get_recipient(self, mailout_id: str, key: str) -> dict | None:
        return from_document(self.recipients.find_one({"mailout_id": mailout_id, "key": key}))

    def list_recipients(self, mailout_id: str, *, page: int, per_page: int, status=None):
        query = {"mailout_id": mailout_id, **({"status": status} if status else {})}
        return paged(self.recipients, query, [("seq", ASCENDING)], page, per_page)

    # -- subscribers --------------------------------------------------------------------

    def get_subscriber(self, key: str) -> dict | None:
        return from_document(self.subscribers.find_one({"_id": key}, session=self.session))

    def subscriber_by_token(self, hashed: str) -> dict | None:
        return from_document(self.subscribers.find_one({"token_hash": hashed}, session=self.session)) if hashed else None

    def save_subscriber(self, subscriber: dict):
        document = {**to_document(subscriber), "person": self.pseudonyms.person(subscriber["email"])}
        self.subscribers.replace_one({"_id": subscriber["id"]}, document, upsert=True, session=self.session)

    def delete_subscriber(self, key: str):
        self.subscribers.delete_one({"_id": key}, session=self.session)

    # -- personal data --------------------------------------------------------------------

    def mails_of_person(self, person: str) -> list[dict]:
        return [from_document(d) for d in self.mails.find({"person": person}, {"text": 0, "html": 0, "attachments": 0})
                .sort("created_at", ASCENDING)]

    def mailouts_of_person(self, person: str) -> list[dict]:
        """The person's places among mailouts' recipients, each with its mailout's subject."""
        places = [from_document(d) for d in self.recipients.find({"person": person}).sort("_id", ASCENDING)]
        subjects = {d["_id"]: d["subject"] for d in self.mailouts.find(
            {"_id": {"$in": sorted({p["mailout_id"] for p in places})}}, {"subject": 1})}
        return [{**place, "subject": subjects.get(place["mailout_id"])} for place in places]

    def subscriber_of_person(self, person: str) -> dict | None:
        return from_document(self.subscribers.find_one({"person": person}, session=self.session))

    def erase_person(self, person: str, erased: dict):
        """Replace the person's address, name and messages in the mail queue and mailouts' recipient
        lists with `erased`'s values (the status rows stay), and delete their subscription."""
        self.mails.update_many({"person": person}, {"$set": erased["mail"], "$unset": {
            field: "" for field in erased["mail_dropped"]}}, session=self.session)
        self.recipients.update_many({"person": person}, {"$set": erased["recipient"]}, session=self.session)
        self.subscribers.delete_many({"person": person}, session=self.session)

    def drop_mail_bodies(self, sent_before: datetime) -> int:
        """The text, HTML, attachments and headers of mails sent (or given up) before this moment."""
        return self.mails.update_many(
            {"status": {"$in": ["sent", "failed"]}, "created_at": {"$lt": sent_before}, "text": {"$exists": True}},
            {"$unset": {"text": "", "html": "", "attachments": "", "headers": ""},
             "$set": {"bodies_dropped_at": utcnow()}}).modified_count

    def drop_recipients(self, ended_before: datetime) -> int:
        """The recipient lists of mailouts that ended (sent or cancelled) before this moment; the
        mailouts keep their counts."""
        ended = [d["_id"] for d in self.mailouts.find(
            {"status": {"$in": ["sent", "cancelled"]}, "finished_at": {"$lt": ended_before}}, {"_id": 1})]
        if not ended:
            return 0
        return self.recipients.delete_many({"mailout_id": {"$in": ended}}).deleted_count

    def drop_unconfirmed_subscribers(self, requested_before: datetime) -> int:
        return self.subscribers.delete_many({"status": "pending", "mailed_at": {"$lt": requested_before}}).deleted_count

    def drop_deliveries(self, created_before: datetime) -> int:
        """Webhook deliveries done with (delivered or failed) created before this moment."""
        return self.deliveries.delete_many({"status": {"$in": ["delivered", "failed"]},
                                            "created_at": {"$lt": created_before}}).deleted_count


    # -- webhooks ------------------------------------------------------------------------

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


class NotifyStoreProvider(StoreProvider[NotifyStoreVerbs]):
    """A notify store holding its leases under this process's place in its supervisor, if any."""

    store_class = NotifyStore

    def start(self):
        super().start()
        self.store.hold_as(self.settings.process_slot)
