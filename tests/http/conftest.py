"""The running platform for HTTP tests: `python -m ops.run` on its own vhost, database and port."""
import itertools
import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from ops import embedded
from ops.loopback import SourceAddressAdapter, loopback_address
from ops.rabbit import drop_vhost, make_vhost
from tests.conftest import ROOT
from tests.waiting import wait_until

STAFF_TOKEN = "nszm_test_bootstrap_" + uuid.uuid4().hex


@dataclass
class Platform:
    url: str
    env: dict
    log_path: str

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as log:
            return log.read()[-5000:]


class Client:
    """requests with the platform's base URL and, by default, no credentials."""

    def __init__(self, base_url: str, token: str | None = None):
        self.base_url = base_url
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method, path, **kwargs):
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, self.base_url + path, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def patch(self, path, **kwargs):
        return self.request("PATCH", path, **kwargs)

    def put(self, path, **kwargs):
        return self.request("PUT", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)


LOG_TAIL_CHARACTERS = 20_000


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test on a running platform shows the end of the platform's logs: what its
    processes and its database said is often the only trace of why."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    for name, value in getattr(item, "funcargs", {}).items():
        data_dir = getattr(value, "data_dir", None)
        logs = [Path(value.log_path)] if isinstance(value, Platform) else []
        logs += sorted(Path(data_dir).glob("*.log")) if data_dir else []
        for log in logs:
            if log.is_file():
                text = log.read_text(encoding="utf-8", errors="replace")[-LOG_TAIL_CHARACTERS:]
                report.sections.append((f"{name}: {log.name} (its end)", text))


def ready(url: str) -> bool:
    try:
        return requests.get(url + "/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def start_platform(env: dict, log_path) -> subprocess.Popen:
    log = open(log_path, "wb")
    return subprocess.Popen([sys.executable, "-m", "ops.run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop_platform(process: subprocess.Popen, sig=signal.SIGTERM) -> int:
    if process.poll() is None:
        os.kill(process.pid, sig)
    try:
        return process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise


@pytest.fixture(scope="session", autouse=True)
def broker(rabbitmq_running):
    """Every test at this level talks to a real RabbitMQ."""


@pytest.fixture(scope="session")
def platform(mongo_uri, tmp_path_factory, subprocess_env, smtp_sink):
    vhost = f"nszm-http-{uuid.uuid4().hex[:8]}"
    port = embedded.free_port()
    data_dir = tmp_path_factory.mktemp("platform")
    env = {**subprocess_env, "AMQP_URI": make_vhost(vhost), "MONGO_URI": mongo_uri,
           "MONGO_DB": f"http{uuid.uuid4().hex[:8]}", "GATEWAY_BIND": f"127.0.0.1:{port}",
           "BOOTSTRAP_STAFF_TOKEN": STAFF_TOKEN, "DEMO_DATA": "0", "DATA_DIR": str(data_dir),
           "SMTP_URL": smtp_sink.url, "PUBLIC_URL": f"http://127.0.0.1:{port}", "WEBHOOKS_ALLOW_PRIVATE": "1"}
    log_path = data_dir / "platform.log"
    process = start_platform(env, log_path)
    running = Platform(url=f"http://127.0.0.1:{port}", env=env, log_path=str(log_path))
    try:
        wait_until(lambda: ready(running.url) or process.poll() is not None, timeout=90, message="platform ready")
        assert process.poll() is None, running.log()
        yield running
    finally:
        stop_platform(process)
        drop_vhost(vhost)


@pytest.fixture
def public(platform):
    """An anonymous client with an address of its own: each test has the public write limits to itself."""
    return client_from_new_address(platform.url)


@pytest.fixture
def staff(platform):
    return Client(platform.url, STAFF_TOKEN)


def issue_token(platform: Platform, *roles: str) -> tuple[str, str]:
    """A token issued with the project's own command; returns (id, token)."""
    args = [sys.executable, "-m", "gateway.tokens", "issue", "--name", "test"]
    for role in roles:
        args += ["--role", role]
    output = subprocess.run(args, cwd=ROOT, env=platform.env, check=True, capture_output=True, text=True).stdout
    fields = dict(line.split(": ", 1) for line in output.splitlines() if ": " in line)
    return fields["id"], fields["token"]


_addresses = itertools.count(1)


def client_from_new_address(base_url: str) -> Client:
    """A public client whose requests come from a loopback address no other test uses.

    Each request opens its own connection: a reused keep-alive connection can be closed by
    the server just as a POST goes out, and a lost vote would be the test's fault.
    """
    n = next(_addresses)
    client = Client(base_url)
    client.session.headers["Connection"] = "close"
    client.session.mount("http://", SourceAddressAdapter(loopback_address(n)))
    return client
