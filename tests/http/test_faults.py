"""Faults under load: one part of a supervised platform is SIGKILLed while 500 registrations
stream in, and it comes back by itself.

The platform runs as `make run` runs it (`python -m ops.run`, supervisor, the embedded
database), on its own vhost and data directory. Meanwhile the gateway answers every request
quickly, with a 201 or a 503, never a 500 and never a hang; afterwards every 201 has its stored
registration, every stored registration got exactly one mail (distinct Message-IDs at a real
SMTP server), and each session's counters equal its stored rows.
"""
import os
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from ops import embedded
from ops.rabbit import drop_vhost, make_vhost
from ops.supervise import control_for
from tests.event_factories import registration_input
from tests.http.conftest import STAFF_TOKEN, Client, client_from_new_address, ready, start_platform, stop_platform
from tests.http.test_events_api import all_registrations, published
from tests.waiting import wait_until

REGISTRATIONS = 500
SESSIONS = 10
SEATS = 40  # 400 seats for 500 people: the last ones wait
SENDERS = 8
KILL_AFTER = 120  # answers before the SIGKILL
QUICK_SECONDS = 16  # the gateway's own deadline for a service (15 s), plus the way there and back


@dataclass
class Supervised:
    url: str
    data_dir: Path
    process: object

    def pid(self, program: str) -> int:
        return control_for(self.data_dir).supervisor.getProcessInfo(program)["pid"]

    def running(self, program: str, not_pid: int) -> bool:
        info = control_for(self.data_dir).supervisor.getProcessInfo(program)
        return info["statename"] == "RUNNING" and info["pid"] not in (0, not_pid)


@pytest.fixture(scope="module")
def supervised(tmp_path_factory, subprocess_env, smtp_sink):
    vhost = f"nszm-faults-{uuid.uuid4().hex[:8]}"
    port = embedded.free_port()
    data_dir = tmp_path_factory.mktemp("faults")
    env = {**subprocess_env, "AMQP_URI": make_vhost(vhost), "GATEWAY_BIND": f"127.0.0.1:{port}",
           "BOOTSTRAP_STAFF_TOKEN": STAFF_TOKEN, "DEMO_DATA": "0", "DATA_DIR": str(data_dir),
           "SMTP_URL": smtp_sink.url, "PUBLIC_URL": f"http://127.0.0.1:{port}"}
    process = start_platform(env, data_dir / "platform.log")
    platform = Supervised(f"http://127.0.0.1:{port}", data_dir, process)
    try:
        wait_until(lambda: ready(platform.url) or process.poll() is not None, timeout=120, message="platform ready")
        assert process.poll() is None, (data_dir / "platform.log").read_text()[-5000:]
        yield platform
    finally:
        stop_platform(process)
        drop_vhost(vhost)


def gunicorn_worker(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    assert children, "the gateway has no worker"
    return int(children[0])


def kill(platform: Supervised, victim: str) -> tuple[str, int]:
    """SIGKILL one part; returns the supervised program that has to come back and its old pid."""
    if victim == "gateway-worker":  # gunicorn's master starts a new one
        master = platform.pid("gateway")
        worker = gunicorn_worker(master)
        os.kill(worker, signal.SIGKILL)
        wait_until(lambda: gunicorn_worker(master) != worker, timeout=30, message="a new gateway worker")
        return "gateway", 0
    pid = platform.pid(victim)
    os.kill(pid, signal.SIGKILL)
    return victim, pid


@pytest.mark.parametrize("victim", ["events", "notify", "gateway-worker", "mongo"])
def test_a_part_killed_under_load_comes_back_and_nothing_accepted_is_lost_or_doubled(supervised, smtp_sink, victim):
    staff = Client(supervised.url, STAFF_TOKEN)
    event = published(staff, capacities=(SEATS,) * SESSIONS)
    domain = f"{victim}-{uuid.uuid4().hex[:8]}.example.cz"
    clients = [client_from_new_address(supervised.url) for _ in range(SENDERS)]
    answers: list[tuple[int, str, float, dict | None]] = []

    def register(n: int):
        email, started = f"p{n}@{domain}", time.monotonic()
        try:
            response = clients[n % SENDERS].post(
                f"/api/v1/events/{event['id']}/registrations", timeout=60,
                json=registration_input(email, sessions=[f"s{n % SESSIONS + 1}"]))
            body = response.json() if response.status_code in (201, 503) else {"text": response.text[:300]}
            answers.append((response.status_code, email, time.monotonic() - started, body))
        except requests.RequestException as error:
            answers.append((0, email, time.monotonic() - started, {"error": repr(error)}))

    with ThreadPoolExecutor(SENDERS) as pool:
        for n in range(REGISTRATIONS):
            pool.submit(register, n)
        wait_until(lambda: len(answers) >= KILL_AFTER, timeout=120, message="registrations under way")
        program, old_pid = kill(supervised, victim)
    wait_until(lambda: supervised.running(program, old_pid), timeout=60, message=f"{program} back")
    wait_until(lambda: ready(supervised.url), timeout=60, message="the platform ready again")

    statuses = {code for code, *_ in answers}
    lost_connections = [a for a in answers if a[0] == 0]
    assert statuses <= {201, 503, 0}, [a for a in answers if a[0] not in (201, 503, 0)][:5]
    assert len(lost_connections) <= (SENDERS if victim == "gateway-worker" else 0), lost_connections[:5]
    assert max(elapsed for _, _, elapsed, _ in answers) < QUICK_SECONDS
    accepted = {email: body for code, email, _, body in answers if code == 201}
    assert len(accepted) >= REGISTRATIONS - 200, f"only {len(accepted)} accepted"

    stored = wait_until(lambda: (lambda rows: rows if accepted.keys() <= {r["email"] for r in rows} else None)(
        all_registrations(staff, event["id"])), timeout=30, message="every 201 stored")
    assert len({r["email"] for r in stored}) == len(stored)
    by_email = {r["email"]: r for r in stored}
    assert all(by_email[email]["id"] == body["id"] for email, body in accepted.items())

    wait_until(lambda: smtp_sink.count(domain) >= len(stored), timeout=240, message="a mail for every registration")
    mails = smtp_sink.messages_to_domain(domain)
    assert sorted(m["To"].addresses[0].addr_spec for m in mails) == sorted(by_email)  # exactly one each
    assert len({m["Message-ID"] for m in mails}) == len(mails)

    sessions = staff.get(f"/api/v1/events/{event['id']}/detail").json()["sessions"]
    for session in sessions:
        rows = [r for r in stored if r["sessions"][0]["id"] == session["id"]]
        confirmed = sum(r["status"] == "confirmed" for r in rows)
        assert session["capacity"] - session["seats_left"] == confirmed <= SEATS
        assert session["waiting"] == len(rows) - confirmed
