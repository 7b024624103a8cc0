"""The gateway's WSGI application: endpoints, errors, CORS, metrics."""
import atexit
import re
from typing import Callable, Iterable
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from gateway import (  # noqa: F401  (their endpoints register on `api`)
    audit,
    deadletters,
    events,
    feeds,
    imports,
    members,
    notify,
    ops,
    pages,
    practice,
    privacy,
    registrations,
)
from gateway.asyncapi import asyncapi_document
from gateway.auth import TokenStore
from gateway.cache import CachedReads, Generations, Invalidations, ReadCache, RequestKeys
from gateway.console import console
from gateway.context import GatewayContext, api
from gateway.errors import install_error_handlers
from gateway.limits import RateLimiter
from gateway.rpc import RpcClients
from gateway.sessions import COOKIE_PATH, ServerSessions, SessionStore
from nszm import messages, patches
from nszm.audit import AuditLog, audit_key
from nszm.config import Settings
from nszm.privacy import Pseudonyms
from nszm.storage import connect

MAX_BODY_BYTES = 256 * 1024

# The association's websites may call the API from browsers (with a staff token too).
ALLOWED_ORIGINS = re.compile(
    r"^https://([a-z0-9-]+\.)*(zdravamesta\.cz|dobrapraxe\.cz|nszm\.cz|healthycities\.cz)$"
)


def _cors(app: Flask, origin_allowed):
    @app.after_request
    def add_cors_headers(response):
        origin = request.headers.get("Origin")
        response.vary.add("Origin")
        if origin and origin_allowed(origin):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, PATCH, DELETE, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type, If-None-Match"
            response.headers["Access-Control-Expose-Headers"] = "ETag, Location"
            response.headers["Access-Control-Max-Age"] = "600"
        return response


PAGE_POLICY = ("default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self'; form-action 'self'; "
               "frame-ancestors 'none'; base-uri 'none'")


def _security_headers(app: Flask):
    """On every answer: no sniffing, no referrer (link URLs hold tokens), no framing; a strict
    policy on HTML pages (the console sets its own, stricter one first)."""
    @app.after_request
    def add_security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if response.mimetype == "text/html":
            response.headers.setdefault("Content-Security-Policy", PAGE_POLICY)
        return response


def _allow_header(app: Flask):
    """`Allow` lists the methods of the route a path names, not of every route it could fit:
    `/api/v1/members/stats` is not `/api/v1/members/<slug>`, which has PATCH."""
    @app.after_request
    def exact_allow(response):
        if request.method == "OPTIONS" or response.status_code == 405:
            methods = methods_of_route(app, request.path)
            if methods:
                response.headers["Allow"] = ", ".join(sorted(methods))
        return response


def methods_of_route(app: Flask, path: str) -> set[str]:
    adapter = app.url_map.bind("")
    matches = []
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        try:
            rule, _ = adapter.match(path, method=method, return_rule=True)
        except HTTPException:
            continue
        matches.append((len(rule.arguments), rule.rule, method))
    if not matches:
        return set()
    best = min(matches)[1]  # the route with the fewest placeholders: the one the path names
    methods = {method for _, rule, method in matches if rule == best}
    return methods | ({"HEAD"} if "GET" in methods else set()) | {"OPTIONS"}


class UnicodeJSON(DefaultJSONProvider):
    """JSON answers keep Czech letters as they are, not as \\u escapes."""

    ensure_ascii = False


class Gateway(Flask):
    """The gateway's Flask application, served through `outer`: the application wrapped in the
    layers `wrap` adds (the proxy fix, the read cache)."""

    json_provider_class = UnicodeJSON

    def __init__(self, import_name: str):
        super().__init__(import_name)
        self.outer: WSGIApplication = self.wsgi_app

    def wrap(self, layer: Callable[[WSGIApplication], WSGIApplication]):
        self.outer = layer(self.outer)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self.outer(environ, start_response)


def create_app(settings: Settings | None = None, rpc: RpcClients | None = None, mongo=None,
               limiter: RateLimiter | None = None, cached_reads: bool = False) -> Flask:
    """The gateway; with `cached_reads`, public reads are kept in memory, coherent through the bus."""
    settings = settings or Settings.from_env()
    patches.install()
    app = Gateway(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    mongo = mongo or connect(settings.database_uri)
    tokens = TokenStore(mongo[settings.mongo_db]["gateway.staff_tokens"], settings.bootstrap_staff_token)
    database = mongo[settings.mongo_db]
    context = GatewayContext(settings=settings, rpc=rpc or RpcClients(settings.amqp_uri, settings.secret_key),
                             tokens=tokens, mongo=mongo,
                             limiter=limiter or RateLimiter(settings.database_uri, settings.mongo_db,
                                                                         Pseudonyms(settings.secret_key)),
                             audit=AuditLog(database["gateway.audit"], "gateway", audit_key(settings.secret_key)),
                             sessions=SessionStore(database["gateway.console_sessions"]))
    app.extensions["nszm"] = context
    messages.templates()  # read now, not by the first error, which may come in an outage
    api.register(app)
    app.add_url_rule(pages.STATEMENT_PATH, "accessibility_statement", pages.accessibility_statement)
    app.add_url_rule("/problems/<kind>", "problem_type", pages.problem_type)
    app.register_blueprint(console)
    app.session_interface = ServerSessions(context.sessions)
    app.config.update(SESSION_COOKIE_NAME="nszm_console", SESSION_COOKIE_PATH=COOKIE_PATH,
                      SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict",
                      SESSION_COOKIE_SECURE=settings.public_url.startswith("https://"))
    context.openapi = api.openapi(settings.public_url)
    context.asyncapi = asyncapi_document(re.sub(r"//[^@/]*@", "//", settings.amqp_uri))
    install_error_handlers(app)
    if settings.trusted_proxies:  # only their X-Forwarded-For entries decide the client's address
        app.wrap(lambda inner: ProxyFix(inner, x_for=settings.trusted_proxies))
    ops.install_metrics(app)
    _security_headers(app)
    _allow_header(app)
    public_origin = re.sub(r"^(https?://[^/]+).*$", r"\1", settings.public_url)

    def origin_allowed(origin: str) -> bool:
        return origin == public_origin or bool(ALLOWED_ORIGINS.match(origin))

    _cors(app, origin_allowed)
    if cached_reads:
        generations = Generations()
        invalidations = Invalidations(settings.amqp_uri, generations).start()
        atexit.register(invalidations.stop)  # a worker that stops announces its last writes first
        keys = RequestKeys(app.url_map, api.cacheable_parameters(), origin_allowed)
        app.wrap(lambda inner: CachedReads(inner, ReadCache(generations, settings.read_cache_bytes), invalidations,
                                           keys, ops.observe))
    return app
