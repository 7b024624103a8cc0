"""The staff console in a real browser: sign in, approve an application, check a person in, compose,
preview and send a mailout and see its progress bar at 100 %; a screenshot of every page.

The browser steps run in their own process (`tests/console_browser.py`); screenshots of every
page visited are written to `test-output/screenshots/` (kept out of git).
"""
import json
import re
import subprocess
import sys
import uuid
from html.parser import HTMLParser
from pathlib import Path

from tests import factories
from tests.conftest import ROOT
from tests.http import test_events_api as events_api
from tests.http.conftest import STAFF_TOKEN
from tests.http.test_mailouts_api import mail_domain, mailout, sent
from tests.http.test_members_api import join
from tests.http.test_practice_api import competition
from tests.http.test_practice_api import published as published_practice

SCREENSHOTS = ROOT / "test-output" / "screenshots"


PAGES = ("login", "overview", "applications", "application", "application-approved", "member", "members", "events",
         "event", "event-new", "mailouts", "mailout-compose", "mailout-draft", "mailout-sending", "mailout-sent",
         "practices", "practice-new", "practice", "competitions", "competition-new", "competition", "mail-queue",
         "suppressions", "imports", "tokens", "privacy")


def test_a_day_in_the_console_approve_check_in_and_send_a_mailout_to_100_percent(platform, staff, public,
                                                                                  smtp_sink):
    assert Path("/usr/bin/chromium").exists(), "Chromium is missing: `make test` installs Debian's chromium"
    domain = f"{uuid.uuid4().hex[:8]}.example.cz"
    applicant = factories.application()
    application = public.post("/api/v1/membership-applications", json=applicant).json()
    member = join(staff, public)
    competition(staff, [published_practice(staff, member)["slug"], published_practice(staff, member)["slug"]])
    event = events_api.published(staff)
    for n in range(5):
        events_api.register(public, event, f"host{n}@{domain}")
    env = {**platform.env, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "tests.console_browser", platform.url, STAFF_TOKEN, application["id"],
                          event["id"], f"host2@{domain}", str(SCREENSHOTS)], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["sent_to_sign_in"] and seen["overview_heading"] == "Přehled"
    assert seen["application_status"] == "schváleno" and "schválena" in seen["approval_notice"]
    approved = staff.get(f"/api/v1/membership-applications/{application['id']}").json()
    assert approved["status"] == "approved" and seen["member_heading"] == applicant["name"]
    assert "Účast je zapsána" in seen["check_in_notice"] and seen["attendance"] != "–"
    checked = [r for r in events_api.all_registrations(staff, event["id"]) if r["email"] == f"host2@{domain}"]
    assert checked[0]["checked_in_at"] is not None
    assert seen["recipient_count"].startswith("5") and seen["draft_status"] == "koncept"
    assert "Dobrý den, Jana Nováková," in seen["preview"]
    assert (seen["final_percent"], seen["final_status"]) == ("100 %", "odesláno")
    assert len([m for m in smtp_sink.messages_to_domain(domain) if m["List-Unsubscribe"]]) == 5
    for name in PAGES:
        assert (SCREENSHOTS / f"{name}.png").stat().st_size > 5000, name
    assert seen["violations"] == {name: [] for name in PAGES}


def test_the_door_of_a_session_by_keyboard_only(platform, staff, public):
    event = events_api.published(staff, capacities=(50, 50))

    def registered(name: str, sessions: list[str]) -> str:
        answer = public.post(f"/api/v1/events/{event['id']}/registrations", json={
            **events_api.registration_input(events_api.address(), sessions=sessions), "name": name})
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]

    seated, by_keyboard = registered("Petr Dvořák", ["s1"]), registered("Ivo Čermák", ["s1", "s2"])
    elsewhere, by_name = registered("Eva Malá", ["s2"]), registered("Anna Šťastná", ["s1"])
    codes = {"seated": seated, "czech_keyboard": by_keyboard, "elsewhere": elsewhere, "surname": "stastna"}
    env = {**platform.env, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "tests.door_browser", platform.url, STAFF_TOKEN, event["id"], "s1",
                          json.dumps(codes), str(SCREENSHOTS)], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["focus_on_arrival"] == "code"
    assert seen["first"]["tone"] == "scan ok" and "Příchod zapsán Petr Dvořák" in seen["first"]["text"]
    assert seen["again"]["tone"] == "scan repeat" and "nic se nemění" in seen["again"]["text"]
    assert seen["czech_keyboard"]["tone"] == "scan ok" and "Ivo Čermák" in seen["czech_keyboard"]["text"]
    assert seen["elsewhere"]["tone"] == "scan refused" and "není přihlášen" in seen["elsewhere"]["text"]
    assert seen["unknown"]["tone"] == "scan refused" and "Neznámý kód" in seen["unknown"]["text"]
    assert all(seen[step]["focus"] == "code" for step in ("first", "again", "czech_keyboard", "elsewhere", "unknown",
                                                           "by_name"))
    assert seen["found_button"] == "Zapsat příchod: Anna Šťastná"
    assert seen["by_name"]["tone"] == "scan ok" and "Anna Šťastná" in seen["by_name"]["text"]
    assert seen["presence"].startswith("Přišlo 3 z 3")
    came = {p["registration_id"] for p in staff.get(f"/api/v1/events/{event['id']}/sessions/s1/attendees").json()[
        "items"] if p["checked_in_at"]}
    assert came == {seated, by_keyboard, by_name}


def test_the_pages_behind_mailed_links_and_the_accessibility_statement_pass_axe_core(platform, staff, public):
    event = events_api.published(staff)
    receipt = events_api.register(public, event, f"odkazy@{uuid.uuid4().hex[:8]}.example.cz").json()
    urls = [receipt["manage_url"], receipt["cancel_url"],
            f"{platform.url}/api/v1/registrations/{receipt['id']}/manage?token=neplatny",
            f"{platform.url}/api/v1/votes/confirm?token=neplatny",
            f"{platform.url}/api/v1/newsletter/confirm?token=neplatny",
            f"{platform.url}/api/v1/unsubscribe?token=neplatny", f"{platform.url}/pristupnost"]
    env = {**platform.env, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "tests.public_browser", *urls], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert len(seen) >= len(urls) + 4  # the cancel, vote, subscription and unsubscribe buttons led somewhere
    assert {url: page["violations"] for url, page in seen.items()} == {url: [] for url in seen}
    assert {page["lang"] for page in seen.values()} == {"cs"}
    assert all(page["statement_link"] for page in seen.values())


RICH_BODY = """# Jarní škola Zdravých měst

Dobrý den,

zveme **{{ organization }}** na *jarní* Školu Zdravých měst:

- program a přihláška: [stránka akce](https://www.zdravamesta.cz/jarni-skola)
- dotazy: info@zdravamesta.cz

Více na https://www.zdravamesta.cz.
"""


class ReadAloud(HTMLParser):
    """The words of an HTML part as a reader meets them: the body's text, each link's target after
    its text unless the text is the target."""

    def __init__(self):
        super().__init__()
        self.text, self.links, self.in_head = [], [], False

    def handle_starttag(self, tag, attrs):
        self.in_head = self.in_head or tag == "head"
        if tag == "a":
            self.links.append((dict(attrs).get("href") or "", len(self.text)))

    def handle_endtag(self, tag):
        self.in_head = self.in_head and tag != "head"
        if tag == "a":
            href, start = self.links.pop()
            if href.removeprefix("mailto:") != "".join(self.text[start:]).strip():
                self.text.append(f" {href} ")

    def handle_data(self, data):
        if not self.in_head:
            self.text.append(data)


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def test_a_mailouts_html_part_passes_axe_core_and_says_what_its_text_part_says(platform, staff, public, smtp_sink,
                                                                                tmp_path):
    address = f"bohata@{mail_domain()}"
    member = join(staff, public, type="mas", region="Plzeňský kraj", contact={"name": "Bohatá", "email": address})
    draft = mailout(staff, {"members": {"type": ["mas"], "region": ["Plzeňský kraj"]}}, body=RICH_BODY)
    staff.post(f"/api/v1/mailouts/{draft['id']}/send")
    sent(staff, draft["id"])
    [message] = smtp_sink.messages(address)
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    reader = ReadAloud()
    reader.feed(html)
    assert words(text) == words("".join(reader.text)), (text, html)
    assert member["name"] in text and "<h1>" in html and "<li>" in html
    assert message["List-Unsubscribe"].strip("<>") in text

    page = tmp_path / "mail.html"
    page.write_text(html, encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "tests.public_browser", page.as_uri()], cwd=ROOT,
                         env={**platform.env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    [seen] = json.loads(run.stdout.strip().splitlines()[-1]).values()
    assert (seen["lang"], seen["violations"]) == ("cs", [])


def test_the_accessibility_statement_says_what_the_law_asks(platform, public):
    answer = public.get("/pristupnost")
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/html")
    for part in ("99/2019", "Stav souladu", "Nepřístupný obsah", "Zpětná vazba a kontakty", "Vynucovací postup",
                 "Ministerstvo vnitra", "axe-core", "info@zdravamesta.cz"):
        assert part in answer.text, part
    console = public.get("/staff/login")
    assert '<footer><a href="/pristupnost">' in console.text


def test_sign_in_approve_send_and_cancel_by_keyboard_alone(platform, staff, public, smtp_sink):
    domain = f"{uuid.uuid4().hex[:8]}.example.cz"
    application = public.post("/api/v1/membership-applications", json=factories.application()).json()
    event = events_api.published(staff)
    receipt = events_api.register(public, event, f"klavesnice@{domain}").json()
    draft = staff.post("/api/v1/mailouts", json={"subject": "Pozvánka", "body": "Dobrý den.",
                                                 "audience": {"event": {"id": event["id"]}}}).json()
    env = {**platform.env, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "tests.keyboard_browser", platform.url, STAFF_TOKEN, application["id"],
                          draft["id"], receipt["cancel_url"]], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["signed_in"] == "Přehled" and seen["application_status"] == "schváleno"
    assert seen["mailout_status"] in ("scheduled", "sending", "sent") and "zrušen" in seen["cancelled"].lower()
    for control in ("token_field", "approve", "send", "cancel"):
        assert seen[control]["focus_shows"], control
    assert staff.get(f"/api/v1/registrations/{receipt['id']}").json()["status"] == "cancelled"
