"""The notify service's webhook entrypoints with a fake store and a fake HTTP sender: registering,
one delivery per event and endpoint, signed POSTs, retries, disabling and enabling."""
from datetime import timedelta
from unittest.mock import patch

import pytest
from nameko.testing.services import worker_factory

from nszm.batches import Batches
from nszm.contracts.errors import InvalidInput, NotFound
from nszm.storage import utcnow
from services.notify.service import NotifyService
from services.notify.webhooks import domain
from services.notify.webhooks.sender import WebhookSender
from tests.fakes import FakeWebhookStore
from tests.unit.test_notify_domain import registration_event


class FakeSender(WebhookSender):
    """Answers each POST with the next of `answers` (a status); records what it was given."""

    def __init__(self, *answers: int, allow_private: bool = False):
        super().__init__(allow_private)
        self.answers = list(answers)
        self.posted: list[tuple[str, str, dict]] = []

    def refusal(self, url):
        return None if "example.cz" in url else domain.refused_address(["127.0.0.1"], self.allow_private)

    def post(self, url, body, headers):
        self.posted.append((url, body, headers))
        return self.answers.pop(0), None


@pytest.fixture
def store():
    return FakeWebhookStore()


def notify(store, sender):
    return worker_factory(NotifyService, store=store, asked_together=Batches(), webhook_sender=sender)


def test_loopback_and_private_targets_are_refused_unless_allowed(store):
    with pytest.raises(InvalidInput) as refused:
        notify(store, FakeSender()).create_webhook({"url": "http://127.0.0.1:9000/", "events": ["member_joined"]})
    assert "url" in refused.value.errors
    allowed = notify(store, FakeSender(allow_private=True)).create_webhook(
        {"url": "http://127.0.0.1:9000/", "events": ["member_joined"]})
    assert allowed["enabled"] and allowed["secret"].startswith("whsec_")


def test_an_event_is_posted_signed_once_and_a_refusal_is_tried_again_later(store):
    sender = FakeSender(500, 200)
    service = notify(store, sender)
    hook = service.create_webhook({"url": "https://crm.example.cz/hook", "events": ["registration_confirmed"]})
    envelope = registration_event()
    service.on_public_event(envelope)
    service.on_public_event(envelope)  # delivered twice by the bus: one delivery
    service.on_public_event({**registration_event(), "event_type": "member_joined"})  # not asked for
    service.deliver_webhooks()
    [(url, body, headers)] = sender.posted
    assert url == "https://crm.example.cz/hook" and headers["webhook-id"] == envelope["event_id"]
    [delivery] = service.list_deliveries(hook["id"], {})["items"]
    assert (delivery["status"], delivery["attempts"], delivery["last_status"]) == ("pending", 1, 500)
    service.deliver_webhooks()
    assert len(sender.posted) == 1  # not due yet
    later = utcnow() + timedelta(seconds=6)
    with patch("services.notify.webhooks.service.utcnow", return_value=later):
        service.deliver_webhooks()
    [delivery] = service.list_deliveries(hook["id"], {})["items"]
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 2)


def test_an_endpoint_disabled_after_a_day_of_failures_gets_nothing_until_enabled(store):
    service = notify(store, FakeSender())
    hook = service.create_webhook({"url": "https://crm.example.cz/hook", "events": ["registration_confirmed"]})
    store.webhooks[hook["id"]].update(enabled=False, disabled_at=utcnow(), failing_since=utcnow() - timedelta(days=1))
    service.on_public_event(registration_event())
    assert store.deliveries == {}
    enabled = service.enable_webhook(hook["id"])
    assert enabled["enabled"] and enabled["failing_since"] is None
    service.delete_webhook(hook["id"])
    with pytest.raises(NotFound):
        service.list_deliveries(hook["id"], {})
