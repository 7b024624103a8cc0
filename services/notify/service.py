"""The notify service's entrypoints: platform events in, one mail each out, retried until delivered;
staff mailouts to an audience; the newsletter's double opt-in and unsubscribing."""
import json
import logging
import time

import eventlet
from eventlet.queue import LightQueue
from nameko.timer import timer

from nszm.addresses import email_key
from nszm.calls import TimedRpcProxy
from nszm.contracts import bus
from nszm.contracts.errors import Conflict, InvalidInput, NotFound
from nszm.deadletters import discard_dead_letters
from nszm.entrypoints import rpc, staff_read, staff_rpc
from nszm.messaging import consumes, topology_of
from nszm.schemas import load
from nszm.service import PlatformService, enforced, page
from nszm.storage import utcnow
from nszm.tokens import token_hash
from services.notify import domain, schemas
from services.notify.mailer import MailerProvider, Rejected
from services.notify.sentlog import SentLog
from services.notify.storage import NotifyStoreProvider, NotifyStoreVerbs
from services.notify.webhook_sender import WebhookSenderProvider

log = logging.getLogger(__name__)

DELIVERY_INTERVAL_SECONDS = 1.0
DELIVERY_BATCH = 50
MAILOUT_TICK_SECONDS = 1.0
MAILOUT_BURST_SECONDS = 5.0  # one tick sends for at most this long, so that the service stops promptly
RECIPIENT_BATCH = 200  # recipients leased at once: every lease and its settling is a pause in the sending
STATUS_CHECK_SECONDS = 0.5  # a pause or cancel stops the sending within this long, inside a lease too
UNRECORDED_LIMIT = 5  # messages being sent or accepted and not yet recorded, at most: what a crash can repeat
SMTP_CONNECTIONS = 4  # a mailout's messages go out over this many connections at once, each waiting on its replies
UNSUBSCRIBE = "unsubscribe"
REGISTRATION_DETAILS = "registration details"  # asked of events in batches
WEBHOOK_INTERVAL_SECONDS = 0.5
WEBHOOK_BATCH = 20  # deliveries tried at once, each in a green thread of its own


class NotifyService(PlatformService[NotifyStoreVerbs]):
    name = "notify"
    store = NotifyStoreProvider()
    mailer = MailerProvider()
    webhook_sender = WebhookSenderProvider()
    members = TimedRpcProxy("members")
    events = TimedRpcProxy("events")

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

        return self.store.batches.submit(REGISTRATION_DETAILS, registration_id, ask)

    @staff_read
    def list_mails(self, query):
        query = load(schemas.MailQuerySchema(), query)
        items, total = self.store.list_mails(page=query["page"], per_page=query["per_page"],
                                             status=query.get("status"), to=query.get("to"))
        return schemas.MailPageSchema().dump(page(items, total, query))

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
        queued = self.store.enqueue(mail, leased=True)
        if queued is not None:
            self._send(queued)

    def _send(self, mail: dict):
        try:
            message_id = self.mailer.send(mail)
        except Exception as error:
            retry_at = domain.retry_after(mail["attempts"] + 1, isinstance(error, Rejected), utcnow())
            self.store.mark_failed_attempt(mail["id"], f"{type(error).__name__}: {error}", retry_at)
            if retry_at is None:
                log.error("giving up on mail %s to %s after %s attempts: %s", mail["id"], mail["to"],
                          mail["attempts"] + 1, error)
            else:
                log.warning("mail %s to %s failed (%s); next attempt at %s", mail["id"], mail["to"], error, retry_at)
            return
        self.store.mark_sent(mail["id"], message_id)

    # -- mailouts ------------------------------------------------------------------------

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
        held = self.store.held_people(set(people.values()))
        return domain.recipients(groups, {email_key(email) for email, person in people.items() if person in held})

    def _with_progress(self, mailout: dict) -> dict:
        return {**mailout, **domain.progress(mailout)}

    def _view(self, mailout: dict) -> dict:
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
        with enforced():
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
        with enforced():
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
        return schemas.MailoutPageSchema().dump(page([self._with_progress(m) for m in items], total, query))

    @rpc
    def get_mailout(self, mailout_id):
        return self._view(self.store.get_mailout(str(mailout_id)))

    @staff_read
    def list_recipients(self, mailout_id, query):
        query = load(schemas.RecipientQuerySchema(), query)
        self.store.get_mailout(str(mailout_id))
        items, total = self.store.list_recipients(str(mailout_id), page=query["page"], per_page=query["per_page"],
                                                  status=query.get("status"))
        return schemas.RecipientPageSchema().dump(page(items, total, query))

    def _recipient(self, mailout: dict, email: str) -> dict | None:
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

    def _transition(self, mailout_id, change) -> dict:
        def work(tx) -> dict:
            before = tx.get_mailout(str(mailout_id))
            with enforced():
                after = change(before)
            tx.save_mailout(before, after)
            if after["status"] == "cancelled":
                tx.commit([bus.envelope(bus.MAILOUT_FINISHED, domain.finished_data(
                    after, tx.recipient_counts(after["id"])))])
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

    def _start(self, mailout: dict):
        deliver, skipped = self._audience(mailout["audience"])
        self.store.freeze_recipients(mailout["id"], deliver, skipped)
        try:
            self.store.save_mailout(mailout, domain.started(mailout, len(deliver), len(skipped), utcnow()))
        except Conflict:  # paused or cancelled meanwhile: the frozen list waits
            pass

    def _send_some(self, mailout_id: str, deadline: float):
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

    def _send_range(self, mailout: dict, lease: dict, queued: list[dict], deadline: float, next_at: float,
                    sessions: LightQueue, sending: eventlet.GreenPool, sent_log: SentLog) -> float:
        """Send to the leased range's recipients that are due, no faster than MAILOUT_RATE, until the
        deadline or a pause, and settle the range; returns when the next message may go."""
        interval = domain.send_interval(self.settings.mailout_rate)
        outcomes, sends = [], []
        stopped, checked_at = False, time.monotonic()
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
                self.store.recipient_failed(recipient, "failed", None, f"{type(refused).__name__}: {refused}", None)
                outcomes.append(("failed", None))
                continue
            sent_log.reserve()
            sends.append(sending.spawn(self._send_one, mailout, recipient, message, sessions, sent_log))
        outcomes += [send.wait() for send in sends]
        sent_log.close()
        self.store.settle_range(lease, domain.range_revisit(outcomes))
        self.store.add_progress(mailout["id"], **domain.tally(outcomes))
        return next_at

    def _send_one(self, mailout: dict, recipient: dict, message: dict, sessions: LightQueue,
                  sent_log: SentLog) -> tuple[str, object]:
        """Send one recipient's message over a free connection (its place in `sent_log` taken);
        (its status now, when to try again if it is still queued)."""
        session = sessions.get()
        try:
            message_id = self.mailer.send(message, session)
        except Exception as error:
            sent_log.release()
            status, retry_at, held = domain.after_failure(recipient["attempts"] + 1, isinstance(error, Rejected),
                                                          utcnow())
            self.store.recipient_failed(recipient, status, retry_at, f"{type(error).__name__}: {error}", held)
            log.warning("mailout %s to %s failed (%s): %s", mailout["id"], recipient["email"], status, error)
            return status, retry_at
        finally:
            sessions.put(session)
        sent_log.add(recipient["id"], message_id)
        return "sent", None

    def _finish_if_done(self, mailout_id: str):
        if self.store.ranges_left(mailout_id):
            return

        def work(tx):
            mailout = tx.get_mailout(mailout_id)
            counts = tx.recipient_counts(mailout_id)
            done = domain.finished(mailout, counts, utcnow())
            if done is not None:
                tx.save_mailout(mailout, done)
                tx.commit([bus.envelope(bus.MAILOUT_FINISHED, domain.finished_data(done, counts))])

        try:
            self.unit_of_work(work)
        except Conflict:  # paused, cancelled or finished by another sender meanwhile
            return

    # -- the newsletter and unsubscribing --------------------------------------------------

    @rpc
    def subscribe(self, payload):
        """Double opt-in; the answer is the same whether or not the address was known."""
        data = load(schemas.SubscriptionInputSchema(), payload)
        existing = self.store.get_subscriber(email_key(data["email"]))
        subscriber, token = domain.subscription_requested(existing, data["email"], data.get("name"), utcnow(),
                                                          data.get("consent"))
        if subscriber is not None:
            confirm_url = f"{self.settings.public_url}/api/v1/newsletter/confirm?token={token}"
            mail = domain.newsletter_confirmation(subscriber, confirm_url)
            self.store.save_subscriber(subscriber)
            self._send_now(mail)
        return schemas.SubscriptionReceiptSchema().dump({"status": "confirmation_sent"})

    @rpc
    def confirm_subscription(self, token):
        hashed = token_hash(token) if isinstance(token, str) and token else None

        def work(tx):
            subscriber = tx.subscriber_by_token(hashed)
            if subscriber is None:
                raise NotFound("This confirmation link is not valid (or was used already).")
            with enforced():
                confirmed = domain.subscription_confirmed(subscriber, utcnow())
            person = self.store.pseudonyms.person(confirmed["email"])
            tx.save_subscriber(confirmed)
            tx.lift_hold(person, domain.LIFTED_BY_SUBSCRIBING)  # subscribing again undoes an unsubscribe
            tx.commit([bus.envelope(bus.NEWSLETTER_SUBSCRIBED, {"person": person})])

        self.unit_of_work(work)
        return schemas.SubscriptionResultSchema().dump({"status": "subscribed"})

    @rpc
    def unsubscribe(self, token):
        email = (self.store.signer().value(UNSUBSCRIBE, token, domain.UNSUBSCRIBE_LINK_VALIDITY.total_seconds())
                 if isinstance(token, str) and token else None)
        if not email:
            raise NotFound("This unsubscribe link is not valid.")

        person = self.store.pseudonyms.person(email)

        def work(tx):
            tx.delete_subscriber(email_key(email))  # only the keyed hash stays, to keep the address held
            tx.hold(person, domain.UNSUBSCRIBED)
            tx.commit([bus.envelope(bus.NEWSLETTER_UNSUBSCRIBED, {"person": person})])

        self.unit_of_work(work)
        return schemas.UnsubscribeResultSchema().dump({"status": "unsubscribed"})

    # -- personal data ----------------------------------------------------------------------------

    def personal_sections(self, person: str) -> dict:
        subscriber = self.store.subscriber_of_person(person)
        hold = self.store.hold_of(person)
        return {"mails": schemas.PersonalMailSchema(many=True).dump(self.store.mails_of_person(person)),
                "mailouts": schemas.PersonalMailoutSchema(many=True).dump(self.store.mailouts_of_person(person)),
                "subscriptions": schemas.PersonalSubscriptionSchema(many=True).dump([subscriber] if subscriber else []),
                "suppression": schemas.SuppressionSchema(many=True).dump([hold] if hold else [])}

    @staff_rpc
    def erase_person(self, query):
        """Erase the person with this address: notify's records at once, with `person_erased` for
        every other service (and subscriber) in the same transaction."""
        email = load(schemas.PersonQuerySchema(), query)["email"]
        person, now = self.store.pseudonyms.person(email), utcnow()

        def work(tx) -> dict:
            erasure = domain.erasure(person, now)
            tx.erase_person(person, domain.erased_values(person))
            tx.hold(person, domain.ERASED)
            tx.record_erasure({**erasure, "service": self.name, "erased_at": now})
            tx.commit([bus.envelope(bus.PERSON_ERASED, {"erasure_id": erasure["id"], "person": person,
                                                        "requested_at": erasure["requested_at"].isoformat()})])
            return erasure

        erasure = self.unit_of_work(work)
        self._forget_dead_letters_of(email)
        return schemas.ErasureSchema().dump({**erasure, "service": self.name, "erased_at": now})

    def _forget_dead_letters_of(self, email: str):
        """Events about the person that notify failed on (a vote's confirmation request, say); the
        erasure stands without it, and retention removes them anyway."""
        try:
            discard_dead_letters(topology_of(self.config), bus.queues_of(self.name), mentioning=email.strip())
        except Exception:
            log.exception("dead letters not searched for an erased address; retention removes them")

    def retain(self, now):
        retention = self.settings.retention
        self.store.drop_mail_bodies(retention.cutoff("mail_bodies", now))
        self.store.drop_recipients(retention.cutoff("mailout_recipients", now))
        self.store.drop_unconfirmed_subscribers(retention.cutoff("unconfirmed_subscriptions", now))
        self.store.drop_deliveries(retention.cutoff("webhook_deliveries", now))

    # -- webhooks ---------------------------------------------------------------------------

    @consumes(bus.NOTIFY_WEBHOOKS)
    def on_public_event(self, envelope):
        """A delivery of the event to each endpoint that asked for its type (once per event)."""
        webhooks = self.store.webhooks_for(envelope["event_type"])
        self.store.add_deliveries(domain.deliveries_for(webhooks, envelope, utcnow()))

    @timer(interval=WEBHOOK_INTERVAL_SECONDS)
    def deliver_webhooks(self):
        due = self.store.claim_deliveries(utcnow(), WEBHOOK_BATCH)
        for _ in eventlet.GreenPool(WEBHOOK_BATCH).imap(self._deliver_webhook, due):
            pass

    def _deliver_webhook(self, delivery: dict):
        try:
            webhook = self.store.get_webhook(delivery["webhook_id"])
        except NotFound:  # deleted meanwhile, its deliveries with it
            return
        body = json.dumps(delivery["envelope"], ensure_ascii=False, separators=(",", ":"))
        if webhook["enabled"]:
            headers = domain.signature_headers(webhook["secret"], delivery["event_id"], utcnow(), body)
            status, error = self.webhook_sender.post(webhook["url"], body, headers)
        else:
            status, error = None, "The endpoint is disabled."
        tried, changed = domain.after_attempt(delivery, webhook, status, error, utcnow())
        self.store.save_delivery(tried)
        if changed != webhook:
            self.store.save_webhook(changed)

    @staff_rpc
    def create_webhook(self, payload):
        data = load(schemas.WebhookInputSchema(), payload)
        refusal = self.webhook_sender.refusal(data["url"])
        if refusal is not None:
            raise InvalidInput(refusal, {"url": [refusal]})
        webhook = domain.new_webhook(data, utcnow())
        self.store.add_webhook(webhook)
        return schemas.WebhookCreatedSchema().dump(webhook)

    @rpc
    def list_webhooks(self, query):
        query = load(schemas.WebhookQuerySchema(), query)
        items, total = self.store.list_webhooks(page=query["page"], per_page=query["per_page"])
        return schemas.WebhookPageSchema().dump(page(items, total, query))

    @staff_rpc
    def delete_webhook(self, webhook_id):
        self.store.delete_webhook(str(webhook_id))

    @staff_rpc
    def enable_webhook(self, webhook_id):
        webhook = domain.webhook_enabled(self.store.get_webhook(str(webhook_id)))
        self.store.save_webhook(webhook)
        return schemas.WebhookSchema().dump(webhook)

    @staff_read
    def list_deliveries(self, webhook_id, query):
        query = load(schemas.DeliveryQuerySchema(), query)
        self.store.get_webhook(str(webhook_id))
        items, total = self.store.list_deliveries(str(webhook_id), page=query["page"], per_page=query["per_page"],
                                                  status=query.get("status"))
        return schemas.DeliveryPageSchema().dump(page(items, total, query))
