"""Benchmark the platform as `make run` starts it: throughput, latency and memory.

It boots `python -m ops.run` (embedded SecantusDB, demo data) on a private RabbitMQ vhost,
drives the gateway from a pool of client threads, and prints figures and ratios. The
write phase doubles as the proof that pymongo holds up inside `nameko run` under eventlet:
every request must succeed and the stored counts must equal the accepted requests.

    python -m bench.run [--requests 2000] [--concurrency 16]
"""
import argparse
import email
import email.policy
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from nszm.storage import connect
from ops import embedded, rabbit
from ops.loopback import SourceAddressAdapter, loopback_address
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

    def session(self, address: str | None = None) -> requests.Session:
        """This thread's session, from `address` of 127.0.0.0/8 if given (as a distinct client)."""
        sessions = self.local.__dict__.setdefault("sessions", {})
        if address not in sessions:
            sessions[address] = requests.Session()
            if address:
                sessions[address].mount("http://", SourceAddressAdapter(address))
        return sessions[address]

    def run(self, name: str, count: int, call, clients: int = 0) -> dict:
        """`count` calls of `call(session, i)`; with `clients`, the i-th comes from the (i % clients)-th
        of that many client addresses: public writes are limited per address, as for real clients."""
        latencies, failures, statuses = [], [], {}

        def one(i):
            started = time.perf_counter()
            try:
                status = call(self.session(loopback_address(i % clients, block=201) if clients else None), i)
            except requests.RequestException as error:
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
        print(f"{name:<28} {count:>6} req {elapsed:7.2f} s {result['rps']:8.1f} req/s   "
              f"p50 {result['p50_ms']:6.1f} ms  p95 {result['p95_ms']:6.1f} ms  p99 {result['p99_ms']:6.1f} ms   "
              f"statuses {statuses}  transport failures {len(failures)}", flush=True)
        return result


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
            client = requests.Session()  # each from an address of its own, as people register
            client.mount("http://", SourceAddressAdapter(loopback_address(i, block=202)))
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


def rss_by_process(marker: str) -> dict[str, int]:
    """Resident memory (KiB) of every process started for this run, by command."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() not in (entry / "environ").read_bytes():
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            rss = next(int(line.split()[1]) for line in (entry / "status").read_text().splitlines()
                       if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            continue
        label = next((word for word in ("secantusd", "MembersService", "EventsService", "PracticeService",
                                        "NotifyService", "gunicorn", "ops.run") if word in cmdline), cmdline[:40])
        found[f"{label} ({entry.name})"] = rss
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    vhost = f"nszm-bench-{uuid.uuid4().hex[:8]}"
    marker_key, marker = "NSZM_BENCH_RUN", uuid.uuid4().hex
    port = embedded.free_port()
    base = f"http://127.0.0.1:{port}"
    data_dir = Path(tempfile.mkdtemp(prefix="nszm-bench-"))
    rabbit.ensure_running(rabbit.DEFAULT_AMQP_URI)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AMQP_URI": rabbit.make_vhost(vhost), "DATA_DIR": str(data_dir),
           "GATEWAY_BIND": f"127.0.0.1:{port}", "BOOTSTRAP_STAFF_TOKEN": TOKEN, marker_key: marker}
    env.pop("MONGO_URI", None)
    log = open(data_dir / "platform.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "ops.run"], cwd=ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        boot = time.perf_counter()
        while time.perf_counter() - boot < 90:
            try:
                if requests.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.2)
        else:
            print((data_dir / "platform.log").read_text()[-3000:])
            return 1
        print(f"platform ready in {time.perf_counter() - boot:.1f} s "
              f"(client threads: {args.concurrency}, gateway threads: 16)\n")
        memory_idle = rss_by_process(f"{marker_key}={marker}")

        load = Load(base, args.concurrency)
        staff = {"Authorization": f"Bearer {TOKEN}"}
        results = [
            load.run("GET /healthz (floor)", args.requests,
                     lambda s, i: s.get(base + "/healthz", timeout=30).status_code),
            load.run("GET /api/v1/members", args.requests,
                     lambda s, i: s.get(base + "/api/v1/members", timeout=30).status_code),
            load.run("GET /api/v1/members?q=", args.requests,
                     lambda s, i: s.get(base + "/api/v1/members", params={"q": "kraj"}, timeout=30).status_code),
            load.run("GET /api/v1/members/stats", args.requests // 2,
                     lambda s, i: s.get(base + "/api/v1/members/stats", timeout=30).status_code),
        ]
        writes = args.requests // 4
        ids: list[str] = []

        def apply(s, i):
            response = s.post(base + "/api/v1/membership-applications", timeout=30, json={
                "name": f"Obec {i}", "type": "municipality", "region": "Kraj Vysočina", "ico": valid_ico(i),
                "population": 500 + i, "contact": {"name": "Zkouška", "email": f"obec{i}@example.cz"}})
            if response.status_code == 201:
                ids.append(response.json()["id"])
            return response.status_code

        results.append(load.run("POST membership-applications", writes, apply, clients=writes // 5))
        results.append(load.run("POST .../approve", len(ids) // 2, lambda s, i: s.post(
            base + f"/api/v1/membership-applications/{ids[i]}/approve", headers=staff, timeout=30).status_code))

        # one session of 50 seats, four times as many people registering at once
        event = published_event(base, staff, "Benchmark", "2031-01-10", capacity=50)
        registrations = 200
        results.append(load.run("POST registrations (1 session)", registrations, lambda s, i: s.post(
            base + f"/api/v1/events/{event['id']}/registrations", timeout=60,
            json={"name": "Účastník", "email": f"u{i}@example.cz", "organization": "Obec",
                  "sessions": ["s1"]}).status_code, clients=registrations))
        seats = requests.get(base + f"/api/v1/events/{event['id']}", timeout=30).json()["sessions"][0]

        # the open demo competition: votes from 100 client addresses, confirmed from the mailed links
        contest = next(c for c in requests.get(base + "/api/v1/competitions", timeout=30).json()["items"]
                       if c["status"] == "open")
        nominees = [n["practice"] for n in contest["nominees"]]
        votes, voters = 400, 300
        clients = []
        for n in range(100):
            client = requests.Session()
            client.headers["Connection"] = "close"
            client.mount("http://", SourceAddressAdapter(loopback_address(n, block=200)))
            clients.append(client)
        results.append(load.run("POST votes (100 addresses)", votes, lambda s, i: clients[i % 100].post(
            base + f"/api/v1/competitions/{contest['id']}/votes", timeout=60,
            json={"practice": nominees[i % voters % len(nominees)], "email": f"volic{i % voters}@example.cz"}
        ).status_code))
        tokens = mailed_vote_tokens(data_dir, votes)
        results.append(load.run("POST votes/confirm", len(tokens), lambda s, i: s.post(
            base + "/api/v1/votes/confirm", params={"token": tokens[i]}, timeout=60).status_code))
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
        print(f"  applications accepted {results[4]['statuses'].get(201, 0)}, stored {stored}")
        print(f"  approvals accepted {results[5]['statuses'].get(200, 0)}, members stored {approved}")
        print(f"  registrations accepted {results[6]['statuses'].get(201, 0)}: seats left {seats['seats_left']} "
              f"of {seats['capacity']}, waiting {seats['waiting']}")
        print(f"  votes accepted {results[7]['statuses'].get(202, 0)}, confirmation mails {len(tokens)}, "
              f"counted after closing {final['total_votes']} (distinct addresses: {voters})")
        print(f"  events still in the outbox: {unpublished}")
        errors = sum(r["failures"] + sum(n for code, n in r["statuses"].items() if code >= 500) for r in results)
        print(f"  5xx responses and transport failures: {errors}")

        print("\nbus: registration's 201 -> the example listener (pika) prints its event, at 50 registrations/s:")
        print(f"  {latency['answered']} of {latency['sent']} registered, {latency['heard']} heard; "
              f"from the 201: p50 {latency['p50_ms']:.0f} ms, p99 {latency['p99_ms']:.0f} ms (target p99 <= 500 ms; "
              f"negative: the event was there before the answer)")
        print(f"  from sending the request: p50 {latency['request_p50_ms']:.0f} ms, "
              f"p99 {latency['request_p99_ms']:.0f} ms")

        floor, listing = results[0], results[1]
        print("\nratios:")
        print(f"  directory req/s vs healthz floor: {listing['rps'] / floor['rps']:.2f}")
        print(f"  search req/s vs plain listing:    {results[2]['rps'] / listing['rps']:.2f}")
        print(f"  write req/s vs plain listing:     {results[4]['rps'] / listing['rps']:.2f}")
        for result in results:
            print(f"  {result['phase']:<28} p99/p50 {result['p99_ms'] / result['p50_ms']:.2f}")

        print("\nresident memory (MiB): idle -> after load")
        for name, kib in sorted(memory_idle.items()):
            print(f"  {name:<32} {kib / 1024:7.1f} -> {memory_loaded.get(name, 0) / 1024:7.1f}")
        print(f"  {'total':<32} {sum(memory_idle.values()) / 1024:7.1f} -> {sum(memory_loaded.values()) / 1024:7.1f}")
        consistent = (stored == results[4]["statuses"].get(201, 0) and approved == results[5]["statuses"].get(200, 0)
                      and seats["seats_left"] == 0 and seats["waiting"] == registrations - seats["capacity"]
                      and final["total_votes"] == voters and latency["heard"] == latency["answered"] == latency["sent"])
        return 0 if errors == 0 and consistent else 1
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=60)
        rabbit.drop_vhost(vhost)


if __name__ == "__main__":
    sys.exit(main())
