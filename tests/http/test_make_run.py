"""What `make run` promises: embedded database, demo data, readiness, and a clean stop."""
import os
import signal
import uuid
from pathlib import Path

import requests

from nszm import czech
from ops import demo_data, embedded
from ops.rabbit import drop_vhost, make_vhost
from tests.http.conftest import ready, start_platform
from tests.waiting import wait_until


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


def test_run_serves_demo_members_and_stops_cleanly_on_ctrl_c(tmp_path, subprocess_env):
    vhost = f"nszm-run-{uuid.uuid4().hex[:8]}"
    marker = f"NSZM_TEST_RUN={uuid.uuid4().hex}"
    port = embedded.free_port()
    env = {**subprocess_env, "AMQP_URI": make_vhost(vhost), "GATEWAY_BIND": f"127.0.0.1:{port}",
           "DATA_DIR": str(tmp_path / "var"), marker.split("=")[0]: marker.split("=")[1]}
    env.pop("DEMO_DATA", None)
    url = f"http://127.0.0.1:{port}"
    process = start_platform(env, tmp_path / "run.log")
    try:
        wait_until(lambda: ready(url) or process.poll() is not None, timeout=60, message="/readyz 200")
        assert process.poll() is None, (tmp_path / "run.log").read_text()

        listing = requests.get(url + "/api/v1/members", params={"per_page": 100}, timeout=10).json()
        names = [m["name"] for m in listing["items"]]
        assert listing["total"] == len(demo_data.MEMBERS)
        assert names == sorted(names, key=czech.sort_key)
        assert names.index("Hradec Králové") < names.index("Chrudim") < names.index("Jablonec nad Nisou")
        assert (tmp_path / "var" / "mongo").is_dir()
        events = requests.get(url + "/api/v1/events", timeout=10).json()
        assert events["total"] == len(demo_data.EVENTS)
        assert any(e["type"] == "school" and len(e["sessions"]) == 3 for e in events["items"])
        assert requests.get(url + "/api/v1/practices", timeout=10).json()["total"] == len(demo_data.PRACTICES)
        contests = {c["title"]: c for c in requests.get(url + "/api/v1/competitions", timeout=10).json()["items"]}
        assert contests["NEJpraxe 2025"]["status"] == "closed" and contests["NEJpraxe 2025"]["total_votes"] == 301
        assert contests["NEJpraxe 2026"]["status"] == "open" and contests["NEJpraxe 2026"]["total_votes"] is None
        assert len(processes_with(marker)) >= 7  # launcher, database, four services, gateway

        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        assert process.wait(timeout=60) == 0
        wait_until(lambda: not processes_with(marker), timeout=15, message="every process gone")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        for pid in processes_with(marker):
            os.kill(pid, signal.SIGKILL)
        drop_vhost(vhost)


def test_run_keeps_data_and_skips_demo_when_asked(tmp_path, subprocess_env):
    vhost = f"nszm-run-{uuid.uuid4().hex[:8]}"
    port = embedded.free_port()
    env = {**subprocess_env, "AMQP_URI": make_vhost(vhost), "GATEWAY_BIND": f"127.0.0.1:{port}",
           "DATA_DIR": str(tmp_path / "var"), "DEMO_DATA": "0"}
    url = f"http://127.0.0.1:{port}"
    process = start_platform(env, tmp_path / "run.log")
    try:
        wait_until(lambda: ready(url) or process.poll() is not None, timeout=60, message="/readyz 200")
        assert requests.get(url + "/api/v1/members", timeout=10).json()["total"] == 0
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        drop_vhost(vhost)
