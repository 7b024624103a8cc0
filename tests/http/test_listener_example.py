"""The example listener (pika, no nameko) in a process of its own against the running platform:
70 registrations for 50 seats and 30 cancellations reach it as exactly their registration_*
events, each once."""
from collections import Counter

from tests.http import test_events_api as events_api
from tests.integration.test_subscriber_kit import Listener


def test_the_example_listener_receives_every_registration_event_once(platform, staff, public):
    listener = Listener(platform.env["AMQP_URI"])
    try:
        assert listener.next_line() == "ready"
        event = events_api.published(staff, capacities=(50,))
        receipts = [events_api.register(public, event, events_api.address("posluchac")).json() for _ in range(70)]
        confirmed = [r for r in receipts if r["status"] == "confirmed"]
        waiting = [r for r in receipts if r["status"] == "waitlisted"]
        assert (len(confirmed), len(waiting)) == (50, 20)
        for receipt in confirmed[:30]:
            path, params = events_api.cancel_link_parts(receipt)
            assert public.post(path, params=params, headers={"Accept": "application/json"}).status_code == 200

        got = listener.events(50 + 20 + 30 + 20)
    finally:
        listener.process.terminate()
        listener.process.wait(timeout=10)
    assert len({e["event_id"] for e in got}) == len(got)
    by_type = {kind: {e["registration"] for e in got if e["event_type"] == kind} for kind in Counter(
        e["event_type"] for e in got)}
    assert by_type == {
        "registration_confirmed": {r["id"] for r in confirmed},
        "registration_waitlisted": {r["id"] for r in waiting},
        "registration_cancelled": {r["id"] for r in confirmed[:30]},
        "registration_promoted": {r["id"] for r in waiting},
    }
