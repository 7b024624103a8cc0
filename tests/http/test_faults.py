"""Faults under load: the parts of a supervised platform are SIGKILLed one after another (the
events service, notify, a gateway worker, the embedded database) while 500 registrations stream
in, and each comes back by itself.

Meanwhile the gateway answers every request quickly, with a 201 or a 503, never a 500 and
never a hang; afterwards every 201 has its stored registration, every stored registration got
exactly one mail (distinct Message-IDs at a real SMTP server), and each session's counters
equal its stored rows.
"""
import os
import signal
import uuid
from pathlib import Path

import pytest

from ops.rabbit import drop_vhost, make_vhost
from tests.http.supervised import Supervised, assert_nothing_lost_or_doubled, registrations, supervised_platform
from tests.waiting import wait_until

REGISTRATIONS = 500
SENDERS = 8
KILL_EVERY = 100  # answers between two kills


@pytest.fixture(scope="module")
def supervised(tmp_path_factory, subprocess_env, smtp_sink):
    vhost = f"nszm-faults-{uuid.uuid4().hex[:8]}"
    try:
        with supervised_platform(tmp_path_factory.mktemp("faults"), subprocess_env, make_vhost(vhost),
                                 smtp_sink.url) as platform:
            yield platform
    finally:
        drop_vhost(vhost)


def gunicorn_worker(master: int) -> int | None:
    """The gateway's worker, or None in the moment after one died and before its successor."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return int(children[0]) if children else None


def kill(platform: Supervised, victim: str) -> tuple[str, int]:
    """SIGKILL one part; returns the supervised program that has to come back and its old pid."""
    if victim == "gateway-worker":  # gunicorn's master starts a new one
        master = platform.pid("gateway")
        worker = wait_until(lambda: gunicorn_worker(master), timeout=30, message="the gateway's worker")
        os.kill(worker, signal.SIGKILL)
        wait_until(lambda: gunicorn_worker(master) not in (None, worker), timeout=30, message="a new gateway worker")
        return "gateway", 0
    wait_until(lambda: platform.running(victim), timeout=60, message=f"{victim} started")  # not one still starting
    pid = platform.pid(victim)
    os.kill(pid, signal.SIGKILL)
    return victim, pid


VICTIMS = ("events", "notify", "gateway-worker", "mongo")


def test_each_part_killed_under_load_comes_back_and_nothing_accepted_is_lost_or_doubled(supervised, smtp_sink):
    """One stream of 500 registrations; every 100 answers the next part is SIGKILLed, once the
    one before is back."""
    with registrations(supervised, REGISTRATIONS, seats=40, senders=SENDERS, pause=0.05) as stream:
        for number, victim in enumerate(VICTIMS, start=1):
            wait_until(lambda: len(stream.answers) >= KILL_EVERY * number, timeout=120,
                       message=f"{KILL_EVERY * number} answers before killing {victim}")
            program, old_pid = kill(supervised, victim)
            wait_until(lambda: supervised.running(program, old_pid), timeout=60, message=f"{program} back")
    accepted = assert_nothing_lost_or_doubled(stream, smtp_sink, lost_connections=SENDERS)
    assert len(accepted) >= REGISTRATIONS - 200, f"only {len(accepted)} accepted"
