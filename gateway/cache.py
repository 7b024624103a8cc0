"""Public reads served from each gateway worker's memory, kept coherent by the bus.

Every source (a service) has a generation, a number that grows whenever its data may have
changed: on each of its bus events (`<service>.events`, any routing key), and on each write
that any gateway worker passes to it (announced on the `gateway.cache` fanout exchange, for
staff changes no event reports). The worker that passed the write forgets at once; the writes
of the same tenth of a second go to the others in one announcement, so that a rush of writes
does not cost a message each. A cached answer remembers the generations of its sources as
they were when it was computed, and is served only while they are still the same. While a
worker is not listening to the bus (it is away, or the worker has just started), nothing is
served from its cache: it could have missed an event.

A cached answer is served without running the application: its body, its headers (ETag
included) and a 304 for a matching If-None-Match. Requests with credentials (a staff token,
the console's cookie) always reach the application.

The cache is bounded in bytes (`READ_CACHE_MIB` per worker), and an answer is kept under its
route and the query parameters that route's schema accepts, nothing else of the request: a
parameter the API ignores gives the same answer, so it neither fills the cache nor rebuilds a
feed, whatever junk a client appends.
"""
import json
import logging
import socket
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from kombu import Connection, Exchange, Queue, binding
from werkzeug.exceptions import HTTPException
from werkzeug.http import is_resource_modified, unquote_etag

from nszm.topology import exchange

log = logging.getLogger(__name__)

SOURCES = ("members", "events", "practice", "notify")
# The sources an endpoint's answers are made of, by its tag; any other tag: all of them.
# Practice pages name their members (the practice service keeps a copy of the names).
SOURCES_BY_TAG = {"members": ("members",), "events": ("events",), "practice": ("practice", "members")}
ANNOUNCEMENTS = Exchange("gateway.cache", type="fanout", durable=False, auto_delete=False)
ENVIRON_SOURCES = "nszm.sources"  # set by a view: the sources it read or wrote
ENVIRON_CACHEABLE = "nszm.cacheable"  # set by a view whose answer may be kept
ENVIRON_ROUTE = "nszm.route"
DEFAULT_MAX_BYTES = 32 * 1024 * 1024
ENTRY_OVERHEAD_BYTES = 512  # the entry, its key and the dictionaries holding them, roughly
MAX_BODY_BYTES = 1024 * 1024
MAX_SECONDS = 300  # a bound for the unforeseen; events invalidate long before
RECONNECT_SECONDS = 1.0
ANNOUNCE_EVERY_SECONDS = 0.1  # well inside the second a change may take to show in every worker's reads


def sources_of(tag: str) -> tuple[str, ...]:
    return SOURCES_BY_TAG.get(tag, SOURCES)


class Generations:
    """Each source's generation; a worker's threads share one."""

    def __init__(self):
        self._values = dict.fromkeys(SOURCES, 0)
        self._lock = threading.Lock()

    def stamp(self, sources: tuple[str, ...]) -> tuple[int, ...]:
        return tuple(self._values[source] for source in sources)

    def bump(self, sources) -> None:
        with self._lock:
            for source in sources:
                if source in self._values:
                    self._values[source] += 1

    def bump_all(self) -> None:
        self.bump(SOURCES)


@dataclass(frozen=True)
class Entry:
    status: str
    headers: list[tuple[str, str]]
    body: bytes
    etag: str | None
    sources: tuple[str, ...]
    stamp: tuple[int, ...]
    route: str
    expires: float

    @property
    def size(self) -> int:
        """Roughly the bytes the entry holds in memory."""
        return (len(self.body) + sum(len(name) + len(value) for name, value in self.headers)
                + len(self.route) + ENTRY_OVERHEAD_BYTES)


class RequestKeys:
    """The key a public read is kept under: its route's path, the parameters that route's query
    schema accepts (first value of each, in order), and the origin if CORS answers it; None for a
    request no cacheable route serves."""

    def __init__(self, url_map, accepted: dict[str, frozenset[str]], origin_allowed=lambda origin: False):
        self.url_map = url_map
        self.accepted = accepted  # cacheable Flask endpoint -> the query parameters it reads
        self.origin_allowed = origin_allowed

    def __call__(self, environ):
        try:
            endpoint, _ = self.url_map.bind_to_environ(environ).match(method="GET")
        except HTTPException:
            return None
        accepted = self.accepted.get(endpoint)
        if accepted is None:
            return None
        arguments = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        parameters = tuple((name, arguments[name][0]) for name in sorted(accepted) if name in arguments)
        origin = environ.get("HTTP_ORIGIN")
        return environ.get("PATH_INFO"), parameters, origin if origin and self.origin_allowed(origin) else None


class ReadCache:
    """Answers by request key within a byte budget, least recently used first out."""

    def __init__(self, generations: Generations, max_bytes: int = DEFAULT_MAX_BYTES):
        self.generations = generations
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key) -> Entry | None:
        kept = self._entries.get(key)
        if kept is None:
            return None
        entry = kept[0]
        if entry.stamp != self.generations.stamp(entry.sources) or entry.expires < time.monotonic():
            with self._lock:
                if self._entries.get(key) is kept:
                    self._remove(key)
            return None
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
        return entry

    def put(self, key, entry: Entry) -> None:
        size = entry.size + len(repr(key))
        if size > self.max_bytes:
            return
        with self._lock:
            if key in self._entries:
                self._remove(key)
            self._entries[key] = (entry, size)
            self.bytes += size
            while self.bytes > self.max_bytes:
                self._remove(next(iter(self._entries)))

    def _remove(self, key) -> None:
        _, size = self._entries.pop(key)
        self.bytes -= size

    def __len__(self):
        return len(self._entries)


class Invalidations:
    """Listens to every source's events and to the gateways' announcements on a queue of its own
    (exclusive: it goes when the worker goes), bumping generations; announces this worker's writes."""

    def __init__(self, amqp_uri: str, generations: Generations):
        self.amqp_uri = amqp_uri
        self.generations = generations
        self.listening = threading.Event()
        self._stopped = threading.Event()
        self._threads: list[threading.Thread] = []
        self._publisher: Connection | None = None
        self._pending: set[str] = set()
        self._pending_changed = threading.Condition()

    def start(self) -> "Invalidations":
        self._threads = [threading.Thread(target=self._listen, name="cache-invalidations", daemon=True),
                         threading.Thread(target=self._announce_pending, name="cache-announcements", daemon=True)]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stops listening, after announcing what is still to be announced."""
        self._stopped.set()
        with self._pending_changed:
            self._pending_changed.notify_all()
        for thread in self._threads:
            thread.join(timeout=5)

    def announce(self, sources: tuple[str, ...]) -> None:
        """This worker passed a write to `sources`: it forgets their answers at once, every other
        worker within ANNOUNCE_EVERY_SECONDS and the time the message takes."""
        self.generations.bump(sources)
        with self._pending_changed:
            self._pending.update(sources)
            self._pending_changed.notify()

    def _announce_pending(self):
        """Sends what was written since the last announcement, then pauses, until stopped."""
        while True:
            with self._pending_changed:
                while not self._pending and not self._stopped.is_set():
                    self._pending_changed.wait()
                sources, self._pending = sorted(self._pending), set()
            if sources:
                self._publish(sources)
            if self._stopped.is_set():
                break
            self._stopped.wait(ANNOUNCE_EVERY_SECONDS)
        if self._publisher is not None:
            self._publisher.release()

    def _publish(self, sources: list[str]) -> None:
        try:
            if self._publisher is None:
                self._publisher = Connection(self.amqp_uri, connect_timeout=2)
            self._publisher.Producer(serializer="json").publish(
                sources, exchange=ANNOUNCEMENTS, declare=[ANNOUNCEMENTS], retry=False)
        except Exception as error:  # the bus is away: so are the other workers' listeners
            log.warning("could not announce a change of %s: %s", sources, error)
            if self._publisher is not None:
                self._publisher.release()
            self._publisher = None

    def _queue(self) -> Queue:
        bindings = [binding(exchange(source), routing_key="#") for source in SOURCES] + [binding(ANNOUNCEMENTS)]
        return Queue(f"gateway.cache.{uuid.uuid4().hex}", exclusive=True, auto_delete=True, durable=False,
                     bindings=bindings)

    def _on_message(self, message):
        """An event bumps its source by the exchange it came on, its body unread (a registration's
        is kilobytes); an announcement lists the sources."""
        source = message.delivery_info.get("exchange", "").removesuffix(".events")
        if source in SOURCES:
            self.generations.bump((source,))
            return
        try:
            sources = json.loads(message.body)
        except (TypeError, ValueError):
            sources = None
        if isinstance(sources, list):
            self.generations.bump(tuple(sources))
        else:
            self.generations.bump_all()

    def _listen(self):
        while not self._stopped.is_set():
            try:
                with Connection(self.amqp_uri, heartbeat=10, connect_timeout=5) as connection:
                    channel = connection.channel()
                    for source in SOURCES:
                        exchange(source)(channel).declare()
                    ANNOUNCEMENTS(channel).declare()
                    with connection.Consumer(self._queue(), on_message=self._on_message, no_ack=True):
                        self.generations.bump_all()  # whatever was kept may have changed unheard
                        self.listening.set()
                        while not self._stopped.is_set():
                            try:
                                connection.drain_events(timeout=1)
                            except socket.timeout:
                                connection.heartbeat_check()
            except Exception as error:
                if not self._stopped.is_set():
                    log.warning("cache invalidations not heard (%s); reads bypass the cache", error)
            finally:
                self.listening.clear()
                self.generations.bump_all()
            self._stopped.wait(RECONNECT_SECONDS)


class CachedReads:
    """WSGI middleware: a kept answer for a public read, the application for everything else."""

    def __init__(self, app, cache: ReadCache, invalidations: Invalidations, keys: RequestKeys, observe=None):
        self.app = app
        self.cache = cache
        self.invalidations = invalidations
        self.keys = keys
        self.observe = observe or (lambda method, route, status, seconds: None)

    def __call__(self, environ, start_response):
        method = environ["REQUEST_METHOD"]
        if method not in ("GET", "HEAD"):
            return self._write(environ, start_response)
        if (not self.invalidations.listening.is_set() or "HTTP_AUTHORIZATION" in environ
                or "nszm_console" in environ.get("HTTP_COOKIE", "")):
            return self.app(environ, start_response)
        started = time.perf_counter()
        key = self.keys(environ)
        if key is None:
            return self.app(environ, start_response)
        entry = self.cache.get(key)
        if entry is not None:
            answer = self._serve(entry, environ, start_response)
            self.observe(method, entry.route, answer, time.perf_counter() - started)
            return [] if method == "HEAD" or answer == 304 else [entry.body]
        return self._compute(key, environ, start_response)

    def _write(self, environ, start_response):
        captured: dict[str, Any] = {}

        def capture(status, headers, exc_info=None):
            captured["status"] = status
            return start_response(status, headers, exc_info)

        body = self.app(environ, capture)
        if captured.get("status", "500")[0] in "23":  # the console's changes answer with a redirect
            self.invalidations.announce(environ.get(ENVIRON_SOURCES) or SOURCES)
        return body

    def _compute(self, key, environ, start_response):
        """The application's answer, kept if its view allows: computed without the request's
        conditions, so that the whole answer is kept, then answered as the conditions ask."""
        before = dict(zip(SOURCES, self.invalidations.generations.stamp(SOURCES)))
        inner = {name: value for name, value in environ.items()
                 if name not in ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE")}
        inner["REQUEST_METHOD"] = "GET"
        captured: dict[str, Any] = {}

        def capture(status, headers, exc_info=None):
            captured.update(status=status, headers=headers)
            return lambda data: None

        iterable = self.app(inner, capture)
        try:
            body = b"".join(iterable)
        finally:
            if hasattr(iterable, "close"):
                iterable.close()
        etag = next((value for name, value in captured["headers"] if name.lower() == "etag"), None)
        sources = inner.get(ENVIRON_SOURCES) or SOURCES
        entry = Entry(status=captured["status"], headers=captured["headers"], body=body,
                      etag=unquote_etag(etag)[0] if etag else None, sources=sources,
                      stamp=tuple(before[source] for source in sources), route=inner.get(ENVIRON_ROUTE, ""),
                      expires=time.monotonic() + MAX_SECONDS)
        if inner.get(ENVIRON_CACHEABLE) and entry.status.startswith("200") and len(body) <= MAX_BODY_BYTES:
            self.cache.put(key, entry)
        answer = self._serve(entry, environ, start_response)
        return [] if environ["REQUEST_METHOD"] == "HEAD" or answer == 304 else [body]

    @staticmethod
    def _serve(entry: Entry, environ, start_response) -> int:
        if entry.etag and entry.status.startswith("200") and not is_resource_modified(environ, etag=entry.etag):
            kept = [(name, value) for name, value in entry.headers
                    if name.lower() not in ("content-length", "content-type")]
            start_response("304 NOT MODIFIED", kept)
            return 304
        start_response(entry.status, entry.headers)
        return int(entry.status[:3])
