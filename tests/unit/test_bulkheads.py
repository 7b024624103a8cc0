"""The gateway's guard around service calls: a service's share of the threads, and no call to a
service without a consumer."""
import threading

import pytest

from gateway.rpc import Bulkheads, GuardedProxy
from nszm.contracts.errors import Unavailable


class Present:
    """What `gateway.rpc.Consumers` tells, fixed per service (the real one asks RabbitMQ)."""

    def __init__(self, absent=()):
        self.absent = set(absent)

    def present(self, service):
        return service not in self.absent


class Hanging:
    """A service proxy whose `wait` calls block until released, and whose `ping` answers at once."""

    def __init__(self):
        self.release = threading.Event()
        self.entered = threading.Semaphore(0)
        self.calls = 0

    def wait(self):
        self.calls += 1
        self.entered.release()
        self.release.wait(10)
        return "late"

    def ping(self):
        self.calls += 1
        return "pong"

    ping.call_async = lambda: "async"


class Cluster:
    def __init__(self, **services):
        self.__dict__.update(services)


def test_a_service_without_a_consumer_is_unavailable_at_once_and_not_called():
    practice = Hanging()
    proxy = GuardedProxy(Cluster(practice=practice), Bulkheads(share=2), Present(absent={"practice"}))
    with pytest.raises(Unavailable, match="not running"):
        proxy.practice.ping()
    assert practice.calls == 0


def test_a_hung_service_holds_only_its_share_and_the_others_still_answer():
    members, events = Hanging(), Hanging()
    bulkheads = Bulkheads(share=2, stalled_after=0.2)
    proxy = GuardedProxy(Cluster(members=members, events=events), bulkheads, Present())
    stuck = [threading.Thread(target=proxy.members.wait) for _ in range(2)]
    for thread in stuck:
        thread.start()
    for _ in stuck:
        assert members.entered.acquire(timeout=5)
    with pytest.raises(Unavailable, match="not answering"):
        proxy.members.ping()  # the share is taken by calls stalled 0.2 s: refused without reaching the service
    assert members.calls == 2
    assert proxy.events.ping() == "pong"
    members.release.set()
    for thread in stuck:
        thread.join(5)
    assert proxy.members.ping() == "pong"  # the places are back


def test_a_place_freed_while_waiting_is_taken_as_long_as_the_service_answers():
    members = Hanging()
    proxy = GuardedProxy(Cluster(members=members), Bulkheads(share=1, stalled_after=5), Present())
    first = threading.Thread(target=proxy.members.wait)
    first.start()
    assert members.entered.acquire(timeout=5)
    threading.Timer(0.2, members.release.set).start()
    assert proxy.members.ping() == "pong"
    first.join(5)


def test_probes_ask_asynchronously_without_a_place():
    proxy = GuardedProxy(Cluster(members=Hanging()), Bulkheads(share=1), Present(absent={"members"}))
    assert proxy.members.ping.call_async() == "async"
