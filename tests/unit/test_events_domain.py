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


def serials(start: int = 1):
    """A certificate counter as the store keeps it: the next number of a year, from `start`."""
    drawn = []

    def next_serial(year):
        drawn.append(year)
        return start + len(drawn) - 1

    next_serial.drawn = drawn
    return next_serial


def test_a_certificate_number_counts_within_its_year():
    event = loaded_event()
    checked = domain.check_in(registered(event), event, None, NOW, serials(12)).registration
    assert checked["certificate_id"] == f"NSZM-{NOW.year}-000012" and checked["certificate_issued_at"] == NOW


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
    scan = domain.check_in(registered(event, ("confirmed", "confirmed")), event, None, NOW, serials())
    checked = scan.registration
    assert checked["hours"] == 14.0 and checked["attended_sessions"] == ["s1", "s2"]
    assert [(e["data"]["session_id"], e["data"]["certificate_issued"]) for e in scan.events] == [
        ("s1", False), ("s2", True)]
    with pytest.raises(domain.Refused):
        domain.check_in(checked, event, None, NOW, serials())
    with pytest.raises(domain.RuleBroken):
        domain.check_in(registered(event, ("confirmed", "waitlisted")), event, ["s2"], NOW, serials())
    with pytest.raises(domain.Refused):
        domain.check_in(registered(event, ("waitlisted",)), event, None, NOW, serials())


def test_each_session_keeps_its_own_attendance_and_a_repeated_scan_changes_nothing():
    event = loaded_event(event_payload(capacities=(50, 20)))
    counter = serials()
    first = domain.arrive(registered(event, ("confirmed", "confirmed")), event, "s2", NOW, counter)
    assert first.outcome == "checked_in" and first.registration["attended_sessions"] == ["s2"]
    assert first.registration["hours"] == 7.0 and first.registration["checked_in_at"] == NOW
    [announced] = first.events
    assert announced["event_type"] == "attendance_recorded"
    assert (announced["data"]["session_id"], announced["data"]["action"]) == ("s2", "checked_in")
    again = domain.arrive(first.registration, event, "s2", NOW + timedelta(minutes=5), counter)
    assert (again.outcome, again.events, again.registration) == ("already_checked_in", [], first.registration)
    out = domain.leave(first.registration, event, "s2", NOW + timedelta(hours=6))
    assert out.outcome == "checked_out" and out.registration["attendance"][0]["checked_out_at"] == NOW + timedelta(
        hours=6)
    assert out.registration["hours"] == 7.0 and out.events[0]["data"]["action"] == "checked_out"
    assert domain.leave(out.registration, event, "s2", NOW + timedelta(hours=7)).outcome == "already_checked_out"
    with pytest.raises(domain.Refused) as not_yet:
        domain.leave(out.registration, event, "s1", NOW)
    assert not_yet.value.code == "not_checked_in"


@pytest.mark.parametrize(("seats", "session", "code"), [
    (("confirmed", "waitlisted"), "s2", "waitlisted"),
    (("confirmed",), "s2", "not_registered_for_session"),
    (("cancelled", "confirmed"), "s1", "seat_given_up"),
])
def test_a_scan_without_a_seat_in_the_session_is_refused_by_name(seats, session, code):
    event = loaded_event(event_payload(capacities=(50, 20)))
    registration = registered(event, seats)
    with pytest.raises(domain.Refused) as refused:
        domain.arrive(registration, event, session, NOW, serials())
    assert refused.value.code == code and "Jana Nováková" in refused.value.message


def test_a_scan_of_a_cancelled_registration_or_of_another_event_is_refused():
    event = loaded_event(event_payload(capacities=(50, 20)))
    cancelled = {**registered(event), "status": "cancelled"}
    with pytest.raises(domain.Refused) as refused:
        domain.arrive(cancelled, event, "s1", NOW, serials())
    assert refused.value.code == "registration_cancelled"
    with pytest.raises(domain.Refused) as elsewhere:
        domain.arrive(registered(event), {**event, "id": "2027-01-forum"}, "s1", NOW, serials())
    assert elsewhere.value.code == "other_event"
    with pytest.raises(domain.NotFound):
        domain.arrive(registered(event), event, "s9", NOW, serials())


def test_the_certificate_comes_with_the_check_in_that_reaches_the_minimum_share():
    payload = event_payload(capacities=(50, 50, 50, 50), min_attendance_share=0.75)
    event = loaded_event(payload)
    counter = serials(40)
    registration = registered(event, ("confirmed",) * 4)
    for session_id in ("s1", "s3"):
        registration = domain.arrive(registration, event, session_id, NOW, counter).registration
        assert registration["certificate_id"] is None and counter.drawn == []
    third = domain.arrive(registration, event, "s4", NOW, counter)
    assert third.registration["certificate_id"] == f"NSZM-{NOW.year}-000040" and third.registration["hours"] == 21.0
    assert third.events[0]["data"]["certificate_issued"] is True
    fourth = domain.arrive(third.registration, event, "s2", NOW, counter)
    assert fourth.registration["certificate_id"] == third.registration["certificate_id"]
    assert fourth.registration["hours"] == 28.0 and fourth.events[0]["data"]["certificate_issued"] is False
    assert counter.drawn == [NOW.year]


def test_the_share_counts_the_sessions_the_person_holds_seats_in_and_an_unaccredited_event_certifies_nobody():
    event = loaded_event(event_payload(capacities=(50, 50)))
    one_day = domain.arrive(registered(event, ("confirmed", "cancelled")), event, "s1", NOW, serials())
    assert one_day.registration["certificate_id"] is not None
    plain = {**event, "accredited": False}
    assert domain.arrive(registered(plain), plain, "s1", NOW, serials()).registration["certificate_id"] is None


@pytest.mark.parametrize(("scanned", "code"), [
    ("0f3a9c", "0f3a9c"),
    ("  0F3A9C\n", "0f3a9c"),
    ("éfšaíc", "0f3a9c"),  # a US-keyboard scanner typing into a Czech layout
    ("https://nszm.cz/api/v1/registrations/0f3a9c/manage?token=x", "0f3a9c"),
])
def test_a_ticket_code_is_read_as_the_scanner_types_it(scanned, code):
    assert domain.ticket_code(scanned) == code


def test_attendees_are_found_by_name_without_diacritics_in_czech_order():
    event = loaded_event(event_payload(capacities=(50, 20)))
    people = [{**registered(event, ("confirmed", "waitlisted")), "name": name, "organization": "Obec"}
              for name in ("Chalupa Petr", "Horák Jan", "Čermák Ivo")]
    assert [p["name"] for p in domain.attendees(people, "s1", None)] == ["Čermák Ivo", "Horák Jan", "Chalupa Petr"]
    [found] = domain.attendees(people, "s2", "cermak")
    assert (found["name"], found["seat"], found["checked_in_at"]) == ("Čermák Ivo", "waitlisted", None)


def test_a_certificate_needs_an_accredited_event_and_attendance():
    event = loaded_event()
    registration = registered(event)
    with pytest.raises(domain.Refused):
        domain.certificate(registration, event)
    checked = domain.check_in(registration, event, None, NOW, serials(7)).registration
    certificate = domain.certificate(checked, event)
    assert certificate["name"] == "Jana Nováková" and certificate["hours"] == 7.0
    assert certificate["sessions"] == [{"title": "Den 1", "starts_at": event["sessions"][0]["starts_at"],
                                        "ends_at": event["sessions"][0]["ends_at"], "hours": 7.0}]
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


def test_the_register_lists_issued_certificates_by_number():
    event = loaded_event()
    certified = [domain.check_in(registered(event), event, None, NOW, serials(n)).registration for n in (9, 3)]
    entries = domain.certificate_register([registered(event), *certified])
    assert [e["certificate_id"] for e in entries] == [f"NSZM-{NOW.year}-000003", f"NSZM-{NOW.year}-000009"]
    assert entries[0] == {"certificate_id": f"NSZM-{NOW.year}-000003", "name": "Jana Nováková",
                          "organization": "Město Chrudim", "hours": 7.0, "issued_at": NOW}


QUESTIONS = [
    {"label": "Strava", "type": "single_choice", "options": ["masová", "vegetariánská"], "required": True},
    {"label": "Oběd ve 2. den", "type": "consent", "session": "s2"},
    {"label": "Témata", "type": "multiple_choice", "options": ["doprava", "zdraví", "klima"]},
    {"label": "Souhlas s fotografováním", "type": "consent", "required": True},
    {"label": "Poznámka pro lektora", "type": "long_text", "in_exports": False},
]


def event_with_questions():
    return loaded_event(event_payload(capacities=(50, 50), questions=QUESTIONS))


def test_questions_are_numbered_and_may_belong_to_a_session():
    event = event_with_questions()
    assert [(q["id"], q["session"]) for q in event["questions"]] == [
        ("q1", None), ("q2", "s2"), ("q3", None), ("q4", None), ("q5", None)]
    assert event["questions"][4]["in_exports"] is False and event["questions"][0]["required"] is True
    with pytest.raises(domain.RuleBroken) as broken:
        loaded_event(event_payload(questions=[{"label": "Oběd", "type": "consent", "session": "s3"}]))
    assert broken.value.field == "questions.0.session"


def test_answers_are_kept_as_their_questions_ask():
    event = event_with_questions()
    answers = {"q1": "vegetariánská", "q2": True, "q3": ["klima", "doprava"], "q4": True, "q5": "Díky!\nJana"}
    assert domain.answered(event, ["s1", "s2"], answers) == answers
    assert domain.answered(event, ["s1"], {"q1": "masová", "q4": True, "q3": []}) == {"q1": "masová", "q4": True}


@pytest.mark.parametrize(("sessions", "answers", "field", "words"), [
    (["s1"], {"q4": True}, "answers.q1", "Please answer “Strava”"),
    (["s1"], {"q1": "rybí", "q4": True}, "answers.q1", "“Strava”"),
    (["s1"], {"q1": "masová", "q4": False}, "answers.q4", "must be agreed to"),
    (["s1"], {"q1": "masová", "q4": "ano"}, "answers.q4", "“Souhlas s fotografováním”"),
    (["s1"], {"q1": "masová", "q4": True, "q2": True}, "answers.q2", "only of those registering for session s2"),
    (["s1"], {"q1": "masová", "q4": True, "q3": ["zdraví", "zdraví"]}, "answers.q3", "“Témata”"),
    (["s1"], {"q1": "masová", "q4": True, "q9": "?"}, "answers.q9", "no question q9"),
    (["s1"], {"q1": "masová", "q4": True, "q5": {"$gt": ""}}, "answers.q5", "“Poznámka pro lektora”"),
])
def test_a_wrong_or_missing_answer_names_its_question(sessions, answers, field, words):
    with pytest.raises(domain.RuleBroken) as broken:
        domain.answered(event_with_questions(), sessions, answers)
    assert broken.value.field == field and words in broken.value.message


def test_a_registration_keeps_its_answers_and_erasure_drops_them():
    event = event_with_questions()
    data = registration_input(sessions=["s1"], answers={"q1": "masová", "q4": True})
    registration = domain.new_registration(event, data, False, NOW, "person-hash")
    assert registration["answers"] == {"q1": "masová", "q4": True}
    assert "answers" not in domain.erased_registration(registration, NOW)


def counters_of(event, **taken):
    """Seat counters as the store reads them, with `taken` seats (s1=3) in use and nobody waiting."""
    return {s["id"]: {"seats_left": s["capacity"] - taken.get(s["id"], 0), "waiting": 0, "waitlist_seq": 0}
            for s in event["sessions"]}


def test_taking_a_session_takes_a_free_seat_or_the_next_place_in_its_queue():
    event = loaded_event(event_payload(capacities=(50, 2, 2)))
    mine = registered(event, ("confirmed",))
    outcome = domain.change_sessions(mine, event, ["s1", "s2", "s3"], None, False, counters_of(event, s3=2), [], NOW)
    assert [(seat["id"], seat["status"], seat["ticket"]) for seat in outcome.changed["sessions"]] == [
        ("s1", "confirmed", None), ("s2", "confirmed", None), ("s3", "waitlisted", 1)]
    assert outcome.changed["status"] == "waitlisted" and (outcome.taken, outcome.given_up) == (["s2", "s3"], [])
    assert outcome.seat_changes == {"s2": {"seats_left": -1}, "s3": {"waiting": 1, "waitlist_seq": 1}}
    [changed] = domain.session_change_events(outcome, event, lambda registration: {"s3": [1]})
    assert changed["event_type"] == "registration_changed" and changed["data"]["changed_sessions"] == ["s2", "s3"]


def test_a_seat_given_up_goes_to_the_first_waiting_and_a_queue_left_shrinks():
    event = loaded_event(event_payload(capacities=(1, 1)))
    mine = registered(event, ("confirmed", "waitlisted"))
    first, second = waiting_with_ticket(event, 3), waiting_with_ticket(event, 5)
    outcome = domain.change_sessions(mine, event, ["s2"], None, False, counters_of(event, s1=1, s2=1),
                                     [second, first], NOW)
    assert outcome.given_up == ["s1"] and outcome.changed["sessions"][0]["status"] == "cancelled"
    [(lucky, sessions)] = outcome.promoted
    assert (lucky["id"], sessions, lucky["status"]) == (first["id"], ["s1"], "confirmed")
    assert outcome.seat_changes == {"s1": {"waiting": -1}}
    left = domain.change_sessions(mine, event, ["s1"], None, False, counters_of(event, s1=1, s2=1), [], NOW)
    assert left.seat_changes == {"s2": {"waiting": -1}} and left.changed["status"] == "confirmed"
    nobody = domain.change_sessions(mine, event, ["s2"], None, False, counters_of(event, s1=1, s2=1), [], NOW)
    assert nobody.seat_changes == {"s1": {"seats_left": 1}} and nobody.promoted == []


def test_a_change_of_sessions_keeps_to_the_rules():
    event = loaded_event(event_payload(capacities=(50, 50), audiences=["everyone", "coordinators"],
                                       questions=[{"label": "Oběd", "type": "consent", "session": "s2",
                                                   "required": True}]))
    mine, counters = registered(event, ("confirmed",)), counters_of(event)
    for wanted, rule in ((["s9"], domain.RuleBroken), ([], domain.RuleBroken), (["s1", "s2"], domain.RuleBroken)):
        with pytest.raises(rule):
            domain.change_sessions(mine, event, wanted, None, True, counters, [], NOW)  # s2 asks about lunch
    with pytest.raises(domain.RuleBroken):
        domain.change_sessions(mine, event, ["s1", "s2"], {"q1": True}, False, counters, [], NOW)  # coordinators
    assert domain.change_sessions(mine, event, ["s1", "s2"], {"q1": True}, True, counters, [], NOW).changed[
        "answers"] == {"q1": True}
    both = domain.with_seat(domain.with_seat({**mine, "answers": {"q1": True}}, "s2", "confirmed"), "s1", "confirmed")
    both = {**both, "sessions": [*mine["sessions"], {"id": "s2", "status": "confirmed", "ticket": None,
                                                       "waitlist_position": None}]}
    late = event["cancellation_deadline"] + timedelta(hours=1)
    with pytest.raises(domain.Refused) as closed:
        domain.change_sessions(both, event, ["s1"], None, True, counters, [], late)
    assert closed.value.code == "cancellation_closed"
    came = domain.arrive(both, event, "s2", NOW, serials()).registration
    with pytest.raises(domain.Refused) as attended:
        domain.change_sessions(came, event, ["s1"], None, True, counters, [], NOW)
    assert attended.value.code == "attended"
    with pytest.raises(domain.Refused) as started:
        domain.change_sessions(mine, event, ["s1"], None, True, counters, [], event["starts_at"])
    assert started.value.code == "event_started"
    same = domain.change_sessions(mine, event, ["s1"], None, True, counters, [], NOW)
    assert same.changed == {**mine, "answers": {}} and domain.session_change_events(same, event, dict) == []


def test_a_participant_edits_their_contact_and_answers_but_not_a_certified_name():
    event = loaded_event(event_payload(questions=[{"label": "Strava", "type": "single_choice",
                                                   "options": ["masová", "vegetariánská"]}]))
    mine = registered(event)
    edited = domain.edited(mine, event, {"organization": "Obec Lhota", "answers": {"q1": "masová"}}, NOW)
    assert (edited["organization"], edited["answers"], edited["name"]) == ("Obec Lhota", {"q1": "masová"},
                                                                           "Jana Nováková")
    with pytest.raises(domain.RuleBroken):
        domain.edited(mine, event, {"answers": {"q1": "rybí"}}, NOW)
    certified = domain.check_in(mine, event, None, NOW, serials()).registration
    with pytest.raises(domain.Refused) as refused:
        domain.edited(certified, event, {"name": "Jana Malá"}, NOW)
    assert refused.value.code == "certified_name"
    assert domain.edited(certified, event, {"name": "Jana Nováková", "phone": "777"}, NOW)["phone"] == "777"
    with pytest.raises(domain.Refused):
        domain.edited({**mine, "status": "cancelled"}, event, {"phone": "1"}, NOW)


def test_reminders_are_due_from_the_reminder_days_before_until_the_start():
    event = loaded_event(event_payload(days_ahead=10, reminder_days=3))
    starts = event["starts_at"]
    assert not domain.reminder_due(event, starts - timedelta(days=3, minutes=1))
    assert domain.reminder_due(event, starts - timedelta(days=3)) and domain.reminder_due(event, starts - timedelta(
        minutes=1))
    assert not domain.reminder_due(event, starts)
    assert not domain.reminder_due({**event, "reminder_days": 0}, starts - timedelta(hours=1))
    assert domain.reminder_due({k: v for k, v in event.items() if k != "reminder_days"}, starts - timedelta(days=1))


def test_only_people_with_a_seat_are_reminded_and_only_once():
    event = loaded_event(event_payload(capacities=(50, 50)))
    seated, partly = registered(event, ("confirmed",)), registered(event, ("confirmed", "waitlisted"))
    waiting, gone = registered(event, ("waitlisted",)), {**registered(event), "status": "cancelled"}
    decided = domain.reminded([seated, partly, waiting, gone, {**seated, "reminded_at": NOW}], event, NOW)
    assert [r["id"] for r in decided.record] == [seated["id"], partly["id"]]
    assert all(r["reminded_at"] == NOW for r in decided.record)
    assert [e["event_type"] for e in decided.events] == ["registration_reminded"] * 2
    assert decided.events[1]["data"]["changed_sessions"] == ["s1"]


def test_leaving_a_waiting_list_keeps_the_rest_and_someone_only_waiting_may_always_withdraw():
    event = loaded_event(event_payload(capacities=(1, 1)))
    both = registered(event, ("confirmed", "waitlisted"))
    assert domain.sessions_after_leaving(both, "s2") == ["s1"]
    with pytest.raises(domain.Refused) as refused:
        domain.sessions_after_leaving(both, "s1")
    assert refused.value.code == "not_waiting"
    only_waiting = registered(event, ("waitlisted",))
    assert domain.sessions_after_leaving(only_waiting, "s1") == []
    late = event["cancellation_deadline"] + timedelta(hours=1)
    assert domain.cancel(only_waiting, event, [], False, late).cancelled["status"] == "cancelled"
    with pytest.raises(domain.Refused):
        domain.cancel(both, event, [], False, late)
