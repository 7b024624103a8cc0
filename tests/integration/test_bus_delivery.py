"""No event is lost to a missing queue: the platform's subscriptions exist from whichever service
starts first, a deleted queue is declared again before the next event, and events stored while
RabbitMQ restarts reach their subscribers once. A handler that always fails ends among the
dead letters after its retries, and a replay delivers it once.

Each test runs on a vhost of its own, so that it starts from an empty broker.
"""
import os
import subprocess
import uuid
from unittest.mock import patch

import pytest
from kombu import Connection, Producer
from nameko.standalone.rpc import ServiceRpcProxy

from gateway.app import create_app
from nszm import deadletters
from nszm.config import Settings
from nszm.contracts import bus
from nszm.entrypoints import staff_context
from nszm.messaging import BusPublisher, consumes
from nszm.topology import Topology, exchange
from ops.rabbit import DEFAULT_AMQP_URI, drop_vhost, ensure_running, make_vhost
from services.events.service import EventsService
from services.members.service import MembersService
from services.members.storage import MembersStore
from services.notify.service import NotifyService
from services.practice.service import PracticeService
from tests.event_factories import event_payload, registration_input
from tests.waiting import wait_until

ADMIN = "nszm_bus_admin"


@pytest.fixture
def vhost_config(rabbitmq_running, mongo_uri, db_name, smtp_sink):
    name = f"nszm-bus-{uuid.uuid4().hex[:8]}"
    config = {"AMQP_URI": make_vhost(name), "MONGO_URI": mongo_uri, "MONGO_DB": db_name, "serializer": "json",
              "SECRET_KEY": os.environ["SECRET_KEY"], "SMTP_URL": smtp_sink.url, "PUBLIC_URL": "https://api.example.cz", "MAILOUT_RATE": "0"}
    yield config
    drop_vhost(name)


def register_people(config, how_many: int) -> str:
    """`how_many` registrations for a new event, each from an address at one new mail domain."""
    mail_domain = f"{uuid.uuid4().hex[:8]}.example.cz"
    with ServiceRpcProxy("events", config, timeout=30, context_data=staff_context("tests")) as events:
        event = events.create_event(event_payload(capacities=(500,)))
        events.publish_event(event["id"])
        for n in range(how_many):
            events.register(event["id"], registration_input(email=f"ucastnik{n}@{mail_domain}"))
    return mail_domain


def assert_each_mailed_once(smtp_sink, mail_domain: str, how_many: int):
    wait_until(lambda: smtp_sink.count(mail_domain) >= how_many, timeout=60, interval=0.2,
               message=f"{how_many} mails to {mail_domain}")
    messages = smtp_sink.messages_to_domain(mail_domain)
    assert len(messages) == how_many
    assert len({m["To"].addresses[0].addr_spec for m in messages}) == how_many


def test_events_stored_before_notify_ever_started_are_all_mailed(container_factory, vhost_config, smtp_sink):
    container_factory(EventsService, vhost_config).start()  # alone on an empty vhost
    mail_domain = register_people(vhost_config, 20)
    container_factory(NotifyService, vhost_config).start()
    assert_each_mailed_once(smtp_sink, mail_domain, 20)


def member_updated_handled(mongo_client, config) -> int:
    return mongo_client[config["MONGO_DB"]]["practice.handled"].count_documents({})


def updated_member(store: MembersStore, n: int) -> dict:
    return bus.envelope(bus.MEMBER_UPDATED, {
        "slug": "chrudim", "name": f"Chrudim {n}", "type": "city", "region": "Pardubický kraj", "population": 23000,
        "member_since": "1994-09-01", "website": None, "part_of": None, "version": n})


def restart_rabbitmq():
    subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True)
    subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True)
    ensure_running(DEFAULT_AMQP_URI)


def test_events_reach_their_subscribers_after_queues_are_deleted_and_rabbitmq_restarts(
        container_factory, vhost_config, smtp_sink, mongo_client):
    for service in (MembersService, EventsService, PracticeService, NotifyService):
        container_factory(service, vhost_config).start()
    with Connection(vhost_config["AMQP_URI"]) as connection:
        for queue in (bus.NOTIFY_MAILS.queue, bus.PRACTICE_MEMBERS.queue):
            connection.default_channel.queue_delete(queue)
    mail_domain = register_people(vhost_config, 10)
    assert_each_mailed_once(smtp_sink, mail_domain, 10)

    store = MembersStore(mongo_client, vhost_config["MONGO_DB"])
    restart_rabbitmq()  # while it is down, the members service stores three events its relay publishes later
    stored = [updated_member(store, n) for n in (1, 2, 3)]
    for event in stored:
        store.unit_of_work(lambda tx, event=event: tx.commit([event]))
        store.outbox.release({"_id": event["event_id"]})
    wait_until(lambda: member_updated_handled(mongo_client, vhost_config) == 3, timeout=60, interval=0.2,
               message="three member updates handled")
    assert store.outbox.pending_count() == 0
    mail_domain = register_people(vhost_config, 5)
    assert_each_mailed_once(smtp_sink, mail_domain, 5)
    assert member_updated_handled(mongo_client, vhost_config) == 3


class FlakyPractice:
    """Stands in for practice's member subscription: fails until `broken` is cleared."""

    name = "flaky_practice"
    broken = True
    received: list[str] = []

    @consumes(bus.PRACTICE_MEMBERS)
    def on_member_updated(self, envelope):
        if FlakyPractice.broken:
            raise RuntimeError("the database is away")
        FlakyPractice.received.append(envelope["event_id"])


def publish(config, envelope: dict):
    spec = bus.BY_NAME[envelope["event_type"]]
    with Connection(config["AMQP_URI"]) as connection:
        Producer(connection.default_channel).publish(envelope, exchange=exchange(spec.source), routing_key=spec.name,
                                                     serializer="json", delivery_mode=2)


def test_a_handler_that_always_fails_ends_in_the_dead_letters_and_replay_delivers_once(
        container_factory, vhost_config, mongo_uri):
    config = {**vhost_config, "BUS_RETRY_DELAYS": "0.2,0.5"}
    container_factory(FlakyPractice, config).start()
    event = updated_member(None, 7)
    publish(config, event)
    topology = Topology(Settings.from_env(config))
    dead = wait_until(lambda: deadletters.list_dead_letters(topology), timeout=30, interval=0.2,
                      message="a dead letter")
    assert dead == [{"queue": bus.PRACTICE_MEMBERS.queue, "event_id": event["event_id"],
                     "event_type": "member_updated", "attempts": 3, "error": "RuntimeError: the database is away",
                     "failed_at": dead[0]["failed_at"]}]
    assert deadletters.list_dead_letters(topology) == dead  # listing takes nothing away
    assert FlakyPractice.received == []

    FlakyPractice.broken = False
    staff = create_app(Settings.from_env({**config, "BOOTSTRAP_STAFF_TOKEN": ADMIN})).test_client()
    admin = {"Authorization": f"Bearer {ADMIN}"}
    listed = staff.get("/api/v1/dead-letters", headers=admin)
    assert listed.status_code == 200 and [d["event_id"] for d in listed.json] == [event["event_id"]]
    assert staff.get("/api/v1/dead-letters?queue=nope", headers=admin).status_code == 422
    replayed = staff.post("/api/v1/dead-letters/replay", json={"event_ids": [event["event_id"]]}, headers=admin)
    assert replayed.status_code == 200 and [d["event_id"] for d in replayed.json["replayed"]] == [event["event_id"]]
    wait_until(lambda: FlakyPractice.received, timeout=10, message="the replayed event handled")
    assert deadletters.list_dead_letters(topology) == []
    assert staff.post("/api/v1/dead-letters/replay", headers=admin).json == {"replayed": []}
    assert FlakyPractice.received == [event["event_id"]]


def test_a_start_removes_the_empty_queues_of_the_former_event_handlers(container_factory, vhost_config):
    empty, holding = ("evt-events-registration_confirmed--notify.on_registration_confirmed",
                      "evt-members-member_updated--practice.on_member_updated")
    with Connection(vhost_config["AMQP_URI"]) as connection:
        channel = connection.default_channel
        for name in (empty, holding):
            channel.queue_declare(name, durable=True)
        Producer(channel).publish({"event_id": "x"}, exchange="", routing_key=holding, serializer="json")
        container_factory(MembersService, vhost_config).start()
        assert channel.queue_declare(holding, passive=True).message_count == 1
        with pytest.raises(Exception, match="NOT_FOUND"):
            connection.channel().queue_declare(empty, passive=True)


def test_an_rpc_claiming_to_be_staff_is_refused_by_its_signature(container_factory, vhost_config):
    from nameko.exceptions import IncorrectSignature

    from nszm.contracts.errors import NotFound

    container_factory(EventsService, vhost_config).start()
    with ServiceRpcProxy("events", vhost_config, timeout=30, context_data=staff_context("tests")) as events:
        event = events.create_event(event_payload(capacities=(5,)))
        events.publish_event(event["id"])
        registration = events.register(event["id"], registration_input(email="jana@example.cz"))
        with pytest.raises(IncorrectSignature):  # refused before the service runs any of its code
            events.cancel_registration(registration["id"], by_staff=True)
        with pytest.raises(NotFound):
            events.cancel_registration(registration["id"], "forged")
        assert events.get_registration(registration["id"])["status"] == "confirmed"


class Container:
    """What a dependency provider asks of its container here: the config."""

    def __init__(self, config: dict):
        self.config = config


def test_a_worker_makes_sure_of_an_event_type_s_queues_once_for_all_it_publishes(vhost_config):
    container = Container(vhost_config)  # held: the provider keeps only a weak reference to it
    publisher = BusPublisher().bind(container, "dispatch")
    publisher.setup()
    queue = bus.PRACTICE_MEMBERS.queue
    with patch.object(publisher.topology, "declare_routes", wraps=publisher.topology.declare_routes) as declared:
        one_worker = publisher.get_dependency(None)
        for n in range(3):
            one_worker(bus.MEMBER_UPDATED.name, {"event_id": f"first-{n}", "event_type": bus.MEMBER_UPDATED.name})
        assert declared.call_count == 1
        with Connection(vhost_config["AMQP_URI"]) as connection:
            connection.default_channel.queue_delete(queue)
            publisher.get_dependency(None)(bus.MEMBER_UPDATED.name, {"event_id": "later",
                                                                    "event_type": bus.MEMBER_UPDATED.name})
            assert declared.call_count == 2  # the next worker's event found its queue declared again
            assert connection.default_channel.queue_declare(queue, passive=True).message_count == 1
