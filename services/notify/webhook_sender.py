"""POSTing events to webhook endpoints: the host's addresses are checked at every try (a name may
resolve elsewhere later), redirects are not followed, and every try has a timeout."""
import socket
from urllib.parse import urlparse

import requests
from nameko.extensions import DependencyProvider

from nszm.config import Settings
from services.notify import domain

CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 10


def addresses_of(url: str) -> list[str]:
    """The IP addresses the URL's host resolves to ([] if it does not)."""
    parsed = urlparse(url)
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        return sorted({info[4][0] for info in socket.getaddrinfo(parsed.hostname, port, proto=socket.IPPROTO_TCP)})
    except (OSError, ValueError, UnicodeError):
        return []


class WebhookSender:
    def __init__(self, allow_private: bool):
        self.allow_private = allow_private

    def refusal(self, url: str) -> str | None:
        """Why the platform may not send to this URL, or None."""
        return domain.refused_address(addresses_of(url), self.allow_private)

    def post(self, url: str, body: str, headers: dict) -> tuple[int | None, str | None]:
        """(HTTP status, None) when the endpoint answered, else (None, what went wrong)."""
        refusal = self.refusal(url)
        if refusal is not None:
            return None, refusal
        try:
            response = requests.post(url, data=body.encode(), headers=headers, allow_redirects=False,
                                     timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS))
        except requests.RequestException as error:
            return None, f"{type(error).__name__}: {error}"[:1000]
        return response.status_code, None if response.ok else response.text[:300]


class WebhookSenderProvider(DependencyProvider):
    def setup(self):
        self.sender = WebhookSender(Settings.from_env(self.container.config).webhooks_allow_private)

    def get_dependency(self, worker_ctx):
        return self.sender
