"""Which mail an event causes, what it says, and the retry policy."""
import base64
from datetime import timedelta

import pytest
from icalendar import Calendar

from nszm.contracts import bus
from services.notify.mail import domain
from tests.event_factories import NOW


def details(join_url=None, certificate_url=None):
    """What notify fetches from events for a mail about a registration."""
    return {"name": "Jana Nováková", "email": "jana@example.cz", "organization": "Chrudim",
            "cancel_url": "https://api.example.cz/api/v1/registrations/r1/cancel?token=abc",
            "manage_url": "https://api.example.cz/api/v1/registrations/r1/manage?token=abc",
            "certificate_url": certificate_url, "join_url": join_url}


def registration_event(spec=bus.REGISTRATION_CONFIRMED, statuses=("confirmed",), online=False, **extra):
    data = {
        "registration": {"id": "r1", "person": "a1b2", "status": "confirmed" if set(statuses) == {"confirmed"} else "waitlisted",
                         "sessions": [{"id": f"s{n}", "status": s, "waitlist_position": None if s == "confirmed" else 4}
                                      for n, s in enumerate(statuses, 1)]},
        "event": {"id": "e1", "title": "Jarní Škola Zdravých měst", "type": "school",
                  "starts_at": "2027-03-20T08:00:00+00:00", "ends_at": "2027-03-22T15:00:00+00:00",
                  "venue": None if online else {"name": "Krajský úřad", "city": "Liberec"}, "online": online,
                  "accredited": True,
                  "cancellation_deadline": "2027-03-19T08:00:00+00:00"},
        "sessions": [{"id": f"s{n}", "title": f"Den {n}", "starts_at": f"2027-03-2{n - 1}T08:00:00+00:00",
                      "ends_at": f"2027-03-2{n - 1}T15:00:00+00:00"} for n in range(1, len(statuses) + 1)],
        "changed_sessions": ["s1"], "cancelled_by": None, **extra,
    }
    return bus.envelope(spec, data)


def test_confirmation_has_the_cancel_link_the_deadline_and_an_invitation():
    mail = domain.mail_for(bus.REGISTRATION_CONFIRMED, registration_event(statuses=("confirmed", "confirmed")), details())
    assert mail["to"] == "jana@example.cz" and mail["subject"] == "Potvrzení registrace: Jarní Škola Zdravých měst"
    assert "https://api.example.cz/api/v1/registrations/r1/cancel?token=abc" in mail["text"]
    assert "19. 3. 2027 9:00" in mail["text"]  # the deadline in Prague time
    assert "https://api.example.cz/api/v1/registrations/r1/manage?token=abc" in mail["text"]
    attachment, ticket = mail["attachments"]
    assert (ticket["content_type"], ticket["base64"]) == ("image/png", True)
    assert base64.b64decode(ticket["data"]).startswith(b"\x89PNG")
    calendar = Calendar.from_ical(attachment["data"])
    entries = [c for c in calendar.walk("VEVENT")]
    assert [str(e["summary"]) for e in entries] == ["Jarní Škola Zdravých měst: Den 1", "Jarní Škola Zdravých měst: Den 2"]


def test_the_join_link_goes_only_into_mail_for_confirmed_people():
    confirmed = domain.mail_for(bus.REGISTRATION_CONFIRMED, registration_event(online=True),
                                details(join_url="https://meet.example.cz/skola"))
    waiting = domain.mail_for(bus.REGISTRATION_WAITLISTED,
                              registration_event(bus.REGISTRATION_WAITLISTED, statuses=("waitlisted",), online=True),
                              details(join_url="https://meet.example.cz/skola"))
    assert "https://meet.example.cz/skola" in confirmed["text"]
    assert "https://meet.example.cz/skola" not in waiting["text"]
    assert "4. v pořadí" in waiting["text"] and waiting["attachments"] == []


def test_promotion_names_the_freed_session_and_invites():
    mail = domain.mail_for(bus.REGISTRATION_PROMOTED, registration_event(bus.REGISTRATION_PROMOTED), details())
    assert mail["subject"].startswith("Uvolnilo se místo") and "Den 1" in mail["text"]
    assert mail["attachments"][0]["filename"] == "pozvanka.ics"


def test_cancellation_says_who_cancelled():
    by_staff = domain.mail_for(bus.REGISTRATION_CANCELLED, registration_event(bus.REGISTRATION_CANCELLED,
                                                                             cancelled_by="staff"), details())
    assert "organizátoři zrušili" in by_staff["text"]


def test_one_mail_per_event_and_none_for_events_that_mail_nobody():
    envelope = registration_event()
    assert domain.mail_for(bus.REGISTRATION_CONFIRMED, envelope, details())["id"] == envelope["event_id"]
    assert domain.mail_for(bus.EVENT_PUBLISHED, envelope) is None


def test_a_registration_whose_person_is_erased_is_mailed_nothing():
    envelope = registration_event()
    assert domain.needs_registration_details(bus.REGISTRATION_CONFIRMED, envelope)
    assert domain.mail_for(bus.REGISTRATION_CONFIRMED, envelope, None) is None


@pytest.mark.parametrize("attempts, delay", [(1, 2), (2, 4), (11, 2048), (12, 3600), (19, 3600)])
def test_backoff_doubles_up_to_an_hour(attempts, delay):
    assert domain.next_attempt(attempts, NOW) == NOW + timedelta(seconds=delay)


def test_backoff_gives_up_after_the_last_attempt():
    assert domain.next_attempt(domain.MAX_ATTEMPTS, NOW) is None


def test_a_vote_asks_for_confirmation_by_mail():
    envelope = bus.envelope(bus.VOTE_REQUESTED, {
        "competition_id": "nejpraxe-2026", "competition_title": "NEJpraxe 2026", "practice": "kola",
        "practice_title": "Sdílená kola", "email": "volic@example.cz",
        "confirm_url": "https://api.example.cz/api/v1/votes/confirm?token=t0k3n",
        "expires_at": "2026-11-23T12:00:00+00:00"})
    mail = domain.mail_for(bus.VOTE_REQUESTED, envelope)
    assert (mail["to"], mail["to_name"]) == ("volic@example.cz", None)
    assert mail["subject"] == "Potvrďte svůj hlas v soutěži NEJpraxe 2026"
    assert "https://api.example.cz/api/v1/votes/confirm?token=t0k3n" in mail["text"]
    assert "„Sdílená kola“" in mail["text"] and "23. 11. 2026 13:00" in mail["text"]
    assert mail["attachments"] == []


def attendance(certificate_id, **issued):
    """An attendance_recorded envelope as version 3 (`certificate_issued` given) or 2 sent it."""
    event = registration_event()
    data = {"registration": event["data"]["registration"], "event": event["data"]["event"], "session_id": "s1",
            "action": "checked_in", "attended_sessions": ["s1"], "hours": 7.0, "certificate_id": certificate_id,
            "certificate_issued": issued.get("certificate_issued", False)}
    envelope = bus.envelope(bus.ATTENDANCE_RECORDED, data)
    if not issued:
        envelope["data"].pop("certificate_issued")
    return envelope


def test_only_the_check_in_that_earned_the_certificate_mails_it():
    link = "https://api.example.cz/api/v1/registrations/r1/certificate.pdf?token=abc"
    earned = domain.mail_for(bus.ATTENDANCE_RECORDED, attendance("NSZM-2027-000001", certificate_issued=True),
                             details(certificate_url=link))
    assert earned["subject"].startswith("Osvědčení") and link in earned["text"]
    later = attendance("NSZM-2027-000001", certificate_issued=False)
    assert domain.mail_for(bus.ATTENDANCE_RECORDED, later, details(certificate_url=link)) is None
    assert domain.mail_for(bus.ATTENDANCE_RECORDED, attendance(None, certificate_issued=False), details()) is None
    older = attendance("NSZM-2027-000002")  # version 2: each check-in of a certified participant
    assert domain.needs_registration_details(bus.ATTENDANCE_RECORDED, older)


def test_a_change_of_sessions_is_confirmed_with_the_seats_now_and_a_waiting_list_has_no_ticket():
    changed = domain.mail_for(bus.REGISTRATION_CHANGED, registration_event(
        bus.REGISTRATION_CHANGED, statuses=("confirmed", "waitlisted"), changed_sessions=["s2"]), details())
    assert changed["subject"] == "Změna registrace: Jarní Škola Zdravých měst"
    assert "Den 2" in changed["text"] and "4. v pořadí" in changed["text"] and "manage?token=abc" in changed["text"]
    assert [a["filename"] for a in changed["attachments"]] == ["pozvanka.ics", "qr-kod-pro-vstup.png"]
    waiting = domain.mail_for(bus.REGISTRATION_WAITLISTED, registration_event(
        bus.REGISTRATION_WAITLISTED, statuses=("waitlisted",)), details())
    assert waiting["attachments"] == [] and "manage?token=abc" in waiting["text"]


def test_a_reminder_names_the_seats_and_carries_the_invitation_and_the_ticket():
    reminder = domain.mail_for(bus.REGISTRATION_REMINDED, registration_event(
        bus.REGISTRATION_REMINDED, statuses=("confirmed", "waitlisted")), details())
    assert reminder["subject"] == "Připomínka: Jarní Škola Zdravých měst začíná 20. 3. 2027 9:00"
    assert "Den 1" in reminder["text"] and "Den 2" not in reminder["text"] and "manage?token=abc" in reminder["text"]
    assert [a["filename"] for a in reminder["attachments"]] == ["pozvanka.ics", "qr-kod-pro-vstup.png"]
