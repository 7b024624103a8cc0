"""The notify store: the parts of its jobs (mail, mailouts, newsletter, suppression, webhooks)
joined in one store, so that a unit of work spans them (an erasure does), and what spans them itself."""
from typing import Protocol

from nszm.storage import StoreProvider, utcnow
from services.notify.mail.storage import MailStore, MailStoreVerbs
from services.notify.mailouts.storage import (
    DeliveryLogStoreVerbs,
    MailoutStore,
    MailoutStoreVerbs,
    RecipientStoreVerbs,
)
from services.notify.newsletter.storage import NewsletterStore, NewsletterStoreVerbs
from services.notify.part import ENDED
from services.notify.suppression.storage import SuppressionStore, SuppressionStoreVerbs
from services.notify.webhooks.storage import WebhookStore, WebhookStoreVerbs


class NotifyStoreVerbs(MailStoreVerbs, MailoutStoreVerbs, RecipientStoreVerbs, DeliveryLogStoreVerbs,
                       NewsletterStoreVerbs,
                       SuppressionStoreVerbs, WebhookStoreVerbs, Protocol):
    """Every part's verbs, and the erasure of a person across them."""

    def erase_person(self, person: str, erased: dict) -> None: ...
    def hold_as(self, holder: str | None) -> None: ...


class NotifyStore(MailStore, MailoutStore, NewsletterStore, SuppressionStore, WebhookStore):
    def hold_as(self, holder: str | None):
        """Lease under `holder`, a name that one live process has at a time (its place in a
        supervisor), and take back at once what a predecessor of that name held: it is dead, so its
        mails, recipient ranges and webhook deliveries would otherwise wait for their leases to end.
        Anything it sent but did not record goes out again, as after a lease ends.

        The name is taken only after: this process's timers may already be leasing meanwhile
        (nameko starts every extension at once), and what they lease is theirs, not a predecessor's."""
        if holder is not None:
            now = utcnow()
            ended = now - ENDED
            for collection in (self.mails, self.deliveries):
                collection.update_many({"claimed_by": holder, "claimed_until": {"$gt": now}},
                                       {"$set": {"claimed_until": ended, "claimed_by": None}})
            self.claims.update_many({"holder": holder, "until": {"$gt": now}}, {"$set": {"until": ended, "holder": None}})
        self.holder = holder

    def erase_person(self, person: str, erased: dict):
        """Replace the person's address, name and messages in the mail queue and mailouts' recipient
        lists with `erased`'s values (the status rows stay), delete their subscription and their
        bounces, and keep only the keyed hash on the suppression list."""
        self.mails.update_many({"person": person}, {"$set": erased["mail"], "$unset": {
            field: "" for field in erased["mail_dropped"]}}, session=self.session)
        self.recipients.update_many({"person": person}, {"$set": erased["recipient"], "$unset": {
            field: "" for field in erased["recipient_dropped"]}}, session=self.session)
        self.subscribers.delete_many({"person": person}, session=self.session)
        self.suppressions.update_one({"_id": person}, {"$set": {"email": None, "detail": None}}, session=self.session)
        self.bounces.delete_many({"person": person}, session=self.session)
        self.soft_scores.delete_one({"_id": person}, session=self.session)


class NotifyStoreProvider(StoreProvider[NotifyStoreVerbs]):
    """A notify store holding its leases under this process's place in its supervisor, if any."""

    store_class = NotifyStore

    def start(self):
        super().start()
        self.store.hold_as(self.settings.process_slot)
