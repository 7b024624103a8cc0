"""RabbitMQ nodes of a test's own, on their own ports, beside the machine's: a test may stop and
start them (`stop_app`/`start_app`) without disturbing anything else that uses the broker; a cluster
of three (`RabbitCluster`)."""
import json
import random
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

from ops.rabbit import port_open
from tests.conftest import ROOT
from tests.waiting import wait_until

CLUSTER_CONF = ROOT / "deploy" / "rabbitmq" / "rabbitmq.conf"
PROMISED: set[int] = set()  # ports of the nodes made so far, bound only when each starts


def port_outside_ephemeral_range(avoid: tuple[int, ...] = ()) -> int:
    """A free port below the kernel's range for outgoing connections' local ports: no client can
    take it as its own before its node binds it, or while that node is stopped for a while."""
    lowest_ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    while True:
        port = random.randrange(10_000, lowest_ephemeral)
        if port in avoid:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


class RabbitNode:
    def __init__(self, conf: str = ""):
        """`conf`: more lines of rabbitmq.conf (e.g. the cluster's settings from deploy/)."""
        self.name = f"nszm-{uuid.uuid4().hex[:8]}@localhost"
        # Outside the ephemeral range: the node is stopped mid-test while the platform opens many
        # connections, and one of them must not take its port meanwhile.
        self.port = port_outside_ephemeral_range(avoid=tuple(PROMISED))
        self.dist_port = port_outside_ephemeral_range(avoid=(*PROMISED, self.port))
        PROMISED.update((self.port, self.dist_port))
        self.directory = Path(tempfile.mkdtemp(prefix="nszm-rabbit-"))
        (self.directory / "enabled_plugins").write_text("[].\n")
        (self.directory / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n{conf}")
        shutil.chown(self.directory, "rabbitmq", "rabbitmq")
        for path in self.directory.iterdir():
            shutil.chown(path, "rabbitmq", "rabbitmq")
        self.amqp_uri = f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def start(self):
        env = {"RABBITMQ_NODENAME": self.name, "RABBITMQ_CONFIG_FILE": str(self.directory / "rabbitmq.conf"),
               "RABBITMQ_DIST_PORT": str(self.dist_port), "RABBITMQ_MNESIA_BASE": str(self.directory / "mnesia"),
               "RABBITMQ_LOG_BASE": str(self.directory / "log"), "RABBITMQ_PID_FILE": str(self.directory / "pid"),
               "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.directory / "enabled_plugins"), "PATH": "/usr/sbin:/usr/bin:/bin"}
        subprocess.run(["rabbitmq-server", "-detached"], env=env, check=True, cwd="/tmp")
        self.wait_until_up()

    def wait_until_up(self):
        wait_until(lambda: port_open("127.0.0.1", self.port), timeout=90, message=f"RabbitMQ node {self.name}")

    def ctl(self, *command: str) -> str:
        return subprocess.run(["rabbitmqctl", "-n", self.name, *command], check=True, capture_output=True,
                              text=True, timeout=120).stdout

    def consumers(self, queue: str) -> int:
        """How many consumers `queue` has."""
        return self.ctl("-q", "list_consumers", "queue_name").split().count(queue)

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


class RabbitCluster:
    """Three RabbitMQ nodes of a test's own, each on its own port, clustered with `join_cluster`,
    with the cluster's settings as deploy/ writes them (`deploy/rabbitmq/rabbitmq.conf`)."""

    def __init__(self, size: int = 3):
        conf = "\n".join(line for line in CLUSTER_CONF.read_text().splitlines()
                         if line.strip() and not line.startswith(("#", "listeners.")))
        self.nodes = [RabbitNode(conf + "\n") for _ in range(size)]

    @property
    def amqp_uri(self) -> str:
        """Every node, for kombu's failover: the platform's AMQP_URI for a cluster."""
        return ";".join(node.amqp_uri for node in self.nodes)

    def start(self):
        for node in self.nodes:
            node.start()
        first = self.nodes[0]
        for node in self.nodes[1:]:
            node.stop_app()
            node.ctl("join_cluster", first.name)
            node.start_app()

    def running(self) -> list[RabbitNode]:
        listed = self.nodes[0].ctl("cluster_status", "--formatter", "json") if self.nodes else ""
        status = json.loads(listed)
        return [node for node in self.nodes if node.name in status.get("running_nodes", [])]

    def leader_of(self, queue: str, asking: RabbitNode) -> RabbitNode:
        """The node that leads quorum queue `queue` now, as `asking` knows it."""
        listed = json.loads(asking.ctl("list_queues", "name", "leader", "--formatter", "json"))
        leader = next(entry["leader"] for entry in listed if entry["name"] == queue)
        return next(node for node in self.nodes if node.name == leader)

    def stop(self):
        for node in reversed(self.nodes):
            try:
                node.stop()
            except subprocess.CalledProcessError:  # already stopped
                shutil.rmtree(node.directory, ignore_errors=True)
