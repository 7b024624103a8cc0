"""The mailout command line against the running platform: the same actions, a progress bar to 100 %."""
import subprocess
import sys
import uuid

from tests.conftest import ROOT
from tests.http import test_events_api as events_api
from tests.http.conftest import STAFF_TOKEN, issue_token


def cli(platform, *args, token=STAFF_TOKEN) -> subprocess.CompletedProcess:
    """Run the command; its output is decoded as is, so the bar's carriage returns stay visible."""
    done = subprocess.run([sys.executable, "-m", "ops.mailout", "--url", platform.url, "--token", token, *args],
                          cwd=ROOT, env=platform.env, capture_output=True, timeout=120)
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(), done.stderr.decode())


def test_create_send_and_watch_a_mailout_from_the_terminal(platform, staff, public, smtp_sink, tmp_path):
    domain = f"{uuid.uuid4().hex[:8]}.example.cz"
    event = events_api.published(staff)
    for n in range(4):
        events_api.register(public, event, f"ucastnik{n}@{domain}")
    body = tmp_path / "pozvanka.md"
    body.write_text("Dobrý den, {{ name }},\n\n**těšíme se** na Vás.\n", encoding="utf-8")
    created = cli(platform, "create", "--subject", "Připomínka", "--body-file", str(body), "--event", event["id"])
    assert created.returncode == 0, created.stderr
    mailout_id, _, summary = created.stdout.strip().partition("  ")
    assert summary == "draft for 4 recipients"
    assert mailout_id in cli(platform, "list").stdout
    preview = cli(platform, "preview", mailout_id, "--email", f"ucastnik1@{domain}")
    assert preview.returncode == 0 and "těšíme se" in preview.stdout

    sent = cli(platform, "send", mailout_id)
    assert sent.returncode == 0, sent.stderr
    frames = sent.stdout.split("\r")
    assert frames[-1].startswith("[" + "#" * 30 + "] 100% 4/4") and "(sent)" in frames[-1]
    bulk = [m for m in smtp_sink.messages_to_domain(domain) if m["List-Unsubscribe"]]
    assert len(bulk) == 4

    again = cli(platform, "send", mailout_id)
    assert again.returncode == 2 and "refused: 409" in again.stderr


def test_refusals_and_missing_rights_are_reported(platform, tmp_path):
    body = tmp_path / "spatne.md"
    body.write_text("{{ ''.__class__ }}", encoding="utf-8")
    broken = cli(platform, "create", "--subject", "X", "--body-file", str(body), "--newsletter")
    assert broken.returncode == 2 and "422" in broken.stderr and "body:" in broken.stderr
    _, events_only = issue_token(platform, "events")
    assert "403" in cli(platform, "list", token=events_only).stderr
    assert cli(platform, "show", "nenalezeno").returncode == 2
