"""Each change the platform makes to a library's internals, measured against the library's own way
on the work it is there for, so that a patch that no longer pays for itself can go.

- `producers` (nszm/patches): the RPC round trip of `bench.rpc_roundtrip` (two publishes, in
  the client and the service), median with nameko as released and with the patches installed.
- `mail_folding` (nszm/patches): a registration's confirmation (text, HTML, an .ics and a QR code)
  built and turned into bytes, CPU per mail with compat32's folding and with the patch.
- `limits_storage` (nszm/patches): a registration's two rate-limit windows counted on the embedded
  database, the library's one window per round trip against one round trip; wall time and the
  database's CPU per registration.
- the embedded database's catalog cache and WiredTiger packers (ops/secantusd.py): a
  registration's writes (the registration with its indexes, its outbox row, a conditional counter
  update, the outbox row marked published) in four servers, the database's CPU per registration.

Each figure comes with its ratio (patched / library) and, given the CPU per registration of the
process it runs in (`python -m bench.run` prints them by process), its saving as a share of that.
Run: `python -m bench.patches [--database-ms 6.3 --notify-ms 3.1]`.
"""
import argparse
import base64
import os
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from email.policy import compat32
from pathlib import Path

import pymongo

from bench import rpc_roundtrip
from nszm.patches.limits_storage import CountersInMongo
from nszm.storage import connect
from ops import rabbit
from ops.embedded import free_port, uri_for, wait_until_up
from services.notify.mail import mailer

OPS = Path(__file__).resolve().parent.parent / "ops"
ROUNDS = 3

# A SecantusDB server as ops/secantusd.py starts it, with either of its patches left out.
SERVER = """
import sys
sys.path.insert(0, {ops!r})
from secantus import cli
from secantus.storage import Storage
import secantusd, wiredtiger_packing
if {catalog}:
    secantusd.CatalogCache(Storage._iter_indexes).install()
if {packing}:
    wiredtiger_packing.install()
sys.exit(cli.main(sys.argv[1:]))
"""


def cpu_seconds(pid: int | None = None) -> float:
    """User and system CPU of this process, or of process `pid` (its /proc stat, in clock ticks)."""
    if pid is None:
        times = os.times()
        return times.user + times.system
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def best_of(rounds: int, measure) -> float:
    """The least of several rounds: what the work costs when nothing else on the machine interferes."""
    return min(measure() for _ in range(rounds))


def measure_producers() -> tuple[float, float]:
    vhost = f"nszm-bench-{uuid.uuid4().hex[:8]}"
    amqp_uri = rabbit.make_vhost(vhost)
    try:
        figures: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(2):  # taken in turns, so that both meet the same moments of the machine
            for patched in (False, True):
                figures[patched].append(rpc_roundtrip.median_nameko_ms(amqp_uri, patched))
        return min(figures[False]), min(figures[True])
    finally:
        rabbit.drop_vhost(vhost)


def confirmation_mail(number: int) -> dict:
    text = ("Dobrý den, paní Nováková,\n\npotvrzujeme Vaši registraci na akci Jarní škola Zdravých měst "
            "(Kroměříž, 12.–14. 3.).\n\nSvou registraci spravujete zde: https://zdravamesta.cz/r/abc\n") * 3
    return {
        "id": f"mail-{number}", "to": "jana.novakova@example.cz", "to_name": "Jana Nováková",
        "subject": "Potvrzení registrace: Jarní škola Zdravých měst", "text": text,
        "html": "<p>" + text.replace("\n", "<br>") + "</p>", "bounce_token": "b" * 16,
        "headers": {"List-Id": "<registrace.zdravamesta.cz>", "Auto-Submitted": "auto-generated"},
        "created_at": datetime(2027, 3, 1, 9, 0, tzinfo=timezone.utc),
        "attachments": [
            {"filename": "akce.ics", "content_type": "text/calendar", "data": "BEGIN:VCALENDAR\r\n" * 20},
            {"filename": "vstupenka.png", "content_type": "image/png", "base64": True,
             "data": base64.b64encode(os.urandom(1500)).decode()},
        ],
    }


def per_mail_ms(count: int) -> float:
    mails = [confirmation_mail(number) for number in range(count)]
    started = time.process_time()
    for mail in mails:
        mailer.build_message(mail, "NSZM ČR <info@zdravamesta.cz>").as_bytes()
    return (time.process_time() - started) / count * 1000


def measure_mail_folding(count: int = 2000) -> tuple[float, float]:
    patched_policy = mailer.QUICK_FOLDING
    try:
        mailer.QUICK_FOLDING = compat32
        library = best_of(ROUNDS, lambda: per_mail_ms(count))
    finally:
        mailer.QUICK_FOLDING = patched_policy
    patched = best_of(ROUNDS, lambda: per_mail_ms(count))
    return library, patched


@contextmanager
def embedded_server(catalog: bool = True, packing: bool = True):
    """A SecantusDB server of its own, started as the platform starts it, on a new directory."""
    port = free_port()
    with tempfile.TemporaryDirectory() as directory:
        code = SERVER.format(ops=str(OPS), catalog=catalog, packing=packing)
        server = subprocess.Popen([sys.executable, "-c", code, "--host", "127.0.0.1", "--port", str(port),
                                   "--storage-path", directory, "--sync-on-commit", "--log-level", "WARNING"])
        try:
            uri = uri_for(port)
            if not wait_until_up(uri):
                raise RuntimeError("the embedded database did not start")
            yield uri, server.pid
        finally:
            server.terminate()
            server.wait(timeout=30)


def database_cpu_ms(server: int, count: int, work) -> float:
    started = cpu_seconds(server)
    for number in range(count):
        work(number)
    return (cpu_seconds(server) - started) / count * 1000


def measure_limits(count: int = 1000) -> tuple[tuple[float, float], tuple[float, float]]:
    """(library, patched) wall time and (library, patched) database CPU, in ms per registration."""
    with embedded_server() as (uri, server):
        storage = CountersInMongo(uri, database_name="bench", counter_collection_name="rate_counters")
        storage.acquire_entries([[("warm", 10, 60)]])

        def windows(number: int, round_: str) -> list[tuple[str, int, int]]:
            return [(f"{round_}/address/{number}", 10, 60), (f"{round_}/mailbox/{number}", 3, 86400)]

        def library(number: int, round_: str):
            for key, limit, expiry in windows(number, round_):
                storage.acquire_entry(key, limit, expiry)

        def patched(number: int, round_: str):
            storage.acquire_entries([windows(number, round_)])

        figures = {}
        for name, work in (("library", library), ("patched", patched)):
            walls, cpus = [], []
            for round_ in range(ROUNDS):
                tag = f"{name}-{round_}"
                started = time.perf_counter()
                cpus.append(database_cpu_ms(server, count, lambda number: work(number, tag)))
                walls.append((time.perf_counter() - started) / count * 1000)
            figures[name] = (min(walls), min(cpus))
        return (figures["library"][0], figures["patched"][0]), (figures["library"][1], figures["patched"][1])


def registration_writes(database: pymongo.database.Database):
    """A registration's own writes as the events service makes them, one registration at a time."""
    database.registrations.create_index([("event_id", 1), ("email_key", 1)], unique=True)
    database.registrations.create_index([("event_id", 1), ("created_at", 1)])
    database.registrations.create_index("person")
    database.outbox.create_index([("published", 1), ("created_at", 1)])
    database.counters.insert_one({"_id": "event/session", "seats_taken": 0, "seats_left": 10**9})

    def register(number: int):
        now = datetime.now(timezone.utc)
        registration_id = uuid.uuid4().hex
        database.registrations.insert_one({"_id": registration_id, "event_id": "jarni-skola",
                                           "email_key": f"key-{registration_id}", "person": f"p-{number}",
                                           "name": "Jana Nováková", "created_at": now, "status": "confirmed"})
        database.counters.update_one({"_id": "event/session", "seats_left": {"$gt": 0}},
                                     {"$inc": {"seats_taken": 1, "seats_left": -1}})
        database.outbox.insert_one({"_id": registration_id, "type": "registration_created", "published": False,
                                    "created_at": now, "payload": {"registration_id": registration_id}})
        database.outbox.update_one({"_id": registration_id}, {"$set": {"published": True}})
    return register


def measure_embedded(count: int = 1000) -> dict[str, float]:
    figures = {}
    for name, catalog, packing in (("library", False, False), ("catalog cache only", True, False),
                                   ("packers only", False, True), ("both", True, True)):
        with embedded_server(catalog, packing) as (uri, server):
            client = connect(uri)
            try:
                register = registration_writes(client.bench)
                register(-1)
                figures[name] = best_of(ROUNDS, lambda: database_cpu_ms(server, count, register))
            finally:
                client.close()
    return figures


def line(name: str, library: float, patched: float, per: str, process: str = "", cpu_ms: float | None = None):
    saved = library - patched
    share = f", {saved / cpu_ms:.1%} of {process}'s CPU per registration" if cpu_ms else ""
    print(f"{name:<44} library {library:7.3f} ms  patched {patched:7.3f} ms  "
          f"ratio {patched / library:.2f}  saves {saved:.3f} ms per {per}{share}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-ms", type=float, help="the database's CPU per registration, from bench.run")
    parser.add_argument("--notify-ms", type=float, help="notify's CPU per registration, from bench.run")
    args = parser.parse_args(argv)
    library, patched = measure_producers()
    line("producers: an RPC round trip", library, patched, "round trip")
    library, patched = measure_mail_folding()
    line("mail_folding: CPU per confirmation mail", library, patched, "mail", "notify", args.notify_ms)
    (wall_library, wall_patched), (db_library, db_patched) = measure_limits()
    line("limits_storage: wall time of two windows", wall_library, wall_patched, "registration")
    line("limits_storage: database CPU of two windows", db_library, db_patched, "registration", "the database",
         args.database_ms)
    embedded = measure_embedded()
    for name in ("catalog cache only", "packers only", "both"):
        line(f"embedded {name}: database CPU", embedded["library"], embedded[name], "registration", "the database",
             args.database_ms)


if __name__ == "__main__":
    main()
