"""RabbitMQ on this machine: start it when installed but down; private vhosts for tests and benchmarks."""
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlparse

from nszm.config import DEFAULT_AMQP_URI

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _tool(name: str) -> str | None:
    return shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)


def ensure_running(amqp_uri: str):
    """Return when RabbitMQ answers; start a local one if installed; exit with advice otherwise."""
    url = urlparse(amqp_uri)
    host, port = url.hostname or "127.0.0.1", url.port or 5672
    if port_open(host, port):
        return
    if host not in LOCAL_HOSTS:
        sys.exit(f"RabbitMQ at {host}:{port} does not answer; start it or set AMQP_URI.")
    server = _tool("rabbitmq-server")
    if server is None:
        sys.exit(
            "RabbitMQ is not installed and nothing answers at 127.0.0.1:5672.\n"
            "Install it (Debian/Ubuntu: sudo apt-get install rabbitmq-server) and try again,\n"
            "or point AMQP_URI at a running RabbitMQ."
        )
    print("[nszm] RabbitMQ is down; starting it with `rabbitmq-server -detached`", flush=True)
    subprocess.run([server, "-detached"], check=False)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        time.sleep(0.5)
    sys.exit("RabbitMQ did not come up within 90 s; see its log (e.g. /var/log/rabbitmq/).")


def make_vhost(name: str) -> str:
    """A fresh vhost on the local RabbitMQ, so that a run never meets another platform's services."""
    ctl = _tool("rabbitmqctl")
    if ctl is None:
        sys.exit("rabbitmqctl is needed to create a private vhost for tests and benchmarks.")
    subprocess.run([ctl, "add_vhost", name], check=True, capture_output=True)
    subprocess.run([ctl, "set_permissions", "-p", name, "guest", ".*", ".*", ".*"], check=True, capture_output=True)
    return DEFAULT_AMQP_URI.rstrip("/") + "/" + quote(name, safe="")


def drop_vhost(name: str):
    ctl = _tool("rabbitmqctl")
    if ctl:
        subprocess.run([ctl, "delete_vhost", name], check=False, capture_output=True)
