"""What the gateway's views share: settings, RPC clients, token store, the endpoint registry."""
from dataclasses import dataclass

from flask import current_app

from gateway.api import Api
from gateway.auth import TokenStore, signed_in_staff
from gateway.limits import RateLimiter
from gateway.rpc import RpcClients
from gateway.sessions import SessionStore
from nszm.audit import AuditLog
from nszm.config import Settings
from nszm.contracts.common import MAX_PER_PAGE

api = Api()


@dataclass
class GatewayContext:
    settings: Settings
    rpc: RpcClients
    tokens: TokenStore
    mongo: object
    limiter: RateLimiter
    audit: AuditLog
    sessions: SessionStore  # the console's
    openapi: dict | None = None
    asyncapi: dict | None = None


def services(timeout: float | None = None):
    """This thread's RPC proxy: `services().members.list_members(...)`; a signed-in staff
    member's calls carry who they are (staff actions need it, and it goes to the audit log).
    `timeout` (seconds) for a call that may take longer than the usual 15 s (an import)."""
    staff = signed_in_staff()
    rpc = current_app.extensions["nszm"].rpc
    return rpc.proxy(staff=staff.context() if staff else None, **({"timeout": timeout} if timeout else {}))


def forwarder(service: str, tag: str):
    """Declares endpoints that hand the request to one RPC of `service` as it is: the path
    parameters in order, then the loaded query and the body, whichever the endpoint has.

    `forward("get_member", "GET /api/v1/members/<slug>", "One member", response=…)`; the view's
    name (the OpenAPI operationId) is the RPC's unless `name` says otherwise.
    """
    def forward(rpc: str, route: str, summary: str, name: str | None = None, **meta):
        def view(**arguments):
            return getattr(getattr(services(), service), rpc)(*arguments.values())

        view.__name__ = name or rpc
        method, path = route.split(" ", 1)
        api.route(path, method, summary=summary, tag=tag, **meta)(view)

    return forward


def settings() -> Settings:
    return current_app.extensions["nszm"].settings


def public_url() -> str:
    """The base of every absolute link: PUBLIC_URL."""
    return settings().public_url


def every_item(fetch, query: dict | None = None) -> list[dict]:
    """Every item of a paged list (`fetch(query)` answers one page), page by page."""
    items, number = [], 1
    while True:
        answer = fetch({**(query or {}), "page": number, "per_page": MAX_PER_PAGE})
        items += answer["items"]
        if len(items) >= answer["total"] or not answer["items"]:
            return items
        number += 1
