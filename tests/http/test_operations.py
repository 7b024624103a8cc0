"""Operations endpoints and HTTP behaviour shared by every endpoint."""
import json
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate

from gateway.app import create_app
from nszm.config import Settings
from nszm.contracts.bus import PUBLIC_EVENTS
from tests import factories
from tests.http.test_members_api import assert_problem, join
from tests.waiting import wait_until


def test_liveness_and_readiness(public):
    assert public.get("/healthz").json() == {"status": "ok"}
    ready = public.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ok"
    assert {"mongodb", "rabbitmq", "members", "events", "practice", "notify"} <= set(body["checks"])
    assert set(body["checks"].values()) == {"ok"}


def test_metrics_count_requests_by_route(public):
    public.get("/api/v1/members/stats")
    metrics = public.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["Content-Type"].startswith("text/plain")
    assert 'nszm_http_requests_total{method="GET",route="/api/v1/members/stats",status="200"}' in metrics.text


def test_openapi_is_valid_and_documents_every_route(platform, public):
    spec = public.get("/openapi.json").json()
    validate(spec)
    documented = {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}
    app = create_app(Settings.from_env({"MONGO_URI": platform.env["MONGO_URI"], "SECRET_KEY": platform.env["SECRET_KEY"]}))
    routed = {
        (method, rule.rule.replace("<", "{").replace(">", "}"))
        for rule in app.url_map.iter_rules()
        # the console is HTML for staff; the accessibility statement and the problem types' pages are for people
        if rule.endpoint not in ("static", "accessibility_statement", "problem_type")
        and not rule.endpoint.startswith("console.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routed == documented
    apply = spec["paths"]["/api/v1/membership-applications"]["post"]
    assert "422" in apply["responses"] and "409" in apply["responses"]
    assert apply["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("ApplicationInput")
    assert spec["paths"]["/api/v1/membership-applications/{application_id}/approve"]["post"]["security"]


def test_asyncapi_describes_every_bus_event(public):
    document = public.get("/asyncapi.json").json()
    assert document["asyncapi"].startswith("2.")
    channels = document["channels"]
    assert {channel.split("/")[1] for channel in channels} == {spec.name for spec in PUBLIC_EVENTS}
    joined = channels["members.events/member_joined"]
    assert joined["bindings"]["amqp"]["exchange"] == {"name": "members.events", "type": "topic", "durable": True,
                                                      "autoDelete": False, "vhost": "/"}
    refs = json.dumps(document)
    for name in ("Envelope", "Member", "MemberAppliedData", "MemberLeftData"):
        assert name in document["components"]["schemas"] and f"#/components/schemas/{name}" in refs
    assert "guest" not in document["servers"]["rabbitmq"]["url"]


def test_public_gets_send_an_etag_and_honour_if_none_match(staff, public):
    word = factories.unique_word()
    join(staff, public, name=f"Obec {word}")
    first = public.get("/api/v1/members", params={"q": word})
    etag = first.headers["ETag"]
    assert public.get("/api/v1/members", params={"q": word}, headers={"If-None-Match": etag}).status_code == 304
    join(staff, public, name=f"Město {word}")
    changed = public.get("/api/v1/members", params={"q": word}, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert "ETag" not in staff.get("/api/v1/membership-applications").headers


def test_cors_allows_the_association_websites_only(public):
    allowed = public.get("/api/v1/members", headers={"Origin": "https://www.zdravamesta.cz"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://www.zdravamesta.cz"
    assert "Origin" in allowed.headers["Vary"]
    other = public.get("/api/v1/members", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    preflight = public.request("OPTIONS", "/api/v1/membership-applications", headers={
        "Origin": "https://dobrapraxe.cz", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert preflight.status_code == 200
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]


def test_unknown_routes_and_methods_are_problems(public):
    assert_problem(public.get("/api/v1/nothing-here"), 404)
    wrong_method = public.request("DELETE", "/api/v1/members")
    assert_problem(wrong_method, 405)
    assert "GET" in wrong_method.headers["Allow"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
application_like = st.fixed_dictionaries(
    {},
    optional={key: json_values | st.just({"$gt": ""}) for key in
              ("name", "type", "region", "ico", "population", "contact", "website", "part_of", "note")},
)
NO_5XX = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@NO_5XX
@given(body=application_like | json_values)
def test_no_application_body_is_a_5xx(public, body):
    response = public.post("/api/v1/membership-applications", data=json.dumps(body),
                           headers={"Content-Type": "application/json"})
    assert response.status_code < 500, response.text


@NO_5XX
@given(params=st.dictionaries(st.sampled_from(["type", "region", "q", "page", "per_page", "x"]),
                              st.text(max_size=30), max_size=5))
def test_no_directory_query_is_a_5xx(public, params):
    response = public.get("/api/v1/members", params=params)
    assert response.status_code < 500, response.text


@NO_5XX
@given(slug=st.text(min_size=1, max_size=40).filter(lambda s: "/" not in s and s not in {".", ".."}))
def test_no_member_slug_is_a_5xx(public, slug):
    response = public.get(f"/api/v1/members/{slug}")
    assert response.status_code < 500, response.text


@pytest.mark.parametrize("body, field", [({"population": 10**30}, "population"), ({"population": 1.5}, "population"),
                                         ({"name": "Obec\x00"}, "name"), ({"contacts": [None]}, "contacts.0")])
def test_odd_member_updates_are_422(staff, public, body, field):
    member = join(staff, public)
    assert_problem(staff.patch(f"/api/v1/members/{member['slug']}", json=body), 422, field)


def test_the_access_log_never_holds_the_tokens_of_mailed_links(platform, public):
    secret, marker = f"nszmsecret{uuid.uuid4().hex}", uuid.uuid4().hex

    def whole_log() -> str:
        return Path(platform.log_path).read_text(encoding="utf-8", errors="replace")

    public.get(f"/api/v1/votes/confirm?token={secret}&m={marker}")
    public.get(f"/api/v1/unsubscribe?token={secret}&m={marker}")
    wait_until(lambda: whole_log().count(f"token=[redacted]&m={marker}") == 2, timeout=10,
               message="both requests in the access log")
    assert secret not in whole_log()
