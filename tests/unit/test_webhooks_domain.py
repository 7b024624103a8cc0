"""Webhook rules: who gets an event, the signature anyone can check, retries for a day, disabling."""
import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta, timezone

import pytest

from nszm.contracts import bus
from services.notify.webhooks import domain
from tests.unit.test_notify_domain import registration_event

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)


def webhook(**overrides) -> dict:
    created = domain.new_webhook({"url": "https://crm.example.cz/hook", "events": ["registration_confirmed"]}, NOW)
    return {**created, **overrides}


def test_a_new_webhook_has_a_standard_secret_and_each_event_type_once():
    created = domain.new_webhook({"url": "https://x.example.cz/", "events": ["member_joined", "member_joined"]}, NOW)
    assert created["secret"].startswith("whsec_") and len(base64.b64decode(created["secret"][6:])) == 32
    assert created["events"] == ["member_joined"] and created["enabled"] is True
    assert domain.new_webhook({"url": "https://x.example.cz/", "events": ["member_joined"]}, NOW)["secret"] != \
        created["secret"]


def test_an_event_goes_to_each_enabled_endpoint_that_asked_for_its_type():
    wanted, other, off = webhook(), webhook(events=["member_joined"]), webhook(enabled=False)
    envelope = registration_event()
    deliveries = domain.deliveries_for([wanted, other, off], envelope, NOW)
    assert [d["webhook_id"] for d in deliveries] == [wanted["id"]]
    assert deliveries[0]["id"] == f"{wanted['id']}:{envelope['event_id']}" and deliveries[0]["next_attempt_at"] == NOW


def test_the_signature_is_the_documented_hmac():
    secret = webhook()["secret"]
    body = json.dumps(registration_event())
    headers = domain.signature_headers(secret, "evt1", NOW, body)
    assert headers["webhook-id"] == "evt1" and headers["webhook-timestamp"] == str(int(NOW.timestamp()))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = base64.b64encode(hmac.new(key, f"evt1.{headers['webhook-timestamp']}.{body}".encode(),
                                         hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == f"v1,{expected}"


@pytest.mark.parametrize("addresses, allowed", [
    (["93.184.216.34"], True), (["127.0.0.1"], False), (["10.1.2.3"], False), (["192.168.0.10"], False),
    (["169.254.169.254"], False), (["::1"], False), (["fd00::1"], False), (["93.184.216.34", "10.0.0.1"], False),
    ([], False), (["2606:2800:220:1::"], True),
    (["64:ff9b::7f00:1"], False), (["64:ff9b::a00:1"], False), (["64:ff9b::5db8:d822"], False),  # NAT64
    (["2002:7f00:1::1"], False), (["2002:5db8:d822::1"], True),  # 6to4 of 127.0.0.1 and of a public address
    (["::ffff:127.0.0.1"], False), (["::ffff:10.0.0.1"], False),
])
def test_private_and_loopback_targets_are_refused_unless_allowed(addresses, allowed):
    assert (domain.refused_address(addresses, allow_private=False) is None) is allowed
    assert (domain.refused_address(addresses, allow_private=True) is None) is bool(addresses)


def test_a_failed_try_is_retried_on_the_schedule_and_success_clears_the_failure():
    hook, delivery = webhook(), domain.deliveries_for([webhook()], registration_event(), NOW)[0]
    tried, hook = domain.after_attempt(delivery, hook, 500, None, NOW)
    assert (tried["status"], tried["attempts"], tried["next_attempt_at"]) == ("pending", 1, NOW + timedelta(seconds=5))
    assert hook["failing_since"] == NOW and hook["enabled"]
    later = NOW + timedelta(seconds=5)
    tried, hook = domain.after_attempt(tried, hook, None, "timed out", later)
    assert tried["next_attempt_at"] == later + timedelta(minutes=5) and tried["last_error"] == "timed out"
    done, hook = domain.after_attempt(tried, hook, 204, None, later + timedelta(minutes=5))
    assert done["status"] == "delivered" and done["next_attempt_at"] is None and hook["failing_since"] is None


def test_a_delivery_is_given_up_after_a_day_and_an_endpoint_failing_for_a_day_is_disabled():
    hook = webhook(failing_since=NOW - timedelta(hours=23))
    delivery = {**domain.deliveries_for([hook], registration_event(), NOW)[0], "attempts": 5,
                "created_at": NOW - timedelta(hours=20)}
    tried, hook = domain.after_attempt(delivery, hook, 503, None, NOW)
    assert tried["status"] == "failed" and tried["next_attempt_at"] is None  # the next try would pass the day
    assert hook["enabled"]
    _, hook = domain.after_attempt(delivery, hook, 503, None, NOW + timedelta(hours=1))
    assert not hook["enabled"] and hook["disabled_at"] == NOW + timedelta(hours=1)
    assert domain.webhook_enabled(hook)["enabled"] and domain.webhook_enabled(hook)["failing_since"] is None


def test_webhooks_offer_the_public_events_only():
    from nszm.contracts.webhooks import WEBHOOK_EVENT_TYPES
    assert bus.VOTE_REQUESTED.name not in WEBHOOK_EVENT_TYPES
    assert set(WEBHOOK_EVENT_TYPES) == {spec.name for spec in bus.ALL_EVENTS} - {bus.VOTE_REQUESTED.name}
