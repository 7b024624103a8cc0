"""Fixtures every level shares: a real SecantusDB server, a private RabbitMQ vhost, fresh databases.

In-process nameko containers need eventlet's monkey patch, applied before anything imports
sockets; the database server and the platform itself run as subprocesses.
"""
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)  # eventlet announces its own deprecation

import eventlet  # noqa: E402

eventlet.monkey_patch()

import email  # noqa: E402
import email.policy  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

from nszm.config import DEFAULT_AMQP_URI  # noqa: E402
from nszm.storage import connect  # noqa: E402
from ops import embedded  # noqa: E402
from ops.rabbit import drop_vhost, ensure_running, make_vhost, port_open  # noqa: E402
from tests.smtp_sink import mailbox_name  # noqa: E402
from tests.waiting import wait_until  # noqa: E402

# Speed is measured by the benchmark, never asserted: no per-example time limit.
settings.register_profile("nszm", deadline=None)
settings.load_profile("nszm")

# The platform's key for this run: every process the tests start, and every call they sign, share it.
os.environ.setdefault("SECRET_KEY", f"tests-{uuid.uuid4().hex}{uuid.uuid4().hex}")

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def rabbitmq_running():
    """RabbitMQ is started if it is installed but down, as `make run` does (not for unit tests)."""
    ensure_running(DEFAULT_AMQP_URI)


@pytest.fixture(scope="session")
def amqp_uri(rabbitmq_running):
    name = f"nszm-test-{uuid.uuid4().hex[:8]}"
    yield make_vhost(name)
    drop_vhost(name)


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory):
    """A SecantusDB server of our own on a free port, its data in a temporary directory."""
    port = embedded.free_port()
    storage = tmp_path_factory.mktemp("secantus")
    log = open(storage / "server.log", "wb")
    server = subprocess.Popen(embedded.command(storage, port).split(), stdout=log, stderr=log)
    uri = embedded.uri_for(port)
    assert embedded.wait_until_up(uri), "SecantusDB did not start"
    yield uri
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture(scope="session")
def mongo_client(mongo_uri):
    client = connect(mongo_uri)
    yield client
    client.close()


@pytest.fixture
def db_name():
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def service_config(amqp_uri, mongo_uri, db_name):
    """nameko configuration of an in-process container on the test vhost and a fresh database."""
    return {"AMQP_URI": amqp_uri, "MONGO_URI": mongo_uri, "MONGO_DB": db_name, "serializer": "json",
            "SECRET_KEY": os.environ["SECRET_KEY"]}


@pytest.fixture(scope="session")
def subprocess_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    env.pop("MONGO_URI", None)
    return env


class SmtpSink:
    """The messages a real SMTP server (tests/smtp_sink.py) received, read back as e-mails."""

    def __init__(self, port: int, directory: Path):
        self.url = f"smtp://127.0.0.1:{port}"
        self.port = port
        self.directory = directory

    def _files(self, pattern: str) -> list[Path]:
        """Matching messages in the order the server accepted them (the number in each name)."""
        return sorted(self.directory.glob(pattern), key=lambda path: path.name.rsplit("--", 1)[1])

    def messages(self, to: str) -> list:
        """Messages to one address, oldest first."""
        return [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                for path in self._files(f"{mailbox_name(to)}--*.eml")]

    def count(self, domain: str) -> int:
        """How many messages went to addresses at `domain`."""
        return len(self._files(f"*@{mailbox_name(domain)}--*.eml"))

    def messages_to_domain(self, domain: str) -> list:
        return [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                for path in self._files(f"*@{mailbox_name(domain)}--*.eml")]


def start_smtp_sink(port: int, directory: Path) -> subprocess.Popen:
    """tests/smtp_sink.py in a process of its own, answering on `port` once this returns."""
    server = subprocess.Popen([sys.executable, "-m", "tests.smtp_sink", str(port), str(directory)], cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    wait_until(lambda: port_open("127.0.0.1", port) or server.poll() is not None, timeout=20)
    assert server.poll() is None, "the SMTP sink did not start"
    return server


@pytest.fixture(scope="session")
def smtp_sink(tmp_path_factory):
    port = embedded.free_port()
    directory = tmp_path_factory.mktemp("smtp")
    server = start_smtp_sink(port, directory)
    yield SmtpSink(port, directory)
    server.terminate()
    server.wait(timeout=10)
