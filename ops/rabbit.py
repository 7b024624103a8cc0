"""RabbitMQ on this machine: start it when installed but down; private vhosts for tests and
benchmarks; a restricted user for each subscriber of the platform's events.

    python -m ops.rabbit subscriber crm [--vhost /]      # password from SUBSCRIBER_PASSWORD, else made and shown

A subscriber's user may read the platform's public exchanges (`<source>.events`) and declare,
bind and consume queues named `<name>.…`; it can publish nothing to the platform (no RPC, no
event, nothing to a platform queue) and read neither RPC nor internal exchanges.
"""
import argparse
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlparse

from nszm.config import DEFAULT_AMQP_URI
from nszm.contracts.bus import PUBLIC_EVENTS, SUBSCRIPTIONS

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _tool(name: str) -> str | None:
    return shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)


def brokers(amqp_uri: str) -> list[tuple[str, int]]:
    """(host, port) of each node AMQP_URI names: one URI, or several joined by `;` (a cluster's
    nodes, tried in turn by kombu's failover)."""
    urls = [urlparse(uri.strip()) for uri in amqp_uri.split(";") if uri.strip()]
    return [(url.hostname or "127.0.0.1", url.port or 5672) for url in urls]


def ensure_running(amqp_uri: str):
    """Return when RabbitMQ answers (any node of a cluster); start a local one if installed;
    exit with advice otherwise."""
    nodes = brokers(amqp_uri)
    if any(port_open(host, port) for host, port in nodes):
        return
    host, port = nodes[0]
    if len(nodes) > 1 or host not in LOCAL_HOSTS:
        sys.exit(f"RabbitMQ at {', '.join(f'{h}:{p}' for h, p in nodes)} does not answer; start it or set AMQP_URI.")
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


SUBSCRIBER_NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}$")
PLATFORM_NAMES = {subscription.consumer for subscription in SUBSCRIPTIONS} | {
    spec.source for spec in PUBLIC_EVENTS} | {"gateway", "nameko", "rpc", "amq", "guest"}


def subscriber_permissions(name: str) -> tuple[str, str, str]:
    """RabbitMQ's configure, write and read patterns of the subscriber `name`."""
    if not SUBSCRIBER_NAME.match(name) or name in PLATFORM_NAMES:
        raise ValueError(f"a subscriber's name is lower-case letters, digits and '-', and not one of "
                         f"the platform's ({', '.join(sorted(PLATFORM_NAMES))})")
    own = rf"^{re.escape(name)}\."
    sources = "|".join(sorted({re.escape(spec.exchange) for spec in PUBLIC_EVENTS}))
    return own, own, rf"^({re.escape(name)}\..*|{sources})$"


def add_subscriber(name: str, password: str, vhost: str = "/"):
    """Create (or update) the user `name` with only a subscriber's permissions on `vhost`."""
    configure, write, read = subscriber_permissions(name)
    ctl = _tool("rabbitmqctl")
    if ctl is None:
        sys.exit("rabbitmqctl is needed; on another machine run the commands the README lists.")
    added = subprocess.run([ctl, "add_user", name, password], capture_output=True, text=True)
    if added.returncode != 0:
        subprocess.run([ctl, "change_password", name, password], check=True, capture_output=True)
    subprocess.run([ctl, "set_user_tags", name], check=True, capture_output=True)
    subprocess.run([ctl, "set_permissions", "-p", vhost, name, configure, write, read], check=True,
                   capture_output=True)


def delete_user(name: str):
    ctl = _tool("rabbitmqctl")
    if ctl:
        subprocess.run([ctl, "delete_user", name], check=False, capture_output=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.rabbit", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    subscriber = commands.add_parser("subscriber", help="create a subscriber's restricted RabbitMQ user")
    subscriber.add_argument("name", help="the subscriber's name; its queues are named `<name>.…`")
    subscriber.add_argument("--vhost", default="/")
    arguments = parser.parse_args(argv)
    password = os.environ.get("SUBSCRIBER_PASSWORD") or secrets.token_urlsafe(24)
    try:
        add_subscriber(arguments.name, password, arguments.vhost)
    except ValueError as error:
        parser.error(str(error))
    configure, write, read = subscriber_permissions(arguments.name)
    print(f"user {arguments.name} on vhost {arguments.vhost}: configure {configure!r}, write {write!r}, read {read!r}")
    if "SUBSCRIBER_PASSWORD" not in os.environ:
        print(f"password (shown once): {password}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
