"""A nameko RPC round trip, as the platform makes them, against a raw pika request/reply on the
same broker.

Both sides do the same: a client sends a small JSON request and waits for the reply from a
server in another process that echoes it. The nameko side is the platform's own: the gateway's
RPC client (`gateway.rpc.RpcClients`) calling `Echo` below, a service with the platform's RPC
entrypoint (`nameko run`); the pika server is `python -m bench.rpc_roundtrip serve <amqp uri>`.
"""
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pika
from nameko.amqp import publish

from gateway.rpc import RpcClients
from nszm import patches
from nszm.entrypoints import rpc
from nszm.service import LibraryPatches

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PIKA_QUEUE = "bench.echo"
PAYLOAD = {"event": "jarni-skola", "email": "ucastnik@example.cz"}
ROUNDS = 5
NAMEKO_GET_PRODUCER = publish.get_producer  # read before anything installs the patches


class Echo:
    name = "bench_echo"
    library_patches = LibraryPatches()  # as every platform service has them

    @rpc
    def echo(self, payload):
        return payload


class EchoAsReleased:
    """`Echo` with nameko as released, no library patch installed (bench.patches compares them)."""
    name = "bench_echo"
    echo = Echo.echo


def serve(amqp_uri: str):
    """The pika side's server: replies to each request with its body."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    channel = connection.channel()
    channel.queue_declare(PIKA_QUEUE, auto_delete=True)

    def reply(ch, method, properties, body):
        ch.basic_publish("", properties.reply_to, body,
                         pika.BasicProperties(correlation_id=properties.correlation_id))
        ch.basic_ack(method.delivery_tag)

    channel.basic_qos(prefetch_count=10)
    channel.basic_consume(PIKA_QUEUE, reply)
    print("ready", flush=True)
    channel.start_consuming()


def pika_round_trips(amqp_uri: str, count: int) -> list[float]:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    channel = connection.channel()
    reply_queue = channel.queue_declare("", exclusive=True).method.queue
    replies = {}
    channel.basic_consume(reply_queue, lambda ch, m, p, body: replies.__setitem__(p.correlation_id, body),
                          auto_ack=True)
    body = json.dumps(PAYLOAD).encode()
    times = []
    for _ in range(count):
        correlation = uuid.uuid4().hex
        started = time.perf_counter()
        channel.basic_publish("", PIKA_QUEUE, body, pika.BasicProperties(
            reply_to=reply_queue, correlation_id=correlation, content_type="application/json"))
        while correlation not in replies:
            connection.process_data_events(time_limit=None)
        assert json.loads(replies.pop(correlation)) == PAYLOAD
        times.append(time.perf_counter() - started)
    connection.close()
    return times


def nameko_round_trips(amqp_uri: str, count: int, patched: bool = True) -> list[float]:
    if patched:
        patches.install()  # as the gateway has them
    else:
        publish.get_producer = NAMEKO_GET_PRODUCER
    times = []
    clients = RpcClients(amqp_uri, os.environ["SECRET_KEY"])
    try:
        for _ in range(count):
            started = time.perf_counter()
            assert clients.proxy().bench_echo.echo(PAYLOAD) == PAYLOAD
            times.append(time.perf_counter() - started)
    finally:
        clients.discard()
    return times


def nameko_server(amqp_uri: str, patched: bool = True) -> subprocess.Popen:
    """The echo service in a process of its own, answering once this returns."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AMQP_URI": amqp_uri}
    service = "bench.rpc_roundtrip:" + ("Echo" if patched else "EchoAsReleased")
    server = subprocess.Popen([str(BIN / "nameko"), "run", "--config", "deploy/nameko.yaml", service],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:  # the server is up once a call is answered
        try:
            nameko_round_trips(amqp_uri, 1, patched)
            return server
        except Exception:
            if time.monotonic() > deadline:
                server.terminate()
                raise
            time.sleep(0.2)


def median_nameko_ms(amqp_uri: str, patched: bool, count: int = 2000) -> float:
    """The median of `count` round trips to a new echo service, with the library patches or without."""
    server = nameko_server(amqp_uri, patched)
    try:
        nameko_round_trips(amqp_uri, 100, patched)
        return statistics.median(nameko_round_trips(amqp_uri, count, patched)) * 1000
    finally:
        server.terminate()
        server.wait(timeout=10)


def compare(amqp_uri: str, count: int = 2000) -> dict:
    """Median round trips of both (after a warm-up), in milliseconds, and their ratio."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AMQP_URI": amqp_uri}
    servers = [
        nameko_server(amqp_uri),
        subprocess.Popen([sys.executable, "-m", "bench.rpc_roundtrip", "serve", amqp_uri], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, text=True),
    ]
    try:
        assert servers[1].stdout.readline().strip() == "ready"
        pika_round_trips(amqp_uri, 100)
        nameko_times, pika_times = [], []
        for _ in range(ROUNDS):  # taken in turns, so that both meet the same moments of the machine
            nameko_times += nameko_round_trips(amqp_uri, count // ROUNDS)
            pika_times += pika_round_trips(amqp_uri, count // ROUNDS)
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)
    nameko_ms, pika_ms = statistics.median(nameko_times) * 1000, statistics.median(pika_times) * 1000
    return {"nameko_ms": nameko_ms, "pika_ms": pika_ms, "ratio": nameko_ms / pika_ms, "count": count}


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2])
    else:
        from ops import rabbit

        vhost = f"nszm-bench-{uuid.uuid4().hex[:8]}"
        try:
            print(compare(rabbit.make_vhost(vhost)))
        finally:
            rabbit.drop_vhost(vhost)
