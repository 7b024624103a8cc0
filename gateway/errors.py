"""Every error as RFC 9457 problem+json; remote errors translated in one table."""
import logging
import socket

from amqp.exceptions import AMQPError
from flask import Flask, current_app, request
from kombu.exceptions import OperationalError
from nameko.exceptions import RpcTimeout, UnknownService
from pymongo.errors import PyMongoError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from gateway.api import PROBLEM, json_response
from nszm import messages
from nszm.contracts.errors import CallRefused, Conflict, InvalidInput, NotFound, RateLimited, StaffOnly, Unavailable

log = logging.getLogger(__name__)

# exception raised by a service (or by the bus) -> (HTTP status, problem type, title)
REMOTE_ERRORS = {
    NotFound: (404, "not-found", "Not found"),
    Conflict: (409, "conflict", "Conflict"),
    InvalidInput: (422, "validation-error", "Invalid input"),
    RateLimited: (429, "rate-limited", "Too many requests"),
    StaffOnly: (403, "forbidden", "A staff action"),
    CallRefused: (503, "service-unavailable", "A service refused the gateway's call (SECRET_KEY differs)"),
    Unavailable: (503, "service-unavailable", "A service is unavailable"),
    UnknownService: (503, "service-unavailable", "A service is not running"),
    RpcTimeout: (503, "service-unavailable", "A service did not answer in time"),
    OperationalError: (503, "service-unavailable", "The message bus is unavailable"),
    ConnectionError: (503, "service-unavailable", "The message bus is unavailable"),
    socket.timeout: (503, "service-unavailable", "The message bus is unavailable"),
    AMQPError: (503, "service-unavailable", "The message bus is unavailable"),
    PyMongoError: (503, "service-unavailable", "The database is unavailable"),
}

HTTP_TYPES = {401: "unauthorized", 403: "forbidden", 404: "not-found", 405: "method-not-allowed",
              413: "payload-too-large", 415: "unsupported-media-type", 400: "bad-request"}


def request_language() -> str:
    """Czech, or English when the request asks for it (`Accept-Language: en`)."""
    return messages.language_of(request.headers.get("Accept-Language"))


def problem(status: int, kind: str, title: str, detail: str = "", errors: dict | None = None, headers=None,
            code: str | None = None):
    """The problem in Czech, or in English when the client asks (`Accept-Language: en`); each field's
    messages with their codes in `codes`, in the same order."""
    base = current_app.extensions["nszm"].settings.public_url
    language = request_language()
    body = {"type": f"{base}/problems/{kind}", "title": messages.title(title, language), "status": status,
            "detail": messages.explained(detail or title, language)[1]}
    if code:
        body["code"] = code
    if errors is not None:
        said = {field: messages.said(found, language) for field, found in errors.items()}
        body["errors"] = {field: texts for field, (texts, _) in said.items()}
        body["codes"] = {field: codes for field, (_, codes) in said.items()}
    response = json_response(body, status, PROBLEM)
    response.cache_control.no_store = True
    response.headers["Content-Language"] = language
    response.vary.add("Accept-Language")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _lookup(error: Exception):
    for error_type, mapping in REMOTE_ERRORS.items():
        if isinstance(error, error_type):
            return mapping
    return None


# A refused body is read and dropped up to this size, so that the client gets the 413
# instead of a connection reset; anything larger is cut off.
DRAIN_LIMIT_BYTES = 8 * 1024 * 1024


def _drain_refused_body():
    stream = request.environ.get("wsgi.input")
    remaining = min(request.content_length or 0, DRAIN_LIMIT_BYTES)
    while stream is not None and remaining > 0:
        chunk = stream.read(min(64 * 1024, remaining))
        if not chunk:
            break
        remaining -= len(chunk)


def install_error_handlers(app: Flask):
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code == 413:
            _drain_refused_body()
        headers = {"WWW-Authenticate": 'Bearer realm="nszm"'} if error.code == 401 else None
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            headers = {"Allow": ", ".join(error.valid_methods)}
        code = error.code or 500
        return problem(code, HTTP_TYPES.get(code, "http-error"), error.name, error.description or error.name,
                       headers=headers)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        mapping = _lookup(error)
        if mapping is None:
            log.exception("unhandled error")
            return problem(500, "internal-error", "Internal error", "Something broke on our side; it was logged.")
        status, kind, title = mapping
        if status == 503:
            current_app.extensions["nszm"].rpc.discard()
            log.warning("service call failed: %r", error)
        detail = getattr(error, "detail", "") or title
        errors = getattr(error, "errors", None) if isinstance(error, InvalidInput) else None
        headers = {"Retry-After": str(error.retry_after)} if isinstance(error, RateLimited) else None
        return problem(status, kind, title, detail, errors=errors, headers=headers, code=getattr(error, "code", None))
