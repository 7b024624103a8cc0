"""Mailouts' entrypoints: staff write a message for an audience (members' contacts, an event's
participants, newsletter subscribers), preview it, send a test copy, and send it; a timer sends at
MAILOUT_RATE over a few SMTP connections, and picks up after any crash."""
import logging
import time
from datetime import datetime
from typing import Any, Callable, ClassVar, Mapping, Protocol

import eventlet
from eventlet.queue import LightQueue
from nameko.timer import timer

from nszm.addresses import email_key
from nszm.calls import TimedRpcProxy
from nszm.contracts.errors import Conflict, InvalidInput, NotFound
from nszm.entrypoints import rpc, staff_read, staff_rpc
from nszm.records import Mailout, Recipient
from nszm.schemas import load
from nszm.service import listing, refusals_as_errors
from nszm.storage import StoreProvider, utcnow
from services.notify import schemas
from services.notify.mail.mailer import Rejected
from services.notify.mail.service import MailService
from services.notify.mail.storage import MailStoreVerbs
from services.notify.mailouts import domain
from services.notify.mailouts.sentlog import SentLog
from services.notify.mailouts.storage import DeliveryLogStoreVerbs, MailoutStoreVerbs, RecipientStoreVerbs
from services.notify.newsletter.domain import UNSUBSCRIBE
from services.notify.newsletter.storage import NewsletterStoreVerbs
from services.notify.suppression.domain import bounce_token, named_recipient
from services.notify.suppression.storage import SuppressionStoreVerbs

log = logging.getLogger(__name__)

MAILOUT_TICK_SECONDS = 1.0
MAILOUT_BURST_SECONDS = 5.0  # one tick sends for at most this long, so that the service stops promptly
RECIPIENT_BATCH = 200  # recipients leased at once: every lease and its settling is a pause in the sending
STATUS_CHECK_SECONDS = 0.5  # a pause or cancel stops the sending within this long, inside a lease too
UNRECORDED_LIMIT = 5  # messages being sent or accepted and not yet recorded, at most: what a crash can repeat
SMTP_CONNECTIONS = 4  # a mailout's messages go out over this many connections at once, each waiting on its replies


class MailoutsUse(MailStoreVerbs, MailoutStoreVerbs, RecipientStoreVerbs, DeliveryLogStoreVerbs,
                  NewsletterStoreVerbs, SuppressionStoreVerbs, Protocol):
    """Mailouts' own verbs, the newsletter's subscribers and the suppression list (the audience),
    and the mail queue (test copies)."""


class MailoutService(MailService):
    store: ClassVar[StoreProvider[MailoutsUse]]
    members = TimedRpcProxy("members")

    def _audience(self, audience: dict) -> tuple[list[dict], list[dict]]:
        """(who gets it, who is skipped as unsubscribed), asked of the services that know the people."""
        groups = []
        if audience.get("members") is not None:
            groups.append(self.members.mailing_contacts(audience["members"]))
        if audience.get("event"):
            try:
                groups.append(self.events.participants(audience["event"]))
            except NotFound as missing:
                raise InvalidInput(missing.detail, {"audience.event.id": [missing.detail]}) from None
        if audience.get("newsletter"):
            groups.append(self.store.confirmed_subscribers())
        people = {person["email"]: self.store.pseudonyms.person(person["email"]) for group in groups
                  for person in group}
        reasons = self.store.suppression_reasons(set(people.values()))
        return domain.recipients(groups, {email_key(email): reasons[person] for email, person in people.items()
                                          if person in reasons})

    def _with_progress(self, mailout: Mailout) -> dict:
        return {**mailout, **domain.progress(mailout)}

    def _view(self, mailout: Mailout) -> dict:
        return schemas.MailoutSchema().dump(self._with_progress(mailout))

    def _unsubscribe_url(self, email: str) -> str:
        token = self.store.signer().sign(UNSUBSCRIBE, email.strip())
        return f"{self.settings.public_url}/api/v1/unsubscribe?token={token}"

    @rpc
    def audience_count(self, payload):
        audience = load(schemas.AudienceSchema(), payload)
        deliver, skipped = self._audience(audience)
        return schemas.AudienceCountSchema().dump({"recipients": len(deliver), "held": len(skipped)})

    @staff_rpc
    def create_mailout(self, payload):
        data = load(schemas.MailoutInputSchema(), payload)
        with refusals_as_errors():
            mailout = domain.new_mailout(data, utcnow())
            deliver, _ = self._audience(data["audience"])
            domain.ensure_recipients(deliver)
        mailout["recipients"] = len(deliver)
        self.store.add_mailout(mailout)
        return self._view(mailout)

    @staff_rpc
    def update_mailout(self, mailout_id, payload):
        before = self.store.get_mailout(str(mailout_id))
        data = load(schemas.MailoutInputSchema(), payload)
        with refusals_as_errors():
            after = domain.edited_mailout(before, data)
            deliver, _ = self._audience(data["audience"])
            domain.ensure_recipients(deliver)
        after["recipients"] = len(deliver)
        self.store.save_mailout(before, after)
        return self._view(after)

    @rpc
    def list_mailouts(self, query):
        query = load(schemas.MailoutQuerySchema(), query)
        items, total = self.store.list_mailouts(page=query["page"], per_page=query["per_page"],
                                                status=query.get("status"))
        return schemas.MailoutPageSchema().dump(listing([self._with_progress(m) for m in items], total, query))

    @rpc
    def get_mailout(self, mailout_id):
        return self._view(self.store.get_mailout(str(mailout_id)))

    @staff_read
    def list_recipients(self, mailout_id, query):
        query = load(schemas.RecipientQuerySchema(), query)
        self.store.get_mailout(str(mailout_id))
        items, total = self.store.list_recipients(str(mailout_id), page=query["page"], per_page=query["per_page"],
                                                  status=query.get("status"))
        return schemas.RecipientPageSchema().dump(listing(items, total, query))

    def _recipient(self, mailout: Mailout, email: str) -> Mapping[str, Any] | None:
        key = email_key(email)
        if mailout["started_at"]:
            return self.store.get_recipient(mailout["id"], key)
        deliver, skipped = self._audience(mailout["audience"])
        return next((p for p in deliver + skipped if p["key"] == key), None)

    @staff_read
    def preview(self, mailout_id, query):
        query = load(schemas.PreviewQuerySchema(), query)
        mailout = self.store.get_mailout(str(mailout_id))
        recipient = self._recipient(mailout, query["email"])
        if recipient is None:
            raise NotFound(f"{query['email']} is not a recipient of this mailout.")
        message = domain.bulk_message(mailout, recipient, self._unsubscribe_url(recipient["email"]))
        return schemas.PreviewSchema().dump(message)

    @staff_rpc
    def test_send(self, mailout_id, payload):
        """One copy to a staff address, as its recipient would get it (or as a sample recipient)."""
        data = load(schemas.TestSendSchema(), payload)
        mailout = self.store.get_mailout(str(mailout_id))
        recipient = self._recipient(mailout, data["email"]) or {
            **domain.SAMPLE_RECIPIENT, "key": email_key(data["email"])}
        message = domain.bulk_message(mailout, recipient, self._unsubscribe_url(data["email"]))
        mail = {**domain.test_copy(message, data["email"]), "id": f"test-{mailout['id']}-{time.time_ns()}",
                "kind": "mailout_test"}
        self._send_now(mail)
        return schemas.MailSchema().dump(self.store.get(mail["id"]))

    def _transition(self, mailout_id, change: Callable[[Mailout], Mailout]) -> dict:
        def work(tx: MailoutsUse) -> Mailout:
            before = tx.get_mailout(str(mailout_id))
            with refusals_as_errors():
                after = change(before)
            tx.save_mailout(before, after)
            if after["status"] == "cancelled":
                tx.commit([domain.mailout_finished(after, tx.recipient_counts(after["id"]))])
            return after

        return self._view(self.unit_of_work(work))

    @staff_rpc
    def send_mailout(self, mailout_id, payload=None):
        options = load(schemas.SendSchema(), payload or {})
        return self._transition(mailout_id, lambda m: domain.scheduled(m, options.get("at"), utcnow()))

    @staff_rpc
    def pause_mailout(self, mailout_id):
        return self._transition(mailout_id, domain.paused)

    @staff_rpc
    def resume_mailout(self, mailout_id):
        return self._transition(mailout_id, domain.resumed)

    @staff_rpc
    def cancel_mailout(self, mailout_id):
        return self._transition(mailout_id, lambda m: domain.cancelled(m, utcnow()))

    @staff_rpc
    def retry_failed(self, mailout_id):
        """Send again to the recipients whose messages failed (not to anyone else): those whose
        addresses were suppressed since are skipped."""
        def work(tx: MailoutsUse) -> Mailout:
            before = tx.get_mailout(str(mailout_id))
            with refusals_as_errors():
                after = domain.retried(before, tx.recipient_counts(before["id"]))
            tx.save_mailout(before, after)
            tx.queue_failed_again(before["id"], utcnow())
            return after

        return self._view(self.unit_of_work(work))

    @timer(interval=MAILOUT_TICK_SECONDS)
    def run_mailouts(self):
        """Start the mailouts that are due, then send for a while; also resumes after any restart."""
        for mailout in self.store.mailouts_in("scheduled"):
            if domain.is_time_to_start(mailout, utcnow()):
                self._start(mailout)
        deadline = time.monotonic() + MAILOUT_BURST_SECONDS
        for mailout in self.store.mailouts_in("sending"):
            self._send_some(mailout["id"], deadline)
            self._finish_if_done(mailout["id"])

    def _start(self, mailout: Mailout):
        """Freeze the audience and start sending, unless another sender is starting the mailout
        (its freezing would replace a list already being sent)."""
        lease = self.store.claim_start(mailout["id"])
        if lease is None:
            return
        deliver, skipped = self._audience(mailout["audience"])
        deliver = [{**person, "bounce_token": bounce_token()} for person in deliver]
        self.store.freeze_recipients(mailout["id"], deliver, skipped)
        try:
            self.store.save_mailout({**mailout, "start_lease": lease},
                                    domain.started(mailout, len(deliver), len(skipped), utcnow()))
        except Conflict:  # paused or cancelled meanwhile, or the lease ran out: the frozen list waits
            pass

    def _send_some(self, mailout_id: str, deadline: float):
        if not domain.one_sender_at_a_time(self.settings.mailout_rate):
            self._send_ranges(mailout_id, deadline)
            return
        lease = self.store.claim_sending(mailout_id)
        if lease is None:  # another process is sending it, at the whole rate
            return
        try:
            self._send_ranges(mailout_id, deadline)
        finally:
            self.store.release_sending(mailout_id, lease)

    def _send_ranges(self, mailout_id: str, deadline: float):
        sessions = LightQueue()
        for _ in range(SMTP_CONNECTIONS):
            sessions.put(self.mailer.session())
        sending = eventlet.GreenPool(SMTP_CONNECTIONS)
        sent_log = SentLog(self.store.recipients_sent, UNRECORDED_LIMIT)
        next_at = time.monotonic()
        try:
            while time.monotonic() < deadline:
                mailout = self.store.get_mailout(mailout_id)
                if mailout["status"] != "sending":
                    return
                lease, queued = self.store.claim_range(mailout_id, RECIPIENT_BATCH)
                if lease is None:
                    return
                try:
                    next_at = self._send_range(mailout, lease, queued, deadline, next_at, sessions, sending, sent_log)
                except BaseException:  # e.g. the database went away: this process takes the range back first
                    self.store.interrupted(lease)
                    raise
        finally:
            sending.waitall()
            while not sessions.empty():
                sessions.get().close()
            sent_log.close()

    def _send_range(self, mailout: Mailout, lease: dict, queued: list[Recipient], deadline: float, next_at: float,
                    sessions: LightQueue, sending: eventlet.GreenPool, sent_log: SentLog) -> float:
        """Send to the leased range's recipients that are due, no faster than MAILOUT_RATE, until the
        deadline or a pause, and settle the range; returns when the next message may go."""
        interval = domain.send_interval(self.settings.mailout_rate)
        outcomes: list[tuple[str, datetime | None]] = []
        sends = []
        stopped, checked_at = False, time.monotonic()
        queued = self._without_suppressed(queued, outcomes)
        for recipient in queued:
            due = not stopped and time.monotonic() < deadline and domain.is_due(recipient, utcnow())
            if due:
                eventlet.sleep(max(0.0, next_at - time.monotonic()))
                if time.monotonic() - checked_at >= STATUS_CHECK_SECONDS:  # paused or cancelled meanwhile?
                    stopped = self.store.get_mailout(mailout["id"])["status"] != "sending"
                    checked_at = time.monotonic()
            if not due or stopped:
                outcomes.append(("queued", recipient["next_attempt_at"]))
                continue
            next_at = max(next_at + interval, time.monotonic())
            try:
                message = domain.bulk_message(mailout, recipient, self._unsubscribe_url(recipient["email"]))
            except domain.TEMPLATE_REFUSALS as refused:  # this recipient's values exceed the budget
                self.store.recipient_failed(recipient, "failed", None, f"{type(refused).__name__}: {refused}")
                outcomes.append(("failed", None))
                continue
            sent_log.reserve()
            sends.append(sending.spawn(self._send_one, mailout, recipient, message, sessions, sent_log))
        outcomes += [send.wait() for send in sends]
        sent_log.close()
        self.store.settle_range(lease, domain.range_revisit(outcomes))
        self.store.add_progress(mailout["id"], **domain.tally(outcomes))
        return next_at

    def _without_suppressed(self, queued: list[Recipient], outcomes: list) -> list[Recipient]:
        """The range's recipients less those suppressed since the audience was frozen (a bounce, a
        complaint or an unsubscribe meanwhile), who are skipped."""
        if not queued:
            return queued
        reasons = self.store.suppression_reasons({recipient["person"] for recipient in queued})
        suppressed = [recipient for recipient in queued if recipient["person"] in reasons]
        if suppressed:
            self.store.skip_recipients(suppressed, reasons)
            outcomes += [("skipped", None)] * len(suppressed)
        return [recipient for recipient in queued if recipient["person"] not in reasons]

    def _send_one(self, mailout: Mailout, recipient: Recipient, message: dict, sessions: LightQueue,
                  sent_log: SentLog) -> tuple[str, object]:
        """Send one recipient's message over a free connection (its place in `sent_log` taken);
        (its status now, when to try again if it is still queued)."""
        session = sessions.get()
        try:
            message_id = self.mailer.send(message, session)
        except Exception as error:
            sent_log.release()
            status, retry_at = domain.after_failure(recipient["attempts"] + 1, isinstance(error, Rejected), utcnow())
            self.store.recipient_failed(recipient, status, retry_at, f"{type(error).__name__}: {error}")
            if isinstance(error, Rejected):
                self._refused_while_sending(named_recipient(recipient), error)
            log.warning("mailout %s to %s failed (%s): %s", mailout["id"], recipient["email"], status, error)
            return status, retry_at
        finally:
            sessions.put(session)
        sent_log.add(recipient["id"], message_id)
        return "sent", None

    def _finish_if_done(self, mailout_id: str):
        if self.store.ranges_left(mailout_id):
            return

        def work(tx: MailoutsUse):
            mailout = tx.get_mailout(mailout_id)
            counts = tx.recipient_counts(mailout_id)
            done = domain.finished(mailout, counts, utcnow())
            if done is not None:
                tx.save_mailout(mailout, done)
                tx.commit([domain.mailout_finished(done, counts)])

        try:
            self.unit_of_work(work)
        except Conflict:  # paused, cancelled or finished by another sender meanwhile
            return
