"""The platform on a three-node RabbitMQ cluster (nodes of the test's own, each on its own port,
clustered with `rabbitmqctl join_cluster`, with deploy/rabbitmq/rabbitmq.conf): two processes of
every service and two gateway workers, given every node in AMQP_URI.

While registrations stream in, the node that leads the events service's RPC queue stops; later,
once it is back, the node the platform first connected to stops. Nothing accepted is lost or
doubled, every event leaves the outbox once, and the gateway is ready again within 30 s without
any process restarted.

Then a rolling restart under load: while registrations stream in and a mailout is being sent,
each service process and each gateway worker in turn is stopped with SIGTERM and started again.
Every request is answered 201, nothing is lost or doubled, and the mailout reaches each of its
recipients once, at MAILOUT_RATE for the two notify processes together."""
import time
import uuid
from contextlib import contextmanager
from datetime import datetime

import pytest
import requests
from kombu import Connection, Queue, binding

from nszm.contracts import bus
from nszm.topology import exchange
from tests.http.supervised import assert_nothing_lost_or_doubled, recipients, registrations, supervised_platform
from tests.http.test_events_api import all_registrations
from tests.http.test_mailouts_api import sent
from tests.http.test_replicas import drain
from tests.rabbit_node import RabbitCluster
from tests.waiting import keep_for, wait_until

PEOPLE, SESSIONS, SEATS_EACH = 500, 10, 10  # 100 seats in all
READY_AGAIN_SECONDS = 30
UNCONFIRMED_AT_A_LOSS = 10  # events a node can take with it unconfirmed: published again (a few ms of a rush)
MAILOUT_RATE = 10  # a second, for the platform however many notify processes send
MAILOUT_PEOPLE = 400  # at MAILOUT_RATE, longer than both notify processes take to restart
SERVICES = ("notify", "members", "events", "practice")  # notify first: the mailout is under way


@pytest.fixture(scope="module")
def cluster():
    nodes = RabbitCluster(3)
    try:
        nodes.start()
        yield nodes
    finally:
        nodes.stop()


@pytest.fixture(scope="module")
def platform(tmp_path_factory, subprocess_env, smtp_sink, cluster):
    with supervised_platform(tmp_path_factory.mktemp("cluster"), subprocess_env, cluster.amqp_uri, smtp_sink.url,
                             SERVICE_REPLICAS="2", GATEWAY_WORKERS="2", MAILOUT_RATE=str(MAILOUT_RATE)) as running:
        yield running


def ready(url: str) -> bool:
    try:
        return requests.get(url + "/readyz", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def lose(cluster, node, platform) -> float:
    """Stop `node`; the seconds until the gateway is ready again."""
    stopped_at = time.monotonic()
    node.stop_app()
    keep_for(2)  # the platform meets the loss
    wait_until(lambda: ready(platform.url), timeout=READY_AGAIN_SECONDS, interval=0.5,
               message="ready again on the surviving nodes")
    return time.monotonic() - stopped_at


@contextmanager
def registration_events(cluster):
    """Every registration event the bus carries while the `with` body runs, heard on a quorum
    queue of the test's own (it outlives a node); yields a function that drains the bus until
    `expected` envelopes came, then a little longer, and returns them."""
    heard = Queue(f"test.cluster.{uuid.uuid4().hex[:8]}", durable=True, queue_arguments={"x-queue-type": "quorum"},
                  bindings=[binding(exchange(bus.REGISTRATION_CONFIRMED.source), routing_key="#")])
    with Connection(cluster.amqp_uri) as connection:
        heard(connection.channel()).declare()

    def envelopes(expected: int) -> list[dict]:
        taken: list[dict] = []
        with Connection(cluster.amqp_uri) as connection:
            with connection.Consumer(heard, callbacks=[lambda body, message: (taken.append(body), message.ack())],
                                     accept=["json"]):
                drain(connection, lambda: len(taken) >= expected, seconds=60)
                drain(connection, lambda: False, seconds=3)  # anything published twice would come right behind
        return [e for e in taken if e["event_type"] in (bus.REGISTRATION_CONFIRMED.name,
                                                          bus.REGISTRATION_WAITLISTED.name)]

    try:
        yield envelopes
    finally:
        with Connection(cluster.amqp_uri) as connection:
            heard(connection.channel()).delete()


def assert_published_once_each(envelopes: list[dict], stored: list[dict], repeats_allowed: int = 0):
    """One event for each stored registration; an event heard more than once carries the same
    event_id every time (subscribers take it once), and only `repeats_allowed` were."""
    once = {e["event_id"]: e for e in envelopes}
    assert sorted(e["data"]["registration"]["id"] for e in once.values()) == sorted(r["id"] for r in stored)
    assert len(envelopes) - len(once) <= repeats_allowed


def test_losing_two_nodes_in_turn_mid_rush_loses_and_doubles_nothing(cluster, platform, smtp_sink):
    pids = platform.pids()
    with registration_events(cluster) as heard:
        with registrations(platform, PEOPLE, seats=SEATS_EACH, sessions=SESSIONS, senders=4, pause=0.15) as stream:
            wait_until(lambda: len(stream.answers) >= 100, timeout=120, message="registrations under way")
            first = cluster.leader_of("rpc-events", asking=cluster.nodes[0])
            first_back = lose(cluster, first, platform)
            keep_for(5)
            first.start_app()
            # Every client connected to the first node it could (AMQP_URI's order): lose that one too.
            second = cluster.nodes[0] if first is not cluster.nodes[0] else cluster.nodes[1]
            second_back = lose(cluster, second, platform)
            keep_for(5)
            second.start_app()
        assert first_back < READY_AGAIN_SECONDS and second_back < READY_AGAIN_SECONDS
        assert {code for code, *_ in stream.answers} <= {201, 503}, [
            a for a in stream.answers if a[0] not in (201, 503)]
        accepted = assert_nothing_lost_or_doubled(stream, smtp_sink, copies_allowed=0)
        confirmed = [body for body in accepted.values() if body["status"] == "confirmed"]
        assert len(confirmed) == SESSIONS * SEATS_EACH
        envelopes = heard(len(accepted))
    # A registration whose answer the lost node took with it was answered 503 and is stored all the
    # same: its person is mailed (above) and its event published like every other. An event whose
    # publication the lost node confirmed to nobody is published again from the outbox, with its
    # event_id, by which subscribers (the platform's own included) take it once.
    assert_published_once_each(envelopes, all_registrations(platform.staff(), stream.event["id"]),
                               repeats_allowed=UNCONFIRMED_AT_A_LOSS * 2)
    assert platform.pids() == pids, "a process had to be restarted"


def consuming(cluster, service: str) -> bool:
    """Both processes of `service` take its RPC calls."""
    return cluster.nodes[0].consumers(f"rpc-{service}") == 2


def test_a_rolling_restart_under_load_answers_everything_and_mails_each_once(cluster, platform, smtp_sink):
    staff = platform.staff()
    with registrations(platform, MAILOUT_PEOPLE, seats=MAILOUT_PEOPLE, sessions=1, senders=8) as audience:
        pass
    assert_nothing_lost_or_doubled(audience, smtp_sink, copies_allowed=0)
    draft = staff.post("/api/v1/mailouts", json={"subject": "Pozvánka na jarní školu", "body": "Dobrý den, {{ name }}",
                                                 "audience": {"event": {"id": audience.event["id"]}}}).json()
    assert draft["recipients"] == MAILOUT_PEOPLE
    pids, workers = platform.pids(), platform.gateway_workers()
    mailout_under_way = []
    with registration_events(cluster) as heard:
        with registrations(platform, 10 * PEOPLE, seats=SEATS_EACH, sessions=SESSIONS, senders=4,
                           pause=0.1) as stream:
            wait_until(lambda: len(stream.answers) >= 50, timeout=60, message="registrations under way")
            assert staff.post(f"/api/v1/mailouts/{draft['id']}/send").status_code == 202
            wait_until(lambda: staff.get(f"/api/v1/mailouts/{draft['id']}").json()["sent"] > 0, timeout=30,
                       interval=0.2, message="the mailout under way")
            for service in SERVICES:
                for program in (service, f"{service}-2"):
                    mailout_under_way.append(staff.get(f"/api/v1/mailouts/{draft['id']}").json()["status"])
                    platform.restart(program)
                    wait_until(lambda: consuming(cluster, service), timeout=60, interval=0.2,
                               message=f"{program} taking calls again")
            for worker in sorted(workers):
                platform.restart_gateway_worker(worker, len(workers))
            stream.stop()
        assert mailout_under_way[:2] == ["sending", "sending"], "the mailout ended before notify restarted"
        answers = [(code, body) for code, _, _, body in stream.answers]
        assert len(answers) > 200 and {code for code, _ in answers} == {201}, [a for a in answers if a[0] != 201][:5]
        accepted = assert_nothing_lost_or_doubled(stream, smtp_sink, copies_allowed=0)
        envelopes = heard(len(accepted))
    assert_published_once_each(envelopes, all_registrations(staff, stream.event["id"]))

    done = sent(staff, draft["id"], timeout=120)
    assert (done["sent"], done["failed"], done["queued"]) == (MAILOUT_PEOPLE, 0, 0)
    took = datetime.fromisoformat(done["finished_at"]) - datetime.fromisoformat(done["started_at"])
    assert took.total_seconds() >= 0.9 * MAILOUT_PEOPLE / MAILOUT_RATE  # two senders, not twice the rate
    bulk = [m for m in smtp_sink.messages_to_domain(audience.domain) if m["List-Unsubscribe"]]
    mailed = recipients(smtp_sink, audience.domain)
    assert len(bulk) == len({m["Message-ID"] for m in bulk}) == MAILOUT_PEOPLE  # nobody mailed twice
    assert {m["To"].addresses[0].addr_spec for m in bulk} == mailed.keys()

    restarted = {name for name, pid in platform.pids().items() if pid != pids[name]}
    assert restarted == {f"{s}{n}" for s in SERVICES for n in ("", "-2")}
    assert not platform.gateway_workers() & workers
