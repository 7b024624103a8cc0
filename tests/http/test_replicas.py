"""Scale-out on one machine: two processes of every service and two gateway workers against one
RabbitMQ and one database. A rush of 200 registrations for 50 seats confirms exactly 50, mails
everyone once, and every event leaves the outboxes once."""
import subprocess
import time
import uuid

import pytest
from kombu import Connection, Queue, binding

from nszm.contracts import bus
from nszm.topology import exchange
from ops.rabbit import drop_vhost, make_vhost
from tests.http.supervised import assert_nothing_lost_or_doubled, registrations, supervised_platform

PEOPLE, SEATS = 200, 50


@pytest.fixture(scope="module")
def vhost():
    name = f"nszm-replicas-{uuid.uuid4().hex[:8]}"
    yield name, make_vhost(name)
    drop_vhost(name)


@pytest.fixture(scope="module")
def replicated(tmp_path_factory, subprocess_env, smtp_sink, vhost):
    with supervised_platform(tmp_path_factory.mktemp("replicas"), subprocess_env, vhost[1], smtp_sink.url,
                             SERVICE_REPLICAS="2", GATEWAY_WORKERS="2") as platform:
        yield platform


def consumers(vhost: str, queue: str) -> int:
    listed = subprocess.run(["rabbitmqctl", "-q", "list_consumers", "-p", vhost, "queue_name"],
                            capture_output=True, text=True, check=True).stdout.split()
    return listed.count(queue)


def drain(connection, done, seconds: float):
    """Take the bus's deliveries until `done()` or for `seconds`."""
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        try:
            connection.drain_events(timeout=min(1.0, max(0.01, deadline - time.monotonic())))
        except TimeoutError:
            pass


def test_two_of_everything_share_a_rush_and_do_everything_exactly_once(replicated, smtp_sink, vhost):
    name, amqp_uri = vhost
    pids = replicated.pids()
    assert {"events", "events-2", "notify", "notify-2", "members-2", "practice-2"} <= pids.keys()
    assert all(consumers(name, f"rpc-{service}") == 2 for service in ("members", "events", "practice", "notify"))

    heard = Queue(f"test.replicas.{uuid.uuid4().hex[:8]}", exclusive=True, auto_delete=True,
                  bindings=[binding(exchange(bus.REGISTRATION_CONFIRMED.source), routing_key="#")])
    with Connection(amqp_uri) as connection:
        channel = connection.channel()
        heard(channel).declare()
        with registrations(replicated, PEOPLE, seats=SEATS, sessions=1, senders=50) as stream:
            pass
        accepted = assert_nothing_lost_or_doubled(stream, smtp_sink)
        assert len(accepted) == PEOPLE
        statuses = [body["status"] for body in accepted.values()]
        assert statuses.count("confirmed") == SEATS and statuses.count("waitlisted") == PEOPLE - SEATS

        envelopes = []
        with connection.Consumer(heard, callbacks=[lambda body, message: (envelopes.append(body), message.ack())],
                                 accept=["json"]):
            drain(connection, lambda: len(envelopes) >= PEOPLE, seconds=60)
            assert len(envelopes) >= PEOPLE, f"only {len(envelopes)} events heard"
            drain(connection, lambda: False, seconds=3)  # anything published twice would come right behind
    registration_events = [e for e in envelopes if e["event_type"] in (bus.REGISTRATION_CONFIRMED.name,
                                                                       bus.REGISTRATION_WAITLISTED.name)]
    assert len({e["event_id"] for e in envelopes}) == len(envelopes)
    assert sorted(e["data"]["registration"]["id"] for e in registration_events) == sorted(
        body["id"] for body in accepted.values())
