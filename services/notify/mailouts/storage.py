"""Mailouts and their recipients. A mailout's recipients are numbered when its audience is frozen
(`<mailout id>:<number>`); senders lease ranges of numbers, so a sender's reads and writes
touch recipients by id only."""
from datetime import datetime, timedelta
from typing import Protocol, cast

from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.errors import DuplicateKeyError

from nszm.contracts.errors import Conflict
from nszm.records import Mailout, Recipient
from nszm.storage import StoreVerbs, found, from_document, paged, to_document, utcnow
from services.notify.part import NotifyStorePart

RANGE_LEASE = timedelta(seconds=30)
START_LEASE = timedelta(seconds=60)  # freezing even a large audience takes seconds
SENDING_LEASE = timedelta(seconds=30)  # a burst of sending takes 5 s


def _lease_end(now: datetime, length: timedelta) -> datetime:
    """When a lease taken `now` ends, as the database stores it (to the millisecond), so that a
    holder can name its lease exactly."""
    return now.replace(microsecond=now.microsecond // 1000 * 1000) + length


def _recipient_id(mailout_id: str, seq: int) -> str:
    return f"{mailout_id}:{seq:07d}"


class MailoutStoreVerbs(StoreVerbs, Protocol):
    """What mailouts ask of the store about the mailouts themselves."""

    def add_mailout(self, mailout: Mailout) -> None: ...
    def get_mailout(self, mailout_id: str) -> Mailout: ...
    def list_mailouts(self, *, page: int, per_page: int, status=None) -> tuple[list[Mailout], int]: ...
    def mailouts_in(self, *statuses: str) -> list[Mailout]: ...
    def claim_start(self, mailout_id: str) -> datetime | None: ...
    def save_mailout(self, before: Mailout, after: Mailout) -> None: ...
    def mailouts_of_person(self, person: str) -> list[dict]: ...


class RecipientStoreVerbs(StoreVerbs, Protocol):
    """What mailouts ask of the store about their frozen recipient lists and their sending."""

    def freeze_recipients(self, mailout_id: str, deliver: list[dict], skipped: list[dict]) -> None: ...
    def claim_sending(self, mailout_id: str) -> datetime | None: ...
    def release_sending(self, mailout_id: str, lease: datetime) -> None: ...
    def claim_range(self, mailout_id: str, size: int) -> tuple[dict | None, list[Recipient]]: ...
    def interrupted(self, lease: dict) -> None: ...
    def settle_range(self, lease: dict, retry_at: datetime | None) -> None: ...
    def ranges_left(self, mailout_id: str) -> bool: ...
    def recipients_sent(self, sent: list[tuple[str, str, datetime]]) -> None: ...
    def recipient_failed(self, recipient: Recipient, status: str, retry_at: datetime | None, error: str) -> None: ...
    def add_progress(self, mailout_id: str, **counts: int) -> None: ...
    def recipient_counts(self, mailout_id: str) -> dict[str, int]: ...
    def drop_recipients(self, ended_before: datetime) -> int: ...


class DeliveryLogStoreVerbs(StoreVerbs, Protocol):
    """What the delivery log asks of the store: each recipient's state, what bounced, what is
    skipped since, and the failed sent again."""

    def get_recipient(self, mailout_id: str, key: str) -> Recipient | None: ...
    def list_recipients(self, mailout_id: str, *, page: int, per_page: int, status=None
                        ) -> tuple[list[dict], int]: ...
    def recipient_by_bounce(self, tokens: tuple[str, ...], message_ids: tuple[str, ...]) -> Recipient | None: ...
    def mark_recipient_bounced(self, recipient: Recipient, bounce: dict) -> bool: ...
    def skip_recipients(self, recipients: list[Recipient], reasons: dict[str, str]) -> None: ...
    def queue_failed_again(self, mailout_id: str, now: datetime) -> int: ...


class MailoutStore(NotifyStorePart):
    def __init__(self, client, db_name, pseudonyms=None):
        super().__init__(client, db_name, pseudonyms)
        self.mailouts = self.collection("mailouts")
        self.recipients = self.collection("recipients")
        self.claims = self.collection("claims")
        self._interrupted: dict[str, dict] = {}  # by mailout: the range this process stopped sending unsettled

    def ensure_indexes(self):
        super().ensure_indexes()
        self.mailouts.create_index([("status", ASCENDING), ("scheduled_at", ASCENDING)])
        self.mailouts.create_index([("created_at", DESCENDING)])
        self.mailouts.create_index([("status", ASCENDING), ("finished_at", ASCENDING)])
        self.recipients.create_index([("mailout_id", ASCENDING), ("seq", ASCENDING)])
        self.recipients.create_index([("mailout_id", ASCENDING), ("key", ASCENDING)])
        self.recipients.create_index([("mailout_id", ASCENDING), ("status", ASCENDING), ("seq", ASCENDING)])
        self.recipients.create_index("person")
        self.recipients.create_index("bounce_token", sparse=True)
        self.claims.create_index("mailout_id")
        self.backfill_people(self.recipients, lambda document: [document.get("email")])

    def add_mailout(self, mailout: Mailout):
        self.mailouts.insert_one(to_document(mailout))

    def get_mailout(self, mailout_id: str) -> Mailout:
        return found(from_document(self.mailouts.find_one({"_id": mailout_id}, session=self.session)),
                     f"No mailout '{mailout_id}'.")

    def list_mailouts(self, *, page: int, per_page: int, status=None):
        query = {"status": status} if status else {}
        return paged(self.mailouts, query, [("created_at", DESCENDING), ("_id", ASCENDING)], page, per_page)

    def mailouts_in(self, *statuses: str) -> list[Mailout]:
        return [from_document(d) for d in self.mailouts.find({"status": {"$in": list(statuses)}})]

    def claim_start(self, mailout_id: str) -> datetime | None:
        """Take the start of a scheduled mailout (the freezing of its audience) for this sender: the
        lease's end, or None while another sender holds it. Only the holder freezes the audience;
        a holder that died meanwhile leaves the start to the next sender when its lease ends."""
        now = utcnow()
        until = _lease_end(now, START_LEASE)
        result = self.mailouts.update_one(
            {"_id": mailout_id, "status": "scheduled", "$or": [{"start_lease": None}, {"start_lease": {"$lte": now}}]},
            {"$set": {"start_lease": until}})
        return until if result.modified_count == 1 else None

    def save_mailout(self, before: Mailout, after: Mailout):
        """Store `after` if the mailout is still as `before` left it (compare-and-set on its status,
        and on the start lease `before` holds, if any)."""
        unchanged = {"_id": before["id"], "status": before["status"],
                     **({"start_lease": before["start_lease"]} if before.get("start_lease") else {})}
        result = self.mailouts.replace_one(unchanged, to_document(after), session=self.session)
        if result.matched_count != 1:
            raise Conflict("The mailout changed meanwhile; reload it and try again.")

    def mailouts_of_person(self, person: str) -> list[dict]:
        """The person's places among mailouts' recipients, each with its mailout's subject."""
        places = [from_document(d) for d in self.recipients.find({"person": person}).sort("_id", ASCENDING)]
        subjects = {d["_id"]: d["subject"] for d in self.mailouts.find(
            {"_id": {"$in": sorted({p["mailout_id"] for p in places})}}, {"subject": 1})}
        return [{**place, "subject": subjects.get(place["mailout_id"])} for place in places]

    def freeze_recipients(self, mailout_id: str, deliver: list[dict], skipped: list[dict]):
        """Store the audience as it is now, numbered; a freeze cut short by a crash is replaced whole."""
        self.recipients.delete_many({"mailout_id": mailout_id})
        now = utcnow()
        documents = [
            {"_id": _recipient_id(mailout_id, seq), "mailout_id": mailout_id, "seq": seq, "key": p["key"],
             "person": self.pseudonyms.person(p["email"]),
             "email": p["email"], "name": p.get("name"), "organization": p.get("organization"), "status": status,
             "attempts": 0, "last_error": None, "sent_at": None, "message_id": None,
             **({"bounce_token": p["bounce_token"]} if p.get("bounce_token") else {}),
             **({"skip_reason": p["skip_reason"]} if p.get("skip_reason") else {}),
             **({"next_attempt_at": now} if status == "queued" else {})}
            for seq, (p, status) in enumerate([(p, "queued") for p in deliver] + [(p, "skipped") for p in skipped])
        ]
        for start in range(0, len(documents), 1000):
            self.recipients.insert_many(documents[start:start + 1000])

    def claim_sending(self, mailout_id: str) -> datetime | None:
        """Take the sending of a mailout for this sender's next burst: the lease's end, or None
        while another sender holds it. (A claim without a `mailout_id`: not a range.)"""
        now = utcnow()
        until = _lease_end(now, SENDING_LEASE)
        key = f"{mailout_id}:sender"
        try:
            self.claims.insert_one({"_id": key, "until": until, "holder": self.holder})
            return until
        except DuplicateKeyError:  # held: taken over when its lease ended, or by its own process again
            free = [{"until": {"$lte": now}}, *([{"holder": self.holder}] if self.holder else [])]
            taken = self.claims.update_one({"_id": key, "$or": free}, {"$set": {"until": until, "holder": self.holder}})
            return until if taken.modified_count == 1 else None

    def release_sending(self, mailout_id: str, lease: datetime):
        self.claims.delete_one({"_id": f"{mailout_id}:sender", "until": lease})

    def claim_range(self, mailout_id: str, size: int) -> tuple[dict | None, list[Recipient]]:
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

    def _claim_stray(self, mailout_id: str, size: int, total: int, now: datetime
                     ) -> tuple[dict | None, list[Recipient]]:
        """Every range was handed out: lease again the range of a recipient still queued outside every
        live lease. Staff retrying the failed messages leave such recipients, and so does a database
        that lost its last acknowledged writes in a crash (its record of a sent message gone after
        the range was settled: the message goes out again, with its Message-ID, as the crash bound
        allows)."""
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

    def _queued_in(self, lease: dict) -> tuple[dict, list[Recipient]]:
        """The lease and its range's recipients still queued, read by id alone: an exact-id lookup
        stays fast however many recipients the mailout has."""
        ids = [_recipient_id(lease["mailout_id"], seq) for seq in range(lease["start"], lease["end"])]
        found = sorted(self.recipients.find({"_id": {"$in": ids}}), key=lambda d: d["seq"])
        return from_document(lease), [cast(Recipient, from_document(d)) for d in found if d["status"] == "queued"]

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

    def recipient_failed(self, recipient: Recipient, status: str, retry_at: datetime | None, error: str):
        changes: dict[str, object] = {"status": status, "last_error": error[:1000]}
        update: dict[str, dict] = {"$set": changes, "$inc": {"attempts": 1}}
        if retry_at is None:
            update["$unset"] = {"next_attempt_at": ""}
        else:
            changes["next_attempt_at"] = retry_at
        self.recipients.update_one({"_id": recipient["id"]}, update)

    def add_progress(self, mailout_id: str, **counts: int):
        """Running totals for progress bars; exact counts are taken from the recipients at the end."""
        self.mailouts.update_one({"_id": mailout_id}, {"$inc": {f"progress.{k}": n for k, n in counts.items()}})

    def recipient_counts(self, mailout_id: str) -> dict[str, int]:
        grouped = self.recipients.aggregate([{"$match": {"mailout_id": mailout_id}},
                                             {"$group": {"_id": "$status", "n": {"$sum": 1}}}], session=self.session)
        return {d["_id"]: d["n"] for d in grouped}

    def get_recipient(self, mailout_id: str, key: str) -> Recipient | None:
        return from_document(self.recipients.find_one({"mailout_id": mailout_id, "key": key}))

    def list_recipients(self, mailout_id: str, *, page: int, per_page: int, status=None):
        query = {"mailout_id": mailout_id, **({"status": status} if status else {})}
        return paged(self.recipients, query, [("seq", ASCENDING)], page, per_page)

    def drop_recipients(self, ended_before: datetime) -> int:
        """The recipient lists of mailouts that ended (sent or cancelled) before this moment; the
        mailouts keep their counts."""
        ended = [d["_id"] for d in self.mailouts.find(
            {"status": {"$in": ["sent", "cancelled"]}, "finished_at": {"$lt": ended_before}}, {"_id": 1})]
        if not ended:
            return 0
        return self.recipients.delete_many({"mailout_id": {"$in": ended}}).deleted_count

    def recipient_by_bounce(self, tokens: tuple[str, ...], message_ids: tuple[str, ...]) -> Recipient | None:
        """The mailout recipient a bounce names: by its return path's token, else by its Message-ID
        (a mailout's Message-IDs name it: `<mailout-<id>-…>`)."""
        for token in tokens:
            found = self.recipients.find_one({"bounce_token": token}, session=self.session)
            if found is not None:
                return cast(Recipient, from_document(found))
        for message_id in message_ids:
            mailout_id = message_id.strip("<>").split("-")[1] if message_id.startswith("<mailout-") else None
            found = mailout_id and self.recipients.find_one({"mailout_id": mailout_id, "message_id": message_id},
                                                            session=self.session)
            if found:
                return cast(Recipient, from_document(found))
        return None

    def mark_recipient_bounced(self, recipient: Recipient, bounce: dict) -> bool:
        """A recipient's message came back; its mailout counts it. False if it was marked before."""
        changed = self.recipients.update_one({"_id": recipient["id"], "status": "sent"},
                                             {"$set": {"status": "bounced", "bounce": bounce}},
                                             session=self.session).modified_count == 1
        if changed:
            self.mailouts.update_one({"_id": recipient["mailout_id"]}, {"$inc": {"progress.bounced": 1}},
                                     session=self.session)
        return changed

    def skip_recipients(self, recipients: list[Recipient], reasons: dict[str, str]):
        """Recipients still queued whose addresses were suppressed since the audience was frozen:
        skipped, with the reason (by person)."""
        self.recipients.bulk_write([UpdateOne(
            {"_id": recipient["id"], "status": "queued"},
            {"$set": {"status": "skipped", "skip_reason": reasons[recipient["person"]]},
             "$unset": {"next_attempt_at": ""}}) for recipient in recipients], ordered=False)

    def queue_failed_again(self, mailout_id: str, now: datetime) -> int:
        """The mailout's failed recipients queued again with fresh attempts; senders find them as
        recipients queued outside every range (`_claim_stray`)."""
        return self.recipients.update_many(
            {"mailout_id": mailout_id, "status": "failed"},
            {"$set": {"status": "queued", "attempts": 0, "next_attempt_at": now, "retried_at": now}},
            session=self.session).modified_count
