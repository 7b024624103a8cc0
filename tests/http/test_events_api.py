"""Events, registrations, cancel links, check-in, certificates and events.ics over HTTP."""
import io
import re
import uuid
from datetime import datetime, timedelta, timezone

import eventlet
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from icalendar import Calendar
from openpyxl import load_workbook
from pypdf import PdfReader

from tests import factories
from tests.event_factories import event_payload, registration_input
from tests.http.conftest import STAFF_TOKEN, Client, issue_token
from tests.http.test_members_api import assert_needs_role, assert_problem, join
from tests.waiting import wait_until


def future_payload(**overrides):
    """An event starting in a month from the real clock, as the platform sees time."""
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=30)
    payload = event_payload(**overrides)
    shift = start - datetime.fromisoformat(payload["starts_at"])
    for holder in [payload, *payload["sessions"]]:
        for key in ("starts_at", "ends_at"):
            holder[key] = (datetime.fromisoformat(holder[key]) + shift).isoformat()
    return payload


def published(staff: Client, **overrides) -> dict:
    created = staff.post("/api/v1/events", json=future_payload(**overrides))
    assert created.status_code == 201, created.text
    event = created.json()
    assert staff.post(f"/api/v1/events/{event['id']}/publish").status_code == 200
    return event


def address(tag: str = "") -> str:
    return f"{tag or 'ucastnik'}-{uuid.uuid4().hex[:10]}@example.cz"


def register(public: Client, event: dict, email: str, sessions=("s1",)):
    return public.post(f"/api/v1/events/{event['id']}/registrations",
                       json=registration_input(email, sessions=list(sessions)))


def all_registrations(staff: Client, event_id: str) -> list[dict]:
    items, page = [], 1
    while True:
        body = staff.get(f"/api/v1/events/{event_id}/registrations", params={"page": page, "per_page": 100}).json()
        items += body["items"]
        if len(items) >= body["total"]:
            return items
        page += 1


def test_200_concurrent_registrations_fill_50_seats_exactly(staff, public):
    event = published(staff, capacities=(50,))
    statuses = []
    registrant = public  # each request its own connection: no keep-alive race

    def one(n):
        try:
            response = register(registrant, event, f"p{n}-{uuid.uuid4().hex[:6]}@example.cz")
            statuses.append((response.status_code, response.json().get("status")))
        except Exception as error:  # counted, so that a failure shows in the assertions below
            statuses.append((repr(error), None))

    pool = eventlet.GreenPool(200)
    for n in range(200):
        pool.spawn(one, n)
    pool.waitall()
    assert statuses.count((201, "confirmed")) == 50
    assert statuses.count((201, "waitlisted")) == 150

    stored = all_registrations(staff, event["id"])
    assert len(stored) == 200
    assert sum(r["status"] == "confirmed" for r in stored) == 50
    positions = sorted(r["sessions"][0]["waitlist_position"] for r in stored if r["status"] == "waitlisted")
    assert positions == list(range(1, 151))
    session = public.get(f"/api/v1/events/{event['id']}").json()["sessions"][0]
    assert (session["capacity"], session["seats_left"], session["waiting"]) == (50, 0, 150)


def test_cancelling_promotes_the_first_waiting_and_both_get_mail(staff, public, smtp_sink):
    event = published(staff, capacities=(1,))
    leaving, waiting, later = address("odhlaseny"), address("cekajici"), address("dalsi")
    first = register(public, event, leaving).json()
    second = register(public, event, waiting).json()
    register(public, event, later)
    assert (first["status"], second["status"]) == ("confirmed", "waitlisted")
    wait_until(lambda: smtp_sink.messages(to=leaving) and smtp_sink.messages(to=waiting), message="first mails")
    [confirmation] = smtp_sink.messages(to=leaving)
    assert confirmation["Subject"].startswith("Potvrzení registrace")
    assert first["cancel_url"] in confirmation.get_body(("plain",)).get_content()
    assert smtp_sink.messages(to=waiting)[0]["Subject"].startswith("Čekací listina")

    cancelled = Client(first["cancel_url"].split("/api/")[0]).post(
        "/api/" + first["cancel_url"].split("/api/")[1], headers={"Accept": "application/json"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    promoted = staff.get(f"/api/v1/registrations/{second['id']}").json()
    assert promoted["status"] == "confirmed"

    wait_until(lambda: len(smtp_sink.messages(to=leaving)) == 2 and len(smtp_sink.messages(to=waiting)) == 2,
               message="cancellation and promotion mails")
    assert smtp_sink.messages(to=leaving)[1]["Subject"].startswith("Registrace zrušena")
    promotion = smtp_sink.messages(to=waiting)[1]
    assert promotion["Subject"].startswith("Uvolnilo se místo")
    invitation, ticket = list(promotion.iter_attachments())
    assert Calendar.from_ical(invitation.get_content()).walk("VEVENT")
    assert ticket.get_content_type() == "image/png" and ticket.get_content().startswith(b"\x89PNG")
    assert len(smtp_sink.messages(to=later)) == 1  # still waiting: no second mail
    session = public.get(f"/api/v1/events/{event['id']}").json()["sessions"][0]
    assert (session["seats_left"], session["waiting"]) == (0, 1)


def cancel_link_parts(receipt: dict) -> tuple[str, dict]:
    path, token = receipt["cancel_url"].split("/api/", 1)[1].split("?token=")
    return "/api/" + path, {"token": token}


def test_the_cancel_link_shows_a_page_and_changes_nothing_until_posted(staff, public):
    event = published(staff)
    receipt = register(public, event, address()).json()
    path, params = cancel_link_parts(receipt)
    page = public.get(path, params=params, headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert 'method="post"' in page.text and "Zrušit registraci" in page.text
    assert staff.get(f"/api/v1/registrations/{receipt['id']}").json()["status"] == "confirmed"
    done = public.post(path, params=params, headers={"Accept": "text/html"})
    assert done.status_code == 200 and "Registrace je zrušena" in done.text
    again = public.post(path, params=params, headers={"Accept": "text/html"})
    assert again.status_code == 409 and "nelze zrušit" in again.text
    assert_problem(public.post(path, params=params, headers={"Accept": "application/json"}), 409)


def test_cancel_links_cannot_be_forged_and_staff_cancel_after_the_deadline(platform, staff, public):
    past = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    event = published(staff, cancellation_deadline=past)
    receipt = register(public, event, address()).json()
    path, params = cancel_link_parts(receipt)
    assert_problem(public.post(path, params={"token": "forged"}, headers={"Accept": "application/json"}), 404)
    other = register(public, event, address()).json()
    assert_problem(public.post(path, params=cancel_link_parts(other)[1], headers={"Accept": "application/json"}), 404)
    assert_problem(public.post(path, headers={"Accept": "application/json"}), 401)
    assert_problem(public.post(path, params=params, headers={"Accept": "application/json"}), 409)  # deadline passed
    _, events_staff = issue_token(platform, "events")
    assert Client(platform.url, events_staff).post(path).json()["status"] == "cancelled"


def test_event_creation_errors(platform, staff, public):
    for change, field in [({"type": "party"}, "type"), ({"starts_at": "zítra"}, "starts_at"),
                          ({"sessions": [{"title": "x"}]}, "sessions.0.starts_at"), ({"online": True, "venue": None},
                                                                                      "join_url")]:
        assert_problem(staff.post("/api/v1/events", json={**future_payload(), **change}), 422, field)
    assert_problem(public.post("/api/v1/events", json=future_payload()), 401)
    _, members_only = issue_token(platform, "members")
    assert_problem(Client(platform.url, members_only).post("/api/v1/events", json=future_payload()), 403)
    draft = staff.post("/api/v1/events", json=future_payload()).json()
    assert_problem(public.get(f"/api/v1/events/{draft['id']}"), 404)
    assert_problem(register(public, draft, address()), 404)
    assert staff.get(f"/api/v1/events/{draft['id']}/detail").json()["status"] == "draft"
    assert staff.post(f"/api/v1/events/{draft['id']}/publish").status_code == 200
    assert_problem(staff.post(f"/api/v1/events/{draft['id']}/publish"), 409)
    assert_problem(staff.post("/api/v1/events/no-such-event/publish"), 404)


def test_registration_errors(staff, public):
    event = published(staff, capacities=(10, 10), audiences=["everyone", "coordinators"])
    email = address()
    assert register(public, event, email).status_code == 201
    assert_problem(register(public, event, email.upper()), 409)
    assert_problem(register(public, event, address(), sessions=["s7"]), 422, "sessions")
    assert_problem(register(public, event, address(), sessions=["s2"]), 422, "sessions")
    assert_problem(register(public, {"id": "no-such-event"}, address()), 404)
    url = f"/api/v1/events/{event['id']}/registrations"
    for body, field in [({**registration_input(), "email": "not-an-email"}, "email"),
                        ({**registration_input(), "sessions": []}, "sessions"),
                        ({**registration_input(), "name": {"$gt": ""}}, "name"),
                        ({"name": "X"}, "organization")]:
        assert_problem(public.post(url, json=body), 422, field)
    assert_problem(public.post(url, data="{", headers={"Content-Type": "application/json"}), 400)


def test_coordinators_of_members_may_take_coordinator_sessions(staff, public):
    coordinator = address("koordinator")
    join(staff, public, contact={"name": "Eva Veselá", "email": coordinator})
    event = published(staff, capacities=(10, 10), audiences=["everyone", "coordinators"])
    receipt = register(public, event, coordinator.upper(), sessions=["s1", "s2"])
    assert receipt.status_code == 201 and receipt.json()["status"] == "confirmed"


def test_check_in_and_the_certificate(staff, public, smtp_sink):
    event = published(staff)
    email = address("absolvent")
    receipt = register(public, event, email).json()
    checked = staff.post(f"/api/v1/registrations/{receipt['id']}/check-in")
    assert checked.status_code == 200 and checked.json()["hours"] == 7.0
    certificate_id = checked.json()["certificate_id"]
    assert_problem(staff.post(f"/api/v1/registrations/{receipt['id']}/check-in"), 409)

    _, params = cancel_link_parts(receipt)
    pdf = public.get(f"/api/v1/registrations/{receipt['id']}/certificate.pdf", params=params)
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert "Jana Nováková" in text and certificate_id in text and "OSVĚDČENÍ O ÚČASTI" in text
    assert re.search(r"\d:\d\d–\d+:\d\d Den 1 7\b", text), text  # the session attended, its time and hours
    code = re.search(r"ověřovací kód: ([A-Z2-9]{10})", text).group(1)
    verified = public.get(f"/api/v1/certificates/{certificate_id}", params={"code": code}).json()
    assert verified["name"] == "Jana Nováková" and verified["hours"] == 7.0 and "organization" not in verified
    assert_problem(public.get(f"/api/v1/certificates/{certificate_id}"), 404)  # the number alone

    wait_until(lambda: any(m["Subject"].startswith("Osvědčení") for m in smtp_sink.messages(to=email)),
               message="certificate mail")
    assert_problem(public.get(f"/api/v1/registrations/{receipt['id']}/certificate.pdf"), 401)
    assert_problem(public.get(f"/api/v1/registrations/{receipt['id']}/certificate.pdf",
                              params={"token": "forged"}), 404)
    assert_problem(public.get("/api/v1/certificates/NSZM-1999-000000"), 404)


def test_scans_at_a_session_door(staff, public):
    event = published(staff, capacities=(50, 50))
    jana = register(public, event, address("jana"), sessions=("s1",)).json()
    door = f"/api/v1/events/{event['id']}/sessions/s1"
    first = staff.post(f"{door}/check-in", json={"code": jana["id"]})
    assert first.status_code == 200 and first.json()["outcome"] == "checked_in"
    assert first.json()["registration"]["attendance"][0]["session_id"] == "s1"
    again = staff.post(f"{door}/check-in", json={"code": jana["id"].upper()})
    assert again.status_code == 200 and again.json()["outcome"] == "already_checked_in"
    refused = staff.post(f"/api/v1/events/{event['id']}/sessions/s2/check-in", json={"code": jana["id"]})
    assert_problem(refused, 409)
    assert refused.json()["code"] == "not_registered_for_session" and "Jana" in refused.json()["detail"]
    assert staff.post(f"{door}/check-out", json={"code": jana["id"]}).json()["outcome"] == "checked_out"
    assert_problem(staff.post(f"{door}/check-in", json={"code": "nobody"}), 404)
    assert_problem(staff.post(f"{door}/check-in", json={}), 422, "code")
    assert_problem(public.post(f"{door}/check-in", json={"code": jana["id"]}), 401)
    found = staff.get(f"{door}/attendees", params={"q": "NOVAKOVA"}).json()
    assert [(p["registration_id"], bool(p["checked_in_at"]), bool(p["checked_out_at"])) for p in found["items"]] == [
        (jana["id"], True, True)]
    assert_problem(staff.get(f"/api/v1/events/{event['id']}/sessions/s9/attendees"), 404)


def test_no_certificate_without_attendance_or_accreditation(staff, public):
    accredited = published(staff)
    waiting_event = published(staff, capacities=(1,))
    not_accredited = published(staff, accredited=False)
    absent = register(public, accredited, address()).json()
    assert_problem(staff.get(f"/api/v1/registrations/{absent['id']}/certificate.pdf"), 409)
    register(public, waiting_event, address())
    waitlisted = register(public, waiting_event, address()).json()
    assert_problem(staff.post(f"/api/v1/registrations/{waitlisted['id']}/check-in"), 409)
    plain = register(public, not_accredited, address()).json()
    assert staff.post(f"/api/v1/registrations/{plain['id']}/check-in").json()["certificate_id"] is None
    assert_problem(staff.get(f"/api/v1/registrations/{plain['id']}/certificate.pdf"), 409)
    assert_problem(staff.get("/api/v1/registrations/unknown/certificate.pdf"), 404)
    assert_problem(staff.post("/api/v1/registrations/unknown/check-in"), 404)
    assert_problem(staff.post(f"/api/v1/registrations/{plain['id']}/check-in", json={"sessions": "s1"}), 422,
                   "sessions")


def test_calendar_listing_and_filters(staff, public):
    forum = published(staff, type="forum", title=f"Fórum Zdravých měst {factories.unique_word()}")
    listing = public.get("/api/v1/events", params={"type": "forum", "per_page": 100}).json()
    assert forum["id"] in {e["id"] for e in listing["items"]}
    item = next(e for e in listing["items"] if e["id"] == forum["id"])
    assert "join_url" not in item and item["sessions"][0]["seats_left"] == 50
    later = (datetime.now(timezone.utc) + timedelta(days=400)).date().isoformat()
    assert public.get("/api/v1/events", params={"from": later}).json()["total"] == 0
    assert_problem(public.get("/api/v1/events", params={"from": "brzy"}), 422, "from")
    assert_problem(public.get("/api/v1/events", params={"type": "party"}), 422, "type")


def test_events_ics_holds_the_upcoming_published_events(staff, public):
    shown = published(staff, title=f"Setkání zdravých krajů {factories.unique_word()}", type="meeting")
    hidden = staff.post("/api/v1/events", json=future_payload(title="Koncept")).json()
    feed = public.get("/feeds/events.ics")
    assert feed.status_code == 200 and feed.headers["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(feed.content)
    uids = {str(entry["uid"]) for entry in calendar.walk("VEVENT")}
    assert f"{shown['id']}@zdravamesta.cz" in uids and f"{hidden['id']}@zdravamesta.cz" not in uids
    entry = next(e for e in calendar.walk("VEVENT") if str(e["uid"]) == f"{shown['id']}@zdravamesta.cz")
    assert str(entry["summary"]) == shown["title"] and entry.decoded("dtstart") > datetime.now(timezone.utc)
    assert public.get("/feeds/events.ics", headers={"If-None-Match": feed.headers["ETag"]}).status_code == 304


@pytest.mark.parametrize("body", [[], "x", {"sessions": [{"$gt": ""}]}, {"sessions": "s1"}, {"email": 5},
                                  {**registration_input(), "sessions": ["s1"] * 60}])
def test_odd_registration_bodies_are_4xx(staff, public, body):
    event = published(staff)
    response = public.post(f"/api/v1/events/{event['id']}/registrations", json=body)
    assert 400 <= response.status_code < 500, response.text





def test_staff_lookups_of_unknown_things_are_404_and_bad_filters_422(staff):
    assert_problem(staff.get("/api/v1/events/no-such-event/detail"), 404)
    assert_problem(staff.get("/api/v1/events/no-such-event/registrations"), 404)
    assert_problem(staff.get("/api/v1/registrations/no-such-registration"), 404)
    event = published(staff)
    assert_problem(staff.get(f"/api/v1/events/{event['id']}/registrations", params={"status": "maybe"}), 422,
                   "status")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)
NO_5XX = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def open_event(platform):
    return published(Client(platform.url, STAFF_TOKEN), capacities=(500,))


@NO_5XX
@given(body=st.fixed_dictionaries({}, optional={
    key: json_values for key in ("name", "email", "organization", "sessions", "phone", "note")}) | json_values)
def test_no_registration_body_is_a_5xx(public, open_event, body):
    response = public.post(f"/api/v1/events/{open_event['id']}/registrations", json=body)
    assert response.status_code < 500, response.text


@NO_5XX
@given(body=st.fixed_dictionaries({}, optional={
    key: json_values for key in ("title", "type", "starts_at", "ends_at", "venue", "online", "join_url",
                                 "accredited", "sessions", "videos", "cancellation_deadline")}))
def test_no_event_body_is_a_5xx(staff, body):
    response = staff.post("/api/v1/events", json=body)
    assert response.status_code < 500, response.text


def test_staff_see_the_mail_the_platform_sent(platform, staff, public, smtp_sink):
    event = published(staff)
    email = address("posta")
    register(public, event, email)
    wait_until(lambda: smtp_sink.messages(to=email), message="confirmation mail")
    mails = staff.get("/api/v1/mails", params={"to": email}).json()
    assert mails["total"] == 1
    [mail] = mails["items"]
    assert (mail["kind"], mail["status"], mail["attempts"]) == ("registration_confirmed", "sent", 1)
    assert "text" not in mail
    assert_problem(staff.post(f"/api/v1/mails/{mail['id']}/retry"), 409)
    assert_problem(staff.post("/api/v1/mails/no-such-mail/retry"), 404)
    assert_problem(staff.get("/api/v1/mails", params={"status": "lost"}), 422, "status")
    for method, path in (("GET", "/api/v1/mails"), ("POST", f"/api/v1/mails/{mail['id']}/retry")):
        assert_needs_role(platform, method, path, "events")


def test_the_accreditation_pack(staff, public):
    event = published(staff, capacities=(50, 50))
    both = [register(public, event, address(f"oba{n}"), sessions=("s1", "s2")).json()["id"] for n in range(3)]
    first_day = register(public, event, address("prvni"), sessions=("s1",)).json()["id"]
    for registration_id in both:
        for session_id in ("s1", "s2"):
            staff.post(f"/api/v1/events/{event['id']}/sessions/{session_id}/check-in", json={"code": registration_id})
    staff.post(f"/api/v1/events/{event['id']}/sessions/s1/check-in", json={"code": first_day})

    workbook = staff.get(f"/api/v1/events/{event['id']}/attendance.xlsx")
    assert workbook.status_code == 200 and workbook.headers["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(workbook.content))
    assert [name[:2] for name in book.sheetnames] == ["s1", "s2"]
    rows = {name[:2]: list(book[name].iter_rows(min_row=2, values_only=True)) for name in book.sheetnames}
    assert len(rows["s1"]) == 4 and len(rows["s2"]) == 3 and all(row[5] and row[7] == 7 for row in rows["s1"])

    register_ = staff.get(f"/api/v1/events/{event['id']}/certificates").json()
    assert len(register_) == 4 and {entry["hours"] for entry in register_} == {14.0, 7.0}  # one day of one: 100 %
    [sheet] = load_workbook(io.BytesIO(staff.get(f"/api/v1/events/{event['id']}/certificates.xlsx").content)).worksheets
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == [e["certificate_id"] for e in register_]

    sheet_pdf = staff.get(f"/api/v1/events/{event['id']}/sessions/s2/sign-in-sheet.pdf")
    assert sheet_pdf.status_code == 200 and sheet_pdf.headers["Content-Type"] == "application/pdf"
    text = PdfReader(io.BytesIO(sheet_pdf.content)).pages[0].extract_text()
    assert "PREZENČNÍ LISTINA" in text and "Podpis" in text and text.count("Město Chrudim") == 3
    assert_problem(staff.get(f"/api/v1/events/{event['id']}/sessions/s9/sign-in-sheet.pdf"), 404)
    assert_problem(public.get(f"/api/v1/events/{event['id']}/attendance.xlsx"), 401)
    actions = {entry["action"] for entry in staff.get("/api/v1/audit", params={"per_page": 20}).json()["items"]}
    assert {"export_attendance", "export_certificate_register", "export_sign_in_sheet"} <= actions


def test_registration_questions(staff, public):
    questions = [
        {"label": "Strava", "type": "single_choice", "options": ["masová", "vegetariánská"], "required": True},
        {"label": "Oběd ve 2. den", "type": "consent", "session": "s2", "required": True},
        {"label": "Zdravotní omezení", "type": "short_text", "in_exports": False},
    ]
    assert_problem(staff.post("/api/v1/events", json=future_payload(questions=[
        {"label": "Strava", "type": "single_choice", "options": ["jen jedna"]}])), 422, "questions.0.options")
    event = published(staff, capacities=(50, 50), questions=questions)
    shown = public.get(f"/api/v1/events/{event['id']}").json()["questions"]
    assert [(q["id"], q["label"], q["session"]) for q in shown] == [
        ("q1", "Strava", None), ("q2", "Oběd ve 2. den", "s2"), ("q3", "Zdravotní omezení", None)]
    form = public.get(f"/api/v1/events/{event['id']}/registration-schema")
    assert form.status_code == 200 and form.headers["Content-Type"].startswith("application/schema+json")
    answers_schema = form.json()["properties"]["answers"]
    assert answers_schema["properties"]["q1"]["enum"] == ["masová", "vegetariánská"]
    assert answers_schema["required"] == ["q1"] and form.json()["allOf"][0]["if"]["properties"]["sessions"]

    def attempt(sessions, answers):
        return public.post(f"/api/v1/events/{event['id']}/registrations", json={
            **registration_input(address("otazky"), sessions=sessions), "answers": answers})

    missing = assert_problem(attempt(["s1"], {}), 422, "answers.q1")
    assert "Strava" in missing["errors"]["answers.q1"][0]
    assert_problem(attempt(["s1"], {"q1": "rybí"}), 422, "answers.q1")
    assert_problem(attempt(["s1", "s2"], {"q1": "masová"}), 422, "answers.q2")
    assert_problem(attempt(["s1"], {"q1": "masová", "q2": True}), 422, "answers.q2")
    assert_problem(attempt(["s1"], {"q1": "masová", "q7": "?"}), 422, "answers.q7")
    assert_problem(attempt(["s1"], ["q1"]), 422, "answers")
    made = attempt(["s1", "s2"], {"q1": "vegetariánská", "q2": True, "q3": "bezlepková"})
    assert made.status_code == 201, made.text
    stored = staff.get(f"/api/v1/registrations/{made.json()['id']}").json()
    assert stored["answers"] == {"q1": "vegetariánská", "q2": True, "q3": "bezlepková"}
    assert len(all_registrations(staff, event["id"])) == 1  # the refused ones kept nothing
    email = stored["email"]
    export = staff.post("/api/v1/privacy/exports", json={"email": email}).json()
    [registration] = [r for part in export["services"] for r in part["sections"].get("registrations", [])]
    assert registration["answers"]["q3"] == "bezlepková"


def manage_link_parts(receipt: dict) -> tuple[str, dict]:
    path, token = receipt["manage_url"].split("/api/", 1)[1].split("?token=")
    return "/api/" + path, {"token": token}


def test_the_participant_manages_their_registration_behind_the_link(staff, public, smtp_sink):
    questions = [{"label": "Strava", "type": "single_choice", "options": ["masová", "vegetariánská"],
                  "required": True},
                 {"label": "Oběd ve 2. den", "type": "consent", "session": "s2", "required": True}]
    event = published(staff, capacities=(50, 1), questions=questions)
    email = address("sama")
    holder = public.post(f"/api/v1/events/{event['id']}/registrations", json={
        **registration_input(address("drzitel"), sessions=["s2"]), "answers": {"q1": "masová", "q2": True}}).json()
    receipt = public.post(f"/api/v1/events/{event['id']}/registrations", json={
        **registration_input(email, sessions=["s1"]), "answers": {"q1": "masová"}}).json()
    path, params = manage_link_parts(receipt)
    html = {"Accept": "text/html"}

    shown = public.get(path, params=params, headers=html)
    assert shown.status_code == 200 and shown.headers["Content-Type"].startswith("text/html")
    assert "<svg" in shown.text and receipt["id"] in shown.text and "Vaše registrace" in shown.text
    wait_until(lambda: smtp_sink.messages(to=email), message="confirmation mail")
    [mail] = smtp_sink.messages(to=email)
    assert receipt["manage_url"] in mail.get_body(("plain",)).get_content()
    assert "qr-kod-pro-vstup.png" in [part.get_filename() for part in mail.iter_attachments()]

    edited = public.post(path, params=params, headers=html, data={
        "action": "edit", "name": "Jana Nováková", "organization": "Obec Lhota", "phone": "777 123 456",
        "answer_q1": "vegetariánská"})
    assert edited.status_code == 200 and "Údaje jsou uložené" in edited.text
    mine = public.get(f"/api/v1/registrations/{receipt['id']}/self", params=params).json()
    assert (mine["organization"], mine["answers"]) == ("Obec Lhota", {"q1": "vegetariánská"})

    missing = public.post(path, params=params, headers=html, data={"action": "sessions", "sessions": ["s1", "s2"]})
    assert missing.status_code == 422 and "Oběd ve 2. den" in missing.text  # s2 asks its own question
    assert 'name="answer_q2"' in missing.text  # on the form of the sessions, where it is answered
    waiting = public.post(path, params=params, headers=html, data={
        "action": "sessions", "sessions": ["s1", "s2"], "answer_q2": "1"})  # Strava keeps its answer
    assert waiting.status_code == 200 and "čekáte na místo, 1. v pořadí" in waiting.text
    assert public.get(f"/api/v1/registrations/{receipt['id']}/self", params=params).json()["answers"] == {
        "q1": "vegetariánská", "q2": True}
    assert staff.get(f"/api/v1/events/{event['id']}").json()["sessions"][1]["waiting"] == 1
    left = public.post(path, params=params, headers=html, data={"action": "leave:s2"})
    assert left.status_code == 200 and "Z čekací listiny jste odhlášeni" in left.text
    assert staff.get(f"/api/v1/events/{event['id']}").json()["sessions"][1]["waiting"] == 0

    holder_path, holder_params = manage_link_parts(holder)
    public.put(f"/api/v1/registrations/{receipt['id']}/self/sessions", params=params,
               json={"sessions": ["s1", "s2"], "answers": {"q1": "masová", "q2": True}})
    given_up = public.put(f"/api/v1/registrations/{holder['id']}/self/sessions", params=holder_params,
                          json={"sessions": ["s1"], "answers": {"q1": "masová"}})
    assert given_up.status_code == 200, given_up.text
    assert [s["status"] for s in given_up.json()["sessions"]] == ["confirmed", "cancelled"]
    promoted = staff.get(f"/api/v1/registrations/{receipt['id']}").json()
    assert promoted["status"] == "confirmed" and [s["status"] for s in promoted["sessions"]] == ["confirmed"] * 2
    session = staff.get(f"/api/v1/events/{event['id']}").json()["sessions"][1]
    assert (session["seats_left"], session["waiting"]) == (0, 0)

    assert_problem(public.patch(f"/api/v1/registrations/{receipt['id']}/self", params={"token": "forged"},
                                json={"phone": "1"}), 404)
    assert_problem(public.put(f"/api/v1/registrations/{receipt['id']}/self/sessions", params=params,
                              json={"sessions": []}), 422, "sessions")
    broken = public.get(path, params={"token": "forged"}, headers=html)
    assert broken.status_code == 404 and "Odkaz nefunguje" in broken.text
    cancel_path, cancel_params = cancel_link_parts(receipt)
    assert public.post(cancel_path, params=cancel_params, headers={"Accept": "application/json"}).status_code == 200
    assert "Registrace je zrušená" in public.get(path, params=params, headers=html).text
