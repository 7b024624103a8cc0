"""Declared endpoints: one declaration routes a request and describes it in OpenAPI.

An endpoint names its role (None for public), its query and body schemas, its response
schema and the errors it can answer; `Api.register` turns each into a Flask view that
authenticates, parses and serialises, and `Api.openapi` documents exactly those views.
"""
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask, Response, current_app, request
from marshmallow import Schema, fields
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from gateway.auth import has_staff_token, require_role
from gateway.cache import ENVIRON_CACHEABLE, ENVIRON_ROUTE, ENVIRON_SOURCES, sources_of
from gateway.limits import describe
from nszm.contracts.common import CROSS_FIELD_RULES
from nszm.contracts.errors import InvalidInput

JSON = "application/json"
PROBLEM = "application/problem+json"
FORM = "application/x-www-form-urlencoded"

ERROR_DESCRIPTIONS = {
    400: "Malformed request (e.g. invalid JSON)",
    401: "No valid staff token",
    403: "The token lacks the role",
    404: "Not found",
    409: "Conflicts with the current state",
    413: "Body too large",
    414: "Address too long: the server refuses a request line over 4 KiB before the API reads it",
    415: "Body is not JSON",
    422: "Invalid input; `errors` names each field",
    429: "Too many requests from this address; see Retry-After",
    503: "A service is unavailable",
}
ANSWERED_BY_GUNICORN = {414}
MAX_UPLOAD_BYTES = 4 * 1024 * 1024  # a file to import; other bodies are limited to the app's MAX_CONTENT_LENGTH  # before the API sees the request: not as problem details


def single_values(args) -> dict[str, str]:
    """The query's parameters, each given once (a list parameter takes its values comma-separated):
    a parameter repeated is refused, not read as its first value."""
    repeated = sorted(key for key in args if len(args.getlist(key)) > 1)
    if repeated:
        raise InvalidInput("The input is not valid.", {key: ["Give this parameter once."] for key in repeated})
    return {key: args.get(key) for key in args}


class ProblemSchema(Schema):
    """RFC 9457 problem details, in Czech (or in English with `Accept-Language: en`; the answer's
    `Content-Language` says which). `errors` names each invalid field with its messages, and `codes`
    the same fields with each message's stable code, in the same order, for a client that shows
    its own words."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    code = fields.String(metadata={"description": "the rule that refused the request, where one did, "
                                                  "e.g. `not_registered_for_session`"})
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    codes = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), metadata={
        "description": "each field's message codes, parallel to `errors`: e.g. `required`, `invalid_email`, "
                       "`length_between`, `not_one_of` (`invalid` for a message without a code of its own)"})


@dataclass
class Endpoint:
    path: str
    method: str
    view: Callable
    summary: str
    tag: str
    role: str | None = None
    link_token: bool = False  # `?token=` of a mailed link stands in for the staff role
    basic_auth: bool = False  # the token may come as HTTP Basic's password too (mail providers' webhooks)
    limits: tuple = ()  # gateway.limits.Limit: public writes counted per address and mailbox
    query: type[Schema] | None = None
    body: type[Schema] | None = None
    body_required: bool = True
    form: type[Schema] | None = None  # a body a browser's form sends, documented; the view reads it
    raw: str | None = None  # the media type of a body taken as it is (`body` gets {"message": its text})
    upload: tuple[str, ...] = ()  # media types of a file sent as the body (the view gets `upload`: data, type)
    response: type[Schema] | Schema | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    media_type: str = JSON
    cache: bool = True
    max_age: int = 60
    cacheable: bool = field(init=False)

    def __post_init__(self):
        self.cacheable = self.cache and self.method == "GET" and self.role is None

    @property
    def openapi_path(self) -> str:
        return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", self.path)

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"<(?:[a-z]+:)?([a-z_]+)>", self.path)

    def documented_errors(self) -> list[int]:
        codes = set(self.errors) | {503}
        if self.limits:
            codes.add(429)
        if self.role:
            codes |= {401, 403}
        if self.body or self.form or self.raw or self.upload:
            codes |= {400, 413, 415, 422}
        if self.query:
            codes |= {414, 422}
        if self.path_params:
            codes |= {404, 414}
        return sorted(codes)


def json_response(payload, status: int = 200, media_type: str = JSON) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return Response(body, status=status, mimetype=media_type)


def wants_html() -> bool:
    """True when the client (a browser following a mailed link) prefers HTML to JSON."""
    return request.accept_mimetypes.best_match([JSON, "text/html"]) == "text/html"


def read_json_body(required: bool):
    if not request.content_length and not request.data:
        if required:
            raise BadRequest("A JSON body is expected.")
        return {}
    try:
        body = request.get_json()  # 415 for another media type, 400 for malformed JSON
    except RecursionError:
        raise BadRequest("The JSON body is nested too deeply.") from None
    if not isinstance(body, dict):
        raise InvalidInput("Expected a JSON object.", {"_schema": ["Expected a JSON object."]})
    broken = list(_not_unicode(body))
    if broken:
        raise InvalidInput("Text must be valid Unicode.", {path or "_schema": ["Not valid Unicode text (a lone "
                                                                              "surrogate)."] for path in broken})
    return body


def read_raw_body(media_type: str) -> dict:
    """A body of `media_type` as text (a message that came back, say), for the service's schema."""
    if request.mimetype != media_type:
        raise UnsupportedMediaType(f"The body must be {media_type}.")
    data = request.get_data()
    if not data:
        raise BadRequest(f"A {media_type} body is expected.")
    return {"message": data.decode("utf-8", "replace")}


def read_upload(media_types: tuple[str, ...]) -> tuple[bytes, str]:
    """A file sent as the body: its bytes and media type (up to MAX_UPLOAD_BYTES, more than other bodies)."""
    if request.mimetype not in media_types:
        raise UnsupportedMediaType(f"The body must be the file: {' or '.join(media_types)}.")
    request.max_content_length = MAX_UPLOAD_BYTES
    data = request.get_data()
    if not data:
        raise BadRequest("The file is empty.")
    return data, request.mimetype


def _not_unicode(value, path: str = ""):
    """The paths of strings (keys too) in a parsed JSON body that hold a lone surrogate."""
    stack = [(value, path)]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            if not value.isascii() and any("\ud800" <= char <= "\udfff" for char in value):
                yield path
        elif isinstance(value, dict):
            for key, item in value.items():
                inner = f"{path}.{key}" if path else str(key)
                if any("\ud800" <= char <= "\udfff" for char in key):
                    yield path or "_schema"
                    continue
                stack.append((item, inner))
        elif isinstance(value, list):
            stack.extend((item, f"{path}.{n}" if path else str(n)) for n, item in enumerate(value))


def _nullable_reference(prop: dict):
    """apispec states an optional nested object as `anyOf: [any object or null, the reference]`,
    which lets any object through; it is the reference, or null."""
    choices = prop.get("anyOf")
    if (isinstance(choices, list) and len(choices) == 2 and choices[0] == {"type": "object", "nullable": True}
            and "$ref" in choices[1]):
        prop["anyOf"] = [choices[1]]
        prop["nullable"] = True
    for inner in (prop.get("items"),):
        if isinstance(inner, dict):
            _nullable_reference(inner)


class Api:
    def __init__(self):
        self.endpoints: list[Endpoint] = []

    def route(self, path: str, method: str = "GET", **meta):
        def decorate(view):
            self.endpoints.append(Endpoint(path=path, method=method, view=view, **meta))
            return view

        return decorate

    def register(self, app: Flask):
        for endpoint in self.endpoints:
            app.add_url_rule(
                endpoint.path,
                endpoint=f"{endpoint.tag}.{endpoint.view.__name__}",
                view_func=self._view(endpoint),
                methods=[endpoint.method],
            )

    @staticmethod
    def _view(endpoint: Endpoint):
        def view(**path_params):
            request.environ[ENVIRON_SOURCES] = sources_of(endpoint.tag)
            request.environ[ENVIRON_ROUTE] = endpoint.path
            if endpoint.role and not (endpoint.link_token and request.args.get("token")):
                require_role(endpoint.role, basic=endpoint.basic_auth)
            kwargs = dict(path_params)
            if endpoint.query:
                kwargs["query"] = single_values(request.args)
            if endpoint.raw:
                kwargs["body"] = read_raw_body(endpoint.raw)
            elif endpoint.upload:
                kwargs["upload"] = read_upload(endpoint.upload)
            elif endpoint.body:
                kwargs["body"] = read_json_body(endpoint.body_required)
            if endpoint.limits and not has_staff_token():
                current_app.extensions["nszm"].limiter.hit(
                    f"{endpoint.tag}.{endpoint.view.__name__}", endpoint.limits, request.remote_addr or "unknown",
                    kwargs.get("body") or {})
            result = endpoint.view(**kwargs)
            if endpoint.status == 204:
                return Response(status=204)
            if isinstance(result, Response):
                response = result
            else:
                response = json_response(result, endpoint.status, endpoint.media_type)
            if endpoint.cacheable and response.status_code == 200:
                request.environ[ENVIRON_CACHEABLE] = True
                response.cache_control.public = True
                response.cache_control.max_age = endpoint.max_age
                response.add_etag()
                response.make_conditional(request)
            else:
                response.cache_control.no_store = True
            return response

        view.__name__ = endpoint.view.__name__
        return view

    def cacheable_parameters(self) -> dict[str, frozenset[str]]:
        """Each cacheable view (by its Flask endpoint name) and the query parameters it reads."""
        return {f"{endpoint.tag}.{endpoint.view.__name__}":
                frozenset(field.data_key or name for name, field in endpoint.query().fields.items())
                if endpoint.query else frozenset()
                for endpoint in self.endpoints if endpoint.cacheable}

    def openapi(self, public_url: str) -> dict:
        spec = APISpec(
            title="NSZM ČR platform API",
            version="1.0.0",
            openapi_version="3.0.3",
            plugins=[MarshmallowPlugin()],
            info={"description": "Members, events, good practice and feeds of the Czech Healthy Cities network."},
            servers=[{"url": public_url}],
        )
        spec.components.security_scheme("staffToken", {"type": "http", "scheme": "bearer"})
        spec.components.security_scheme("staffTokenAsPassword", {"type": "http", "scheme": "basic"})
        spec.components.schema("Problem", schema=ProblemSchema)
        paths: dict[str, dict] = {}
        for endpoint in self.endpoints:
            paths.setdefault(endpoint.openapi_path, {})[endpoint.method.lower()] = self._operation(endpoint)
        for path, operations in paths.items():
            spec.path(path=path, operations=operations)
        document = spec.to_dict()
        for name, component in document["components"]["schemas"].items():
            component.update(CROSS_FIELD_RULES.get(f"{name}Schema", {}))
            for prop in component.get("properties", {}).values():
                _nullable_reference(prop)
        return document

    @staticmethod
    def _operation(endpoint: Endpoint) -> dict:
        success: dict = {"description": {201: "Created", 202: "Accepted", 204: "Done"}.get(endpoint.status, "OK")}
        if endpoint.response is not None:
            success["content"] = {endpoint.media_type: {"schema": endpoint.response}}
        elif endpoint.media_type != JSON:
            success["content"] = {endpoint.media_type: {"schema": {"type": "string"}}}
        responses = {str(endpoint.status): success}
        if endpoint.cacheable:
            responses["304"] = {"description": "Not modified (If-None-Match)"}
        for code in endpoint.documented_errors():
            responses[str(code)] = {"description": ERROR_DESCRIPTIONS.get(code, "Error")}
            if code not in ANSWERED_BY_GUNICORN:
                responses[str(code)]["content"] = {PROBLEM: {"schema": "Problem"}}
        operation: dict[str, Any] = {
            "operationId": endpoint.view.__name__,
            "summary": endpoint.summary,
            "tags": [endpoint.tag],
            "responses": responses,
            "parameters": [
                {"in": "path", "name": name, "required": True, "schema": {"type": "string"}}
                for name in endpoint.path_params
            ],
        }
        if endpoint.query:
            operation["parameters"].append({"in": "query", "schema": endpoint.query})
        if endpoint.body:
            schema = {"allOf": [endpoint.body], "minProperties": 1} if endpoint.method == "PATCH" else endpoint.body
            operation["requestBody"] = {
                "required": endpoint.body_required,
                "content": {JSON: {"schema": schema}},
            }
        if endpoint.form:
            operation["requestBody"] = {"required": True, "content": {FORM: {"schema": endpoint.form}}}
        if endpoint.raw:
            operation["requestBody"] = {"required": True, "content": {endpoint.raw: {"schema": {
                "type": "string", "minLength": 1}}}}
        if endpoint.upload:
            operation["requestBody"] = {"required": True, "content": {
                media_type: {"schema": {"type": "string", "format": "binary"}} for media_type in endpoint.upload}}
        if endpoint.limits:
            operation["description"] = describe(endpoint.limits) + " A request with a staff token is not limited."
        if endpoint.role:
            operation["security"] = [{"staffToken": []}]
            operation["x-staff-role"] = endpoint.role
            operation["description"] = (f"Staff only: needs a token with the `{endpoint.role}` role "
                                        "(or `admin`); `x-staff-role` names it.")
            if endpoint.basic_auth:
                operation["security"].append({"staffTokenAsPassword": []})
                operation["description"] += " The token may also be given as the password of HTTP Basic."
            if endpoint.link_token:
                operation["security"].append({})
                operation["description"] = (f"With the mailed link's `token`, or as staff with the "
                                            f"`{endpoint.role}` role (or `admin`).")
        return operation
