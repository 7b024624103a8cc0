"""Waiting-list positions are places in the current queue: the events service on a real SecantusDB.

The service runs through nameko's `worker_factory` with the real store; every position is read
where people see it: the registration's answer, the waiting-list mail, and the staff list.
"""
import uuid
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nameko.testing.services import worker_factory

from nszm.contracts import bus
from nszm.rush import Rush
from services.events.service import EventsService
from services.events.storage import EventsStore
from services.notify.mail import domain as notify_domain
from tests.event_factories import NOW, event_payload, registration_input


@pytest.fixture(scope="module")
def service(mongo_client):
    store = EventsStore(mongo_client, f"t{uuid.uuid4().hex[:12]}")
    store.ensure_indexes()
    worker = worker_factory(EventsService, store=store, rush=Rush(), config={"PUBLIC_URL": "https://api.example.cz"})
    with patch("services.events.service.utcnow", return_value=NOW):
        yield worker


def new_event(service, capacities) -> str:
    event = service.create_event(event_payload(capacities=capacities))
    service.publish_event(event["id"])
    return event["id"]


def staff_positions(service, event_id) -> dict[str, dict[str, int | None]]:
    listed = service.list_registrations(event_id, {"per_page": 100})["items"]
    return {r["id"]: {seat["id"]: seat["waitlist_position"] for seat in r["sessions"]}
            for r in listed if r["status"] != "cancelled"}


def last_published(service, event_type) -> dict:
    envelope = next(call.args[1] for call in reversed(service.dispatch.call_args_list) if call.args[0] == event_type)
    return envelope


def test_positions_follow_the_queue_through_promotions_and_cancellations(service):
    event_id = new_event(service, capacities=(1,))
    people = {}

    def register(who):
        receipt = service.register(event_id, registration_input(f"{who}-{uuid.uuid4().hex[:6]}@example.cz"))
        people[who] = receipt["id"]
        return receipt["sessions"][0]["waitlist_position"]

    def cancel(who):
        service.cancel_registration_as_staff(people[who])

    assert [register("a"), register("b"), register("c")] == [None, 1, 2]
    cancel("a")
    assert staff_positions(service, event_id) == {people["b"]: {"s1": None}, people["c"]: {"s1": 1}}
    assert register("d") == 2
    waitlisted = last_published(service, "registration_waitlisted")
    mail = notify_domain.mail_for(bus.REGISTRATION_WAITLISTED, waitlisted,
                                  service.mail_details([waitlisted["data"]["registration"]["id"]]).popitem()[1])
    assert "2. v pořadí" in mail["text"] and "3. v pořadí" not in mail["text"]
    cancel("c")
    assert service.get_registration(people["d"])["sessions"][0]["waitlist_position"] == 1
    assert register("f") == 2
    assert staff_positions(service, event_id) == {
        people["b"]: {"s1": None}, people["d"]: {"s1": 1}, people["f"]: {"s1": 2}}


class Queue:
    """The expected state, held by the test: who holds each seat and who waits in which order."""

    def __init__(self, capacities):
        self.capacity = {f"s{n}": c for n, c in enumerate(capacities, 1)}
        self.holders = {s: [] for s in self.capacity}
        self.waiting = {s: [] for s in self.capacity}

    def join(self, who, sessions):
        for s in sessions:
            (self.holders if len(self.holders[s]) < self.capacity[s] else self.waiting)[s].append(who)

    def leave(self, who):
        for s in self.capacity:
            if who in self.holders[s]:
                self.holders[s].remove(who)
                if self.waiting[s]:
                    self.holders[s].append(self.waiting[s].pop(0))
            elif who in self.waiting[s]:
                self.waiting[s].remove(who)

    def positions(self, who, sessions):
        return {s: self.waiting[s].index(who) + 1 if who in self.waiting[s] else None for s in sessions}


steps = st.lists(st.one_of(
    st.tuples(st.just("register"), st.sampled_from([("s1",), ("s2",), ("s1", "s2")])),
    st.tuples(st.just("cancel"), st.integers(min_value=0, max_value=50)),
), min_size=1, max_size=14)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=steps)
def test_positions_are_places_in_the_current_queue_after_any_sequence(service, steps):
    capacities = (1, 2)
    event_id = new_event(service, capacities)
    expected = Queue(capacities)
    live: dict[str, tuple[str, ...]] = {}
    for n, (action, argument) in enumerate(steps):
        if action == "register":
            receipt = service.register(event_id, registration_input(f"p{n}@example.cz", sessions=argument))
            expected.join(receipt["id"], argument)
            live[receipt["id"]] = argument
            told = {seat["id"]: seat["waitlist_position"] for seat in receipt["sessions"]}
            assert told == expected.positions(receipt["id"], argument)
            if receipt["status"] == "waitlisted":
                mailed = last_published(service, "registration_waitlisted")["data"]["registration"]
                assert {seat["id"]: seat["waitlist_position"] for seat in mailed["sessions"]} == told
        elif live:
            who = sorted(live)[argument % len(live)]
            service.cancel_registration_as_staff(who)
            expected.leave(who)
            del live[who]
        assert staff_positions(service, event_id) == {who: expected.positions(who, sessions)
                                                      for who, sessions in live.items()}
