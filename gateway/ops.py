"""Operations endpoints: liveness, readiness, metrics and the OpenAPI document."""
import time

import pymongo
from flask import Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

from gateway.api import json_response
from gateway.context import api
from gateway.rpc import PROBE_TIMEOUT_SECONDS

SERVICES = ("members", "events", "practice", "notify")

REQUESTS = Counter("nszm_http_requests_total", "HTTP requests by route and status", ["method", "route", "status"])
LATENCY = Histogram("nszm_http_request_seconds", "HTTP request latency by route", ["method", "route"])


def observe(method: str, route: str, status: int, seconds: float):
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)


def install_metrics(app: Flask):
    @app.before_request
    def start_timer():
        g.started = time.perf_counter()

    @app.after_request
    def count(response):
        route = request.url_rule.rule if request.url_rule else "unmatched"
        observe(request.method, route, response.status_code, time.perf_counter() - g.get("started", time.perf_counter()))
        return response


@api.route("/healthz", summary="Liveness: 200 while the process lives", tag="operations", cache=False)
def healthz():
    return {"status": "ok"}


def _check_services(checks: dict):
    _check_rabbitmq(checks)
    if checks["rabbitmq"] != "ok":
        for name in SERVICES:
            checks[name] = "unknown: the bus is down"
        return
    proxy = current_app.extensions["nszm"].rpc.proxy(timeout=PROBE_TIMEOUT_SECONDS)
    replies = {}
    for name in SERVICES:  # ask all first, then collect, so one slow service costs one timeout
        try:
            replies[name] = getattr(proxy, name).health.call_async()
        except Exception as error:  # e.g. UnknownService: no queue bound for it
            checks[name] = f"down: {type(error).__name__}"
    for name, reply in replies.items():
        try:
            reply.result()
            checks[name] = "ok"
        except Exception as error:
            checks[name] = f"down: {type(error).__name__}"


def _check_mongodb(checks: dict):
    """Within the probe's time: a database that is down must not hold a load balancer's probe for
    the client's whole server-selection wait."""
    try:
        with pymongo.timeout(PROBE_TIMEOUT_SECONDS):
            current_app.extensions["nszm"].mongo.admin.command("ping")
        checks["mongodb"] = "ok"
    except Exception as error:
        checks["mongodb"] = f"down: {type(error).__name__}"


def _check_rabbitmq(checks: dict):
    context = current_app.extensions["nszm"]
    try:
        context.rpc.proxy(timeout=PROBE_TIMEOUT_SECONDS)
        checks["rabbitmq"] = "ok"
    except Exception as error:
        context.rpc.discard()
        checks["rabbitmq"] = f"down: {error}"


def _readiness(checks: dict):
    ready = all(value == "ok" for value in checks.values())
    response = json_response({"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503)
    response.cache_control.no_store = True
    return response


@api.route("/readyz/gateway", summary="Readiness of this gateway alone: its RabbitMQ and MongoDB connections",
           tag="operations", cache=False)
def gateway_readyz():
    """What a load balancer asks: a service that is down makes every gateway equally unable to
    reach it, so it must not take them all out of rotation (their other endpoints still work)."""
    checks: dict[str, str] = {}
    _check_mongodb(checks)
    _check_rabbitmq(checks)
    return _readiness(checks)


@api.route("/readyz", summary="Readiness: RabbitMQ, MongoDB and every service answer", tag="operations",
           cache=False)
def readyz():
    checks: dict[str, str] = {}
    _check_mongodb(checks)
    _check_services(checks)
    return _readiness(checks)


@api.route("/metrics", summary="Prometheus metrics", tag="operations", media_type=CONTENT_TYPE_LATEST, cache=False)
def metrics():
    return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)


@api.route("/openapi.json", summary="This document", tag="operations")
def openapi():
    return current_app.extensions["nszm"].openapi


@api.route("/asyncapi.json", summary="The bus events (AsyncAPI 2.6)", tag="operations")
def asyncapi():
    return current_app.extensions["nszm"].asyncapi
