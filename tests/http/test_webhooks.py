"""Webhooks against the running platform: a receiver (a small HTTP server here) gets every event
it subscribed to, each signature checks out by the documented algorithm, and events it missed
while answering 500 arrive once it answers 200 again. Admins only; bad URLs are refused."""
import base64
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.http import test_events_api as events_api
from tests.waiting import wait_until


class Receiver:
    """Records every POST; answers `status` (changeable while it runs)."""

    def __init__(self):
        self.status = 200
        self.received: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                receiver.received.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body,
                                          "answered": receiver.status})
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def delivered(self) -> dict[str, dict]:
        """Event id -> envelope, of the POSTs answered with 200."""
        return {r["headers"]["webhook-id"]: json.loads(r["body"]) for r in self.received if r["answered"] == 200}


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.server.shutdown()


def verified(secret: str, request: dict) -> bool:
    """The Standard Webhooks check, written out: HMAC-SHA256 over `id.timestamp.body` keyed with the
    base64-decoded secret, base64-encoded, after `v1,`."""
    headers = request["headers"]
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.{request['body']}".encode()
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(f"v1,{expected}", part) for part in headers["webhook-signature"].split())


def test_a_receiver_gets_each_subscribed_event_signed_and_what_it_missed_once_it_answers_again(
        staff, public, receiver):
    created = staff.post("/api/v1/webhooks", json={"url": receiver.url, "description": "CRM",
                                                   "events": ["registration_confirmed", "registration_cancelled"]})
    assert created.status_code == 201, created.text
    hook = created.json()
    assert hook["secret"].startswith("whsec_") and hook["enabled"] is True
    assert "secret" not in staff.get("/api/v1/webhooks").json()["items"][0]

    event = events_api.published(staff)
    first = events_api.register(public, event, events_api.address("hook")).json()
    wait_until(lambda: first["id"] in json.dumps(list(receiver.delivered().values())), timeout=20,
               message="the first registration delivered")

    receiver.status = 500
    missed = events_api.register(public, event, events_api.address("hook")).json()
    path, params = events_api.cancel_link_parts(first)
    assert public.post(path, params=params, headers={"Accept": "application/json"}).status_code == 200
    wait_until(lambda: len([r for r in receiver.received if r["answered"] == 500]) >= 2, timeout=20,
               message="two deliveries refused")
    receiver.status = 200
    wait_until(lambda: len(receiver.delivered()) == 3, timeout=30, message="the missed events delivered")

    delivered = receiver.delivered()
    kinds = sorted((e["event_type"], e["data"]["registration"]["id"]) for e in delivered.values())
    assert kinds == sorted([("registration_confirmed", first["id"]), ("registration_confirmed", missed["id"]),
                            ("registration_cancelled", first["id"])])
    assert all(verified(hook["secret"], r) for r in receiver.received)
    assert all(r["headers"]["webhook-id"] == json.loads(r["body"])["event_id"] for r in receiver.received)
    log = wait_until(lambda: (answer := staff.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json())["total"] == 3
                     and {d["status"] for d in answer["items"]} == {"delivered"} and answer, timeout=10,
                     message="the log shows three deliveries")
    assert max(d["attempts"] for d in log["items"]) >= 2
    assert staff.delete(f"/api/v1/webhooks/{hook['id']}").status_code == 204
    assert staff.get(f"/api/v1/webhooks/{hook['id']}/deliveries").status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"url": "ftp://example.cz/x", "events": ["member_joined"]}, "url"),
    ({"url": "https://example.cz/x", "events": ["vote_requested"]}, "events.0"),
    ({"url": "https://example.cz/x", "events": []}, "events"),
    ({"url": "https://no-such-host.invalid/x", "events": ["member_joined"]}, "url"),
])
def test_bad_webhooks_are_refused_with_the_field_named(staff, body, field):
    refused = staff.post("/api/v1/webhooks", json=body)
    assert refused.status_code == 422 and field in refused.json()["errors"], refused.text


def test_only_admins_manage_webhooks(public):
    assert public.get("/api/v1/webhooks").status_code == 401
    assert public.post("/api/v1/webhooks", json={"url": "https://example.cz/", "events": ["member_joined"]}
                       ).status_code == 401
