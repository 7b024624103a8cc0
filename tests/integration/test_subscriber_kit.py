"""The pika subscriber kit, through the example listener in a process of its own on a vhost of its own:
it binds its queue, gets each event once (a repeat is not handled again), comes back after the
broker drops its connection, and stops cleanly on SIGTERM."""
import ast
import json
import queue
import signal
import subprocess
import threading
import uuid

import pytest
from kombu import Connection, Producer

from nszm.contracts import bus
from nszm.topology import exchange
from ops.rabbit import drop_vhost, make_vhost
from tests.conftest import BIN, ROOT
from tests.unit.test_notify_domain import registration_event
from tests.waiting import wait_until

LISTENER = ROOT / "examples" / "registration_listener.py"


class Listener:
    """The example listener's output lines, read as they come."""

    def __init__(self, amqp_uri: str):
        self.process = subprocess.Popen([str(BIN / "python"), str(LISTENER)], cwd=ROOT, text=True,
                                        env={"AMQP_URI": amqp_uri, "PATH": "/usr/bin:/bin"},
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line.strip())

    def next_line(self, timeout: float = 20) -> str:
        return self.lines.get(timeout=timeout)

    def events(self, how_many: int) -> list[dict]:
        return [json.loads(self.next_line()) for _ in range(how_many)]


@pytest.fixture
def vhost(rabbitmq_running):
    name = f"nszm-kit-{uuid.uuid4().hex[:8]}"
    yield name, make_vhost(name)
    drop_vhost(name)


def publish(amqp_uri: str, *envelopes: dict):
    with Connection(amqp_uri) as connection:
        producer = Producer(connection.default_channel)
        for envelope in envelopes:
            spec = bus.BY_NAME[envelope["event_type"]]
            producer.publish(envelope, exchange=exchange(spec.source), routing_key=spec.name, serializer="json",
                             delivery_mode=2)


def test_the_example_listener_gets_each_event_once_reconnects_and_stops_cleanly(vhost):
    name, amqp_uri = vhost
    listener = Listener(amqp_uri)
    try:
        assert listener.next_line() == "ready"
        confirmed, cancelled = registration_event(), registration_event(bus.REGISTRATION_CANCELLED)
        unrelated = {**registration_event(), "event_type": bus.ATTENDANCE_RECORDED.name}
        publish(amqp_uri, confirmed, confirmed, unrelated, cancelled)
        got = listener.events(2)
        assert [(e["event_id"], e["event_type"]) for e in got] == [
            (confirmed["event_id"], "registration_confirmed"), (cancelled["event_id"], "registration_cancelled")]

        subprocess.run(["rabbitmqctl", "close_all_connections", "-p", name, "test: the broker drops it"],
                       check=True, capture_output=True)
        assert listener.next_line(timeout=30) == "ready"  # bound again after reconnecting
        later = registration_event(bus.REGISTRATION_PROMOTED)
        publish(amqp_uri, later)
        assert listener.events(1)[0]["event_id"] == later["event_id"]
        with pytest.raises(queue.Empty):
            listener.next_line(timeout=1)  # nothing else, the repeat included
    finally:
        listener.process.send_signal(signal.SIGTERM)
        returncode = listener.process.wait(timeout=10)
    assert returncode == 0, listener.process.stderr.read()


def test_events_published_while_the_listener_is_down_wait_in_its_queue(vhost):
    _, amqp_uri = vhost
    first = Listener(amqp_uri)
    assert first.next_line() == "ready"
    first.process.send_signal(signal.SIGTERM)
    assert first.process.wait(timeout=10) == 0
    waiting = [registration_event() for _ in range(3)]
    publish(amqp_uri, *waiting)
    second = Listener(amqp_uri)
    try:
        assert second.next_line() == "ready"
        assert [e["event_id"] for e in second.events(3)] == [e["event_id"] for e in waiting]
    finally:
        second.process.send_signal(signal.SIGTERM)
        second.process.wait(timeout=10)
    wait_until(lambda: second.process.returncode is not None, message="listener stopped")
    for source in (LISTENER, ROOT / "nszm" / "subscriber.py"):
        assert not any(name.split(".")[0] == "nameko" for name in imported(source)), source


def imported(source) -> set[str]:
    tree = ast.parse(source.read_text())
    return ({alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
            | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module})
