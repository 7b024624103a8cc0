"""A platform as `make run` runs it (`python -m ops.run`: supervisor, the embedded database) on a
data directory of its own, for tests that kill or cut off its parts; and the registrations such
tests stream in, checked afterwards for what was accepted, stored and mailed."""
import os
import signal
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from ops import embedded
from ops.supervise import control_for
from tests.event_factories import registration_input
from tests.http.conftest import STAFF_TOKEN, Client, client_from_new_address, ready, start_platform, stop_platform
from tests.http.test_events_api import all_registrations, published
from tests.waiting import pace, wait_until

QUICK_SECONDS = 16  # the gateway's deadline for a service (15 s), plus the way there and back
MAX_COPIES_AFTER_A_CRASH = 25  # messages in flight when notify died, sent again with their Message-ID
REGISTRATIONS_PER_ADDRESS = 150  # then a sender moves to a new address: the public limit is 200 in 10 minutes


def recipients(smtp_sink, domain: str) -> dict[str, set[str]]:
    """Each recipient at `domain` with the Message-IDs they received."""
    received = defaultdict(set)
    for message in smtp_sink.messages_to_domain(domain):
        received[message["To"].addresses[0].addr_spec].add(message["Message-ID"])
    return received


@dataclass
class Supervised:
    url: str
    data_dir: Path

    def info(self, program: str) -> dict:
        """supervisor's state of one program (it lists them in groups: `p100:events`)."""
        return next(i for i in control_for(self.data_dir).supervisor.getAllProcessInfo() if i["name"] == program)

    def pid(self, program: str) -> int:
        return self.info(program)["pid"]

    def running(self, program: str, not_pid: int = 0) -> bool:
        info = self.info(program)
        return info["statename"] == "RUNNING" and info["pid"] not in (0, not_pid)

    def pids(self) -> dict[str, int]:
        return {info["name"]: info["pid"] for info in control_for(self.data_dir).supervisor.getAllProcessInfo()}

    def staff(self) -> Client:
        return Client(self.url, STAFF_TOKEN)

    def restart(self, program: str) -> int:
        """Stop `program` as supervisor stops it (SIGTERM; it must exit by itself within the
        stop's grace, not be killed) and start it again; its new pid, once supervisor counts it
        running."""
        control, name = control_for(self.data_dir), f"{self.info(program)['group']}:{program}"
        control.supervisor.stopProcess(name, True)
        stopped = self.info(program)
        assert stopped["exitstatus"] == 0, f"{program} did not stop by itself: {stopped['description']}"
        control.supervisor.startProcess(name, True)
        return self.pid(program)

    def gateway_workers(self) -> set[int]:
        """The pids of gunicorn's workers: the children of the gateway's master process."""
        master = self.pid("gateway")
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        return {int(pid) for pid in children}

    def restart_gateway_worker(self, worker: int, workers: int) -> int:
        """SIGTERM one gunicorn worker (it finishes its requests); the pid of the worker gunicorn
        starts in its place, once there are `workers` again."""
        before = self.gateway_workers()
        os.kill(worker, signal.SIGTERM)
        wait_until(lambda: worker not in self.gateway_workers() and len(self.gateway_workers()) == workers,
                   timeout=60, interval=0.2, message=f"gateway worker {worker} replaced")
        (new,) = self.gateway_workers() - before
        return new


@contextmanager
def supervised_platform(data_dir: Path, env: dict, amqp_uri: str, smtp_url: str, **settings: str):
    """`settings`: more of the environment, e.g. SERVICE_REPLICAS="2"."""
    port = embedded.free_port()
    env = {**env, **settings, "AMQP_URI": amqp_uri, "GATEWAY_BIND": f"127.0.0.1:{port}", "BOOTSTRAP_STAFF_TOKEN": STAFF_TOKEN,
           "DEMO_DATA": "0", "DATA_DIR": str(data_dir), "SMTP_URL": smtp_url, "PUBLIC_URL": f"http://127.0.0.1:{port}"}
    env.pop("MONGO_URI", None)
    process = start_platform(env, data_dir / "platform.log")
    platform = Supervised(f"http://127.0.0.1:{port}", data_dir)
    try:
        wait_until(lambda: ready(platform.url) or process.poll() is not None, timeout=120, message="platform ready")
        assert process.poll() is None, (data_dir / "platform.log").read_text()[-5000:]
        yield platform
    finally:
        stop_platform(process)


@dataclass
class Stream:
    """Registrations sent by several clients at once, each from an address of its own."""

    platform: Supervised
    event: dict
    domain: str
    senders: int
    sessions: int
    answers: list = field(default_factory=list)  # (status or 0 for no answer, e-mail, seconds, body)
    started: dict = field(default_factory=dict)  # e-mail -> when its request was sent (monotonic)
    stopped: threading.Event = field(default_factory=threading.Event)

    def stop(self):
        """No more registrations after those under way."""
        self.stopped.set()

    def register(self, n: int, client: Client):
        email, started = f"p{n}@{self.domain}", time.monotonic()
        self.started[email] = started
        try:
            response = client.post(f"/api/v1/events/{self.event['id']}/registrations", timeout=60,
                                   json=registration_input(email, sessions=[f"s{n % self.sessions + 1}"]))
            body = response.json() if response.status_code in (201, 503) else {"text": response.text[:300]}
            self.answers.append((response.status_code, email, time.monotonic() - started, body))
        except requests.RequestException as error:
            self.answers.append((0, email, time.monotonic() - started, {"error": repr(error)}))

    def answered_during(self, since: float, until: float) -> list[tuple[int, float]]:
        """(status, seconds from `since` or from its sending, whichever is later, to its answer) of
        each request that was waiting for its answer at some moment between `since` and `until`."""
        waited = []
        for code, email, seconds, _ in self.answers:
            sent = self.started[email]
            if sent < until and sent + seconds > since:
                waited.append((code, sent + seconds - max(sent, since)))
        return waited

    def accepted(self) -> dict[str, dict]:
        return {email: body for code, email, _, body in self.answers if code == 201}


@contextmanager
def registrations(platform: Supervised, count: int, seats: int, sessions: int = 10, senders: int = 8,
                  pause: float = 0.0):
    """Streams `count` registrations into a new event while the `with` body runs, and until all are
    sent unless the body calls `stream.stop()`; `pause` slows each sender down, so that the stream
    outlasts an outage."""
    event = published(platform.staff(), capacities=(seats,) * sessions)
    stream = Stream(platform, event, f"{uuid.uuid4().hex[:10]}.example.cz", senders, sessions)
    clients = [client_from_new_address(platform.url) for _ in range(senders)]

    def send(sender: int):
        for sent, n in enumerate(range(sender, count, senders), start=1):
            if stream.stopped.is_set():
                return
            stream.register(n, clients[sender])
            if sent % REGISTRATIONS_PER_ADDRESS == 0:
                clients[sender] = client_from_new_address(platform.url)
            pace(pause)

    with ThreadPoolExecutor(senders) as pool:
        for sender in range(senders):
            pool.submit(send, sender)
        yield stream


def assert_nothing_lost_or_doubled(stream: Stream, smtp_sink, lost_connections: int = 0, mail_timeout: float = 240,
                                   copies_allowed: int = MAX_COPIES_AFTER_A_CRASH):
    """Every answer was quick and a 201 or a 503; every 201 is stored; each stored registration
    got exactly one mail (at most `copies_allowed` sent again with its Message-ID); each session's
    counters equal its stored rows."""
    statuses = {code for code, *_ in stream.answers}
    assert statuses <= {201, 503, 0}, [a for a in stream.answers if a[0] not in (201, 503, 0)][:5]
    assert sum(a[0] == 0 for a in stream.answers) <= lost_connections, [a for a in stream.answers if a[0] == 0][:5]
    slowest = sorted(stream.answers, key=lambda answer: answer[2])[-5:]
    assert slowest[-1][2] < QUICK_SECONDS, [(code, round(elapsed, 1), body) for code, _, elapsed, body in slowest]
    accepted = stream.accepted()
    staff = stream.platform.staff()
    stored = all_registrations(staff, stream.event["id"])
    by_email = {r["email"]: r for r in stored}
    assert len(by_email) == len(stored)
    assert accepted.keys() <= by_email.keys(), sorted(accepted.keys() - by_email.keys())[:5]
    assert all(by_email[email]["id"] == body["id"] for email, body in accepted.items())

    wait_until(lambda: recipients(smtp_sink, stream.domain).keys() >= by_email.keys(), timeout=mail_timeout,
               message="a mail to every registered person")
    received = recipients(smtp_sink, stream.domain)
    assert received.keys() == by_email.keys()
    # Exactly one message each: a copy sent again after a crash carries the same Message-ID.
    assert all(len(message_ids) == 1 for message_ids in received.values()), {
        to: ids for to, ids in received.items() if len(ids) > 1}
    assert len(set().union(*received.values())) == len(received)
    copies = smtp_sink.count(stream.domain) - len(received)
    assert copies <= copies_allowed, f"{copies} messages were sent twice"

    for session in staff.get(f"/api/v1/events/{stream.event['id']}/detail").json()["sessions"]:
        rows = [r for r in stored if r["sessions"][0]["id"] == session["id"]]
        confirmed = sum(r["status"] == "confirmed" for r in rows)
        assert session["capacity"] - session["seats_left"] == confirmed <= session["capacity"]
        assert session["waiting"] == len(rows) - confirmed
    return accepted
