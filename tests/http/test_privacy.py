"""A person's data against the running platform: one person with records in every service is
exported in full (by an alias of their address), then erased; afterwards no collection of the
database holds their address or name, their certificate still verifies, the counts and seats are
as they were, and `person_erased` reached a pika subscriber and a webhook."""
import io
import json
import re
import subprocess
import sys
import threading
import uuid

import pymongo
import pytest
import requests
from pypdf import PdfReader

from nszm.subscriber import Subscriber
from tests.conftest import ROOT
from tests.event_factories import registration_input
from tests.http import test_events_api as events_api
from tests.http import test_mailouts_api as mailouts_api
from tests.http import test_practice_api as practice_api
from tests.http.conftest import STAFF_TOKEN, client_from_new_address, issue_token
from tests.http.test_members_api import assert_needs_role, assert_problem, join
from tests.http.test_webhooks import Receiver
from tests.waiting import wait_until


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.server.shutdown()


@pytest.fixture
def bus_listener(platform):
    """A pika subscriber of `person_erased`, as another organisation's service would be."""
    heard, ready = [], threading.Event()
    listener = Subscriber(platform.env["AMQP_URI"], f"crm.privacy-{uuid.uuid4().hex[:6]}",
                          [("notify", "person_erased")], heard.append, on_ready=ready.set)
    thread = threading.Thread(target=listener.run, daemon=True)
    thread.start()
    assert ready.wait(20), "the subscriber did not start"
    yield heard
    listener.stop()
    thread.join(10)


def link_in(message, marker: str) -> str:
    return next(word for word in message.get_body(("plain",)).get_content().split() if marker in word)


def a_person_everywhere(staff, smtp_sink, mark: str) -> dict:
    """Records of one person in every service; returns what the test checks afterwards."""
    public = client_from_new_address(staff.base_url)
    email, name = f"jana.{mark}@example.cz", f"Jana Výmazová{mark}"
    member = join(staff, public, contact={"name": name, "email": email})

    event = events_api.published(staff, capacities=(1,))
    registered = public.post(f"/api/v1/events/{event['id']}/registrations", json=registration_input(
        email.upper(), name=name, phone="+420 777 123 456", note=f"bez lepku {mark}",
        consent={"text_version": "2026-12", "form": "zdravamesta.cz/akce"}))
    assert registered.status_code == 201, registered.text
    waiting = events_api.register(public, event, events_api.address("dalsi"))
    assert waiting.json()["status"] == "waitlisted"
    checked = staff.post(f"/api/v1/registrations/{registered.json()['id']}/check-in").json()
    pdf = staff.get(f"/api/v1/registrations/{registered.json()['id']}/certificate.pdf")
    code = re.search(r"ověřovací kód: ([A-Z2-9]{10})", PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()).group(1)

    nominee, other = (practice_api.published(staff, member)["slug"] for _ in range(2))
    contest = practice_api.competition(staff, [nominee, other])
    assert public.post(f"/api/v1/competitions/{contest['id']}/votes",
                       json={"practice": nominee, "email": f"Jana.{mark}+nejpraxe@example.cz"}).status_code == 202
    token = practice_api.mailed_token(smtp_sink, f"jana.{mark}+nejpraxe@example.cz")
    assert public.post("/api/v1/votes/confirm", params={"token": token}).json()["status"] == "counted"

    assert public.post("/api/v1/newsletter/subscriptions", json={"email": email, "name": name, "consent": {
        "form": "zdravamesta.cz/zpravodaj"}}).status_code == 202
    confirmation = wait_until(lambda: [m for m in smtp_sink.messages(to=email) if "/newsletter/confirm" in str(
        m.get_body(("plain",)).get_content())], message="the newsletter confirmation")[-1]
    assert requests.post(link_in(confirmation, "/newsletter/confirm"), timeout=10).json() == {"status": "subscribed"}

    draft = mailouts_api.mailout(staff, {"event": {"id": event["id"], "status": ["confirmed"]}})
    staff.post(f"/api/v1/mailouts/{draft['id']}/send")
    mailouts_api.sent(staff, draft["id"])
    return {"email": email, "name": name, "event": event, "registration": registered.json(), "checked": checked,
            "code": code, "contest": contest, "nominee": nominee, "member": member}


def held_anywhere(platform, needles: list[str]) -> list[str]:
    """Every collection and document id of the platform's database whose content holds a needle."""
    client = pymongo.MongoClient(platform.env["MONGO_URI"])
    try:
        database = client[platform.env["MONGO_DB"]]
        found = []
        for collection in database.list_collection_names():
            for document in database[collection].find():
                text = json.dumps(document, default=str, ensure_ascii=False).lower()
                found += [f"{collection}/{document['_id']}" for needle in needles if needle.lower() in text]
        return found
    finally:
        client.close()


def test_a_person_is_exported_in_full_then_erased_everywhere(platform, staff, smtp_sink, receiver, bus_listener):
    mark = uuid.uuid4().hex[:10]
    person = a_person_everywhere(staff, smtp_sink, mark)
    hook = staff.post("/api/v1/webhooks", json={"url": receiver.url, "events": ["person_erased"]})
    assert hook.status_code == 201, hook.text
    assert held_anywhere(platform, [mark]), "the scan finds the person before the erasure"

    exported = staff.post("/api/v1/privacy/exports", json={"email": f"JANA.{mark}+export@example.cz"})
    assert exported.status_code == 200, exported.text
    export = exported.json()
    sections = {(part["service"], name): records for part in export["services"]
                for name, records in part["sections"].items()}
    assert [c["member"] for c in sections["members", "member_contacts"]] == [person["member"]["slug"]]
    assert sections["members", "applications"][0]["contact"]["email"] == person["email"]
    [registration] = sections["events", "registrations"]
    assert registration["event_title"] == person["event"]["title"] and registration["attended_sessions"] == ["s1"]
    assert registration["certificate_id"] == person["checked"]["certificate_id"] and registration["note"]
    assert registration["consent"]["form"] == "zdravamesta.cz/akce" and registration["consent"]["text_version"]
    [vote] = sections["practice", "votes"]
    assert vote["competition_id"] == person["contest"]["id"] and vote["counted"] is True
    kinds = {mail["kind"] for mail in sections["notify", "mails"]}
    assert {"registration_confirmed", "attendance_recorded", "vote_requested", "newsletter_confirmation"} <= kinds
    assert all(mail["subject"] and mail["status"] for mail in sections["notify", "mails"])
    assert sections["notify", "mailouts"][0]["status"] == "sent"
    [subscription] = sections["notify", "subscriptions"]
    assert subscription["status"] == "confirmed" and subscription["consent"]["form"] == "zdravamesta.cz/zpravodaj"

    seats_before = staff.get(f"/api/v1/events/{person['event']['id']}").json()["sessions"][0]["seats_left"]
    erased = staff.post("/api/v1/privacy/erasures", json={"email": person["email"]})
    assert erased.status_code == 202, erased.text
    hashed = erased.json()["person"]
    assert hashed == export["person"]
    status = wait_until(lambda: (s := staff.get(f"/api/v1/privacy/erasures/{hashed}").json())["complete"] and s,
                        timeout=30, message="every service erased the person")
    assert sorted(done["service"] for done in status["services"]) == ["events", "members", "notify", "practice"]

    assert held_anywhere(platform, [mark, person["email"]]) == []
    code = person["code"]
    verified = requests.get(f"{platform.url}/api/v1/certificates/{person['checked']['certificate_id']}",
                            params={"code": code}, timeout=10)
    assert verified.status_code == 200 and verified.json()["hours"] == person["checked"]["hours"]
    assert mark not in verified.text
    assert staff.get(f"/api/v1/events/{person['event']['id']}").json()["sessions"][0]["seats_left"] == seats_before
    closed = staff.post(f"/api/v1/competitions/{person['contest']['id']}/close").json()
    assert {n["practice"]: n["votes"] for n in closed["nominees"]}[person["nominee"]] == 1

    wait_until(lambda: any(e["event_type"] == "person_erased" and e["data"]["person"] == hashed for e in bus_listener),
               timeout=20, message="person_erased at the pika subscriber")
    wait_until(lambda: any(e["data"]["person"] == hashed for e in receiver.delivered().values()), timeout=30,
               message="person_erased at the webhook")
    assert mark not in json.dumps(bus_listener) and mark not in json.dumps(receiver.received)

    again = staff.post("/api/v1/privacy/erasures", json={"email": person["email"]})
    assert again.status_code == 202  # idempotent: nothing is left, nothing breaks
    after = staff.post("/api/v1/privacy/exports", json={"email": person["email"]}).json()
    left = {name: records for part in after["services"] for name, records in part["sections"].items() if records}
    assert set(left) <= {"registrations", "votes", "mails", "mailouts", "applications", "suppression"}
    assert left["suppression"][0]["reason"] == "erased" and mark not in json.dumps(after["services"])
    audit = staff.get("/api/v1/audit", params={"action": "erase_person", "per_page": 50}).json()["items"]
    assert {entry["service"] for entry in audit if entry["target"] == erased.json()["id"]} == {
        "members", "events", "practice", "notify"}


def test_privacy_endpoints_are_for_admins_and_check_their_input(platform, staff):
    for method, path in (("POST", "/api/v1/privacy/exports"), ("POST", "/api/v1/privacy/erasures"),
                         ("GET", f"/api/v1/privacy/erasures/{'a' * 64}")):
        assert_needs_role(platform, method, path, "events")
    assert_problem(staff.post("/api/v1/privacy/exports", json={"email": "neni-adresa"}), 422, "email")
    assert_problem(staff.post("/api/v1/privacy/erasures", json={}), 422, "email")
    assert_problem(staff.get("/api/v1/privacy/erasures/neni-hash"), 404)
    nobody = staff.post("/api/v1/privacy/exports", json={"email": f"nikdo-{uuid.uuid4().hex[:8]}@example.cz"}).json()
    assert all(not records for part in nobody["services"] for records in part["sections"].values())
    assert re.fullmatch(r"[0-9a-f]{64}", nobody["person"])


def test_consent_texts_are_public_and_a_registration_names_a_known_version(staff):
    public = client_from_new_address(staff.base_url)
    texts = public.get("/api/v1/privacy/consent-texts").json()
    assert {t["purpose"] for t in texts if t["current"]} == {"registration", "newsletter"}
    event = events_api.published(staff)
    refused = public.post(f"/api/v1/events/{event['id']}/registrations", json=registration_input(
        events_api.address("souhlas"), consent={"text_version": "1999-01"}))
    assert_problem(refused, 422, "consent.text_version")


def test_the_console_finds_shows_downloads_and_erases_a_person(platform, staff):
    from tests.http.test_console_pages import Console

    console = Console(platform)
    public = client_from_new_address(staff.base_url)
    mark = uuid.uuid4().hex[:10]
    email = f"konzole.{mark}@example.cz"
    event = events_api.published(staff)
    assert public.post(f"/api/v1/events/{event['id']}/registrations",
                       json=registration_input(email, name=f"Eva Konzolová{mark}")).status_code == 201

    assert "Osobní údaje" in console.get("/").text
    found = console.post("/privacy", {"email": email.upper()})
    assert found.status_code == 200 and f"Konzolová{mark}" in found.text and "Registrace na akce" in found.text
    assert 'id="privacy-erase"' in found.text
    nobody = console.post("/privacy", {"email": f"nikdo-{mark}@example.cz"})
    assert 'id="nothing-found"' in nobody.text
    assert console.post("/privacy", {"email": "neni-adresa"}).status_code == 422
    downloaded = console.post("/privacy/export.json", {"email": email})
    assert downloaded.headers["Content-Disposition"].startswith("attachment")
    assert json.loads(downloaded.text)["services"][1]["sections"]["registrations"][0]["email"] == email

    unconfirmed = console.post("/privacy/erase", {"email": email})
    assert unconfirmed.status_code == 422 and "potvrďte" in unconfirmed.text
    erased = console.post("/privacy/erase", {"email": email, "confirm": "yes"})
    assert erased.status_code == 200 and "Výmaz osobních údajů" in erased.text
    person = re.search(r"/staff/privacy/erasures/([0-9a-f]{64})", erased.url).group(1)
    wait_until(lambda: "Hotovo" in console.get(f"/privacy/erasures/{person}").text, timeout=30,
               message="the console shows the erasure complete")
    assert f"Konzolová{mark}" not in console.post("/privacy", {"email": email}).text

    _, events_only = issue_token(platform, "events")
    assert Console(platform, events_only).get("/privacy").status_code == 403


def privacy_cli(platform, *args, token=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ops.privacy", "--url", platform.url, "--token", token or STAFF_TOKEN,
                           *args], cwd=ROOT, env=platform.env, capture_output=True, text=True, timeout=90)


def test_the_command_exports_and_erases_until_every_service_is_done(platform, staff):
    email = events_api.address("prikaz")
    event = events_api.published(staff)
    receipt = events_api.register(client_from_new_address(staff.base_url), event, email).json()
    exported = privacy_cli(platform, "export", email)
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["services"][1]["sections"]["registrations"][0]["id"] == receipt["id"]
    erased = privacy_cli(platform, "erase", email, "--wait")
    assert erased.returncode == 0, erased.stderr
    done = json.loads(erased.stdout)
    assert done["complete"] is True and done["pending"] == []
    assert privacy_cli(platform, "status", done["person"]).returncode == 0
    _, mailer = issue_token(platform, "mailouts")
    refused = privacy_cli(platform, "export", email, token=mailer)
    assert refused.returncode == 2 and refused.stderr.startswith("refused: 403")
