"""Benchmark a 10,000-recipient mailout against plain smtplib, in one run, to one local SMTP sink.

notify runs as `nameko run` (MAILOUT_RATE=0: as fast as the server takes them) on an embedded
SecantusDB and a private RabbitMQ vhost. The baseline builds the very same messages and sends
them with smtplib over one connection. Printed: both rates, their ratio (target >= 0.7), and
notify's resident memory before and at its peak while sending (target: at most +50 MiB).

    python -m bench.mailout [--recipients 10000]
"""
import argparse
import logging
import os
import secrets
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from nameko.standalone.rpc import ServiceRpcProxy

from nszm.addresses import email_key
from nszm.entrypoints import staff_context
from nszm.storage import connect, utcnow
from ops import embedded, rabbit
from services.notify.mail.mailer import build_message
from services.notify.mailouts import domain
from services.notify.storage import NotifyStore

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BODY = """Dobrý den, {{ name }},

zveme Vás na **jarní Školu Zdravých měst** 20.–22. března v Liberci.
Program a registrace: https://www.zdravamesta.cz/skola

S pozdravem
Kancelář Národní sítě Zdravých měst ČR
"""


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")) / 1024


def files_in(directory: Path) -> int:
    return sum(1 for name in os.listdir(directory) if name.endswith(".eml"))


def wait_for(condition, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(interval)


def baseline(people: list[dict], port: int, mailout: dict) -> float:
    """Plain smtplib: the same messages, built the same way, over one connection. Returns messages/s."""
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for person in people:
            message = domain.bulk_message(mailout, person, "https://www.zdravamesta.cz/api/v1/unsubscribe?token=x")
            smtp.send_message(build_message(message, "Národní síť Zdravých měst ČR <info@zdravamesta.cz>"))
    return len(people) / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=10_000)
    args = parser.parse_args()
    logging.getLogger("amqp").setLevel(logging.ERROR)  # the RPC proxy's harmless closing-channel notices
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(48))  # notify and the bench's calls share it
    work = Path(tempfile.mkdtemp(prefix="nszm-mailout-bench-"))
    processes = []

    def start(command, log_name, env=None):
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=open(work / log_name, "wb"),
                                   stderr=subprocess.STDOUT, start_new_session=True)
        processes.append(process)
        return process

    rabbit.ensure_running(rabbit.DEFAULT_AMQP_URI)
    vhost = f"nszm-bench-{uuid.uuid4().hex[:8]}"
    amqp_uri = rabbit.make_vhost(vhost)
    try:
        mongo_port, smtp_port = embedded.free_port(), embedded.free_port()
        start(embedded.command(work, mongo_port).split(), "mongo.log")
        mongo_uri = embedded.uri_for(mongo_port)
        assert embedded.wait_until_up(mongo_uri), "SecantusDB did not start"
        sink_dir = work / "sink"
        start([sys.executable, "-m", "tests.smtp_sink", str(smtp_port), str(sink_dir)], "sink.log",
              {**os.environ, "PYTHONPATH": str(ROOT)})
        wait_for(lambda: rabbit.port_open("127.0.0.1", smtp_port), 20, "the SMTP sink")

        store = NotifyStore(connect(mongo_uri), "bench")
        store.ensure_indexes()
        mail_domain = "odberatele.example.cz"
        people = [{"key": email_key(f"odberatel{n}@{mail_domain}"), "email": f"odberatel{n}@{mail_domain}",
                   "name": f"Odběratel {n}", "organization": None} for n in range(args.recipients)]
        now = utcnow()
        for start_at in range(0, len(people), 1000):  # a subscriber list as an import would leave it
            store.subscribers.insert_many([
                {"_id": p["key"], "email": p["email"], "name": p["name"], "status": "confirmed", "token_hash": None,
                 "created_at": now, "confirmed_at": now, "person": store.pseudonyms.person(p["email"])}
                for p in people[start_at:start_at + 1000]])

        draft = {"id": "baseline", "subject": "Pozvánka na Školu Zdravých měst", "body": BODY, "format": "markdown"}
        plain_rate = baseline([{**p, "email": p["email"].replace(mail_domain, "baseline.example.cz")}
                               for p in people], smtp_port, draft)
        print(f"plain smtplib, one connection:   {plain_rate:8.1f} messages/s ({len(people)} messages)")

        config = {"AMQP_URI": amqp_uri, "serializer": "json"}
        env = {**os.environ, "PYTHONPATH": str(ROOT), "AMQP_URI": amqp_uri, "MONGO_URI": mongo_uri,
               "MONGO_DB": "bench", "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}", "MAILOUT_RATE": "0",
               "PUBLIC_URL": "https://www.zdravamesta.cz"}
        notify = start([str(BIN / "nameko"), "run", "--config", "deploy/nameko.yaml",
                        "services.notify.service:NotifyService"], "notify.log", env)
        with ServiceRpcProxy("notify", config, timeout=60, context_data=staff_context("benchmark")) as proxy:
            wait_for(lambda: _answers(proxy), 60, "notify")
            idle = rss_mib(notify.pid)
            mailout = proxy.create_mailout({"subject": draft["subject"], "body": BODY,
                                            "audience": {"newsletter": True}})
            peak = [idle]
            sampling = threading.Event()

            def sample():
                while not sampling.wait(0.2):
                    peak.append(rss_mib(notify.pid))

            threading.Thread(target=sample, daemon=True).start()
            first = files_in(sink_dir)
            started = time.perf_counter()
            proxy.send_mailout(mailout["id"])
            # polled gently: every poll is work for the notify process being measured
            wait_for(lambda: proxy.get_mailout(mailout["id"])["status"] == "sent", 1800, "the mailout", interval=0.5)
            elapsed = time.perf_counter() - started
            sampling.set()
            final = proxy.get_mailout(mailout["id"])
        delivered = files_in(sink_dir) - first
        rate = final["sent"] / elapsed
        print(f"notify mailout (send to finished): {rate:8.1f} messages/s ({final['sent']} sent, "
              f"{final['failed']} failed, {delivered} at the sink)")
        print(f"ratio to plain smtplib:           {rate / plain_rate:8.2f}   (target >= 0.70)")
        print(f"notify resident memory:          {idle:8.1f} MiB idle, {max(peak):.1f} MiB peak "
              f"(+{max(peak) - idle:.1f} MiB; target <= +50)")
        ok = final["sent"] == len(people) == delivered and max(peak) - idle <= 50
        return 0 if ok else 1
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
        rabbit.drop_vhost(vhost)


def _answers(proxy) -> bool:
    try:
        return proxy.health()["service"] == "notify"
    except Exception:
        return False


if __name__ == "__main__":
    sys.exit(main())
