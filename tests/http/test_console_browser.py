"""The staff console in a real browser: sign in, compose, preview, send, and the progress bar at 100 %.

The browser steps run in their own process (`tests/console_browser.py`); screenshots of every
page visited are written to `test-output/screenshots/` (kept out of git).
"""
import json
import subprocess
import sys
import uuid
from pathlib import Path

from tests.conftest import ROOT
from tests.http import test_events_api as events_api
from tests.http.conftest import STAFF_TOKEN

SCREENSHOTS = ROOT / "test-output" / "screenshots"


def test_staff_send_a_mailout_from_the_console_and_watch_it_reach_100_percent(platform, staff, public, smtp_sink):
    assert Path("/usr/bin/chromium").exists(), "Chromium is missing: `make test` installs Debian's chromium"
    domain = f"{uuid.uuid4().hex[:8]}.example.cz"
    event = events_api.published(staff)
    for n in range(5):
        events_api.register(public, event, f"host{n}@{domain}")
    env = {**platform.env, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "tests.console_browser", platform.url, STAFF_TOKEN, event["id"],
                          f"host2@{domain}", str(SCREENSHOTS)], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["sent_to_sign_in"] and seen["overview_heading"] == "Přehled"
    assert seen["recipient_count"].startswith("5") and seen["draft_status"] == "draft"
    assert "Dobrý den, Jana Nováková," in seen["preview"]
    assert (seen["final_percent"], seen["final_status"]) == ("100 %", "sent")
    assert len([m for m in smtp_sink.messages_to_domain(domain) if m["List-Unsubscribe"]]) == 5
    for name in ("login", "overview", "mailouts", "mailout-compose", "mailout-draft", "mailout-sending",
                 "mailout-sent"):
        assert (SCREENSHOTS / f"{name}.png").stat().st_size > 5000
