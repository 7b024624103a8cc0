"""The webhook sender against real HTTP(S) servers on loopback: the name is resolved once and the
request goes to the address that was checked, with the URL's host as `Host` and as the TLS name
the certificate must match; answers' bodies are never kept."""
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trustme

from services.notify.webhooks.sender import WebhookSender


class Recording(BaseHTTPRequestHandler):
    """Answers with the server's `status` and a body that must not be kept; records each request."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.seen.append((self.path, self.headers["Host"], self.headers["webhook-id"], body))
        answer = b"internal secrets of the endpoint"
        self.send_response(self.server.status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recording)
    httpd.seen, httpd.status = [], 204
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


class Rebinding:
    """A resolver that names a checked address first and an internal one at every later ask."""

    def __init__(self, first: str, later: str):
        self.first, self.later, self.asked = first, later, 0

    def __call__(self, url):
        self.asked += 1
        return [self.first if self.asked == 1 else self.later]


def test_the_request_goes_to_the_checked_address_with_the_host_kept(server):
    port = server.server_address[1]
    resolver = Rebinding("127.0.0.1", "127.0.0.2")  # a second resolution would go elsewhere
    sender = WebhookSender(allow_private=True, resolve=resolver)
    status, error = sender.post(f"http://hooks.example.cz:{port}/in?x=1", '{"a": 1}', {"webhook-id": "e1"})
    assert (status, error) == (204, None)
    assert resolver.asked == 1
    assert server.seen == [("/in?x=1", f"hooks.example.cz:{port}", "e1", b'{"a": 1}')]


def test_a_name_that_resolves_internally_is_refused_without_a_connection(server):
    port = server.server_address[1]
    sender = WebhookSender(allow_private=False, resolve=lambda url: ["127.0.0.1"])
    status, error = sender.post(f"http://hooks.example.cz:{port}/in", "{}", {"webhook-id": "e2"})
    assert status is None and "not a public address" in error
    sender = WebhookSender(allow_private=False, resolve=lambda url: ["64:ff9b::7f00:1"])
    assert "not a public address" in sender.post(f"http://hooks.example.cz:{port}/in", "{}", {})[1]
    assert server.seen == []


def test_only_the_status_of_a_failed_answer_is_kept(server):
    server.status = 500
    sender = WebhookSender(allow_private=True, resolve=lambda url: ["127.0.0.1"])
    status, error = sender.post(f"http://hooks.example.cz:{server.server_address[1]}/", "{}", {"webhook-id": "e3"})
    assert (status, error) == (500, "HTTP 500")


def test_over_https_the_certificate_must_match_the_urls_host_not_the_address(server, tmp_path):
    authority = trustme.CA()
    certificate = authority.issue_cert("hooks.example.cz")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    certificate.configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    port = server.server_address[1]
    sender = WebhookSender(allow_private=True, resolve=lambda url: ["127.0.0.1"], ca_certs=str(ca_file))
    assert sender.post(f"https://hooks.example.cz:{port}/tls", "{}", {"webhook-id": "e4"}) == (204, None)
    assert server.seen[-1][:2] == ("/tls", f"hooks.example.cz:{port}")
    status, error = sender.post(f"https://other.example.cz:{port}/tls", "{}", {"webhook-id": "e5"})
    assert status is None and "other.example.cz" in error  # the certificate does not name it
    assert len(server.seen) == 1
