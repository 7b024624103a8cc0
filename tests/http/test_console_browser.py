"""The staff console in a real browser: sign in, approve an application, check a person in, compose,
preview and send a mailout and see its progress bar at 100 %; a screenshot of every page.

The browser steps run in their own process (`tests/console_browser.py`); screenshots of every
page visited are written to `test-output/screenshots/` (kept out of git).
"""
import json
import subprocess
import sys
import uuid
from pathlib import Path

from tests import factories
from tests.conftest import ROOT
from tests.http import test_events_api as events_api
from tests.http.conftest import STAFF_TOKEN
from tests.http.test_members_api import join
from tests.http.test_practice_api import competition
from tests.http.test_practice_api import published as published_practice

SCREENSHOTS = ROOT / "test-output" / "screenshots"


PAGES = ("login", "overview", "applications", "application", "application-approved", "member", "members", "events",
         "event", "event-new", "mailouts", "mailout-compose", "mailout-draft", "mailout-sending", "mailout-sent",
         "practices", "practice-new", "practice", "competitions", "competition-new", "competition", "mail-queue",
         "tokens")


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
