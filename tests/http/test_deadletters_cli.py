"""The dead-letter command against the running platform: admins list and replay, others are refused."""
import json
import subprocess
import sys

from tests.conftest import ROOT
from tests.http.conftest import STAFF_TOKEN, issue_token


def cli(platform, *args, token=STAFF_TOKEN) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ops.deadletters", "--url", platform.url, "--token", token, *args],
                          cwd=ROOT, env=platform.env, capture_output=True, text=True, timeout=60)


def test_admins_list_and_replay_dead_letters_from_the_terminal(platform):
    listed = cli(platform, "list")
    assert listed.returncode == 0, listed.stderr
    assert isinstance(json.loads(listed.stdout), list)
    assert cli(platform, "list", "--queue", "notify.mails").returncode == 0
    replayed = cli(platform, "replay", "--queue", "practice.members", "--event-id", "no-such-event")
    assert replayed.returncode == 0 and json.loads(replayed.stdout) == {"replayed": []}


def test_the_command_names_what_is_wrong(platform):
    unknown = cli(platform, "list", "--queue", "nope")
    assert unknown.returncode == 2 and "queue" in unknown.stderr
    _, mailer = issue_token(platform, "mailouts")
    refused = cli(platform, "list", token=mailer)
    assert refused.returncode == 2 and refused.stderr.startswith("refused: 403")
    assert cli(platform, "list", token="").returncode == 2
