"""A RabbitMQ node of a test's own, on its own port, beside the machine's: a test may stop and
start it (`stop_app`/`start_app`) without disturbing anything else that uses the broker."""
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from ops import embedded
from ops.rabbit import port_open
from tests.waiting import wait_until


class RabbitNode:
    def __init__(self):
        self.name = f"nszm-{uuid.uuid4().hex[:8]}@localhost"
        self.port = embedded.free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="nszm-rabbit-"))
        (self.directory / "enabled_plugins").write_text("[].\n")
        (self.directory / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        shutil.chown(self.directory, "rabbitmq", "rabbitmq")
        for path in self.directory.iterdir():
            shutil.chown(path, "rabbitmq", "rabbitmq")
        self.amqp_uri = f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def start(self):
        env = {"RABBITMQ_NODENAME": self.name, "RABBITMQ_CONFIG_FILE": str(self.directory / "rabbitmq.conf"),
               "RABBITMQ_DIST_PORT": str(embedded.free_port()), "RABBITMQ_MNESIA_BASE": str(self.directory / "mnesia"),
               "RABBITMQ_LOG_BASE": str(self.directory / "log"), "RABBITMQ_PID_FILE": str(self.directory / "pid"),
               "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.directory / "enabled_plugins"), "PATH": "/usr/sbin:/usr/bin:/bin"}
        subprocess.run(["rabbitmq-server", "-detached"], env=env, check=True, cwd="/tmp")
        self.wait_until_up()

    def wait_until_up(self):
        wait_until(lambda: port_open("127.0.0.1", self.port), timeout=90, message=f"RabbitMQ node {self.name}")

    def ctl(self, *command: str):
        subprocess.run(["rabbitmqctl", "-n", self.name, *command], check=True, capture_output=True, timeout=120)

    def stop_app(self):
        self.ctl("stop_app")

    def start_app(self):
        self.ctl("start_app")
        self.wait_until_up()

    def stop(self):
        try:
            self.ctl("stop")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)
