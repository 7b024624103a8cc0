"""One dead or hung service does not stall the gateway: a service that is stopped is answered
503 at once, one that hangs holds at most its share of the gateway's threads, and liveness and
the other services answer meanwhile."""
import os
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from gateway.rpc import STALLED_AFTER_SECONDS
from ops.rabbit import drop_vhost, make_vhost
from ops.supervise import control_for
from tests.http.supervised import supervised_platform
from tests.waiting import keep_for, wait_until

CALLS = 32  # twice a gateway worker's threads


@pytest.fixture(scope="module")
def supervised(tmp_path_factory, subprocess_env, smtp_sink):
    vhost = f"nszm-bulkheads-{uuid.uuid4().hex[:8]}"
    try:
        with supervised_platform(tmp_path_factory.mktemp("bulkheads"), subprocess_env, make_vhost(vhost),
                                 smtp_sink.url, GATEWAY_WORKERS="1") as platform:
            yield platform
    finally:
        drop_vhost(vhost)


def timed_get(url: str) -> tuple[int, float]:
    started = time.monotonic()
    status = requests.get(url, timeout=30).status_code
    return status, time.monotonic() - started


def flood(url: str, pool: ThreadPoolExecutor):
    """CALLS distinct reads (none of them kept by the read cache) of one service, all at once."""
    return [pool.submit(timed_get, f"{url}?q=x{uuid.uuid4().hex[:6]}") for _ in range(CALLS)]


def others_answer_quickly(platform, paths=("/healthz", "/api/v1/events", "/api/v1/themes")):
    for path in paths:
        status, seconds = timed_get(platform.url + path)
        assert status == 200 and seconds < 1, (path, status, seconds)
    return True


def test_a_stopped_service_is_503_at_once_and_the_others_answer(supervised):
    info = supervised.info("practice")
    control = control_for(supervised.data_dir).supervisor
    control.stopProcess(f"{info['group']}:{info['name']}")
    try:
        wait_until(lambda: timed_get(supervised.url + "/api/v1/practices?q=probe")[0] == 503, timeout=10,
                   message="the gateway notices practice has no consumer")
        with ThreadPoolExecutor(CALLS) as pool:
            calls = flood(supervised.url + "/api/v1/practices", pool)
            others_answer_quickly(supervised, ("/healthz", "/api/v1/events", "/api/v1/members/stats"))
            answers = [call.result() for call in calls]
        assert {status for status, _ in answers} == {503}
        assert max(seconds for _, seconds in answers) < 3, answers
    finally:
        control.startProcess(f"{info['group']}:{info['name']}")
    wait_until(lambda: timed_get(supervised.url + "/api/v1/practices?q=back")[0] == 200, timeout=60,
               message="practice back")


def test_a_hung_service_holds_only_its_share_of_the_threads(supervised):
    pid = supervised.pid("members")
    os.kill(pid, signal.SIGSTOP)  # its consumer stays registered; it answers nothing
    try:
        with ThreadPoolExecutor(CALLS) as pool:
            calls = flood(supervised.url + "/api/v1/members", pool)
            # Once the calls holding the service's share have waited STALLED_AFTER_SECONDS, the rest
            # are refused at once; the stalled ones hold their places until the gateway's deadline.
            wait_until(lambda: timed_get(supervised.url + "/healthz")[1] < 1, timeout=8, message="liveness quick")
            keep_for(5, lambda: others_answer_quickly(supervised))
            answers = [call.result() for call in calls]
    finally:
        os.kill(pid, signal.SIGCONT)
    assert {status for status, _ in answers} == {503}
    refused_at_once = [seconds for _, seconds in answers if seconds < STALLED_AFTER_SECONDS + 2]
    assert len(refused_at_once) >= CALLS // 2, sorted(round(s, 1) for _, s in answers)
    assert max(seconds for _, seconds in answers) < 20
    wait_until(lambda: timed_get(supervised.url + "/api/v1/members?q=back")[0] == 200, timeout=30,
               message="members answers again")
