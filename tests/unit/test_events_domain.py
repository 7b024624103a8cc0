"""Rules of events: sessions, registration checks, seats, cancellation deadlines, attendance."""
from datetime import timedelta

import pytest

from services.events import domain
from tests.event_factories import NOW, event_payload, loaded_event, registration_input


def test_new_event_numbers_sessions_and_defaults_hours_and_deadline():
    event = loaded_event(event_payload(capacities=(50, 20)), published=False)
    assert [s["id"] for s in event["sessions"]] == ["s1", "s2"]
    assert event["sessions"][0]["hours"] == 7.0
    assert event["cancellation_deadline"] == event["starts_at"] - timedelta(hours=24)
    assert event["status"] == "draft"


def test_a_session_outside_the_event_is_refused():
    payload = event_payload()
    payload["sessions"][0]["ends_at"] = payload["ends_at"].replace("T15", "T23")
    with pytest.raises(domain.RuleBroken) as broken:
        loaded_event(payload)
    assert broken.value.field == "sessions"


def test_session_hours_round_to_half_hours():
    start = NOW
    assert domain.session_hours(start, start + timedelta(minutes=100)) == 1.5
    assert domain.session_hours(start, start + timedelta(hours=3, minutes=10)) == 3.0


def test_publishing_twice_is_refused():
    with pytest.raises(domain.Refused):
        domain.publish(loaded_event(), NOW)


def test_publishing_decides_the_event_and_its_announcement():
    draft = {**loaded_event(), "status": "draft", "published_at": None}
    decided = domain.publish(draft, NOW)
    assert decided.record["status"] == "published" and decided.record["published_at"] == NOW
    [announced] = decided.events
    assert announced["event_type"] == "event_published" and announced["data"]["id"] == draft["id"]


def test_registration_needs_a_published_future_event():
    with pytest.raises(domain.Refused):
        domain.new_registration(loaded_event(published=False), registration_input(), False, NOW, "person-hash")
    event = loaded_event()
    with pytest.raises(domain.Refused):
        domain.new_registration(event, registration_input(), False, event["starts_at"], "person-hash")


def test_registration_names_unknown_sessions_and_drops_repeats():
    event = loaded_event()
    with pytest.raises(domain.RuleBroken) as broken:
        domain.new_registration(event, registration_input(sessions=["s9"]), False, NOW, "person-hash")
    assert broken.value.field == "sessions"
    registration = domain.new_registration(event, registration_input(sessions=["s1", "s1"]), False, NOW, "person-hash")
    assert [seat["id"] for seat in registration["sessions"]] == ["s1"]
    assert registration["email_key"] == "jana.novakova@example.cz"


def test_coordinator_sessions_are_for_coordinators_only():
    event = loaded_event(event_payload(capacities=(50, 20), audiences=["everyone", "coordinators"]))
    with pytest.raises(domain.RuleBroken):
        domain.new_registration(event, registration_input(sessions=["s1", "s2"]), False, NOW, "person-hash")
    assert domain.new_registration(event, registration_input(sessions=["s1", "s2"]), True, NOW, "person-hash")


def seats(*statuses):
    return [{"id": f"s{n}", "status": status, "ticket": None, "waitlist_position": None}
            for n, status in enumerate(statuses, 1)]


@pytest.mark.parametrize("statuses, overall", [
    (("confirmed",), "confirmed"), (("confirmed", "waitlisted"), "waitlisted"), (("waitlisted",), "waitlisted"),
    (("confirmed", "cancelled"), "confirmed"), (("cancelled",), "cancelled"),
])
def test_overall_status(statuses, overall):
    assert domain.overall_status(seats(*statuses)) == overall


def registered(event, statuses=("confirmed",)):
    registration = domain.new_registration(event, registration_input(sessions=[f"s{n}" for n in range(1, len(statuses) + 1)]),
                                           False, NOW, "person-hash")
    for n, status in enumerate(statuses, 1):
        registration = domain.with_seat(registration, f"s{n}", status, ticket=None if status == "confirmed" else n)
    return registration


def test_cancelling_frees_confirmed_seats_only():
    event = loaded_event(event_payload(capacities=(50, 20)))
    outcome = domain.cancel(registered(event, ("confirmed", "waitlisted")), event, [], False, NOW)
    assert outcome.cancelled["status"] == "cancelled" and outcome.promoted == []
    assert outcome.seat_changes == {"s1": {"seats_left": 1}, "s2": {"waiting": -1}}
    with pytest.raises(domain.Refused):
        domain.cancel(outcome.cancelled, event, [], False, NOW)


def test_self_service_cancellation_closes_at_the_deadline_but_staff_can_still_cancel():
    event = loaded_event()
    late = event["cancellation_deadline"] + timedelta(minutes=1)
    with pytest.raises(domain.Refused):
        domain.cancel(registered(event), event, [], False, late)
    assert domain.cancel(registered(event), event, [], True, late).cancelled["status"] == "cancelled"


def waiting_with_ticket(event, ticket, statuses=("waitlisted",)):
    registration = registered(event, statuses)
    for seat in registration["sessions"]:
        if seat["status"] == "waitlisted":
            seat["ticket"] = ticket
    return registration


def test_a_freed_seat_goes_to_the_first_in_the_queue_not_the_first_stored():
    event = loaded_event(event_payload(capacities=(1,)))
    later, earlier = waiting_with_ticket(event, 9), waiting_with_ticket(event, 4)
    outcome = domain.cancel(registered(event), event, [later, earlier], False, NOW)
    [(lucky, sessions)] = outcome.promoted
    assert (lucky["id"], sessions, lucky["status"]) == (earlier["id"], ["s1"], "confirmed")
    assert outcome.seat_changes == {"s1": {"waiting": -1}}
    assert [r["id"] for r in outcome.changed] == [outcome.cancelled["id"], earlier["id"]]


def test_one_person_may_get_several_freed_seats_and_each_seat_goes_once():
    event = loaded_event(event_payload(capacities=(1, 1)))
    both = registered(event, ("confirmed", "confirmed"))
    waiting_both = waiting_with_ticket(event, 2, statuses=("waitlisted", "waitlisted"))
    outcome = domain.cancel(both, event, [waiting_both, waiting_both], False, NOW)
    [(lucky, sessions)] = outcome.promoted
    assert sessions == ["s1", "s2"] and [seat["status"] for seat in lucky["sessions"]] == ["confirmed", "confirmed"]
    assert outcome.seat_changes == {"s1": {"waiting": -1}, "s2": {"waiting": -1}}


def test_a_certificate_number_counts_within_its_year():
    event = loaded_event()
    checked = domain.check_in(registered(event), event, None, NOW)
    assert domain.earns_certificate(event)
    assert domain.with_certificate(checked, 12)["certificate_id"] == f"NSZM-{NOW.year}-000012"


def test_the_first_to_wait_is_promoted_first():
    event = loaded_event()
    later, earlier = registered(event, ("waitlisted",)), registered(event, ("waitlisted",))
    later["sessions"][0]["ticket"], earlier["sessions"][0]["ticket"] = 7, 3
    assert domain.first_waiting([later, earlier], "s1") is earlier
    assert domain.first_waiting([registered(event)], "s1") is None


def test_a_waiting_place_is_one_more_than_the_people_ahead_now():
    event = loaded_event(event_payload(capacities=(1, 1)))
    waiting = domain.with_seat(registered(event, ("confirmed", "confirmed")), "s2", "waitlisted", ticket=9)
    placed = domain.with_queue_positions(waiting, {"s2": [4, 9, 12]})
    assert [seat["waitlist_position"] for seat in placed["sessions"]] == [None, 2]
    assert domain.with_queue_positions(waiting, {"s2": [9]})["sessions"][1]["waitlist_position"] == 1
    assert domain.waiting_sessions(waiting) == ["s2"]


def test_check_in_counts_the_hours_of_attended_sessions():
    event = loaded_event(event_payload(capacities=(50, 20)))
    checked = domain.check_in(registered(event, ("confirmed", "confirmed")), event, None, NOW)
    assert checked["hours"] == 14.0 and checked["attended_sessions"] == ["s1", "s2"]
    with pytest.raises(domain.Refused):
        domain.check_in(checked, event, None, NOW)
    with pytest.raises(domain.RuleBroken):
        domain.check_in(registered(event, ("confirmed", "waitlisted")), event, ["s2"], NOW)
    with pytest.raises(domain.Refused):
        domain.check_in(registered(event, ("waitlisted",)), event, None, NOW)


def test_a_certificate_needs_an_accredited_event_and_attendance():
    event = loaded_event()
    registration = registered(event)
    with pytest.raises(domain.Refused):
        domain.certificate(registration, event)
    checked = {**domain.check_in(registration, event, None, NOW), "certificate_id": "NSZM-2026-000007"}
    certificate = domain.certificate(checked, event)
    assert certificate["name"] == "Jana Nováková" and certificate["hours"] == 7.0
    assert certificate["venue"] == "Krajský úřad Libereckého kraje, Liberec"
    with pytest.raises(domain.Refused):
        domain.certificate(checked, {**event, "accredited": False})
    assert domain.certificate_number(2027, 42) == "NSZM-2027-000042"


def asking(event, email, sessions=("s1",)):
    return domain.new_registration(event, registration_input(email, sessions=sessions), False, NOW, "person-hash")


def test_seats_go_in_order_of_arrival_then_the_waiting_list_continues_from_the_counters():
    event = loaded_event(event_payload(capacities=(2, 5)))
    people = [asking(event, f"p{n}@example.cz", ("s1", "s2") if n == 1 else ("s1",)) for n in range(4)]
    counters = {"s1": {"seats_left": 1, "waiting": 3, "waitlist_seq": 7},
                "s2": {"seats_left": 5, "waiting": 0, "waitlist_seq": 0}}
    seated, changes = domain.seat_in_order(people, counters)
    assert [r["status"] for r in seated] == ["confirmed", "waitlisted", "waitlisted", "waitlisted"]
    assert [(s["id"], s["status"]) for s in seated[1]["sessions"]] == [("s1", "waitlisted"), ("s2", "confirmed")]
    assert [(r["sessions"][0]["ticket"], r["sessions"][0]["waitlist_position"]) for r in seated[1:]] == [
        (8, 4), (9, 5), (10, 6)]
    assert changes == {"s1": {"seats_left": -1, "waiting": 3, "waitlist_seq": 3}, "s2": {"seats_left": -1}}


def test_nothing_seated_changes_no_counter():
    assert domain.seat_in_order([], {"s1": {"seats_left": 3, "waiting": 0, "waitlist_seq": 0}}) == ([], {})


def test_registrations_for_several_events_are_seated_each_by_its_event_s_counters_and_addresses():
    first, second = (loaded_event(event_payload(capacities=(1,)), event_id=f"2026-12-skola-{n}") for n in range(2))
    people = [asking(first, "a@example.cz"), asking(second, "a@example.cz"), asking(first, "b@example.cz"),
              asking(second, "c@example.cz"), asking(first, "a@example.cz")]
    counters = {first["id"]: {"s1": {"seats_left": 1, "waiting": 0, "waitlist_seq": 0}},
                second["id"]: {"s1": {"seats_left": 0, "waiting": 2, "waitlist_seq": 4}}}
    outcomes, changes = domain.seat_for_events(people, {(second["id"], people[3]["email_key"])}, counters)
    assert [o["status"] if isinstance(o, dict) else "refused" for o in outcomes] == [
        "confirmed", "waitlisted", "waitlisted", "refused", "refused"]
    assert outcomes[1]["sessions"][0]["ticket"] == 5 and outcomes[2]["sessions"][0]["ticket"] == 1
    assert changes == {first["id"]: {"s1": {"seats_left": -1, "waiting": 1, "waitlist_seq": 1}},
                       second["id"]: {"s1": {"waiting": 1, "waitlist_seq": 1}}}


def test_an_address_registered_already_or_earlier_in_the_same_batch_is_refused():
    event = loaded_event(event_payload())
    people = [asking(event, e) for e in ("a@example.cz", "B@example.cz", "b@example.cz", "c@example.cz")]
    outcomes = domain.first_per_address(people, registered={people[3]["email_key"]})
    assert outcomes[:2] == people[:2]
    assert [type(o) for o in outcomes[2:]] == [domain.Refused, domain.Refused]
    assert "b@example.cz is registered for this event already" in outcomes[2].message
