"""The notify service: transactional mail, mailouts, the newsletter, the suppression list with its
bounces, and webhooks (one package each, joined here into one nameko service with one store), and
what notify holds about a person."""
import logging

from nszm.contracts import bus
from nszm.deadletters import discard_dead_letters
from nszm.entrypoints import staff_rpc
from nszm.messaging import topology_of
from nszm.schemas import load
from nszm.storage import utcnow
from services.notify import domain, schemas
from services.notify.mailouts.service import MailoutService
from services.notify.newsletter.service import NewsletterService
from services.notify.storage import NotifyStoreProvider, NotifyStoreVerbs
from services.notify.suppression import domain as suppression
from services.notify.suppression.service import SuppressionService
from services.notify.webhooks.service import WebhookService

log = logging.getLogger(__name__)


class NotifyService(MailoutService, NewsletterService, SuppressionService, WebhookService):
    name = "notify"
    store = NotifyStoreProvider()

    # -- personal data ----------------------------------------------------------------------------

    def personal_sections(self, person: str) -> dict:
        subscriber = self.store.subscriber_of_person(person)
        entry = self.store.suppression_of(person)
        return {"mails": schemas.PersonalMailSchema(many=True).dump(self.store.mails_of_person(person)),
                "mailouts": schemas.PersonalMailoutSchema(many=True).dump(self.store.mailouts_of_person(person)),
                "subscriptions": schemas.PersonalSubscriptionSchema(many=True).dump([subscriber] if subscriber else []),
                "suppression": schemas.SuppressionSchema(many=True).dump([entry] if entry else []),
                "bounces": schemas.BounceSchema(many=True).dump(self.store.bounces_of_person(person))}

    @staff_rpc
    def erase_person(self, query):
        """Erase the person with this address: notify's records at once, with `person_erased` for
        every other service (and subscriber) in the same transaction."""
        email = load(schemas.PersonQuerySchema(), query)["email"]
        person, now = self.store.pseudonyms.person(email), utcnow()

        def work(tx: NotifyStoreVerbs) -> dict:
            erasure = domain.erasure(person, now)
            tx.erase_person(person, domain.erased_values(person))
            entry = suppression.suppressed(tx.suppression_of(person), suppression.ERASED, now)
            if entry is not None:
                tx.put_suppression(person, entry)
            tx.record_erasure({**erasure, "service": self.name, "erased_at": now})
            tx.commit([domain.person_erased(erasure)])
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
        self.store.drop_bounces(retention.cutoff("bounces", now))
