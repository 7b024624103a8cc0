"""The console's pages for staff's daily work, over HTTP: applications, members, events, practice,
NEJpraxe, the mail queue and staff tokens; and what each role may open."""
import csv
import io
import re
from datetime import datetime, timedelta

import pytest
import requests
from openpyxl import load_workbook

from nszm.contracts.common import PRAGUE
from tests import bounce_samples, factories
from tests.http import test_events_api as events_api
from tests.http import test_imports as imports_api
from tests.http.conftest import issue_token
from tests.http.test_console import signed_in
from tests.http.test_members_api import join
from tests.http.test_practice_api import published as published_practice
from tests.waiting import wait_until


class Console:
    """A signed-in browser session: pages by path, forms posted with the session's CSRF token."""

    def __init__(self, platform, token=None):
        self.base = platform.url + "/staff"
        self.browser, self.csrf = signed_in(platform, *([token] if token else []))

    def get(self, path, **kwargs):
        return self.browser.get(self.base + path, **kwargs)

    def post(self, path, data=None, **kwargs):
        return self.browser.post(self.base + path, data={"csrf": self.csrf, **(data or {})}, **kwargs)


@pytest.fixture
def console(platform):
    return Console(platform)


def local(moment: datetime) -> str:
    """A time as a datetime-local field sends it, in Prague time."""
    return moment.astimezone(PRAGUE).strftime("%Y-%m-%dT%H:%M")


def test_approve_and_reject_applications(console, public, staff):
    first = public.post("/api/v1/membership-applications", json=factories.application()).json()
    second = public.post("/api/v1/membership-applications", json=factories.application()).json()
    listing = console.get("/applications")
    assert first["id"] in listing.text and second["id"] in listing.text and "čeká" in listing.text
    page = console.get(f"/applications/{first['id']}")
    assert 'id="approve"' in page.text and 'id="reject"' in page.text
    approved = console.post(f"/applications/{first['id']}/approve", {"member_since": "2026-01-15"})
    assert "Přihláška je schválena" in approved.text and "schváleno" in approved.text
    member = staff.get(f"/api/v1/membership-applications/{first['id']}").json()["member"]
    assert staff.get(f"/api/v1/members/{member}/detail").json()["member_since"] == "2026-01-15"
    again = console.post(f"/applications/{first['id']}/approve")
    assert "Nelze provést" in again.text
    no_reason = console.post(f"/applications/{second['id']}/reject", {"reason": ""})
    assert "Nelze provést" in no_reason.text and "reason" in no_reason.text
    rejected = console.post(f"/applications/{second['id']}/reject", {"reason": "Chybí usnesení zastupitelstva."})
    assert "zamítnuto" in rejected.text and "Chybí usnesení" in rejected.text
    assert console.get("/applications", params={"status": "rejected"}).text.count(second["id"]) == 1
    assert console.get("/applications/neni-takova").status_code == 404


def test_edit_a_member_and_record_leaving(console, staff, public):
    member = join(staff, public)
    page = console.get(f"/members/{member['slug']}")
    assert member["ico"] in page.text and "@example.cz" in page.text and "jana.novakova." in page.text
    form = {"name": member["name"], "population": "15000", "website": "https://www.example.cz", "part_of": "",
            "contact_role": ["coordinator", "other"], "contact_name": ["Petra Malá", ""],
            "contact_email": ["petra.mala@example.cz", ""], "contact_phone": ["", ""]}
    saved = console.post(f"/members/{member['slug']}", form)
    assert "Změny jsou uloženy" in saved.text
    detail = staff.get(f"/api/v1/members/{member['slug']}/detail").json()
    assert detail["population"] == 15000 and detail["contacts"] == [
        {"role": "coordinator", "name": "Petra Malá", "email": "petra.mala@example.cz"}]
    wrong = console.post(f"/members/{member['slug']}", {**form, "population": "mnoho"})
    assert wrong.status_code == 422 and "population" in wrong.text
    wrong = console.post(f"/members/{member['slug']}", {**form, "contact_email": ["neni-adresa", ""]})
    assert wrong.status_code == 422 and "contacts.0.email" in wrong.text
    assert member["name"] in console.get("/members", params={"q": member["name"]}).text
    left = console.post(f"/members/{member['slug']}/leave", {"left_on": "2026-06-30", "reason": "Usnesení"})
    assert "Vystoupení člena je zapsáno" in left.text and "vystoupil" in left.text
    assert staff.get(f"/api/v1/members/{member['slug']}/detail").json()["left_on"] == "2026-06-30"
    assert console.get("/members/neni-takovy").status_code == 404


def test_create_publish_check_in_cancel_and_export_an_event(console, staff, public):
    start = (datetime.now(PRAGUE) + timedelta(days=40)).replace(hour=9, minute=0, second=0, microsecond=0)
    form = {"title": f"Seminář {factories.unique_word()}", "type": "training", "description": "Pro koordinátory",
            "starts_at": local(start), "ends_at": local(start + timedelta(hours=6)), "venue_name": "Radnice",
            "venue_city": "Kroměříž", "accredited": "1", "accreditation": "AK/1",
            "session_title": ["Dopoledne", "Odpoledne", "", ""],
            "session_starts_at": [local(start), local(start + timedelta(hours=3)), "", ""],
            "session_ends_at": [local(start + timedelta(hours=3)), local(start + timedelta(hours=6)), "", ""],
            "session_capacity": ["2", "30", "", ""], "session_audience": ["everyone"] * 4,
            "min_attendance_percent": "75", "reminder_days": "3",
            "question_label": ["Strava", "Zdravotní omezení", "", ""],
            "question_type": ["single_choice", "short_text", "short_text", "short_text"],
            "question_options": ["masová\r\nvegetariánská", "", "", ""], "question_required": ["", "", "", ""],
            "question_in_exports": ["1", "", "1", "1"], "question_session": ["", "", "", ""]}
    invalid = console.post("/events/new", {**form, "venue_name": "", "session_capacity": ["0", "30", "", ""]})
    assert invalid.status_code == 422 and "venue" in invalid.text and "sessions.0.capacity" in invalid.text
    assert 'value="Dopoledne"' in invalid.text
    created = console.post("/events/new", form)
    assert created.status_code == 200 and "koncept" in created.text, created.text
    event_id = created.url.rsplit("/", 1)[-1]
    detail = staff.get(f"/api/v1/events/{event_id}/detail").json()
    assert datetime.fromisoformat(detail["starts_at"]) == start and [s["capacity"] for s in detail["sessions"]] == [2, 30]
    assert (detail["min_attendance_share"], detail["reminder_days"]) == (0.75, 3)
    assert [(q["label"], q["options"], q["in_exports"]) for q in detail["questions"]] == [
        ("Strava", ["masová", "vegetariánská"], True), ("Zdravotní omezení", [], False)]
    assert "Akce je zveřejněna" in console.post(f"/events/{event_id}/publish").text
    emails = [events_api.address() for _ in range(4)]
    people = [events_api.register(public, detail, email, sessions=["s1"]).json() for email in emails[:3]]
    shy = public.post(f"/api/v1/events/{event_id}/registrations", json={**events_api.registration_input(
        emails[3], sessions=["s2"]), "answers": {"q1": "vegetariánská", "q2": "bez lepku"}}).json()
    public.post(f"/api/v1/events/{event_id}/registrations", json={
        "name": "=HYPERLINK(\"http://zle.example\")", "email": events_api.address(), "organization": "@SUM(1)",
        "sessions": ["s2"]})
    page = console.get(f"/events/{event_id}")
    assert "čeká na místo (1. v pořadí)" in page.text and f'id="check-in-{people[0]["id"]}"' in page.text
    assert "Strava: vegetariánská" in page.text and "Zdravotní omezení: bez lepku" in page.text
    assert "Účast je zapsána" in console.post(f"/events/{event_id}/registrations/{people[0]['id']}/check-in").text
    assert "Nelze provést" in console.post(f"/events/{event_id}/registrations/{people[0]['id']}/check-in").text
    cancelled = console.post(f"/events/{event_id}/registrations/{shy['id']}/cancel")
    assert "Registrace je zrušena" in cancelled.text
    assert console.post(f"/events/{event_id}/registrations/{shy['id']}/explode").status_code == 404
    exported = console.get(f"/events/{event_id}/registrations.csv")
    assert exported.headers["Content-Type"].startswith("text/csv")
    assert f"registrace-{event_id}.csv" in exported.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == 5
    by_email = {row["e-mail"]: row for row in rows}
    assert by_email[emails[0]]["účast"] and by_email[emails[0]]["osvědčení"].startswith("NSZM-")
    assert [by_email[email]["stav"] for email in emails] == ["potvrzeno", "potvrzeno", "čeká na místo", "zrušeno"]
    assert sum(1 for row in rows if row["účast"]) == 1
    assert all(not row["jméno"].startswith("=") and not row["organizace"].startswith("@") for row in rows)
    assert by_email[emails[3]]["Strava"] == "vegetariánská" and "Zdravotní omezení" not in rows[0]
    listing = console.get("/events", params={"status": "published"})
    assert form["title"] in listing.text
    assert console.get("/events/neni-takova").status_code == 404

    page = console.get(f"/events/{event_id}")
    assert f'href="/staff/events/{event_id}/door/s1"' in page.text and "Podklady pro akreditaci" in page.text
    workbook = console.get(f"/events/{event_id}/attendance.xlsx")
    assert workbook.status_code == 200 and f"prezence-{event_id}.xlsx" in workbook.headers["Content-Disposition"]
    assert len(list(load_workbook(io.BytesIO(workbook.content))["s1 Dopoledne"].iter_rows(min_row=2))) == 2
    assert console.get(f"/events/{event_id}/sessions/s2/sign-in-sheet.pdf").content.startswith(b"%PDF")
    assert console.get(f"/events/{event_id}/sessions/s7/sign-in-sheet.pdf").status_code == 404
    assert console.get(f"/events/{event_id}/certificates.xlsx").status_code == 200
    door = console.get(f"/events/{event_id}/door/s1", params={"q": "nováková"})
    assert 'autofocus' in door.text and door.text.count("Zapsat příchod<span") == 2  # two seated of the three found
    scanned = console.post(f"/events/{event_id}/door/s1?mode=out", {"code": people[0]["id"]})
    assert scanned.status_code == 200 and "Odchod zapsán" in scanned.text
    refused = console.post(f"/events/{event_id}/door/s1", {"code": shy["id"]})
    assert refused.status_code == 409 and "Registrace je zrušená" in refused.text


def test_practice_from_draft_to_archive_and_a_competition_to_its_results(console, staff, public):
    member = join(staff, public)
    invalid = console.post("/practices/new", {"title": "", "summary": "S", "body": "T", "member": member["slug"],
                                              "year": "2025", "themes": ["5"]})
    assert invalid.status_code == 422 and "title" in invalid.text
    word = factories.unique_word()
    form = {"title": f"Komunitní zahrady {word}", "summary": "Zahrady pro všechny", "body": "Text",
            "member": member["slug"], "year": "2025", "themes": ["2", "9"]}
    created = console.post("/practices/new", form)
    assert "Praxe je uložena jako koncept" in created.text
    slug = created.url.rsplit("/", 1)[-1]
    edited = console.post(f"/practices/{slug}", {**form, "summary": "Zahrady pro celé sídliště", "themes": ["2"]})
    assert "Změny jsou uloženy" in edited.text
    detail = staff.get(f"/api/v1/practices/{slug}/detail").json()
    assert (detail["summary"], detail["themes"], detail["status"]) == ("Zahrady pro celé sídliště", [2], "draft")
    assert slug in console.get("/practices", params={"status": "draft", "q": word}).text
    assert "Praxe je zveřejněna" in console.post(f"/practices/{slug}/publish").text
    assert public.get(f"/api/v1/practices/{slug}").status_code == 200
    rival = published_practice(staff, member)
    opens = datetime.now(PRAGUE) - timedelta(minutes=5)
    nominees = {"title": f"NEJpraxe {word}", "year": "2026", "voting_opens_at": local(opens),
                "voting_closes_at": local(opens + timedelta(days=7)), "nominees": [slug, rival["slug"]]}
    assert console.post("/competitions/new", {**nominees, "nominees": [slug]}).status_code == 422
    form_page = console.get("/competitions/new")
    assert rival["title"] in form_page.text
    started = console.post("/competitions/new", nominees)
    assert "Soutěž je založena" in started.text and "hlasuje se" in started.text
    competition_id = started.url.rsplit("/", 1)[-1]
    closed = console.post(f"/competitions/{competition_id}/close")
    assert "Hlasování je ukončeno" in closed.text and "Výsledky" in closed.text and "uzavřeno" in closed.text
    assert "Nelze provést" in console.post(f"/competitions/{competition_id}/close").text
    assert nominees["title"] in console.get("/competitions").text
    assert "Praxe je archivována" in console.post(f"/practices/{slug}/archive").text
    assert 'id="practice-form"' not in console.get(f"/practices/{slug}").text
    assert "Nelze provést" in console.post(f"/practices/{slug}", form).text
    assert console.get("/competitions/neni").status_code == 404


def test_the_mail_queue_shows_failed_mail_and_sends_it_again(console, staff, public, smtp_sink):
    event = events_api.published(staff)
    refused = f"nikdo+reject-{factories.unique_word()}@example.cz"
    events_api.register(public, event, refused)
    wait_until(lambda: staff.get("/api/v1/mails", params={"to": refused, "status": "failed"}).json()["total"],
               timeout=30, message="the refused mail marked failed")
    queue = console.get("/mail", params={"to": refused})
    assert refused in queue.text and "550" in queue.text and "selhalo" in queue.text
    again = console.post(re.search(r'action="/staff(/mail/[^"]+/retry[^"]*)"', queue.text).group(1).replace(
        "&amp;", "&"))
    assert "E-mail je znovu ve frontě" in again.text
    mail = wait_until(lambda: (m := staff.get("/api/v1/mails", params={"to": refused}).json()["items"][0])[
        "status"] == "failed" and m, timeout=30, message="the retried mail failed again")
    assert mail["attempts"] == 1 and "550" in mail["last_error"]


def test_a_bounced_contact_is_flagged_listed_and_lifted_and_the_delivery_log_shows_it(console, staff, public,
                                                                                      smtp_sink, platform):
    domain = f"{factories.unique_word()}.example.cz"
    dead = f"koordinatorka@{domain}"
    member = join(staff, public, type="municipality", region="Kraj Vysočina",
                  contact={"name": "Eva Zrušená", "email": dead})
    sending = staff.post("/api/v1/mailouts", json={
        "subject": "Zpravodaj", "body": "Dobrý den.", "audience": {"members": {
            "type": ["municipality"], "region": ["Kraj Vysočina"], "roles": ["coordinator"]}}}).json()
    staff.post(f"/api/v1/mailouts/{sending['id']}/send")
    wait_until(lambda: staff.get(f"/api/v1/mailouts/{sending['id']}").json()["status"] == "sent", timeout=60)
    [message] = smtp_sink.messages(dead)
    _, hook = issue_token(platform, "bounces")
    raw = bounce_samples.sample("exim-dsn", message["X-Bounce-Token"], dead, message["Message-ID"])
    assert requests.post(platform.url + "/api/v1/bounces/message", data=raw, timeout=10, headers={
        "Authorization": f"Bearer {hook}", "Content-Type": "message/rfc822"}).json() == {"outcome": "recorded"}

    page = console.get(f"/members/{member['slug']}")
    assert 'id="suppressed-contacts"' in page.text and 'data-reason="bounced"' in page.text
    assert "adresa neexistuje" in page.text
    log = console.get(f"/mailouts/{sending['id']}", params={"status": "bounced"})
    assert dead in log.text and 'data-status="bounced"' in log.text and "z odeslaných vráceno 1" in log.text
    exported = console.get(f"/mailouts/{sending['id']}/recipients.csv")
    assert exported.status_code == 200 and dead in exported.content.decode("utf-8-sig")

    listed = console.get("/suppressions", params={"q": domain})
    assert dead in listed.text and "adresa neexistuje nebo zprávy trvale odmítá" in listed.text
    lifted = console.post("/suppressions/lift", {"email": dead})
    assert f"Adresa {dead} je ze seznamu blokovaných odstraněna" in lifted.text
    assert 'id="suppressed-contacts"' not in console.get(f"/members/{member['slug']}").text
    form = {"name": member["name"], "population": "1200", "website": "", "part_of": "",
            "contact_role": ["coordinator", "politician"], "contact_function": ["", "starostka"],
            "contact_name": ["Eva Nová", "Marie Veselá"], "contact_email": [f"nova@{domain}", f"starostka@{domain}"],
            "contact_phone": ["", ""]}
    assert "Změny jsou uloženy" in console.post(f"/members/{member['slug']}", form).text
    contacts = staff.get(f"/api/v1/members/{member['slug']}/detail").json()["contacts"]
    assert contacts[1] == {"role": "politician", "function": "starostka", "name": "Marie Veselá",
                           "email": f"starostka@{domain}"}


def test_admin_issue_and_revoke_tokens_in_the_console(platform, console):
    refused = console.post("/tokens", {"name": "", "roles": ["events"]})
    assert refused.status_code == 422
    issued = console.post("/tokens", {"name": "Jana z akcí", "roles": ["events"]})
    assert issued.status_code == 201
    token = re.search(r'<code id="new-token">([^<]+)</code>', issued.text).group(1)
    assert token not in console.get("/tokens").text
    jana = Console(platform, token)
    assert jana.get("/events").status_code == 200 and jana.get("/tokens").status_code == 403
    token_id = re.search(r"Nový token \(id ([0-9a-f]+)\)", issued.text).group(1)
    assert "Token je zrušen" in console.post(f"/tokens/{token_id}/revoke").text
    assert jana.get("/events", allow_redirects=False).status_code == 302


SECTION_ROLES = {"/applications": "members", "/members": "members", "/events": "events", "/events/new": "events",
                 "/practices": "practice", "/practices/new": "practice", "/competitions": "practice",
                 "/competitions/new": "practice", "/mailouts": "mailouts", "/mailouts/new": "mailouts",
                 "/mail": "mailouts", "/suppressions": "mailouts", "/tokens": "admin"}


def test_every_page_needs_sign_in_and_its_role(platform):
    for path in SECTION_ROLES:
        assert requests.get(platform.url + "/staff" + path, allow_redirects=False).status_code == 302
    roles = {}
    for role in sorted(set(SECTION_ROLES.values()) - {"admin"}):
        roles[role] = Console(platform, issue_token(platform, role)[1])
    for path, needed in SECTION_ROLES.items():
        for role, console in roles.items():
            answer = console.get(path)
            assert answer.status_code == (200 if role == needed else 403), (path, role, answer.status_code)
            if answer.status_code == 403:
                assert "Sem nemáte přístup" in answer.text
    overview = roles["events"].get("/").text
    assert "Akce" in overview and "Přihlášky" not in overview and "Tokeny" not in overview
    assert roles["events"].post("/applications/x/approve").status_code == 403
    assert roles["members"].post("/events/x/publish").status_code == 403


def test_import_a_file_in_the_console_check_first_then_import_what_was_checked(platform, console, public):
    word = factories.unique_word()
    rows = [[factories.ico(), f"{word} Polička", "město", "Pardubický", 8700, "Eva", f"eva@{word}.example.cz",
             "koordinátorka", None, None],
            [factories.ico()[:7] + "x", f"{word} Nic", "město", "Pardubický", 10, None, None, None, None, None]]
    data = imports_api.csv_file(imports_api.MEMBER_HEADER, rows)
    form = console.get("/imports")
    assert form.status_code == 200 and "Odběratelé zpravodaje" in form.text and "Souhlas udělen" in form.text
    checked = console.browser.post(console.base + "/imports/check", data={"csrf": console.csrf, "kind": "members"},
                                   files={"file": ("clenove.csv", data, "text/csv")})
    assert checked.status_code == 200, checked.text
    assert "zkontrolováno, zatím nic nezměněno" in checked.text and "nový člen: 1" in checked.text
    errors = re.search(r'<table id="import-errors">.*?</table>', checked.text, re.S).group(0)
    assert "<td>3</td><td>IČO</td>" in errors
    assert public.get("/api/v1/members", params={"q": word}).json()["total"] == 0
    apply = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"',
                            re.search(r'<form [^>]*id="import-apply".*?</form>', checked.text, re.S).group(0)))
    done = console.post("/imports/apply", apply)
    assert "Import je hotový" in done.text and 'id="import-apply"' not in done.text
    assert public.get("/api/v1/members", params={"q": word}).json()["total"] == 1
    again = console.post("/imports/apply", apply)
    assert again.status_code == 409 and "Nelze provést" in again.text  # it would no longer change what was checked
    mailouts_only = Console(platform, issue_token(platform, "mailouts")[1])
    assert "Členové s kontakty" not in mailouts_only.get("/imports").text
    assert mailouts_only.post("/imports/check", {"kind": "members"}).status_code == 403
    subscribers = imports_api.xlsx_file(["E-mail", "Souhlas udělen"], [[f"eva@{word}.example.cz", None],
                                                                     [f"ota@{word}.example.cz", "1. 2. 2024"]])
    checked = console.browser.post(console.base + "/imports/check", files={"file": ("odberatele.xlsx", subscribers)},
                                   data={"csrf": console.csrf, "kind": "subscribers", "source": "Letní škola"})
    assert checked.status_code == 200, checked.text
    assert "dostane žádost o potvrzení: 1" in checked.text and "přihlášen (souhlas doložen): 1" in checked.text
    no_file = console.post("/imports/check", {"kind": "subscribers", "source": "x"})
    assert no_file.status_code == 422 and "Vyberte soubor" in no_file.text
