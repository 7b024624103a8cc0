"""The suppression list's entrypoints: bounces and complaints come in from the bounce mailbox (a
timer reads it), from mail providers' webhooks and from the server's refusals while sending;
staff see, search and lift the list. Every other part of notify consults the list before sending."""
import hashlib
import json
import logging
import time
from typing import ClassVar, Protocol

from nameko.timer import timer

from nszm.entrypoints import rpc, staff_read, staff_rpc
from nszm.schemas import load
from nszm.service import PlatformService, listing, refusals_as_errors
from nszm.storage import StoreProvider, utcnow
from services.notify import schemas
from services.notify.mail.storage import MailStoreVerbs
from services.notify.mailouts.storage import DeliveryLogStoreVerbs
from services.notify.suppression import domain, reports
from services.notify.suppression.mailbox import BounceInboxProvider
from services.notify.suppression.storage import SuppressionStoreVerbs

log = logging.getLogger(__name__)

MAILBOX_INTERVAL_SECONDS = 10.0
MAILBOX_BURST_SECONDS = 5.0  # one reading takes at most this long, so that the service stops promptly
RECORDED, DUPLICATE, IGNORED, UNMATCHED = "recorded", "duplicate", "ignored", "unmatched"


class SuppressionUse(SuppressionStoreVerbs, MailStoreVerbs, DeliveryLogStoreVerbs, Protocol):
    """The list and the bounces, and the mail and mailout recipients a bounce names."""


class SuppressionService(PlatformService):
    store: ClassVar[StoreProvider[SuppressionUse]]
    bounce_inbox = BounceInboxProvider()

    # -- what the rest of notify asks -------------------------------------------------------------

    def _suppressed_for(self, person: str, kind: str | None) -> str | None:
        """The reason the list keeps this mail (`kind` None: bulk) from the person, or None."""
        if kind in domain.ASKED_FOR:
            return None
        entry = self.store.suppression_of(person)
        return entry["reason"] if entry is not None and domain.stops(entry, kind) else None

    def _refused_while_sending(self, message: dict, error: Exception):
        """A server refused a recipient for good (5xx) while we sent `message` (`domain.named_mail`,
        `domain.named_recipient`): a hard bounce, or a soft one for a full mailbox."""
        self._take_failure({"key": f"send:{message['id']}", "kind": domain.refused_while_sending(str(error)),
                            "source": "send",
                            "message": message, "diagnostic": str(error)})

    # -- bounces coming in -------------------------------------------------------------------------

    def _take_failure(self, failure: dict) -> str:
        """Record one bounce or complaint once (by its key): suppress the address if it says so, mark
        the message it names as bounced. `failure` names the message (`message`: mail or recipient,
        or `tokens`/`message_ids` to find it) or, from a trusted webhook, only the `email`."""
        now = utcnow()

        def work(tx: SuppressionUse) -> str:
            message = failure.get("message") or self._message_named(tx, failure)
            email = message["email"] if message else failure.get("email")
            if not email:
                return UNMATCHED
            chosen = domain.failure_for(failure["candidates"], email) if "candidates" in failure else failure
            if chosen is None:
                return IGNORED
            person = self.store.pseudonyms.person(email)
            record = domain.bounce_record(chosen["kind"], failure["source"], now, status=chosen.get("status"),
                                          diagnostic=chosen.get("diagnostic"),
                                          message=message and {"kind": message["kind"], "id": message["id"]})
            if not tx.record_bounce(failure["key"], person, record):
                return DUPLICATE
            reason, score = domain.after_report(chosen["kind"], tx.soft_score_of(person), now)
            if score is not None:
                tx.save_soft_score(person, score)
            if reason is not None:
                entry = domain.suppressed(tx.suppression_of(person), reason, now, email,
                                          chosen.get("diagnostic") or chosen.get("status"))
                if entry is not None:
                    tx.put_suppression(person, entry)
            if message and message["kind"] == "mail":
                tx.mark_mail_bounced(message["id"], record)
            elif message:
                tx.mark_recipient_bounced(message["record"], record)
            return RECORDED

        return self.unit_of_work(work)

    @staticmethod
    def _message_named(tx: SuppressionUse, failure: dict) -> dict | None:
        tokens, message_ids = tuple(failure.get("tokens") or ()), tuple(failure.get("message_ids") or ())
        if not tokens and not message_ids:
            return None
        mail = tx.mail_by_bounce(tokens, message_ids)
        if mail is not None:
            return domain.named_mail(mail)
        recipient = tx.recipient_by_bounce(tokens, message_ids)
        return domain.named_recipient(recipient) if recipient is not None else None

    def _take_report(self, report: reports.Report, source: str) -> str:
        """A report read from a message: counted if it is a bounce or complaint about a message of ours."""
        found = domain.candidates(report)
        if not found:
            return IGNORED
        if not report.tokens and not report.message_ids:
            return UNMATCHED  # names no message of ours: it might be forged
        return self._take_failure({"candidates": found, "key": report.key, "source": source,
                                   "tokens": report.tokens, "message_ids": report.message_ids})

    @timer(interval=MAILBOX_INTERVAL_SECONDS)
    def read_bounce_mailbox(self):
        """Read what came to the bounce mailbox since: bounces and complaints of ours are counted
        and removed; anything else (auto-replies, people's answers) stays, and is not read again."""
        deadline = time.monotonic() + MAILBOX_BURST_SECONDS
        with self.bounce_inbox as inbox:
            keys = inbox.keys()
            known = self.store.known_inbox_keys(keys)
            for key in keys:
                if key in known or time.monotonic() > deadline:
                    continue
                raw = inbox.read(key)
                if raw is None:
                    continue
                outcome = self._take_report(reports.read(raw), "mailbox")
                if outcome in (RECORDED, DUPLICATE):
                    inbox.remove(key)
                else:
                    self.store.remember_inbox_key(key, outcome)

    @rpc
    def take_bounce(self, payload):
        """A bounce or complaint from a mail provider's webhook: a whole message as it came back
        (`message`), or what the provider says of it (`type`, `email`, `status`, …)."""
        data = load(schemas.BounceInputSchema(), payload)
        if data.get("message"):
            outcome = self._take_report(reports.read(data["message"].encode("utf-8", "surrogateescape")), "webhook")
        else:
            failure = domain.failure_from_provider(data)
            key = data.get("id") or "webhook:" + hashlib.sha256(
                json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
            outcome = IGNORED if failure is None or failure["kind"] is None else self._take_failure({
                **failure, "key": key, "source": "webhook", "email": data["email"],
                "tokens": [data["token"]] if data.get("token") else [],
                "message_ids": [data["message_id"]] if data.get("message_id") else []})
        return schemas.BounceOutcomeSchema().dump({"outcome": outcome})

    # -- the list, for staff ----------------------------------------------------------------------

    @staff_read
    def list_suppressions(self, query):
        query = load(schemas.SuppressionQuerySchema(), query)
        q = query.get("q")
        items, total = self.store.list_suppressions(
            page=query["page"], per_page=query["per_page"], reason=query.get("reason"), q=q,
            person=self.store.pseudonyms.person(q) if q and "@" in q else None)
        return schemas.SuppressionPageSchema().dump(listing(items, total, query))

    @staff_read
    def suppressions_of(self, payload):
        """The entries of these addresses, each with its address (a member's contacts, say)."""
        emails = load(schemas.AddressListSchema(), payload)["emails"]
        people = {self.store.pseudonyms.person(email): email for email in emails}
        entries = self.store.suppressions_of_people(list(people))
        return schemas.SuppressionSchema(many=True).dump(
            [{**entry, "email": people[entry["person"]]} for entry in entries])

    @staff_rpc
    def lift_suppression(self, payload):
        """Take an address off the list (its owner fixed their mailbox, say); the soft-bounce
        score goes with it."""
        email = load(schemas.LiftSchema(), payload)["email"]
        person = self.store.pseudonyms.person(email)

        def work(tx: SuppressionUse) -> dict:
            entry = tx.suppression_of(person)
            with refusals_as_errors():
                entry = domain.check_lift(entry)
            tx.lift_suppression(person)
            tx.save_soft_score(person, {"score": 0.0, "at": utcnow()})
            return {**entry, "email": email, "lifted": True}

        return schemas.SuppressionSchema().dump(self.unit_of_work(work))
