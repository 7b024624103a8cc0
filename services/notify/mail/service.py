"""Transactional mail's entrypoints: the one mail a platform event causes, sent at once and retried
until delivered; staff see the queue and send a failed mail again."""
import logging
from typing import ClassVar

from nameko.timer import timer

from nszm.batches import BatchesProvider
from nszm.calls import TimedRpcProxy
from nszm.contracts import bus
from nszm.contracts.errors import Conflict, NotFound
from nszm.entrypoints import staff_read, staff_rpc
from nszm.messaging import consumes
from nszm.schemas import load
from nszm.service import listing
from nszm.storage import StoreProvider, utcnow
from services.notify import schemas
from services.notify.mail import domain
from services.notify.mail.mailer import MailerProvider, Rejected
from services.notify.suppression.domain import bounce_token, named_mail
from services.notify.suppression.service import SuppressionService, SuppressionUse

log = logging.getLogger(__name__)

DELIVERY_INTERVAL_SECONDS = 1.0
DELIVERY_BATCH = 50
REGISTRATION_DETAILS = "registration details"  # asked of events in batches


class MailService(SuppressionService):
    store: ClassVar[StoreProvider[SuppressionUse]]  # the mail queue, and the suppression list it consults
    mailer = MailerProvider()
    events = TimedRpcProxy("events")
    asked_together = BatchesProvider()

    @consumes(bus.NOTIFY_MAILS)
    def on_mail_event(self, envelope):
        """The mail an event causes, queued once (its id is the event's) and sent at once. An event
        about a registration names no person: their contact and links are fetched from events."""
        spec = bus.BY_NAME[envelope["event_type"]]
        details = (self._registration_details(envelope["data"]["registration"]["id"])
                   if domain.needs_registration_details(spec, envelope) else None)
        mail = domain.mail_for(spec, envelope, details)
        if mail is not None:
            self._send_now(mail)

    def _registration_details(self, registration_id: str) -> dict | None:
        """The person and links of a registration, asked of events together with those that other
        workers of this process ask for meanwhile (a rush of registrations: one call for many)."""
        def ask(ids: list[str]) -> list:
            answer = self.events.mail_details(ids)
            return [answer.get(registration_id) for registration_id in ids]

        return self.asked_together.submit(REGISTRATION_DETAILS, registration_id, ask)

    @staff_read
    def list_mails(self, query):
        query = load(schemas.MailQuerySchema(), query)
        items, total = self.store.list_mails(page=query["page"], per_page=query["per_page"],
                                             status=query.get("status"), to=query.get("to"))
        return schemas.MailPageSchema().dump(listing(items, total, query))

    @staff_rpc
    def retry_mail(self, mail_id):
        mail_id = str(mail_id)
        if self.store.get(mail_id) is None:
            raise NotFound(f"No mail '{mail_id}'.")
        if not self.store.retry(mail_id):
            raise Conflict("Only a mail that failed can be sent again.")
        self.deliver(mail_id)
        return schemas.MailSchema().dump(self.store.get(mail_id))

    @timer(interval=DELIVERY_INTERVAL_SECONDS)
    def deliver_due_mail(self):
        for _ in range(DELIVERY_BATCH):
            mail = self.store.claim()
            if mail is None:
                return
            self._send(mail)

    def deliver(self, mail_id: str):
        mail = self.store.claim(mail_id)
        if mail is not None:
            self._send(mail)

    def _send_now(self, mail: dict):
        """Queue the mail leased to this worker and send it (unless it was queued before); if this
        worker dies first, the lease runs out and the timer sends it."""
        queued = self.store.enqueue({**mail, "bounce_token": bounce_token()}, leased=True)
        if queued is not None:
            self._send(queued)

    def _send(self, mail: dict):
        suppressed = self._suppressed_for(mail["person"], mail["kind"])
        if suppressed is not None:
            self.store.mark_suppressed(mail["id"], suppressed)
            return
        try:
            message_id = self.mailer.send(mail)
        except Exception as error:
            retry_at = domain.retry_after(mail["attempts"] + 1, isinstance(error, Rejected), utcnow())
            self.store.mark_failed_attempt(mail["id"], f"{type(error).__name__}: {error}", retry_at)
            if isinstance(error, Rejected):
                self._refused_while_sending(named_mail(mail), error)
            if retry_at is None:
                log.error("giving up on mail %s to %s after %s attempts: %s", mail["id"], mail["to"],
                          mail["attempts"] + 1, error)
            else:
                log.warning("mail %s to %s failed (%s); next attempt at %s", mail["id"], mail["to"], error, retry_at)
            return
        self.store.mark_sent(mail["id"], message_id)
