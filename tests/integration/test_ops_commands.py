"""The project's own commands: the demo loader and the RabbitMQ start-up rules."""
import os
import signal
import subprocess
import sys
import textwrap
import uuid

import pytest

from ops import embedded, rabbit
from tests.conftest import ROOT
from tests.integration.test_demo import DEMO_RECORDS
from tests.waiting import wait_until


def run(args, env):
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_demo_command_loads_once_into_the_given_database(mongo_uri, subprocess_env):
    env = {**subprocess_env, "MONGO_URI": mongo_uri, "MONGO_DB": f"demo{uuid.uuid4().hex[:8]}"}
    first = run(["-m", "ops.demo"], env)
    assert first.returncode == 0 and f"{DEMO_RECORDS} demo records loaded" in first.stdout, first.stderr
    again = run(["-m", "ops.demo"], env)
    assert again.returncode == 0 and "nothing loaded" in again.stdout


def test_demo_command_starts_the_embedded_database_when_none_is_given(tmp_path, subprocess_env):
    env = {**subprocess_env, "DATA_DIR": str(tmp_path)}
    result = run(["-m", "ops.demo"], env)
    assert result.returncode == 0 and f"{DEMO_RECORDS} demo records loaded" in result.stdout, result.stderr
    assert (tmp_path / "mongo").is_dir()
    assert "nothing loaded" in run(["-m", "ops.demo"], env).stdout  # the data stayed on disk


def test_a_missing_rabbitmq_is_explained(monkeypatch):
    monkeypatch.setattr(rabbit, "_tool", lambda name: None)
    with pytest.raises(SystemExit) as stop:
        rabbit.ensure_running(f"amqp://guest:guest@127.0.0.1:{embedded.free_port()}/")
    assert "apt-get install rabbitmq-server" in str(stop.value)


def test_a_remote_rabbitmq_that_is_down_is_not_started(monkeypatch):
    monkeypatch.setattr(rabbit, "port_open", lambda host, port: False)
    with pytest.raises(SystemExit) as stop:
        rabbit.ensure_running("amqp://guest:guest@mq.example.cz:5672/")
    assert "mq.example.cz" in str(stop.value)


def test_an_installed_rabbitmq_that_is_down_is_started(monkeypatch, tmp_path):
    port = embedded.free_port()
    fake_server = tmp_path / "rabbitmq-server"
    fake_server.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import os, socket, sys
        assert sys.argv[1:] == ["-detached"]
        if os.fork() == 0:
            listener = socket.create_server(("127.0.0.1", {port}))
            open("{tmp_path / 'pid'}", "w").write(str(os.getpid()))
            while True:
                listener.accept()[0].close()
        """))
    fake_server.chmod(0o755)
    monkeypatch.setattr(rabbit, "_tool", lambda name: str(fake_server))
    try:
        rabbit.ensure_running(f"amqp://guest:guest@127.0.0.1:{port}/")
        assert rabbit.port_open("127.0.0.1", port)
    finally:
        pid_file = tmp_path / "pid"
        wait_until(pid_file.exists, timeout=5)
        os.kill(int(pid_file.read_text()), signal.SIGKILL)
