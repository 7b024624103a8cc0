"""Benchmark the platform as `make run` starts it: throughput, latency and memory.

It boots `python -m ops.run` (embedded SecantusDB, demo data) on a private RabbitMQ vhost,
drives the gateway from a pool of client threads, and prints figures and ratios. The
write phase doubles as the proof that pymongo holds up inside `nameko run` under eventlet:
every request must succeed and the stored counts must equal the accepted requests.

    python -m bench.run [--requests 2000] [--concurrency 16]
    python -m bench.run --soak          # 10 minutes of mixed load: memory must stay flat
"""
import argparse
import email
import email.policy
import json
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import requests

from bench import http_load, rpc_roundtrip, skeleton
from bench.browser import TRANSPORT_ERRORS, Browser
from nszm.storage import connect
from ops import embedded, rabbit
from ops.loopback import loopback_address
from services.members.domain import ICO_WEIGHTS

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench_" + uuid.uuid4().hex


def valid_ico(n: int) -> str:
    prefix = f"{9_000_000 + n:07d}"
    remainder = sum(int(d) * w for d, w in zip(prefix, ICO_WEIGHTS)) % 11
    return prefix + str((11 - remainder) % 10)


class Load:
    """Runs one request function many times from a thread pool; records latencies and failures."""

    def __init__(self, base_url: str, concurrency: int):
        self.base_url = base_url
        self.concurrency = concurrency
        self.local = threading.local()

    def session(self, address: str | None = None) -> requests.Session | Browser:
        """This thread's session; a person's browser from `address` of 127.0.0.0/8 if given."""
        if address:
            return Browser(address)
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session

    def run(self, name: str, count: int, call, clients: int = 0, quiet: bool = False, block: int = 201) -> dict:
        """`count` calls of `call(session, i)`; with `clients`, the i-th comes from the (i % clients)-th
        of that many client addresses: public writes are limited per address, as for real clients."""
        latencies, failures, statuses = [], [], {}

        def one(i):
            started = time.perf_counter()
            try:
                status = call(self.session(loopback_address(i % clients, block=block) if clients else None), i)
            except (requests.RequestException, *TRANSPORT_ERRORS) as error:
                failures.append(repr(error))
                return
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1

        started = time.perf_counter()
        with ThreadPoolExecutor(self.concurrency) as pool:
            list(pool.map(one, range(count)))
        elapsed = time.perf_counter() - started
        in_ms = sorted(latency * 1000 for latency in latencies)
        result = {"phase": name, "requests": count, "seconds": elapsed, "rps": count / elapsed,
                  "p50_ms": percentile(in_ms, 0.50), "p95_ms": percentile(in_ms, 0.95),
                  "p99_ms": percentile(in_ms, 0.99),
                  "mean_ms": statistics.fmean(latencies) * 1000 if latencies else float("nan"),
                  "statuses": statuses, "failures": len(failures)}
        if not quiet:
            print(f"{name:<28} {count:>6} req {elapsed:7.2f} s {result['rps']:8.1f} req/s   "
                  f"p50 {result['p50_ms']:6.1f} ms  p95 {result['p95_ms']:6.1f} ms  p99 {result['p99_ms']:6.1f} ms   "
                  f"statuses {statuses}  transport failures {len(failures)}", flush=True)
        return result


def wait_for_mails(data_dir: Path, quiet: float = 3, timeout: float = 300):
    """Until no new mail has arrived in the Maildir for `quiet` seconds: a burst's mails are out."""
    new = data_dir / "mail" / "new"
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        count = len(list(new.glob("*"))) if new.exists() else 0
        if count != last:
            last, since = count, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.5)


def mailed_vote_tokens(data_dir: Path, expected: int, timeout: float = 120) -> list[str]:
    """The confirmation tokens of the vote mails in the Maildir, once `expected` have arrived."""
    new = data_dir / "mail" / "new"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = list(new.glob("*")) if new.exists() else []
        tokens = []
        for path in files:
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            body = message.get_body(("plain",)).get_content()
            tokens += re.findall(r"/api/v1/votes/confirm\?token=([A-Za-z0-9_-]+)", body)
        if len(tokens) >= expected:
            return tokens
        time.sleep(0.5)
    raise RuntimeError(f"only {len(tokens)} of {expected} vote mails arrived")


def published_event(base: str, staff: dict, title: str, day: str, capacity: int) -> dict:
    """A published one-session training on `day`, 9:00 to 16:00 Prague time."""
    starts, ends = f"{day}T09:00:00+01:00", f"{day}T16:00:00+01:00"
    event = requests.post(base + "/api/v1/events", headers=staff, timeout=30, json={
        "title": title, "type": "training", "starts_at": starts, "ends_at": ends, "venue": {"name": "Sál"},
        "sessions": [{"title": "Sál", "starts_at": starts, "ends_at": ends, "capacity": capacity}]}).json()
    requests.post(base + f"/api/v1/events/{event['id']}/publish", headers=staff, timeout=30)
    return event


def listener_latency(base: str, staff: dict, amqp_uri: str, rate: float = 50, count: int = 250) -> dict:
    """Registrations at `rate` per second; for each, the time from its 201 to the example listener
    (pika, a process of its own) printing its event."""
    listener = subprocess.Popen([sys.executable, str(ROOT / "examples" / "registration_listener.py")],
                                env={**os.environ, "AMQP_URI": amqp_uri, "LISTENER_QUEUE": "bench.listener"},
                                stdout=subprocess.PIPE, text=True)
    arrived: dict[str, float] = {}
    try:
        assert listener.stdout.readline().strip() == "ready"

        def read():
            for line in listener.stdout:
                arrived.setdefault(json.loads(line)["registration"], time.perf_counter())

        threading.Thread(target=read, daemon=True).start()
        event = published_event(base, staff, "Latency", "2031-02-10", capacity=5000)
        answered: dict[str, float] = {}
        sent: dict[str, float] = {}

        def register(i: int):
            started = time.perf_counter()
            client = Browser(loopback_address(i, block=202))  # each from an address of its own, as people register
            response = client.post(base + f"/api/v1/events/{event['id']}/registrations", timeout=30, json={
                "name": "Posluchač", "email": f"latency{i}@example.cz", "organization": "Obec", "sessions": ["s1"]})
            if response.status_code == 201:
                answered[response.json()["id"]] = time.perf_counter()
                sent[response.json()["id"]] = started

        started = time.perf_counter()
        with ThreadPoolExecutor(16) as pool:
            for i in range(count):
                time.sleep(max(0.0, started + i / rate - time.perf_counter()))
                pool.submit(register, i)
        deadline = time.perf_counter() + 30
        while len(set(answered) & set(arrived)) < len(answered) and time.perf_counter() < deadline:
            time.sleep(0.05)
    finally:
        listener.terminate()
        listener.wait(timeout=10)
    heard = [r for r in answered if r in arrived]
    after_201 = sorted((arrived[r] - answered[r]) * 1000 for r in heard)
    after_request = sorted((arrived[r] - sent[r]) * 1000 for r in heard)
    return {"sent": count, "answered": len(answered), "heard": len(heard),
            "p50_ms": percentile(after_201, 0.5), "p99_ms": percentile(after_201, 0.99),
            "request_p50_ms": percentile(after_request, 0.5), "request_p99_ms": percentile(after_request, 0.99)}


def percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, int(share * len(values)))] if values else float("nan")


PROCESS_LABELS = ("secantusd", "MembersService", "EventsService", "PracticeService", "NotifyService", "gunicorn",
                  "supervisorctl", "supervisord", "ops.run", "ops.prepare")


def by_process(marker: str, measure) -> dict[str, float]:
    """`measure(/proc/<pid>)` of every process started for this run, by command."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() not in (entry / "environ").read_bytes():
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            value = measure(entry)
        except (OSError, StopIteration, IndexError):
            continue
        label = next((word for word in PROCESS_LABELS if word in cmdline), cmdline[:40])
        found[f"{label} ({entry.name})"] = value
    return found


def rss_by_process(marker: str) -> dict[str, float]:
    """Resident memory (KiB) of every process started for this run."""
    return by_process(marker, lambda entry: next(int(line.split()[1]) for line in (entry / "status").read_text()
                                                 .splitlines() if line.startswith("VmRSS:")))


def cpu_by_process(marker: str) -> dict[str, float]:
    """CPU seconds (user and system) every process started for this run has used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    return by_process(marker, lambda entry: sum(
        int(field) for field in (entry / "stat").read_text().rsplit(")", 1)[1].split()[11:13]) / ticks)


READS = ("/healthz", "/api/v1/members", "/api/v1/members?q=kraj", "/api/v1/members/stats", "/api/v1/events",
         "/api/v1/practices?q=zdravi", "/api/v1/competitions", "/feeds/news.atom", "/feeds/events.ics")


def start_platform(data_dir: Path, env: dict) -> subprocess.Popen:
    log = open(data_dir / "platform.log", "wb")
    return subprocess.Popen([sys.executable, "-m", "ops.run"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(base: str, timeout: float = 90) -> bool:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            if requests.get(base + "/readyz", timeout=2).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.2)
    return False


def minimal_app_rps(env: dict) -> dict:
    """The minimal WSGI app under the gateway's gunicorn settings (its own port), measured alike."""
    port = embedded.free_port()
    app = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py", "bench.minimal:app"],
                           cwd=ROOT, env={**env, "GATEWAY_BIND": f"127.0.0.1:{port}"},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if rabbit.port_open("127.0.0.1", port):
                break
            time.sleep(0.1)
        return http_load.measure(f"http://127.0.0.1:{port}/")
    finally:
        app.terminate()
        app.wait(timeout=30)


def print_reads(base: str, env: dict) -> list[dict]:
    """Each public read as a share of the minimal app, measured before and after the reads (the
    higher of the two counts: the platform's background work must not flatter the ratio)."""
    if not http_load.wrk_available():
        print("wrk is not installed (Debian: apt-get install -y wrk); measuring with Python threads instead")
    before = minimal_app_rps(env)
    results = []
    for path in READS:
        requests.get(base + path, timeout=30)  # the first read fills the cache
        results.append({"path": path, **http_load.measure(base + path)})
    floor = max(before, minimal_app_rps(env), key=lambda result: result["rps"])
    print(f"reads, {http_load.CONNECTIONS} connections, {http_load.SECONDS} s each ({floor['tool']}); "
          f"minimal WSGI app under the same gunicorn settings: {floor['rps']:.0f} req/s")
    for result in results:
        result["share"] = result["rps"] / floor["rps"]
        print(f"  GET {result['path']:<30} {result['rps']:8.0f} req/s  {result['share']:6.0%} of the minimal app   "
              f"p50 {result['p50_ms']:6.1f} ms  p99 {result['p99_ms']:6.1f} ms  non-2xx/3xx {result['bad']}",
              flush=True)
    return results


def rush(base: str, staff: dict, name: str, people: int, sessions: int, day: str, at_once: int
         ) -> tuple[dict, list]:
    """`people` registering, `at_once` of them at a time, for `sessions` sessions of 50 seats, each
    person for one session from an address of their own; the timings and the sessions' counters."""
    events = [published_event(base, staff, f"{name} {n}", day, capacity=50) for n in range(sessions)]
    crowd = Load(base, concurrency=at_once)
    result = crowd.run(name, people, lambda s, i: s.post(
        base + f"/api/v1/events/{events[i % sessions]['id']}/registrations", timeout=60,
        json={"name": "Účastník", "email": f"{name.split()[0]}{i}@example.cz", "organization": "Obec",
              "sessions": ["s1"]}).status_code, clients=people)
    counters = [requests.get(base + f"/api/v1/events/{e['id']}", timeout=30).json()["sessions"][0] for e in events]
    return result, counters


def skeleton_rushes(env: dict, marker: str) -> dict:
    """The stack's skeleton of a registration (`bench/skeleton.py`) under the same crowds as the
    platform's rushes: 200 at once, and 1,000 with 100 at a time; and its CPU per request."""
    env = {**env, "NSZM_BENCH_SKELETON": marker}
    with skeleton.running(env) as (base, _):
        def crowd(name: str, people: int, at_once: int, block: int) -> dict:
            return Load(base, concurrency=at_once).run(name, people, lambda s, i: s.post(
                base + "/", timeout=60, json={"name": "Účastník", "email": f"kostra{block}.{i}@example.cz",
                                              "organization": "Obec", "sessions": ["s1"]}).status_code,
                clients=people, block=block)

        crowd("skeleton warm-up", 200, 100, block=204)
        one = crowd("skeleton, 200 at once", 200, 200, block=205)
        before = cpu_by_process(f"NSZM_BENCH_SKELETON={marker}")
        many = crowd("skeleton, 1000 (100 at a time)", 1000, 100, block=206)
        cpu = sum(seconds - before.get(name, 0.0) for name, seconds in
                  cpu_by_process(f"NSZM_BENCH_SKELETON={marker}").items())
    return {"one": one, "many": many, "cpu_ms": cpu * 1000 / many["requests"]}


def soak(base: str, staff: dict, marker: str, minutes: float) -> int:
    """Mixed load for `minutes`; every process's resident memory, sampled every 30 s, must stay
    flat (within 5 % once the first third is over), the database's apart: its cache fills with
    the data the soak writes, up to its configured size."""
    load = Load(base, concurrency=8)
    event = published_event(base, staff, "Soak", "2031-03-10", capacity=100_000)
    samples, stop, served = [], threading.Event(), [0, 0]

    def traffic():
        i = 0
        while not stop.is_set():
            reads = load.run("soak reads", 200, lambda s, n: s.get(base + READS[n % len(READS)], timeout=30)
                             .status_code, quiet=True)
            writes = load.run("soak writes", 20, lambda s, n: s.post(
                base + f"/api/v1/events/{event['id']}/registrations", timeout=60,
                json={"name": "Vytrvalec", "email": f"soak{i}-{n}@example.cz", "organization": "Obec",
                      "sessions": ["s1"]}).status_code, clients=20, quiet=True)
            served[0] += reads["requests"]
            served[1] += writes["statuses"].get(201, 0)
            i += 1

    worker = threading.Thread(target=traffic, daemon=True)
    worker.start()
    started = time.perf_counter()
    while time.perf_counter() - started < minutes * 60:
        memory = rss_by_process(marker)
        platform = sum(kib for name, kib in memory.items() if not name.startswith("secantusd")) / 1024
        database = sum(kib for name, kib in memory.items() if name.startswith("secantusd")) / 1024
        samples.append(platform)
        print(f"  soak {time.perf_counter() - started:5.0f} s: services, gateway and supervisor {platform:7.1f} MiB, "
              f"database {database:6.1f} MiB; {served[0]} reads, {served[1]} registrations", flush=True)
        time.sleep(30)
    stop.set()
    worker.join(timeout=120)
    settled = samples[len(samples) // 3:]  # after the caches and pools have filled
    growth = (settled[-1] - settled[0]) / settled[0] if len(settled) > 1 else 0.0
    print(f"soak: services, gateway and supervisor {samples[0]:.0f} -> {samples[-1]:.0f} MiB; after the first "
          f"third {growth:+.1%} (flat: within 5 %)")
    return 0 if abs(growth) <= 0.05 else 1


@contextmanager
def running_platform():
    """`make run`'s platform on a private vhost and port with the bench's staff token, until the
    block ends: (base URL, its environment, data directory, the marker of its processes as key and
    value); the URL is None, and the log printed, if it did not get ready."""
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(48))  # the bench's platform and its own calls share it
    vhost = f"nszm-bench-{uuid.uuid4().hex[:8]}"
    marker_key, marker = "NSZM_BENCH_RUN", uuid.uuid4().hex
    port = embedded.free_port()
    base = f"http://127.0.0.1:{port}"
    data_dir = Path(tempfile.mkdtemp(prefix="nszm-bench-"))
    rabbit.ensure_running(rabbit.DEFAULT_AMQP_URI)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AMQP_URI": rabbit.make_vhost(vhost), "DATA_DIR": str(data_dir),
           "GATEWAY_BIND": f"127.0.0.1:{port}", "BOOTSTRAP_STAFF_TOKEN": TOKEN, marker_key: marker}
    env.pop("MONGO_URI", None)
    process = start_platform(data_dir, env)
    try:
        boot = time.perf_counter()
        if not wait_ready(base):
            print((data_dir / "platform.log").read_text()[-3000:])
            yield None, env, data_dir, marker_key, marker
            return
        print(f"platform ready in {time.perf_counter() - boot:.1f} s on {os.cpu_count()} cores\n")
        yield base, env, data_dir, marker_key, marker
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=60)
        rabbit.drop_vhost(vhost)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--soak", action="store_true", help="only the 10-minute soak: memory must stay flat")
    parser.add_argument("--soak-minutes", type=float, default=10)
    args = parser.parse_args()

    with running_platform() as (base, env, data_dir, marker_key, marker):
        if base is None:
            return 1
        staff = {"Authorization": f"Bearer {TOKEN}"}
        if args.soak:
            return soak(base, staff, f"{marker_key}={marker}", args.soak_minutes)
        settle = time.monotonic() + 30  # until make run's start-up chores (supervisorctl, ops.prepare) are done
        while time.monotonic() < settle and any(
                name.startswith(("supervisorctl", "ops.prepare")) for name in rss_by_process(f"{marker_key}={marker}")):
            time.sleep(0.2)
        memory_idle = rss_by_process(f"{marker_key}={marker}")

        reads = print_reads(base, env)
        roundtrip = rpc_roundtrip.compare(env["AMQP_URI"])
        print(f"\nRPC round trip (median of {roundtrip['count']}): nameko {roundtrip['nameko_ms']:.2f} ms, "
              f"raw pika {roundtrip['pika_ms']:.2f} ms: {roundtrip['ratio']:.2f}x (target <= 3x)\n")

        bare = skeleton_rushes(env, marker)
        print(f"  the skeleton's processes: {bare['cpu_ms']:.2f} ms of CPU per request (RabbitMQ apart)\n")

        load = Load(base, args.concurrency)
        results = []
        writes = args.requests // 4
        ids: list[str] = []

        def apply(s, i):
            response = s.post(base + "/api/v1/membership-applications", timeout=30, json={
                "name": f"Obec {i}", "type": "municipality", "region": "Kraj Vysočina", "ico": valid_ico(i),
                "population": 500 + i, "contact": {"name": "Zkouška", "email": f"obec{i}@example.cz"}})
            if response.status_code == 201:
                ids.append(response.json()["id"])
            return response.status_code

        applications = load.run("POST membership-applications", writes, apply, clients=writes // 5)
        approvals = load.run("POST .../approve", len(ids) // 2, lambda s, i: s.post(
            base + f"/api/v1/membership-applications/{ids[i]}/approve", headers=staff, timeout=30).status_code)
        results += [applications, approvals]

        one_session, seats = rush(base, staff, "rush 200 at once, 1 session", 200, 1, "2031-01-10", at_once=200)
        wait_for_mails(data_dir)  # the first rush's mails are out
        cpu_before = cpu_by_process(f"{marker_key}={marker}")
        ten_sessions, ten_seats = rush(base, staff, "rush 1000, 10 sessions", 1000, 10, "2031-01-11", at_once=100)
        wait_for_mails(data_dir)
        cpu_used = {name: seconds - cpu_before.get(name, 0.0)
                    for name, seconds in cpu_by_process(f"{marker_key}={marker}").items()}
        results += [one_session, ten_sessions]

        # the open demo competition: votes from 100 client addresses, confirmed from the mailed links
        contest = next(c for c in requests.get(base + "/api/v1/competitions", timeout=30).json()["items"]
                       if c["status"] == "open")
        nominees = [n["practice"] for n in contest["nominees"]]
        votes, voters = 400, 300
        clients = [Browser(loopback_address(n, block=200)) for n in range(100)]
        voting = load.run("POST votes (100 addresses)", votes, lambda s, i: clients[i % 100].post(
            base + f"/api/v1/competitions/{contest['id']}/votes", timeout=60,
            json={"practice": nominees[i % voters % len(nominees)], "email": f"volic{i % voters}@example.cz"}
        ).status_code)
        tokens = mailed_vote_tokens(data_dir, votes)
        confirming = load.run("POST votes/confirm", len(tokens), lambda s, i: s.post(
            base + "/api/v1/votes/confirm", params={"token": tokens[i]}, timeout=60).status_code)
        results += [voting, confirming]
        final = requests.post(base + f"/api/v1/competitions/{contest['id']}/close", headers=staff, timeout=30).json()
        latency = listener_latency(base, staff, env["AMQP_URI"])
        memory_loaded = rss_by_process(f"{marker_key}={marker}")

        client = connect(embedded.running_uri(data_dir) or "")
        stored = client["nszm"]["members.applications"].count_documents({"ico": {"$regex": "^9"}})
        approved = client["nszm"]["members.members"].count_documents({"ico": {"$regex": "^9"}})
        unpublished = sum(client["nszm"][f"{name}.outbox"].count_documents({"pending_since": {"$exists": True}})
                          for name in ("members", "events", "practice", "notify"))
        client.close()

        print("\nconsistency under load (pymongo inside nameko run, eventlet):")
        print(f"  applications accepted {applications['statuses'].get(201, 0)}, stored {stored}")
        print(f"  approvals accepted {approvals['statuses'].get(200, 0)}, members stored {approved}")
        print(f"  1 session: {one_session['statuses'].get(201, 0)} accepted: seats left {seats[0]['seats_left']} "
              f"of {seats[0]['capacity']}, waiting {seats[0]['waiting']}")
        print(f"  10 sessions: {ten_sessions['statuses'].get(201, 0)} accepted: seats left "
              f"{sum(s['seats_left'] for s in ten_seats)}, waiting {sum(s['waiting'] for s in ten_seats)}")
        print(f"  votes accepted {voting['statuses'].get(202, 0)}, confirmation mails {len(tokens)}, "
              f"counted after closing {final['total_votes']} (distinct addresses: {voters})")
        print(f"  events still in the outbox: {unpublished}")
        errors = sum(r["failures"] + sum(n for code, n in r["statuses"].items() if code >= 500) for r in results)
        errors += sum(r["bad"] + r["socket_errors"] for r in reads)
        print(f"  5xx responses and transport failures: {errors}")

        print("\nbus: registration's 201 -> the example listener (pika) prints its event, at 50 registrations/s:")
        print(f"  {latency['answered']} of {latency['sent']} registered, {latency['heard']} heard; "
              f"from the 201: p50 {latency['p50_ms']:.0f} ms, p99 {latency['p99_ms']:.0f} ms (target p99 <= 500 ms; "
              f"negative: the event was there before the answer)")

        print("\ntargets:")
        cached = [r for r in reads if r["path"] != "/healthz"]
        print(f"  cached public reads, lowest share of the minimal app: {min(r['share'] for r in cached):.0%} "
              f"(target >= 50 %)")
        print(f"  rush, 200 at once for 50 seats: {one_session['rps']:.0f} req/s (target >= 150), "
              f"p50 {one_session['p50_ms']:.0f} ms, p99 {one_session['p99_ms']:.0f} ms (target <= 1000), "
              f"p99/p50 {one_session['p99_ms'] / one_session['p50_ms']:.1f}")
        print(f"  rush, 1000 over 10 sessions: {ten_sessions['rps']:.0f} req/s (target >= 200)")
        print(f"  votes: {voting['rps']:.0f}/s (target >= 150); confirmations {confirming['rps']:.0f}/s")
        print(f"  the stack's skeleton of a registration (bench/skeleton.py), the most these could reach here: "
              f"{bare['one']['rps']:.0f} req/s 200 at once (p99 {bare['one']['p99_ms']:.0f} ms), "
              f"{bare['many']['rps']:.0f} req/s 100 at a time; the rush is {one_session['rps'] / bare['one']['rps']:.0%} "
              f"of it (target 150 req/s: {150 / bare['one']['rps']:.0%}), 1000 over 10 sessions "
              f"{ten_sessions['rps'] / bare['many']['rps']:.0%} (target 200 req/s: {200 / bare['many']['rps']:.0%}), "
              f"votes {voting['rps'] / bare['many']['rps']:.0%} (target 150/s: {150 / bare['many']['rps']:.0%})")
        print(f"  RPC round trip: {roundtrip['ratio']:.2f}x raw pika (target <= 3x)")
        total_idle = sum(memory_idle.values()) / 1024
        print(f"  whole platform idle: {total_idle:.0f} MiB (target <= 450 MiB)")

        print("\nCPU per registration, by process (1000 registrations, their mails included): the capacity model's input")
        for name, seconds in sorted(cpu_used.items(), key=lambda item: -item[1]):
            if seconds >= 0.05:
                print(f"  {name:<32} {seconds:6.2f} s   {seconds:6.2f} ms per registration")
        print(f"  {'total':<32} {sum(cpu_used.values()):6.2f} s   {sum(cpu_used.values()):6.2f} ms per registration")

        print("\nresident memory (MiB): idle -> after load")
        for name, kib in sorted(memory_idle.items()):
            print(f"  {name:<32} {kib / 1024:7.1f} -> {memory_loaded.get(name, 0) / 1024:7.1f}")
        print(f"  {'total':<32} {total_idle:7.1f} -> {sum(memory_loaded.values()) / 1024:7.1f}")
        consistent = (stored == applications["statuses"].get(201, 0) and approved == approvals["statuses"].get(200, 0)
                      and seats[0]["seats_left"] == 0 and seats[0]["waiting"] == 200 - seats[0]["capacity"]
                      and all(s["seats_left"] == 0 and s["waiting"] == 50 for s in ten_seats)
                      and final["total_votes"] == voters and latency["heard"] == latency["answered"] == latency["sent"])
        return 0 if errors == 0 and consistent else 1


if __name__ == "__main__":
    sys.exit(main())
