"""The newsletter's entrypoints: subscribing with a double opt-in, confirming, and unsubscribing
with the link every bulk message carries."""
from typing import ClassVar, Protocol

from nszm import imports
from nszm.addresses import email_key
from nszm.contracts.errors import NotFound
from nszm.contracts.imports import ImportReportSchema, SubscriberImportRequestSchema
from nszm.entrypoints import rpc, staff_rpc
from nszm.schemas import load
from nszm.service import refusals_as_errors
from nszm.storage import StoreProvider, utcnow
from nszm.tokens import token_hash
from services.notify import schemas
from services.notify.mail.service import MailService
from services.notify.newsletter import domain
from services.notify.newsletter.domain import UNSUBSCRIBE
from services.notify.newsletter.storage import NewsletterStoreVerbs
from services.notify.suppression import domain as suppression
from services.notify.suppression.domain import bounce_token
from services.notify.suppression.service import SuppressionUse


class NewsletterUse(NewsletterStoreVerbs, SuppressionUse, Protocol):
    """The newsletter's own verbs, the mail queue (the confirmation mail) and the suppression list."""


class NewsletterService(MailService):
    store: ClassVar[StoreProvider[NewsletterUse]]

    @rpc
    def subscribe(self, payload):
        """Double opt-in; the answer is the same whether or not the address was known."""
        data = load(schemas.SubscriptionInputSchema(), payload)
        existing = self.store.get_subscriber(email_key(data["email"]))
        subscriber, token = domain.subscription_requested(existing, data["email"], data.get("name"), utcnow(),
                                                          data.get("consent"))
        if subscriber is not None and token is not None:
            mail = domain.newsletter_confirmation(subscriber, self._confirm_url(token))
            self.store.save_subscriber(subscriber)
            self._send_now(mail)
        return schemas.SubscriptionReceiptSchema().dump({"status": "confirmation_sent"})

    @rpc
    def confirm_subscription(self, token):
        hashed = token_hash(token) if isinstance(token, str) and token else None

        def work(tx: NewsletterUse):
            subscriber = tx.subscriber_by_token(hashed)
            if subscriber is None:
                raise NotFound("This confirmation link is not valid (or was used already).")
            with refusals_as_errors():
                confirmed = domain.subscription_confirmed(subscriber, utcnow())
            person = self.store.pseudonyms.person(confirmed["email"])
            tx.save_subscriber(confirmed)
            tx.lift_suppression(person, suppression.LIFTED_BY_SUBSCRIBING)  # subscribing again undoes an unsubscribe
            tx.commit([domain.subscribed(person)])

        self.unit_of_work(work)
        return schemas.SubscriptionResultSchema().dump({"status": "subscribed"})

    @staff_rpc
    def import_subscribers(self, payload):
        """Newsletter subscribers from a list: checked row by row (dry run, the default), or imported
        all at once with their confirmation mails (the broken rows left out, as the check reported)."""
        request = load(SubscriberImportRequestSchema(), payload)
        rows, errors = imports.loaded_rows(schemas.SubscriberImportRowSchema(), request["rows"])
        people = list({self.store.pseudonyms.person(row["email"]) for row in rows})

        def planned(tx: NewsletterUse) -> domain.SubscriberImport:
            known = tx.subscribers_by_keys(list({email_key(row["email"]) for row in rows}))
            suppressions = {entry["person"]: entry for entry in tx.suppressions_of_people(people)}
            return domain.planned_subscriber_import(rows, known, suppressions, self.store.pseudonyms.person,
                                                    request["source"], utcnow())

        def write(tx: NewsletterUse, plan: domain.SubscriberImport):
            tx.save_subscribers(plan.saved)
            tx.queue_mails([{**domain.import_confirmation(subscriber, self._confirm_url(token)),
                             "bounce_token": bounce_token()} for subscriber, token in plan.to_confirm])

        result = self.checked_import("subscribers", request, errors, planned, write)
        return ImportReportSchema().dump(result)

    def _confirm_url(self, token: str) -> str:
        return f"{self.settings.public_url}/api/v1/newsletter/confirm?token={token}"

    @rpc
    def unsubscribe(self, token):
        email = (self.store.signer().value(UNSUBSCRIBE, token, int(domain.UNSUBSCRIBE_LINK_VALIDITY.total_seconds()))
                 if isinstance(token, str) and token else None)
        if not email:
            raise NotFound("This unsubscribe link is not valid.")

        person = self.store.pseudonyms.person(email)

        def work(tx: NewsletterUse):
            tx.delete_subscriber(email_key(email))  # only the keyed hash stays, to keep the address suppressed
            entry = suppression.suppressed(tx.suppression_of(person), suppression.UNSUBSCRIBED, utcnow())
            if entry is not None:
                tx.put_suppression(person, entry)
            tx.commit([domain.unsubscribed(person)])

        self.unit_of_work(work)
        return schemas.UnsubscribeResultSchema().dump({"status": "unsubscribed"})
