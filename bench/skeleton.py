"""The skeleton of a registration: what the stack alone costs, with none of the platform's work.

A POST through gunicorn with the gateway's settings; a nameko RPC through the gateway's own
client to a service (the platform's RPC entrypoint, `nameko run`) that inserts one document
into an embedded SecantusDB of its own and dispatches one event; a second service that receives
the event and inserts one more document, as notify records a mail. A registration does all of
this and more: its rate limits, the seat count, its outbox, a mail built and delivered. A vote
is the same shape. So the rate the skeleton reaches on a machine is a ceiling for both there,
and the bench prints theirs as a share of it.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import requests
from nameko.events import EventDispatcher, event_handler

from gateway.rpc import RpcClients
from nszm.entrypoints import rpc
from nszm.storage import connect
from ops import embedded, rabbit

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DATABASE = "skeleton"
_clients = {}


def database():
    """This process's client of the skeleton's database (MONGO_URI), made on first use."""
    if "db" not in _clients:
        _clients["db"] = connect(os.environ["MONGO_URI"])[DATABASE]
    return _clients["db"]


class Registrations:
    name = "bench_skeleton"
    dispatch = EventDispatcher()

    @rpc
    def register(self, payload):
        document = {"_id": uuid.uuid4().hex, **payload}
        database().registrations.insert_one(document)
        self.dispatch("registered", document)
        return {"id": document["_id"], "status": "confirmed"}


class Mails:
    name = "bench_skeleton_mail"

    @event_handler("bench_skeleton", "registered")
    def on_registered(self, registration):
        database().mails.insert_one({"_id": registration["_id"], "to": registration["email"]})


def app(environ, start_response):
    """POST /: the request's JSON, registered through the service; 201 and its answer."""
    if "rpc" not in _clients:  # the gateway's own client
        _clients.setdefault("rpc", RpcClients(os.environ["AMQP_URI"], os.environ["SECRET_KEY"]))  # one for all of the worker's threads
    payload = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
    body = json.dumps(_clients["rpc"].proxy().bench_skeleton.register(payload)).encode()
    start_response("201 Created", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


@contextmanager
def running(env: dict):
    """The skeleton's database, services and gateway, started with `env`; yields (base URL, database URI)."""
    data_dir = Path(tempfile.mkdtemp(prefix="nszm-skeleton-"))
    db_port = embedded.free_port()
    port = embedded.free_port(avoid=(db_port,))
    uri = embedded.uri_for(db_port)
    env = {**env, "MONGO_URI": uri, "GATEWAY_BIND": f"127.0.0.1:{port}", "PYTHONPATH": str(ROOT)}
    start = [embedded.command(data_dir, db_port).split()]
    start += [[str(BIN / "nameko"), "run", "--config", "deploy/nameko.yaml", f"bench.skeleton:{service}"]
              for service in ("Registrations", "Mails")]
    start += [[sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py", "bench.skeleton:app"]]
    processes = []
    with open(data_dir / "skeleton.log", "wb") as log:
        try:
            for command in start:
                processes.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
                if len(processes) == 1 and not embedded.wait_until_up(uri):
                    raise RuntimeError("the skeleton's database did not start")
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while not rabbit.port_open("127.0.0.1", port) or not _goes_through(base, uri):
                if time.monotonic() > deadline:
                    raise RuntimeError((data_dir / "skeleton.log").read_text()[-3000:])
                time.sleep(0.2)
            yield base, uri
        finally:
            for process in reversed(processes):
                process.terminate()
                process.wait(timeout=30)


def _goes_through(base: str, uri: str) -> bool:
    """A registration is answered and its mail recorded within a second: the gateway and both
    services listen (an event sent before the second service bound its queue is dropped)."""
    try:
        answer = requests.post(base + "/", json={"email": "probe@example.cz"}, timeout=5)
    except requests.RequestException:
        return False
    if answer.status_code != 201:
        return False
    client = connect(uri)
    try:
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline:
            if client[DATABASE].mails.find_one({"_id": answer.json()["id"]}) is not None:
                return True
            time.sleep(0.05)
        return False
    finally:
        client.close()
