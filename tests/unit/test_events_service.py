"""The events service's entrypoints with a fake store: validation, seats, links, events published."""

from datetime import timedelta

import pytest

from nszm.contracts.errors import Conflict, InvalidInput, NotFound
from tests.event_factories import NOW, event_payload, events_worker, registration_input
from tests.fakes import FakeEventsStore, RecordingRush


@pytest.fixture
def store():
    return FakeEventsStore()


@pytest.fixture
def service(store):
    with events_worker(store) as worker:
        yield worker


def published_types(service):
    return [call.args[0] for call in service.dispatch.call_args_list]


def published_event(service, **payload):
    event = service.create_event(event_payload(**payload))
    service.publish_event(event["id"])
    return event


def test_create_validates_and_starts_as_a_draft(service):
    event = service.create_event(event_payload(capacities=(50, 20)))
    assert event["status"] == "draft" and event["id"].endswith("jarni-skola-zdravych-mest")
    assert [s["seats_left"] for s in event["sessions"]] == [50, 20]
    with pytest.raises(NotFound):
        service.get_event(event["id"])


@pytest.mark.parametrize("change, field", [
    ({"type": "party"}, "type"), ({"starts_at": "2027-03-20T09:00:00"}, "starts_at"), ({"sessions": []}, "sessions"),
    ({"venue": None}, "venue"), ({"online": True, "venue": None}, "join_url"),
    ({"ends_at": "2020-01-01T00:00:00+00:00"}, "ends_at"),
])
def test_create_names_invalid_fields(service, change, field):
    with pytest.raises(InvalidInput) as error:
        service.create_event({**event_payload(), **change})
    assert field in error.value.errors


def test_publishing_announces_the_event_once(service):
    event = service.create_event(event_payload())
    service.publish_event(event["id"])
    assert published_types(service) == ["event_published"]
    with pytest.raises(Conflict):
        service.publish_event(event["id"])


def test_seats_then_waiting_list_with_cancel_links(service):
    event = published_event(service, capacities=(1,))
    first = service.register(event["id"], registration_input("a@example.cz"))
    second = service.register(event["id"], registration_input("b@example.cz"))
    assert first["status"] == "confirmed" and second["status"] == "waitlisted"
    assert second["sessions"] == [{"id": "s1", "status": "waitlisted", "waitlist_position": 1}]
    assert first["cancel_url"] == f"https://api.example.cz/api/v1/registrations/{first['id']}/cancel?token=registration:{first['id']}"
    assert published_types(service)[-2:] == ["registration_confirmed", "registration_waitlisted"]


def test_the_same_email_twice_is_a_conflict(service):
    event = published_event(service)
    service.register(event["id"], registration_input("a@example.cz"))
    with pytest.raises(Conflict):
        service.register(event["id"], registration_input("A@Example.cz "))


def test_coordinator_sessions_ask_the_members_service(service):
    event = published_event(service, capacities=(50, 20), audiences=["everyone", "coordinators"])
    with pytest.raises(InvalidInput) as error:
        service.register(event["id"], registration_input(sessions=["s2"]))
    assert "sessions" in error.value.errors
    service.members.coordinator_of.return_value = {"slug": "chrudim"}
    assert service.register(event["id"], registration_input(sessions=["s2"]))["status"] == "confirmed"
    service.members.coordinator_of.assert_called_with("jana.novakova@example.cz")


def test_cancelling_promotes_the_first_waiting_person(service, store):
    event = published_event(service, capacities=(1,))
    first = service.register(event["id"], registration_input("a@example.cz"))
    second = service.register(event["id"], registration_input("b@example.cz"))
    service.dispatch.reset_mock()
    cancelled = service.cancel_registration(first["id"], token=f"registration:{first['id']}")
    assert cancelled["status"] == "cancelled"
    assert store.registrations[second["id"]]["status"] == "confirmed"
    assert published_types(service) == ["registration_cancelled", "registration_promoted"]
    promoted = service.dispatch.call_args_list[1].args[1]["data"]
    assert promoted["registration"]["id"] == second["id"] and promoted["changed_sessions"] == ["s1"]
    assert promoted["registration"]["person"] == store.pseudonyms.person("B@example.cz")
    assert "b@example.cz" not in str(promoted) and "token=" not in str(promoted)  # no address, no link


def test_registrations_and_cancellations_of_one_event_take_turns_on_its_seats(service, store):
    service.rush = rush = RecordingRush()
    event = published_event(service, capacities=(1,))
    other = published_event(service, title="Podzimní škola")
    first = service.register(event["id"], registration_input("a@example.cz"))
    service.register(other["id"], registration_input("a@example.cz"))
    service.cancel_registration(first["id"], token=f"registration:{first['id']}")
    assert rush.turns == [[f"seats:{event['id']}"], [f"seats:{other['id']}"], [f"seats:{event['id']}"]]


def test_a_wrong_token_cancels_nothing(service, store):
    event = published_event(service)
    registration = service.register(event["id"], registration_input())
    for token in ("forged", None, {"$ne": ""}):
        with pytest.raises(NotFound):
            service.cancel_registration(registration["id"], token=token)
    assert store.registrations[registration["id"]]["status"] == "confirmed"
    assert service.cancel_registration_as_staff(registration["id"])["status"] == "cancelled"


def test_check_in_issues_a_certificate_for_accredited_events(service):
    event = published_event(service)
    registration = service.register(event["id"], registration_input())
    with pytest.raises(Conflict):
        service.certificate_as_staff(registration["id"])
    checked = service.check_in(registration["id"])
    assert checked["certificate_id"] == "NSZM-2026-000001" and checked["hours"] == 7.0
    assert published_types(service)[-1] == "attendance_recorded"
    attendance = service.dispatch.call_args.args[1]["data"]
    assert attendance["certificate_id"] == "NSZM-2026-000001" and "certificate_url" not in attendance
    mail = service.mail_details([registration["id"], "unknown"])
    assert mail["unknown"] is None
    mail = mail[registration["id"]]
    assert mail["certificate_url"].endswith(f"/certificate.pdf?token=registration:{registration['id']}")
    assert mail["email"] == "jana.novakova@example.cz" and mail["join_url"] is None
    certificate = service.certificate(registration["id"], token=f"registration:{registration['id']}")
    assert certificate["name"] == "Jana Nováková"
    code = certificate["verification_code"]
    assert len(code) == 10
    assert service.verify_certificate("NSZM-2026-000001", {"code": code.lower()}) == {
        "certificate_id": "NSZM-2026-000001", "name": "Jana Nováková", "event_title": event["title"],
        "starts_at": event["starts_at"], "ends_at": event["ends_at"], "hours": 7.0}
    for wrong in ({}, {"code": ""}, {"code": "ABCDEFGHJK"}, {"code": "místní akční skupina"}):
        with pytest.raises(NotFound):
            service.verify_certificate("NSZM-2026-000001", wrong)  # the number alone proves nothing
    with pytest.raises(Conflict):
        service.check_in(registration["id"])


def test_a_scan_at_a_session_door_records_that_session_once(service):
    event = service.create_event(event_payload(capacities=(50, 20)))
    service.publish_event(event["id"])
    registration = service.register(event["id"], registration_input(sessions=["s1", "s2"]))
    scanned = service.check_in_at_session(event["id"], "s2", {"code": f" {registration['id'].upper()} "})
    assert scanned["outcome"] == "checked_in" and scanned["session_id"] == "s2"
    assert [a["session_id"] for a in scanned["registration"]["attendance"]] == ["s2"]
    assert scanned["registration"]["hours"] == 7.0 and scanned["registration"]["certificate_id"] is None
    published = len(published_types(service))
    again = service.check_in_at_session(event["id"], "s2", {"code": registration["id"]})
    assert again["outcome"] == "already_checked_in" and len(published_types(service)) == published
    out = service.check_out_at_session(event["id"], "s2", {"code": registration["id"]})
    assert out["outcome"] == "checked_out" and out["registration"]["attendance"][0]["checked_out_at"]
    assert published_types(service)[-1] == "attendance_recorded"
    whole = service.check_in_at_session(event["id"], "s1", {"code": registration["id"]})
    assert whole["registration"]["certificate_id"] == "NSZM-2026-000001"
    with pytest.raises(InvalidInput):
        service.check_in_at_session(event["id"], "s1", {})
    with pytest.raises(NotFound):
        service.check_in_at_session(event["id"], "s1", {"code": "not-a-registration"})
    [person] = service.session_attendees(event["id"], "s2", {"q": "novakova"})["items"]
    assert person["registration_id"] == registration["id"] and person["checked_out_at"]


def test_a_scan_for_a_session_without_a_seat_is_refused_with_its_rule(service):
    event = published_event(service)
    registration = service.register(event["id"], registration_input())
    service.cancel_registration_as_staff(registration["id"])
    with pytest.raises(Conflict) as refused:
        service.check_in_at_session(event["id"], "s1", {"code": registration["id"]})
    assert refused.value.code == "registration_cancelled"
    with pytest.raises(NotFound):
        service.session_attendees(event["id"], "s7", {})


def test_listing_defaults_to_upcoming_and_rejects_bad_filters(service):
    published_event(service)
    assert service.list_events({})["total"] == 1
    assert service.list_events({"from": "2030-01-01"})["total"] == 0
    for bad in ({"from": "yesterday"}, {"type": "party"}, {"per_page": "0"}):
        with pytest.raises(InvalidInput):
            service.list_events(bad)


def test_staff_list_shows_drafts_and_published_latest_first(service):
    published_event(service)
    draft = service.create_event(event_payload(days_ahead=60, title="Podzimní fórum"))
    listed = service.list_event_details({})
    assert [(e["id"], e["status"]) for e in listed["items"]][0] == (draft["id"], "draft")
    assert listed["total"] == 2 and service.list_events({})["total"] == 1
    assert [e["id"] for e in service.list_event_details({"status": "draft"})["items"]] == [draft["id"]]
    with pytest.raises(InvalidInput):
        service.list_event_details({"status": "cancelled"})


def test_a_forged_call_claiming_to_be_staff_changes_nothing(service, store):
    event = service.create_event(event_payload())
    service.publish_event(event["id"])
    registration = service.register(event["id"], registration_input())
    with pytest.raises(TypeError):  # over the bus: nameko refuses the call's signature
        service.cancel_registration(registration["id"], by_staff=True)
    with pytest.raises(NotFound):
        service.cancel_registration(registration["id"], "forged-token")
    assert store.registrations[registration["id"]]["status"] == "confirmed"


def test_a_request_delivered_again_after_a_crash_gets_its_first_answer_not_a_409(service, store):
    event = published_event(service, capacities=(1,))
    service.request_id = "request-1"
    first = service.register(event["id"], registration_input("jana@example.cz"))
    again = service.register(event["id"], registration_input("jana@example.cz"))
    assert again == first and len(store.registrations) == 1
    assert published_types(service).count("registration_confirmed") == 1
    service.request_id = "request-2"  # the same person asking again is still refused
    with pytest.raises(Conflict):
        service.register(event["id"], registration_input("jana@example.cz"))


def test_a_request_delivered_again_after_the_event_closed_still_gets_its_first_answer(service, store):
    event = published_event(service, capacities=(1,))
    service.request_id = "request-1"
    first = service.register(event["id"], registration_input("jana@example.cz"))
    store.events[event["id"]]["starts_at"] = NOW - timedelta(hours=1)  # registration has closed meanwhile
    assert service.register(event["id"], registration_input("jana@example.cz")) == first
    service.request_id = "request-2"
    with pytest.raises(Conflict):
        service.register(event["id"], registration_input("petr@example.cz"))


def test_a_registration_for_an_unknown_event_is_not_found_whatever_its_body(service):
    for body in ({}, {"name": "Jana", "email": "not-an-address", "sessions": []},
                 {"name": "Jana", "email": "jana@example.cz", "organization": "Město", "sessions": ["s1"]}):
        with pytest.raises(NotFound):
            service.register("no-such-event", body)


def test_reminders_go_once_to_people_with_a_seat(service):
    event = service.create_event(event_payload(days_ahead=1, capacities=(1,)))
    service.publish_event(event["id"])
    seated = service.register(event["id"], registration_input("jana@example.cz"))
    service.register(event["id"], registration_input("petr@example.cz"))  # waits
    service.send_reminders()
    reminders = [call.args[1]["data"] for call in service.dispatch.call_args_list
                 if call.args[0] == "registration_reminded"]
    assert [r["registration"]["id"] for r in reminders] == [seated["id"]]
    service.send_reminders()
    assert published_types(service).count("registration_reminded") == 1
