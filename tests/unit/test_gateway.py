"""The gateway with Flask's test client and a fake RPC: routing, authentication, translation of
service errors, bodies, caching, and composing the news feed. No broker, no database."""
from datetime import datetime, timezone

import feedparser
import pytest
from amqp.exceptions import ConnectionForced
from nameko.exceptions import RpcTimeout

from gateway.app import create_app
from nszm.config import Settings
from nszm.contracts.errors import Conflict, InvalidInput, NotFound, RateLimited, StaffOnly, Unavailable

ADMIN = "nszm_unit_admin"


class FakeService:
    """Answers each RPC from `answers` (a value, or an exception to raise) and records the calls."""

    def __init__(self, **answers):
        self.answers = answers
        self.calls: list[tuple[str, tuple, dict]] = []

    def __getattr__(self, method):
        def call(*args, **kwargs):
            self.calls.append((method, args, kwargs))
            answer = self.answers[method]
            if isinstance(answer, Exception):
                raise answer
            return answer

        return call


class FakeRpc:
    def __init__(self, **services):
        self.services = services
        self.discarded = 0
        self.contexts: list[dict | None] = []

    def proxy(self, timeout=None, staff=None):
        self.contexts.append(staff)
        return type("Proxy", (), self.services)

    def discard(self):
        self.discarded += 1


class RecordingLimiter:
    """Records each counted request; refuses those whose key is in `refused` (the real one is
    tested against SecantusDB)."""

    def __init__(self, refused=()):
        self.hits: list[tuple[str, str, dict]] = []
        self.refused = set(refused)

    def hit(self, scope, limits, address, body):
        self.hits.append((scope, address, body))
        for limit in limits:
            if limit.key(address, body) in self.refused:
                raise RateLimited(f"Too many requests from this {limit.per}.", retry_after=42)


PAGE = {"items": [], "total": 0, "page": 1, "per_page": 20}


def client(limiter=None, **services):
    settings = Settings.from_env({"PUBLIC_URL": "https://api.example.cz", "SECRET_KEY": "k" * 40, "BOOTSTRAP_STAFF_TOKEN": ADMIN,
                                  "MONGO_URI": "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=100"})
    rpc = FakeRpc(**services)
    app = create_app(settings, rpc=rpc, limiter=limiter or RecordingLimiter())
    return app.test_client(), rpc


def test_a_public_list_passes_its_query_on_and_is_cacheable():
    members = FakeService(list_members=PAGE)
    browser, _ = client(members=members)
    answer = browser.get("/api/v1/members?region=Kraj%20Vyso%C4%8Dina&page=2")
    assert answer.status_code == 200 and answer.json == PAGE
    assert members.calls == [("list_members", ({"region": "Kraj Vysočina", "page": "2"},), {})]
    assert "public" in answer.headers["Cache-Control"] and answer.headers["ETag"]
    assert browser.get("/api/v1/members", headers={"If-None-Match": answer.headers["ETag"]}).status_code == 304


@pytest.mark.parametrize("error, status, kind", [
    (NotFound("No member 'x'."), 404, "not-found"),
    (Conflict("Taken."), 409, "conflict"),
    (InvalidInput("Invalid.", {"region": ["Not one of the regions."]}), 422, "validation-error"),
    (RpcTimeout("members"), 503, "service-unavailable"),
    (ConnectionForced("broker shutting down"), 503, "service-unavailable"),
    (Unavailable("members did not answer"), 503, "service-unavailable"),
])
def test_service_errors_become_problem_details(error, status, kind):
    browser, rpc = client(members=FakeService(get_member=error))
    answer = browser.get("/api/v1/members/x")
    assert answer.status_code == status and answer.headers["Content-Type"] == "application/problem+json"
    assert answer.json["type"].endswith(f"/problems/{kind}") and answer.json["status"] == status
    if status == 422:
        assert answer.json["errors"] == {"region": ["Not one of the regions."]}
    assert rpc.discarded == (1 if status == 503 else 0)


def test_staff_endpoints_want_a_bearer_token_declared_on_the_route():
    members = FakeService(list_applications=PAGE)
    browser, _ = client(members=members)
    refused = browser.get("/api/v1/membership-applications")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert browser.get("/api/v1/membership-applications", headers={"Authorization": "Basic eDp5"}).status_code == 401
    allowed = browser.get("/api/v1/membership-applications", headers={"Authorization": f"Bearer {ADMIN}"})
    assert allowed.status_code == 200 and members.calls[0][0] == "list_applications"
    assert allowed.headers["Cache-Control"] == "no-store"


def test_a_mailed_links_token_stands_in_for_the_staff_role():
    events = FakeService(cancel_registration={"id": "r1", "status": "cancelled"},
                         cancel_registration_as_staff={"id": "r1", "status": "cancelled"})
    browser, _ = client(events=events)
    assert browser.post("/api/v1/registrations/r1/cancel").status_code == 401
    by_link = browser.post("/api/v1/registrations/r1/cancel?token=abc", headers={"Accept": "application/json"})
    assert by_link.status_code == 200 and events.calls[-1] == (
        "cancel_registration", ("r1", "abc"), {})
    page = browser.post("/api/v1/registrations/r1/cancel?token=abc", headers={"Accept": "text/html"})
    assert "Registrace je zrušena" in page.get_data(as_text=True)
    by_staff = browser.post("/api/v1/registrations/r1/cancel", headers={"Authorization": f"Bearer {ADMIN}"})
    assert by_staff.status_code == 200 and events.calls[-1] == ("cancel_registration_as_staff", ("r1",), {})


def test_bodies_that_are_not_json_or_too_large_are_refused_before_any_service_call():
    members = FakeService(apply={"id": "a1", "status": "pending"})
    browser, _ = client(members=members)
    assert browser.post("/api/v1/membership-applications", data="{", content_type="application/json").status_code == 400
    assert browser.post("/api/v1/membership-applications", data="a=b",
                        content_type="application/x-www-form-urlencoded").status_code == 415
    assert browser.post("/api/v1/membership-applications", data="x" * 300_000,
                        content_type="application/json").status_code == 413
    assert members.calls == []
    created = browser.post("/api/v1/membership-applications", json={"name": "Obec"})
    assert created.status_code == 201 and members.calls == [("apply", ({"name": "Obec"},), {})]


def test_a_forwarded_route_passes_path_parameters_then_query_then_body():
    notify = FakeService(list_recipients=PAGE, send_mailout={"id": "m1", "status": "sending"})
    browser, _ = client(notify=notify)
    staff = {"Authorization": f"Bearer {ADMIN}"}
    assert browser.get("/api/v1/mailouts/m1/recipients?status=failed", headers=staff).status_code == 200
    assert browser.post("/api/v1/mailouts/m1/send", headers=staff).status_code == 202
    assert notify.calls == [("list_recipients", ("m1", {"status": "failed"}), {}), ("send_mailout", ("m1", {}), {})]


def news(key, title, published):
    return {"key": key, "title": title, "summary": title, "path": f"/api/v1/{key.replace(':', 's/')}",
            "published": published, "category": key.split(":")[0]}


def test_the_news_feed_merges_what_each_service_tells_newest_first():
    browser, _ = client(
        members=FakeService(news=[news("member:chrudim", "Nový člen: Chrudim", "2026-11-20T23:00:00+00:00")]),
        events=FakeService(news=[news("event:skola", "Akce: Škola", "2026-11-22T08:00:00+00:00")]),
        practice=FakeService(news=[news("practice:kola", "Dobrá praxe: Kola", "2026-11-21T08:00:00+00:00")]))
    feed = feedparser.parse(browser.get("/feeds/news.atom").data)
    assert not feed.bozo
    assert [entry.id for entry in feed.entries] == [
        "tag:zdravamesta.cz,2024:event:skola", "tag:zdravamesta.cz,2024:practice:kola",
        "tag:zdravamesta.cz,2024:member:chrudim"]
    assert feed.entries[0].link == "https://api.example.cz/api/v1/events/skola"


@pytest.mark.parametrize("body, status, field", [
    ("[" * 100_000 + "]" * 100_000, 400, None),
    ('{"name": ' + "[" * 5000 + "]" * 5000 + "}", 400, None),
    ('{"name": "M\\ud800sto", "contact": {"name": "Jana"}}', 422, "name"),
    ('{"contact": {"name": "\\udfffJana"}}', 422, "contact.name"),
    ('{"sessions": ["s1", "\\ud83d"]}', 422, "sessions.1"),
])
def test_deep_nesting_and_lone_surrogates_are_refused_before_any_service_call(body, status, field):
    members = FakeService(apply={"id": "a1", "status": "pending"})
    browser, _ = client(members=members)
    answer = browser.post("/api/v1/membership-applications", data=body, content_type="application/json")
    assert answer.status_code == status and answer.headers["Content-Type"] == "application/problem+json"
    if field:
        assert field in answer.json["errors"]
    assert members.calls == []


def test_a_surrogate_pair_is_ordinary_text():
    members = FakeService(apply={"id": "a1", "status": "pending"})
    browser, _ = client(members=members)
    answer = browser.post("/api/v1/membership-applications", data='{"name": "Obec \\ud83d\\ude00"}',
                          content_type="application/json")
    assert answer.status_code == 201 and members.calls == [("apply", ({"name": "Obec 😀"},), {})]


def test_every_page_and_answer_carries_the_security_headers():
    browser, _ = client(members=FakeService(list_members=PAGE))
    page = browser.get("/api/v1/registrations/r1/cancel?token=abc", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.mimetype == "text/html"
    policy = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy and "script-src" not in policy
    for answer in (page, browser.get("/api/v1/members"), browser.get("/nope")):
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "no-referrer" and answer.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("trusted, forwarded, seen", [
    ("0", "203.0.113.9", "127.0.0.1"),  # nobody is trusted: a client cannot choose its address
    ("1", "203.0.113.9", "203.0.113.9"),
    ("1", "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # only the entry our proxy appended counts
    ("2", "6.6.6.6, 198.51.100.7, 203.0.113.9", "198.51.100.7"),
])
def test_trusted_proxies_decide_whose_forwarded_address_counts(trusted, forwarded, seen):
    practice = FakeService(vote={"status": "confirmation_sent"})
    settings = Settings.from_env({"PUBLIC_URL": "https://api.example.cz", "SECRET_KEY": "k" * 40, "TRUSTED_PROXIES": trusted,
                                  "MONGO_URI": "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=100"})
    limiter = RecordingLimiter()
    browser = create_app(settings, rpc=FakeRpc(practice=practice), limiter=limiter).test_client()
    answer = browser.post("/api/v1/competitions/c1/votes", json={"practice": "p", "email": "jana@example.cz"},
                          headers={"X-Forwarded-For": forwarded})
    assert answer.status_code == 202 and limiter.hits[0][1] == seen


VOTE = {"practice": "p", "email": "Jana.Novak+nejpraxe@googlemail.com"}


@pytest.mark.parametrize("path, body, service, method", [
    ("/api/v1/competitions/c1/votes", VOTE, "practice", "vote"),
    ("/api/v1/events/e1/registrations", {"name": "Jana", "email": "jana@example.cz", "organization": "Město",
                                         "sessions": ["s1"]}, "events", "register"),
    ("/api/v1/newsletter/subscriptions", {"email": "jana@example.cz"}, "notify", "subscribe"),
    ("/api/v1/membership-applications", {"name": "Obec", "contact": {"name": "J", "email": "jana@example.cz"}},
     "members", "apply"),
])
def test_public_writes_are_counted_per_address_and_mailbox_and_refused_with_retry_after(path, body, service, method):
    limiter = RecordingLimiter()
    browser, _ = client(limiter=limiter, **{service: FakeService(**{method: {"id": "x"}})})
    assert browser.post(path, json=body).status_code < 400
    (scope, address, counted), = limiter.hits
    assert address == "127.0.0.1" and counted == body and scope.endswith(method)
    for refused in ("127.0.0.1", "jana@example.cz"):
        limiter.refused = {refused, "jananovak@gmail.com"}
        called = FakeService(**{method: {"id": "x"}})
        browser, _ = client(limiter=limiter, **{service: called})
        answer = browser.post(path, json=body)
        assert answer.status_code == 429 and answer.headers["Retry-After"] == "42" and called.calls == []
        assert answer.mimetype == "application/problem+json" and "Too many" in answer.json["detail"]
        assert browser.post(path, json=body, headers={"Authorization": f"Bearer {ADMIN}"}).status_code < 400


def test_the_mailbox_limit_counts_aliases_of_one_mailbox_together():
    from gateway.limits import VOTES
    by_mailbox = VOTES[1]
    keys = {by_mailbox.key("10.0.0.1", {"email": e}) for e in (
        "jananovak@gmail.com", "Jana.Novak+nejpraxe@googlemail.com", "JANA.NOVAK@gmail.com")}
    assert keys == {"jananovak@gmail.com"}
    assert by_mailbox.key("10.0.0.1", {"email": ["not", "text"]}) is None and by_mailbox.key("x", "[]") is None
    assert VOTES[0].key("10.0.0.1", {}) == "10.0.0.1"


def test_limits_are_documented_with_their_429():
    browser, _ = client()
    operation = browser.get("/openapi.json").json["paths"]["/api/v1/competitions/{competition_id}/votes"]["post"]
    assert "429" in operation["responses"] and "100 per 10 minutes per client address" in operation["description"]


def test_staff_calls_carry_their_actor_and_public_calls_none():
    members = FakeService(approve_application={"slug": "x"}, list_members=PAGE)
    browser, rpc = client(members=members)
    assert browser.post("/api/v1/membership-applications/a1/approve", json={},
                        headers={"Authorization": f"Bearer {ADMIN}"}).status_code == 200
    assert browser.get("/api/v1/members").status_code == 200
    assert rpc.contexts == [{"actor": "bootstrap", "token_id": "bootstrap", "roles": ["admin"]}, None]


def test_a_staff_action_refused_by_a_service_for_lack_of_an_actor_is_a_403():
    browser, _ = client(members=FakeService(approve_application=StaffOnly("a staff action")))
    answer = browser.post("/api/v1/membership-applications/a1/approve", json={},
                          headers={"Authorization": f"Bearer {ADMIN}"})
    assert answer.status_code == 403 and answer.json["type"].endswith("/forbidden")


def test_the_audit_log_merges_every_source_newest_first_and_pages():
    def entry(n, source):
        return {"id": f"{source}{n}", "at": f"2026-11-30T10:{n:02d}:00+00:00", "actor": "Jana", "token": "t1",
                "service": source, "action": "a", "target": None, "status": "done"}

    class Slices(FakeService):
        def __init__(self, source, minutes):
            super().__init__()
            self.source, self.minutes = source, minutes

        def __getattr__(self, method):
            assert method == "audit_log"
            answer = {"items": [entry(n, self.source) for n in self.minutes], "total": len(self.minutes)}
            return type("Method", (), {"call_async": lambda _, query: type("Reply", (), {
                "result": lambda _: answer})()})()

    class GatewayLog:
        def entries(self, actor, action, limit):
            assert limit == 4
            return [{**entry(45, "gateway"), "at": datetime(2026, 11, 30, 10, 45, tzinfo=timezone.utc)}], 1

    browser, _ = client(members=Slices("members", [50, 10]), events=Slices("events", [40]),
                        practice=Slices("practice", []), notify=Slices("notify", [30, 20]))
    browser.application.extensions["nszm"].audit = GatewayLog()
    answer = browser.get("/api/v1/audit?per_page=2&page=2", headers={"Authorization": f"Bearer {ADMIN}"})
    assert answer.status_code == 200, answer.json
    assert [e["id"] for e in answer.json["items"]] == ["events40", "notify30"] and answer.json["total"] == 6
