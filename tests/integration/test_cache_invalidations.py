"""Gateway workers' read caches kept coherent over a real RabbitMQ: a service's event and one
worker's write reach every worker."""
import uuid

import pytest
from kombu import Connection, Queue
from nameko.standalone.events import event_dispatcher

from gateway.cache import ANNOUNCEMENTS, Generations, Invalidations
from nszm.contracts import bus
from tests.waiting import wait_until


@pytest.fixture
def workers(amqp_uri):
    started = [Invalidations(amqp_uri, Generations()).start() for _ in range(2)]
    for worker in started:
        assert worker.listening.wait(timeout=20), "a worker never heard the bus"
    yield started
    for worker in started:
        worker.stop()


def test_a_service_event_changes_its_source_in_every_worker(workers, amqp_uri):
    before = [worker.generations.stamp(("members", "events")) for worker in workers]
    dispatch = event_dispatcher({"AMQP_URI": amqp_uri, "serializer": "json"})
    dispatch(bus.MEMBER_UPDATED.source, bus.MEMBER_UPDATED.name, {"slug": "brno"})
    for worker, (members, events) in zip(workers, before):
        wait_until(lambda: worker.generations.stamp(("members",))[0] > members, timeout=5,
                   message="the member event heard")
        assert worker.generations.stamp(("events",)) == (events,)


def test_a_write_through_one_worker_reaches_the_others(workers):
    announcing, other = workers
    before = other.generations.stamp(("practice", "members"))
    own = announcing.generations.stamp(("practice",))
    announcing.announce(("practice",))
    assert announcing.generations.stamp(("practice",))[0] == own[0] + 1  # at once, before any message
    wait_until(lambda: other.generations.stamp(("practice",))[0] > before[0], timeout=5,
               message="the announcement heard")
    assert other.generations.stamp(("members",)) == before[1:]


def test_a_worker_that_stops_listening_says_so(amqp_uri):
    worker = Invalidations(amqp_uri, Generations()).start()
    assert worker.listening.wait(timeout=20)
    worker.stop()
    assert not worker.listening.is_set()


def announcements_heard(amqp_uri):
    """A queue of the gateways' announcements, as a test's own listener."""
    connection = Connection(amqp_uri)
    queue = Queue(f"test.announcements.{uuid.uuid4().hex}", exchange=ANNOUNCEMENTS, exclusive=True,
                  auto_delete=True, durable=False)(connection.channel())
    queue.declare()
    return connection, queue


def test_writes_of_the_same_moment_go_to_the_other_workers_in_one_announcement(workers, amqp_uri):
    announcing, other = workers
    connection, queue = announcements_heard(amqp_uri)
    try:
        for n in range(60):
            announcing.announce((("members", "events", "practice")[n % 3],))
        announcing.announce(("notify",))  # the last write: every message before it holds the others
        heard = []
        wait_until(lambda: heard.append(queue.get(no_ack=True)) or "notify" in (heard[-1].payload if heard[-1] else ()),
                   timeout=5, message="the last write announced")
        messages = [message.payload for message in heard if message]
        assert {source for sources in messages for source in sources} == {"members", "events", "practice", "notify"}
        assert len(messages) <= 3, f"61 writes announced in {len(messages)} messages"
    finally:
        connection.release()


def test_a_stopping_worker_announces_its_last_writes(workers):
    announcing, other = workers
    announcing.announce(("events",))  # the announcer pauses after this one
    before = other.generations.stamp(("notify",))
    announcing.announce(("notify",))
    announcing.stop()
    wait_until(lambda: other.generations.stamp(("notify",)) > before, timeout=5,
               message="the last write announced on stopping")
