"""The events service's units of work on its real store and a real SecantusDB: seats under
concurrency, promotion, atomicity, certificate numbers."""
import random
from datetime import timedelta
from unittest.mock import patch

import eventlet
import pytest

from nszm.contracts.errors import Conflict
from nszm.storage import ChangedSinceRead, IdTaken
from services.events import domain
from services.events.storage import EventsStore
from tests.event_factories import NOW, event_payload, events_worker, loaded_event, registration_input


@pytest.fixture
def store(mongo_client, db_name):
    events_store = EventsStore(mongo_client, db_name)
    events_store.ensure_indexes()
    return events_store


@pytest.fixture
def service(store):
    with events_worker(store) as worker:
        yield worker


def published(service, event_type) -> list[dict]:
    return [call.args[1]["data"] for call in service.dispatch.call_args_list if call.args[0] == event_type]


def stored_event(store, capacities=(50,), event_id="2026-12-skola"):
    event = loaded_event(event_payload(capacities=capacities), event_id=event_id, published=False)
    store.add_event(event)
    store.save_published(domain.publish(event, NOW).record)
    return store.get_event(event_id)


def register(service, event, email, sessions=("s1",)):
    return service.register(event["id"], registration_input(email, sessions=list(sessions)))


def assert_counters_agree(store, event_id):
    event = store.get_event(event_id, published_only=False)
    registrations = store.registrations_of(event_id)
    for session in event["sessions"]:
        seats = [seat for r in registrations for seat in r["sessions"] if seat["id"] == session["id"]]
        confirmed = sum(seat["status"] == "confirmed" for seat in seats)
        waiting = sum(seat["status"] == "waitlisted" for seat in seats)
        assert session["seats_taken"] == confirmed <= session["capacity"]
        assert session["waiting"] == waiting
        assert session["seats_left"] == session["capacity"] - confirmed


def test_concurrent_registrations_never_exceed_capacity(store, service):
    event = stored_event(store, capacities=(10, 5))
    outcomes = []
    pool = eventlet.GreenPool(40)
    with patch.object(store, "atomically", wraps=store.atomically) as transactions:
        for n in range(60):
            sessions = ("s1", "s2") if n % 2 else ("s1",)
            pool.spawn(lambda n=n, sessions=sessions: outcomes.append(
                register(service, event, f"p{n}@example.cz", sessions)))
        pool.waitall()
    assert len(outcomes) == 60
    assert transactions.call_count < 30  # who came while a transaction was open went together in the next
    assert len(published(service, "registration_confirmed")) + len(published(service, "registration_waitlisted")) == 60
    s1 = [seat for r in outcomes for seat in r["sessions"] if seat["id"] == "s1"]
    assert sum(seat["status"] == "confirmed" for seat in s1) == 10
    positions = sorted(seat["waitlist_position"] for seat in s1 if seat["status"] == "waitlisted")
    assert positions == list(range(1, 51))
    assert_counters_agree(store, event["id"])


def test_concurrent_registrations_for_several_events_go_together_and_each_keeps_its_capacity(store, service):
    events = [stored_event(store, capacities=(3,), event_id=f"2026-12-skola-{n}") for n in range(4)]
    outcomes = []
    pool = eventlet.GreenPool(40)
    with patch.object(store, "atomically", wraps=store.atomically) as transactions:
        for n in range(40):
            # each address for every event: no event refuses it for another's registration
            pool.spawn(lambda n=n: outcomes.append(
                (events[n % 4]["id"], register(service, events[n % 4], f"p{n // 4}@example.cz"))))
        pool.waitall()
    assert len(outcomes) == 40
    assert transactions.call_count < len(events)  # so batches held registrations for different events
    for event in events:
        mine = [r for event_id, r in outcomes if event_id == event["id"]]
        assert len(mine) == 10 and sum(r["status"] == "confirmed" for r in mine) == 3
        assert sorted(r["sessions"][0]["waitlist_position"] for r in mine if r["status"] == "waitlisted") == list(
            range(1, 8))
        assert_counters_agree(store, event["id"])


def test_a_batch_whose_counters_of_one_event_went_stale_moves_no_counter(store):
    first, second = (stored_event(store, capacities=(5,), event_id=f"2026-12-skola-{n}") for n in range(2))
    seen = store.seat_counters([first["id"], second["id"]])
    store.sessions.update_one({"_id": f"{second['id']}/s1"}, {"$inc": {"seats_left": -1}})  # another process
    with pytest.raises(ChangedSinceRead):
        store.unit_of_work(lambda tx: tx.move_counters(seen, {first["id"]: {"s1": {"seats_left": -1}},
                                                              second["id"]: {"s1": {"seats_left": -1}}}))
    counters = store.seat_counters([first["id"], second["id"]])
    assert counters[first["id"]]["s1"]["seats_left"] == 5 and counters[second["id"]]["s1"]["seats_left"] == 4


def test_a_duplicate_registration_takes_no_seat(store, service):
    event = stored_event(store, capacities=(2,))
    register(service, event, "a@example.cz")
    with pytest.raises(Conflict):
        register(service, event, "a@example.cz")
    assert store.get_event(event["id"])["sessions"][0]["seats_left"] == 1
    assert_counters_agree(store, event["id"])


def test_one_address_registering_many_times_at_once_gets_one_seat(store, service):
    event = stored_event(store, capacities=(5,))
    outcomes = []

    def attempt():
        try:
            outcomes.append(register(service, event, "same@example.cz"))
        except Conflict as conflict:
            outcomes.append(conflict)

    pool = eventlet.GreenPool(10)
    for _ in range(10):
        pool.spawn(attempt)
    pool.waitall()
    assert sum(isinstance(o, dict) for o in outcomes) == 1
    assert sum(isinstance(o, Conflict) for o in outcomes) == 9
    assert store.get_event(event["id"])["sessions"][0]["seats_left"] == 4
    assert_counters_agree(store, event["id"])


def test_counters_changed_since_they_were_read_are_not_moved(store):
    event = stored_event(store, capacities=(5,))
    seen = store.seat_counters([event["id"]])
    store.move_counters(seen, {event["id"]: {"s1": {"seats_left": -1}}})
    with pytest.raises(ChangedSinceRead):
        store.move_counters(seen, {event["id"]: {"s1": {"seats_left": -1}}})
    assert store.seat_counters([event["id"]])[event["id"]]["s1"] == {"seats_left": 4, "waiting": 0, "waitlist_seq": 0}


def test_a_transaction_that_read_stale_counters_is_done_again(store, service):
    event = stored_event(store, capacities=(3,))
    real_move = EventsStore.move_counters
    interfered = []

    def move_after_another_writer(tx, seen, changes):
        if not interfered:  # another process takes a seat between this transaction's read and its write
            interfered.append(store.sessions.update_one({"_id": f"{event['id']}/s1"}, {"$inc": {"seats_left": -1}}))
        return real_move(tx, seen, changes)

    with patch.object(EventsStore, "move_counters", autospec=True, side_effect=move_after_another_writer):
        registration = register(service, event, "a@example.cz")
    assert registration["status"] == "confirmed"
    assert store.get_event(event["id"])["sessions"][0]["seats_left"] == 1


def test_cancelling_gives_each_freed_seat_to_the_first_waiting(store, service):
    event = stored_event(store, capacities=(1, 1))
    first = register(service, event, "a@example.cz", ("s1", "s2"))
    second = register(service, event, "b@example.cz", ("s1",))
    third = register(service, event, "c@example.cz", ("s1", "s2"))
    service.cancel_registration_as_staff(first["id"])
    [cancelled] = published(service, "registration_cancelled")
    assert cancelled["changed_sessions"] == ["s1", "s2"]
    promoted = [(e["registration"]["id"], e["changed_sessions"]) for e in published(service, "registration_promoted")]
    assert promoted == [(second["id"], ["s1"]), (third["id"], ["s2"])]
    assert store.get_registration(second["id"])["status"] == "confirmed"
    third_now = store.get_registration(third["id"])
    assert third_now["status"] == "waitlisted"  # holds s2 now, still waits for s1
    assert {s["id"]: s["status"] for s in third_now["sessions"]} == {"s1": "waitlisted", "s2": "confirmed"}
    assert_counters_agree(store, event["id"])
    register(service, event, "a@example.cz")  # a cancelled address may register again


def test_a_refused_cancellation_changes_nothing(store, service):
    event = stored_event(store, capacities=(1,))
    first = register(service, event, "a@example.cz")
    register(service, event, "b@example.cz")
    too_late = event["cancellation_deadline"] + timedelta(seconds=1)
    with patch("services.events.service.utcnow", return_value=too_late), pytest.raises(Conflict):
        service.cancel_registration(first["id"], token=service.store.signer().sign("registration", first["id"]))
    assert store.get_registration(first["id"])["status"] == "confirmed"
    assert_counters_agree(store, event["id"])


def test_concurrent_cancellations_promote_distinct_people(store, service):
    event = stored_event(store, capacities=(5,))
    confirmed = [register(service, event, f"c{n}@example.cz") for n in range(5)]
    waiting = [register(service, event, f"w{n}@example.cz") for n in range(8)]
    pool = eventlet.GreenPool(5)
    for registration in confirmed:
        pool.spawn(service.cancel_registration_as_staff, registration["id"])
    pool.waitall()
    statuses = [store.get_registration(r["id"])["status"] for r in waiting]
    assert statuses == ["confirmed"] * 5 + ["waitlisted"] * 3
    assert_counters_agree(store, event["id"])


def test_check_in_numbers_certificates_in_sequence(store, service):
    event = stored_event(store)
    numbers = []
    for n in range(3):
        registration = register(service, event, f"p{n}@example.cz")
        numbers.append(service.check_in(registration["id"])["certificate_id"])
    assert numbers == ["NSZM-2026-000001", "NSZM-2026-000002", "NSZM-2026-000003"]
    assert store.by_certificate("NSZM-2026-000002")["email"] == "p1@example.cz"


def test_200_scans_of_100_people_at_2_sessions_in_any_order_record_exactly_who_came(store, service):
    event = stored_event(store, capacities=(100, 100))
    people = [register(service, event, f"p{n}@example.cz", ("s1", "s2"))["id"] for n in range(100)]
    chance = random.Random(29)
    came = {person: set(chance.sample(["s1", "s2"], chance.choice([0, 1, 2, 2])))
            for person in people}
    scans = [(person, session) for person, sessions in came.items() for session in sessions]
    scans += [chance.choice(scans) for _ in range(200 - len(scans))]  # the same code scanned again
    chance.shuffle(scans)
    outcomes = []
    pool = eventlet.GreenPool(10)
    for person, session in scans:
        pool.spawn(lambda p, s: outcomes.append(service.check_in_at_session(event["id"], s, {"code": p})["outcome"]),
                   person, session)
    pool.waitall()
    pairs = sum(len(sessions) for sessions in came.values())
    assert len(outcomes) == 200 and outcomes.count("checked_in") == pairs
    assert outcomes.count("already_checked_in") == 200 - pairs
    certificates = []
    for person, sessions in came.items():
        registration = store.get_registration(person)
        assert set(registration["attended_sessions"]) == sessions
        assert registration["hours"] == (7.0 * len(sessions) if sessions else None)
        assert (registration["certificate_id"] is not None) == (sessions == {"s1", "s2"})  # 80 % of 14 hours
        certificates += [registration["certificate_id"]] if registration["certificate_id"] else []
    assert sorted(certificates) == [f"NSZM-2026-{n:06d}" for n in range(1, len(certificates) + 1)]
    recorded = published(service, "attendance_recorded")
    assert len(recorded) == pairs and sum(r["certificate_issued"] for r in recorded) == len(certificates)
    for session_id in ("s1", "s2"):
        attendees = service.session_attendees(event["id"], session_id, {"per_page": 100})
        assert {a["registration_id"] for a in attendees["items"] if a["checked_in_at"]} == {
            person for person, sessions in came.items() if session_id in sessions}


def test_changes_of_sessions_in_a_rush_of_registrations_never_exceed_capacity(store, service):
    event = stored_event(store, capacities=(50, 5))
    early = [register(service, event, f"early{n}@example.cz", ("s1",))["id"] for n in range(20)]

    def take_s2(registration_id):
        token = store.signer().sign("registration", registration_id)
        return service.change_sessions(registration_id, token, {"sessions": ["s1", "s2"]})

    pool = eventlet.GreenPool(30)
    for n, registration_id in enumerate(early):
        pool.spawn(take_s2, registration_id)
        if n % 2:
            pool.spawn(register, service, event, f"late{n}@example.cz", ("s1", "s2"))
    pool.waitall()
    assert_counters_agree(store, event["id"])
    seats = [seat for r in store.registrations_of(event["id"]) for seat in r["sessions"] if seat["id"] == "s2"]
    assert sum(seat["status"] == "confirmed" for seat in seats) == 5 and len(seats) == 30
    tickets = [seat["ticket"] for seat in seats if seat["status"] == "waitlisted"]
    assert sorted(tickets) == list(range(1, 26))  # each place in the queue drawn once

    holders = [r["id"] for r in store.registrations_of(event["id"])
               if any(seat["id"] == "s2" and seat["status"] == "confirmed" for seat in r["sessions"])]
    for registration_id in holders[:3]:
        token = store.signer().sign("registration", registration_id)
        pool.spawn(service.change_sessions, registration_id, token, {"sessions": ["s1"]})
    for n in range(5):
        pool.spawn(register, service, event, f"later{n}@example.cz", ("s2",))
    pool.waitall()
    assert_counters_agree(store, event["id"])
    assert store.get_event(event["id"])["sessions"][1]["seats_left"] == 0
    assert len(published(service, "registration_promoted")) == 3
    assert len(published(service, "registration_changed")) == 23


def test_a_reminder_goes_once_to_each_person_with_a_seat_even_across_restarts(mongo_client, db_name, store, service):
    event = loaded_event(event_payload(days_ahead=1, capacities=(30,)), event_id="2026-12-zitra", published=False)
    store.add_event(event)
    store.save_published(domain.publish(event, NOW).record)
    for n in range(35):
        register(service, event, f"p{n}@example.cz")
    pool = eventlet.GreenPool(3)
    for _ in range(3):  # replicas whose timers fire at once
        pool.spawn(service.send_reminders)
    pool.waitall()
    reminded = published(service, "registration_reminded")
    assert len(reminded) == 30 and len({r["registration"]["id"] for r in reminded}) == 30
    restarted = EventsStore(mongo_client, db_name)
    with events_worker(restarted) as again:
        again.send_reminders()
        assert published(again, "registration_reminded") == []
    assert sum(1 for r in store.registrations_of(event["id"]) if r.get("reminded_at")) == 30


def test_a_registration_changed_since_it_was_read_is_not_overwritten(store, service):
    event = stored_event(store)
    registration = store.get_registration(register(service, event, "jana@example.cz")["id"])
    store.save_registrations([{**registration, "organization": "Obec Lhota"}])
    with pytest.raises(ChangedSinceRead):
        store.save_registrations([{**registration, "organization": "Město Kolín"}])
    assert store.get_registration(registration["id"])["organization"] == "Obec Lhota"


def test_event_ids_are_unique_and_listing_filters_by_time(store):
    stored_event(store, event_id="2026-12-skola")
    with pytest.raises(IdTaken):
        store.add_event(loaded_event(event_id="2026-12-skola", published=False))
    assert store.taken_event_ids("2026-12-skola") == {"2026-12-skola"}
    items, total = store.list_events(page=1, per_page=10, from_=NOW)
    assert total == 1 and items[0]["sessions"][0]["seats_left"] == 50
    assert store.list_events(page=1, per_page=10, from_=NOW + timedelta(days=365))[1] == 0
    assert store.list_events(page=1, per_page=10, from_=NOW, type="forum")[1] == 0



def test_mailed_links_survive_a_key_rotation_and_the_oldest_key_is_dropped(mongo_client, mongo_uri, db_name):
    from nszm.config import Settings
    from ops.keys import rotate

    settings = Settings.from_env({"MONGO_URI": mongo_uri, "MONGO_DB": db_name})
    first = EventsStore(mongo_client, db_name).signer().sign("registration", "r1")
    assert rotate(settings, keep=1) == ["events", "notify"]
    after_one = EventsStore(mongo_client, db_name)  # as a service restarted after the rotation
    assert after_one.signer().value("registration", first) == "r1"
    second = after_one.signer().sign("registration", "r2")
    rotate(settings, keep=1)
    after_two = EventsStore(mongo_client, db_name)
    assert after_two.signer().value("registration", second) == "r2"
    assert after_two.signer().value("registration", first) is None  # its key was dropped
    assert len(after_two.secret_keys("links")) == 2


def test_a_published_event_is_read_once_and_a_draft_is_read_each_time(store):
    draft = loaded_event(event_payload(), event_id="2026-12-navrh", published=False)
    store.add_event(draft)
    with patch.object(store.events, "find_one", wraps=store.events.find_one) as reads:
        assert store.get_event(draft["id"], published_only=False, with_counters=False)["status"] == "draft"
        store.save_published(domain.publish(draft, NOW).record)
        first = store.get_event(draft["id"], with_counters=False)
        first["sessions"].clear()  # a caller's copy: what the store keeps is not changed
        again = store.get_event(draft["id"], with_counters=False)
        assert reads.call_count == 2
    assert again["status"] == "published" and len(again["sessions"]) == len(draft["sessions"])
    assert store.get_event(draft["id"])["sessions"][0]["seats_left"] == draft["sessions"][0]["capacity"]
