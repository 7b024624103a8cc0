"""The notify service's entrypoints: platform events in, one mail each out, retried until delivered."""
import logging

from nameko.events import event_handler
from nameko.timer import timer

from nszm.contracts import bus
from nszm.contracts.errors import Conflict, NotFound
from nszm.entrypoints import rpc
from nszm.schemas import load
from nszm.service import PlatformService, page
from nszm.storage import utcnow
from services.notify import domain, schemas
from services.notify.mailer import MailerProvider
from services.notify.storage import NotifyStoreProvider

log = logging.getLogger(__name__)

DELIVERY_INTERVAL_SECONDS = 1.0
DELIVERY_BATCH = 50


def mails_on(spec: bus.EventSpec):
    # requeue_on_error: if the queue cannot be written (database down), the event comes back later.
    return event_handler(spec.source, spec.name, requeue_on_error=True)


class NotifyService(PlatformService):
    name = "notify"
    store = NotifyStoreProvider()
    mailer = MailerProvider()

    def _mail(self, spec: bus.EventSpec, envelope: dict):
        try:
            mail = domain.mail_for(spec.name, envelope)
        except Exception:
            log.exception("cannot build mail for %s %s; event dropped", spec.name, envelope.get("event_id"))
            return
        if mail is not None and self.store.enqueue(mail):
            self.deliver(mail["id"])

    @mails_on(bus.REGISTRATION_CONFIRMED)
    def on_registration_confirmed(self, envelope):
        self._mail(bus.REGISTRATION_CONFIRMED, envelope)

    @mails_on(bus.REGISTRATION_WAITLISTED)
    def on_registration_waitlisted(self, envelope):
        self._mail(bus.REGISTRATION_WAITLISTED, envelope)

    @mails_on(bus.REGISTRATION_PROMOTED)
    def on_registration_promoted(self, envelope):
        self._mail(bus.REGISTRATION_PROMOTED, envelope)

    @mails_on(bus.REGISTRATION_CANCELLED)
    def on_registration_cancelled(self, envelope):
        self._mail(bus.REGISTRATION_CANCELLED, envelope)

    @mails_on(bus.ATTENDANCE_RECORDED)
    def on_attendance_recorded(self, envelope):
        self._mail(bus.ATTENDANCE_RECORDED, envelope)

    @mails_on(bus.VOTE_REQUESTED)
    def on_vote_requested(self, envelope):
        self._mail(bus.VOTE_REQUESTED, envelope)

    @rpc
    def list_mails(self, query):
        query = load(schemas.MailQuerySchema(), query)
        items, total = self.store.list_mails(page=query["page"], per_page=query["per_page"],
                                             status=query.get("status"), to=query.get("to"))
        return schemas.MailPageSchema().dump(page(items, total, query))

    @rpc
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

    def _send(self, mail: dict):
        try:
            message_id = self.mailer.send(mail)
        except Exception as error:
            retry_at = domain.next_attempt(mail["attempts"] + 1, utcnow())
            self.store.mark_failed_attempt(mail["id"], f"{type(error).__name__}: {error}", retry_at)
            if retry_at is None:
                log.error("giving up on mail %s to %s after %s attempts: %s", mail["id"], mail["to"],
                          mail["attempts"] + 1, error)
            else:
                log.warning("mail %s to %s failed (%s); next attempt at %s", mail["id"], mail["to"], error, retry_at)
            return
        self.store.mark_sent(mail["id"], message_id)
