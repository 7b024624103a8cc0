"""The notify service on real RabbitMQ, delivering to a real SMTP server."""
import email
import email.policy
import uuid
from datetime import timedelta

import pytest
from kombu.utils.json import dumps
from nameko.standalone.rpc import ServiceRpcProxy
from nameko.testing.services import entrypoint_waiter

from nszm.config import Settings
from nszm.contracts import bus
from nszm.deadletters import list_dead_letters
from nszm.entrypoints import rpc, staff_context
from nszm.messaging import publish_signed
from nszm.patches.producers import get_producer
from nszm.signing import event_key, event_signature
from nszm.storage import utcnow
from nszm.topology import Topology
from ops import embedded
from services.notify.mail import domain
from services.notify.service import NotifyService
from services.notify.storage import NotifyStore
from tests.unit.test_notify_domain import details, registration_event
from tests.waiting import wait_until

PEOPLE = {"r1": details()}  # registration id -> what the events service answers notify about it


class EventsStandIn:
    """The events service as notify asks it: a registration's person and links (on the platform's RPC
    entrypoint, whose queue is a quorum queue, as the real one declares it)."""

    name = "events"

    @rpc
    def mail_details(self, registration_ids):
        return {registration_id: PEOPLE.get(registration_id) for registration_id in registration_ids}


@pytest.fixture(autouse=True)
def events(container_factory, service_config):
    container_factory(EventsStandIn, service_config).start()


@pytest.fixture
def notify(container_factory, service_config, smtp_sink):
    container = container_factory(NotifyService, {**service_config, "SMTP_URL": smtp_sink.url})
    container.start()
    return container


def addressed(envelope, address):
    """The event about a registration of its own, whose person has this address."""
    registration_id = uuid.uuid4().hex
    envelope["data"]["registration"]["id"] = registration_id
    PEOPLE[registration_id] = {**details(), "email": address}
    return envelope


def unique_address(tag=""):
    return f"jana{tag}-{uuid.uuid4().hex[:8]}@example.cz"


def deliver(container, config, spec, envelope):
    """Publish the event as the platform does (signed), and wait until notify has handled it."""
    def this_event(worker_ctx, result, exc_info):
        return worker_ctx.args[0]["event_id"] == envelope["event_id"]

    with entrypoint_waiter(container, "on_mail_event", callback=this_event, timeout=10):
        with get_producer(config["AMQP_URI"], True) as producer:
            publish_signed(producer, spec, envelope, event_key(config["SECRET_KEY"]), mandatory=True)


def test_official_mail_is_sent_only_for_events_the_platform_signed(notify, service_config, smtp_sink, mongo_client):
    """A client on the bus that forges a vote request (unsigned, on the public exchange where it once
    travelled, or signed with a key of its own) gets no mail sent: the event is set aside unhandled."""
    forged = []
    for exchange_name, key in (("practice.internal", None), ("practice.events", None),
                               ("practice.internal", event_key("f" * 40))):
        envelope = vote_request(f"forged-{uuid.uuid4().hex[:6]}@example.cz")
        headers = {"nszm-signature": event_signature(key, dumps(envelope).encode())} if key else {}
        with get_producer(service_config["AMQP_URI"], True) as producer:
            producer.publish(dumps(envelope).encode(), exchange=exchange_name, routing_key="vote_requested",
                             content_type="application/json", content_encoding="utf-8", headers=headers,
                             retry=False)
        forged.append(envelope)
    genuine = vote_request(unique_address())
    deliver(notify, service_config, bus.VOTE_REQUESTED, genuine)
    assert len(smtp_sink.messages(to=genuine["data"]["email"])) == 1
    topology = Topology(Settings.from_env(service_config))
    wait_until(lambda: len(list_dead_letters(topology, bus.NOTIFY_MAILS.queue)) == 2, timeout=10,
               message="the two forged requests on the internal exchange set aside")
    dead = list_dead_letters(topology, bus.NOTIFY_MAILS.queue)
    assert {letter["event_id"] for letter in dead} == {forged[0]["event_id"], forged[2]["event_id"]}
    assert all("not signed by the platform" in letter["error"] for letter in dead)
    store = NotifyStore(mongo_client, service_config["MONGO_DB"])
    for envelope in forged:
        assert store.get(envelope["event_id"]) is None
        assert smtp_sink.messages(to=envelope["data"]["email"]) == []


def vote_request(address: str) -> dict:
    return bus.envelope(bus.VOTE_REQUESTED, {
        "competition_id": "c1", "competition_title": "NEJpraxe 2026", "practice": "p1",
        "practice_title": "Zdravé město", "email": address, "confirm_url": "https://phish.example/ověřte",
        "expires_at": (utcnow() + timedelta(days=1)).isoformat()})


def test_confirmation_arrives_once_even_when_the_event_is_redelivered(notify, service_config, smtp_sink,
                                                                     mongo_client):
    address = unique_address()
    envelope = addressed(registration_event(), address)
    deliver(notify, service_config, bus.REGISTRATION_CONFIRMED, envelope)
    deliver(notify, service_config, bus.REGISTRATION_CONFIRMED, envelope)
    # Once the queue holds it as sent, neither a handler nor the delivery timer can send it again.
    store = NotifyStore(mongo_client, service_config["MONGO_DB"])
    assert store.get(envelope["event_id"])["status"] == "sent"
    assert store.list_mails(page=1, per_page=10, to=address)[1] == 1
    [message] = smtp_sink.messages(to=address)
    assert message["Subject"] == "Potvrzení registrace: Jarní Škola Zdravých měst"
    body = message.get_body(("plain",)).get_content()
    assert "/cancel?token=abc" in body
    invitation, ticket = list(message.iter_attachments())
    assert invitation.get_content_type() == "text/calendar" and invitation.get_filename() == "pozvanka.ics"
    assert ticket.get_content_type() == "image/png" and ticket.get_filename() == "qr-kod-pro-vstup.png"


def test_a_temporary_smtp_refusal_is_retried_until_delivered(notify, service_config, smtp_sink, mongo_client):
    address = unique_address("+flaky")
    envelope = addressed(registration_event(bus.REGISTRATION_PROMOTED), address)
    deliver(notify, service_config, bus.REGISTRATION_PROMOTED, envelope)
    store = NotifyStore(mongo_client, service_config["MONGO_DB"])
    assert store.get(envelope["event_id"])["attempts"] == 1
    wait_until(lambda: smtp_sink.messages(to=address), timeout=20, message="the retried mail")
    wait_until(lambda: store.get(envelope["event_id"])["status"] == "sent", timeout=5)
    assert len(smtp_sink.messages(to=address)) == 1


def test_an_unreachable_smtp_server_keeps_the_mail_pending(container_factory, service_config, mongo_client):
    closed = f"smtp://127.0.0.1:{embedded.free_port()}"
    container = container_factory(NotifyService, {**service_config, "SMTP_URL": closed})
    container.start()
    envelope = registration_event(bus.REGISTRATION_CANCELLED)
    deliver(container, service_config, bus.REGISTRATION_CANCELLED, envelope)
    mail = NotifyStore(mongo_client, service_config["MONGO_DB"]).get(envelope["event_id"])
    assert mail["status"] == "pending" and mail["attempts"] == 1
    assert "ConnectionRefusedError" in mail["last_error"]


def test_without_smtp_url_mail_goes_to_the_maildir(container_factory, service_config, tmp_path):
    container = container_factory(NotifyService, {**service_config, "DATA_DIR": str(tmp_path)})
    container.start()
    deliver(container, service_config, bus.REGISTRATION_WAITLISTED,
            registration_event(bus.REGISTRATION_WAITLISTED, statuses=("waitlisted",)))
    [delivered] = list((tmp_path / "mail" / "new").iterdir())
    message = email.message_from_bytes(delivered.read_bytes(), policy=email.policy.default)
    assert message["Subject"] == "Čekací listina: Jarní Škola Zdravých měst"
    assert message["To"] == "Jana Nováková <jana@example.cz>"


def test_a_failed_mail_sent_again_by_staff_arrives(container_factory, service_config, smtp_sink, mongo_client):
    address = unique_address()
    envelope = addressed(registration_event(bus.REGISTRATION_CANCELLED), address)
    store = NotifyStore(mongo_client, service_config["MONGO_DB"])
    store.ensure_indexes()
    store.enqueue(domain.mail_for(bus.REGISTRATION_CANCELLED, envelope, PEOPLE[envelope["data"]["registration"]["id"]]))
    store.mark_failed_attempt(store.claim(envelope["event_id"])["id"], "gave up", retry_at=None)
    # Only now does a notify service run: nothing could deliver the mail before staff ask.
    container_factory(NotifyService, {**service_config, "SMTP_URL": smtp_sink.url}).start()
    with ServiceRpcProxy("notify", service_config, timeout=10, context_data=staff_context("tests")) as proxy:
        assert proxy.list_mails({"status": "failed", "to": address})["total"] == 1
        assert proxy.retry_mail(envelope["event_id"])["status"] == "sent"
    assert len(smtp_sink.messages(to=address)) == 1


def test_a_mail_queued_for_sending_at_once_is_left_to_its_sender_until_the_lease_runs_out(
        service_config, mongo_client):
    store = NotifyStore(mongo_client, service_config["MONGO_DB"])
    store.ensure_indexes()
    leased = addressed(registration_event(bus.REGISTRATION_CONFIRMED), unique_address("leased"))
    free = addressed(registration_event(bus.REGISTRATION_CONFIRMED), unique_address("free"))
    queued = store.enqueue(domain.mail_for(bus.REGISTRATION_CONFIRMED, leased, details()), leased=True)
    assert queued["id"] == leased["event_id"] and queued["attempts"] == 0
    again = domain.mail_for(bus.REGISTRATION_CONFIRMED, leased, details())
    assert store.enqueue(again, leased=True) is None  # queued before
    store.enqueue(domain.mail_for(bus.REGISTRATION_CONFIRMED, free, details()))
    assert store.claim(leased["event_id"]) is None
    assert store.claim(free["event_id"])["id"] == free["event_id"]
    # its sender died and its lease ended (a moment ago: stored times have milliseconds, and a claim
    # in the same millisecond would still see it held)
    store.mails.update_one({"_id": leased["event_id"]}, {"$set": {"claimed_until": utcnow() - timedelta(seconds=1)}})
    assert store.claim(leased["event_id"])["id"] == leased["event_id"]
