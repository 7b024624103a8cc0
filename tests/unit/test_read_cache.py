"""The gateway's read cache as WSGI middleware, around a small application of its own."""
import threading

import pytest
from flask import Flask
from werkzeug.routing import Map, Rule
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from gateway.app import api  # every endpoint registered
from gateway.cache import (
    ENVIRON_CACHEABLE,
    ENVIRON_ROUTE,
    ENVIRON_SOURCES,
    CachedReads,
    Generations,
    ReadCache,
    RequestKeys,
)


class FakeInvalidations:
    """What the middleware asks of `gateway.cache.Invalidations`, without a bus."""

    def __init__(self, generations: Generations):
        self.generations = generations
        self.listening = threading.Event()
        self.listening.set()
        self.announced: list[tuple[str, ...]] = []

    def announce(self, sources):
        self.announced.append(tuple(sources))
        self.generations.bump(sources)


class Directory:
    """A WSGI app whose `/members` answer can be kept (it reads `members`) and whose `/health` cannot."""

    def __init__(self):
        self.calls = 0
        self.names = ["Brno"]

    @Request.application
    def __call__(self, request: Request):
        self.calls += 1
        if request.method == "POST":
            request.environ[ENVIRON_SOURCES] = ("members",)
            self.names.append(request.get_data(as_text=True))
            return Response(status=201)
        if request.path == "/members":
            request.environ.update({ENVIRON_SOURCES: ("members",), ENVIRON_ROUTE: "/members", ENVIRON_CACHEABLE: True})
            response = Response(",".join(self.names), mimetype="text/plain")
            response.add_etag()
            return response
        return Response(f"call {self.calls}")


def directory_keys() -> RequestKeys:
    """`/members` reads `page` and `q` and may be kept; `/health` may not."""
    routes = Map([Rule("/members", endpoint="members"), Rule("/health", endpoint="health")])
    return RequestKeys(routes, {"members": frozenset({"page", "q"})}, lambda origin: origin.endswith("zdravamesta.cz"))


@pytest.fixture
def parts():
    generations = Generations()
    invalidations = FakeInvalidations(generations)
    app = Directory()
    observed = []
    middleware = CachedReads(app, ReadCache(generations), invalidations, directory_keys(),
                             lambda *measured: observed.append(measured[:3]))
    return app, Client(middleware), invalidations, generations, observed


def test_a_kept_answer_is_served_without_the_application_with_its_headers(parts):
    app, client, _, _, observed = parts
    first = client.get("/members")
    second = client.get("/members")
    assert app.calls == 1
    assert first.get_data() == second.get_data() == b"Brno"
    assert first.headers["ETag"] == second.headers["ETag"]
    assert second.headers["Content-Type"].startswith("text/plain")
    assert observed == [("GET", "/members", 200)]


def test_a_matching_if_none_match_gets_304_from_the_cache_and_from_the_application(parts):
    app, client, *_ = parts
    etag = client.get("/members").headers["ETag"]
    kept = client.get("/members", headers={"If-None-Match": etag})
    assert kept.status_code == 304 and kept.get_data() == b"" and kept.headers["ETag"] == etag
    assert app.calls == 1
    other = client.get("/members", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.get_data() == b"Brno"


def test_a_write_forgets_the_answers_of_its_sources(parts):
    app, client, invalidations, *_ = parts
    client.get("/members")
    assert client.post("/members", data="Kolín").status_code == 201
    assert invalidations.announced == [("members",)]
    assert client.get("/members").get_data() == b"Brno,Kol\xc3\xadn"
    assert app.calls == 3


def test_an_event_of_another_source_keeps_the_answer_and_one_of_its_own_drops_it(parts):
    app, client, _, generations, _ = parts
    client.get("/members")
    generations.bump(("events",))
    client.get("/members")
    assert app.calls == 1
    app.names.append("Zlín")
    generations.bump(("members",))
    assert client.get("/members").get_data() == b"Brno,Zl\xc3\xadn"


def test_an_answer_computed_while_its_source_changed_is_not_kept(parts):
    app, client, _, generations, _ = parts

    class Racing(Directory):
        def __call__(self, environ, start_response):
            generations.bump(("members",))  # a change arrives while this read is running
            return super().__call__(environ, start_response)

    racing = Racing()
    racing_client = Client(CachedReads(racing, ReadCache(generations), parts[2], directory_keys()))
    racing_client.get("/members")
    racing_client.get("/members")
    assert racing.calls == 2


def test_nothing_is_served_from_the_cache_while_the_bus_is_not_heard(parts):
    app, client, invalidations, *_ = parts
    client.get("/members")
    invalidations.listening.clear()
    client.get("/members")
    assert app.calls == 2


def test_requests_with_credentials_and_answers_not_marked_always_reach_the_application(parts):
    app, client, *_ = parts
    client.get("/members", headers={"Authorization": "Bearer x"})
    client.get("/members", headers={"Authorization": "Bearer x"})
    assert app.calls == 2
    assert client.get("/health").get_data() == b"call 3"
    assert client.get("/health").get_data() == b"call 4"


def test_head_answers_headers_only_and_keys_differ_only_by_accepted_parameters_and_allowed_origin(parts):
    app, client, *_ = parts
    head = client.head("/members")
    assert head.status_code == 200 and head.get_data() == b"" and head.headers["ETag"]
    client.get("/members")
    assert app.calls == 1
    client.get("/members?page=2")
    client.get("/members", headers={"Origin": "https://www.zdravamesta.cz"})
    assert app.calls == 3
    client.get("/members?junk=1&page=2&more=x")
    client.get("/members?page=2&page=3")
    client.get("/members", headers={"Accept": "text/html", "Origin": "https://evil.example"})
    assert app.calls == 3


def test_the_least_recently_used_answer_goes_first_when_the_byte_budget_is_full():
    generations = Generations()
    cache = ReadCache(generations)
    app = Directory()
    client = Client(CachedReads(app, cache, FakeInvalidations(generations), directory_keys()))
    client.get("/members?q=a")
    cache.max_bytes = 2 * cache.bytes
    for query in ("b", "a", "c"):
        client.get(f"/members?q={query}")
    assert len(cache) == 2 and app.calls == 3
    client.get("/members?q=a")
    client.get("/members?q=b")
    assert app.calls == 4


def test_thousands_of_junk_and_distinct_queries_stay_within_the_byte_budget():
    generations = Generations()
    budget = 256 * 1024
    cache = ReadCache(generations, max_bytes=budget)
    app = Directory()
    app.names = ["Brno" * 500]  # a 2 kB answer
    client = Client(CachedReads(app, cache, FakeInvalidations(generations), directory_keys()))
    for number in range(5000):
        assert client.get(f"/members?x={number}&junk{number}=y").status_code == 200
    assert app.calls == 1 and len(cache) == 1  # ignored parameters: the one kept answer, never rebuilt
    for number in range(5000):
        client.get(f"/members?q={number}")
        assert cache.bytes <= budget
    assert 0 < len(cache) < 200 and app.calls == 5001


def test_an_answer_larger_than_the_budget_is_not_kept():
    generations = Generations()
    cache = ReadCache(generations, max_bytes=1024)
    app = Directory()
    app.names = ["x" * 2048]
    client = Client(CachedReads(app, cache, FakeInvalidations(generations), directory_keys()))
    client.get("/members")
    client.get("/members")
    assert app.calls == 2 and len(cache) == 0 and cache.bytes == 0


def test_the_gateway_keys_its_routes_on_the_parameters_their_schemas_accept():
    app = Flask("keys")
    api.register(app)
    keys = RequestKeys(app.url_map, api.cacheable_parameters())

    def key(path, query=""):
        return keys({"PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": "GET", "SERVER_NAME": "localhost",
                     "SERVER_PORT": "80", "wsgi.url_scheme": "http"})

    assert key("/openapi.json", "x=1") == key("/openapi.json", "x=2") == key("/openapi.json")
    assert key("/feeds/news.atom", "cachebuster=1") == key("/feeds/news.atom")
    assert key("/api/v1/members", "q=zdar&x=1") == key("/api/v1/members", "q=zdar")
    assert key("/api/v1/members", "q=zdar") != key("/api/v1/members", "q=brno")
    assert key("/api/v1/members", "per_page=5") != key("/api/v1/members")
    assert key("/api/v1/events/abc/registrations") is None  # staff only: never kept
    assert key("/healthz") is None and key("/no/such/route") is None
