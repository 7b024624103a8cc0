"""POSTing events to webhook endpoints without being turned against the internal network.

The host is resolved once per try, every address it resolves to is checked, and the request
goes to an address that passed, with the URL's host kept as the `Host` header and, over https,
as the TLS server name the certificate is checked against: a name that resolves elsewhere a
moment later (DNS rebinding) changes nothing. Redirects are not followed, every try has a
timeout, and only the answer's status is kept, never its body.
"""
import socket
import ssl
from urllib.parse import urlparse

import certifi
import urllib3
from nameko.extensions import DependencyProvider

from nszm.config import Settings
from services.notify.webhooks import domain

CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 10


def addresses_of(url: str) -> list[str]:
    """The IP addresses the URL's host resolves to ([] if it does not)."""
    parsed = urlparse(url)
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        return sorted({str(info[4][0]) for info in socket.getaddrinfo(parsed.hostname, port, proto=socket.IPPROTO_TCP)})
    except (OSError, ValueError, UnicodeError):
        return []


class WebhookSender:
    def __init__(self, allow_private: bool, resolve=addresses_of, ca_certs: str | None = None):
        self.allow_private = allow_private
        self.resolve = resolve
        self.ca_certs = ca_certs or certifi.where()

    def refusal(self, url: str) -> str | None:
        """Why the platform may not send to this URL, or None."""
        return domain.refused_address(self.resolve(url), self.allow_private)

    def post(self, url: str, body: str, headers: dict) -> tuple[int | None, str | None]:
        """(HTTP status, None) for a 2xx answer, (status, "HTTP status") for another, else
        (None, what went wrong)."""
        addresses = self.resolve(url)
        refusal = domain.refused_address(addresses, self.allow_private)
        if refusal is not None:
            return None, refusal
        try:
            status = self._post_to(addresses[0], url, body, headers)
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as error:
            return None, f"{type(error).__name__}: {error}"[:1000]
        return status, None if 200 <= status < 300 else f"HTTP {status}"

    def _post_to(self, address: str, url: str, body: str, headers: dict) -> int:
        parsed = urlparse(url)
        https = parsed.scheme == "https"
        port = parsed.port or (443 if https else 80)
        timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT_SECONDS, read=READ_TIMEOUT_SECONDS)
        pool: urllib3.HTTPConnectionPool
        if https:
            context = ssl.create_default_context(cafile=self.ca_certs)  # checks the name given as SNI
            pool = urllib3.HTTPSConnectionPool(address, port, server_hostname=parsed.hostname,
                                               ssl_context=context, timeout=timeout, retries=False, maxsize=1)
        else:
            pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False, maxsize=1)
        path = (parsed.path or "/") + (f"?{parsed.query}" if parsed.query else "")
        host = parsed.netloc.rpartition("@")[2]
        try:
            response = pool.urlopen("POST", path, body=body.encode(), redirect=False, preload_content=False,
                                    headers={**headers, "Host": host})
            response.close()  # its body is not read: nothing of it is kept
            return response.status
        finally:
            pool.close()


class WebhookSenderProvider(DependencyProvider):
    def setup(self):
        self.sender = WebhookSender(Settings.from_env(self.container.config).webhooks_allow_private)

    def get_dependency(self, worker_ctx):
        return self.sender
