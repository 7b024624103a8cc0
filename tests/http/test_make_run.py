"""What `make run` promises, run as a person runs it: `make run` in a fresh copy of the project.

The first run installs into the copy's own `.venv`; every run must serve the platform, stop on
a signal with nothing left behind, and end with make's documented exit status.
"""
import os
import shutil
import signal
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

from nszm import czech
from ops import demo_data, embedded
from ops.rabbit import drop_vhost, make_vhost
from tests.conftest import ROOT
from tests.http.conftest import ready
from tests.waiting import wait_until

LAUNCHER_DONE = "[nszm] stopped everything; exit status 0"
MAKE_VARIABLES = ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES", "PYTHONPATH", "VIRTUAL_ENV")


def processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


@pytest.fixture(scope="module")
def fresh_copy(tmp_path_factory) -> Path:
    """The project's files as a clone has them: no `.venv`, no `var`."""
    copy = tmp_path_factory.mktemp("checkout") / "nszm"
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    assert not (copy / ".venv").exists()
    return copy


class MakeRun:
    """`make run` in its own session (a terminal's foreground job), with a marker to find its processes."""

    def __init__(self, copy: Path, tmp_path: Path, **settings):
        self.vhost = f"nszm-run-{uuid.uuid4().hex[:8]}"
        self.marker = uuid.uuid4().hex
        self.url = f"http://127.0.0.1:{embedded.free_port()}"
        env = {k: v for k, v in os.environ.items() if k not in MAKE_VARIABLES and k != "MONGO_URI"}
        env.update(AMQP_URI=make_vhost(self.vhost), GATEWAY_BIND=self.url.removeprefix("http://"),
                   DATA_DIR=str(tmp_path / "var"), NSZM_TEST_RUN=self.marker, **settings)
        self.log_path = tmp_path / "make-run.log"
        self.process = subprocess.Popen(["make", "run"], cwd=copy, env=env, stdout=open(self.log_path, "wb"),
                                        stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=as_in_a_terminal)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float):
        wait_until(lambda: ready(self.url) or self.process.poll() is not None, timeout=timeout, message="/readyz 200")
        assert self.process.poll() is None, self.log()[-5000:]

    def leftovers(self) -> list[int]:
        return processes_with(f"NSZM_TEST_RUN={self.marker}")

    def clean_up(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        for pid in self.leftovers():
            os.kill(pid, signal.SIGKILL)
        drop_vhost(self.vhost)


def as_in_a_terminal():
    """Ctrl-C as a terminal delivers it: a suite started in the background of a script inherits
    SIGINT ignored (POSIX shells do that to background jobs), and make would ignore it too."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def assert_stopped_cleanly(run: MakeRun, expected_make_status: int):
    assert run.process.wait(timeout=90) == expected_make_status, run.log()[-3000:]
    wait_until(lambda: not run.leftovers(), timeout=20, message="every process gone")
    assert LAUNCHER_DONE in run.log(), run.log()[-3000:]


def test_make_run_installs_serves_the_demo_and_stops_on_ctrl_c(fresh_copy, tmp_path):
    run = MakeRun(fresh_copy, tmp_path)
    try:
        run.wait_ready(timeout=400)  # the first run creates the virtualenv and installs into it
        assert (fresh_copy / ".venv" / "bin" / "nameko").exists()
        listing = requests.get(run.url + "/api/v1/members", params={"per_page": 100}, timeout=10).json()
        names = [m["name"] for m in listing["items"]]
        assert listing["total"] == len(demo_data.MEMBERS)
        assert names == sorted(names, key=czech.sort_key)
        assert names.index("Hradec Králové") < names.index("Chrudim") < names.index("Jablonec nad Nisou")
        assert (tmp_path / "var" / "mongo").is_dir()
        events = requests.get(run.url + "/api/v1/events", timeout=10).json()
        assert events["total"] == len(demo_data.EVENTS)
        assert any(e["type"] == "school" and len(e["sessions"]) == 3 for e in events["items"])
        assert requests.get(run.url + "/api/v1/practices", timeout=10).json()["total"] == len(demo_data.PRACTICES)
        contests = {c["title"]: c for c in requests.get(run.url + "/api/v1/competitions", timeout=10).json()["items"]}
        assert contests["NEJpraxe 2025"]["status"] == "closed" and contests["NEJpraxe 2025"]["total_votes"] == 301
        assert contests["NEJpraxe 2026"]["status"] == "open" and contests["NEJpraxe 2026"]["total_votes"] is None
        assert len(run.leftovers()) >= 8  # make, launcher, database, four services, gateway

        os.killpg(run.process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        assert_stopped_cleanly(run, -signal.SIGINT)  # make re-raises the interrupt: a shell shows 130
    finally:
        run.clean_up()


@pytest.mark.parametrize("sig, to_group, make_status", [
    (signal.SIGTERM, False, -signal.SIGTERM),  # `kill <make's pid>`: a shell shows 143
    (signal.SIGTERM, True, -signal.SIGTERM),  # a service manager stopping the whole group
    (signal.SIGKILL, False, -signal.SIGKILL),  # make killed outright: the platform stops with its parent
], ids=["sigterm-to-make", "sigterm-to-group", "sigkill-to-make"])
def test_make_run_stops_everything_on_a_signal_to_make(fresh_copy, tmp_path, sig, to_group, make_status):
    run = MakeRun(fresh_copy, tmp_path, DEMO_DATA="0")
    try:
        run.wait_ready(timeout=120)
        assert requests.get(run.url + "/api/v1/members", timeout=10).json()["total"] == 0
        (os.killpg if to_group else os.kill)(run.process.pid, sig)
        assert_stopped_cleanly(run, make_status)
    finally:
        run.clean_up()
