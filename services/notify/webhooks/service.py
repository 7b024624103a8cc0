"""Webhooks' entrypoints: staff register endpoints; every public event becomes a delivery to each
endpoint that asked for its type, POSTed signed and retried for a day."""
import json
from typing import ClassVar

import eventlet
from nameko.timer import timer

from nszm.contracts import bus
from nszm.contracts.errors import InvalidInput, NotFound
from nszm.entrypoints import rpc, staff_read, staff_rpc
from nszm.messaging import consumes
from nszm.schemas import load
from nszm.service import PlatformService, listing
from nszm.storage import StoreProvider, utcnow
from services.notify import schemas
from services.notify.storage import NotifyStoreVerbs
from services.notify.webhooks import domain
from services.notify.webhooks.sender import WebhookSenderProvider
from services.notify.webhooks.storage import WebhookStoreVerbs

WEBHOOK_INTERVAL_SECONDS = 0.5
WEBHOOK_BATCH = 20  # deliveries tried at once, each in a green thread of its own


class WebhookService(PlatformService[NotifyStoreVerbs]):
    store: ClassVar[StoreProvider[WebhookStoreVerbs]]
    webhook_sender = WebhookSenderProvider()

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
        return schemas.WebhookPageSchema().dump(listing(items, total, query))

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
        return schemas.DeliveryPageSchema().dump(listing(items, total, query))
