"""RPC to the services from gunicorn threads: one standalone nameko proxy per thread.

Every call carries the gateway's signed context (`nszm.signing`), naming the staff member it is
made for, if any; services refuse calls without it.

A request expires in RabbitMQ when the gateway stops waiting for it: a service that was away
does not act on it later, so a client's retry after a 503 cannot do the thing twice.

One dead or hung service cannot stall the gateway: a call to a service that has no consumer on
its queue (asked of RabbitMQ at most once a second) is answered 503 at once, and each service
may hold at most half of a worker's threads (a bulkhead); a call that finds its service's share
taken waits for a place while the service answers, and is answered 503 at once when the
service's oldest call has waited STALLED_AFTER_SECONDS.
"""
import threading
import time

from kombu import Connection
from kombu.transport.pyamqp import Channel

from nszm.contracts.errors import Unavailable
from nszm.patches.nameko_rpc import ExpiringRpcProxy
from nszm.signing import call_key, signed_context

CALL_TIMEOUT_SECONDS = 15
PROBE_TIMEOUT_SECONDS = 3
THREADS_PER_WORKER = 16  # deploy/gunicorn.conf.py
STALLED_AFTER_SECONDS = 3.0  # a service whose oldest call has waited this long takes no more waiting calls
CONSUMERS_CHECKED_EVERY_SECONDS = 1.0


class Bulkhead:
    """One service's share of a worker's threads: at most `share` calls to it at once. A call past
    the share waits for a place while the service is answering (a rush), and is refused at once
    when the service is stalled: its oldest call has waited longer than `stalled_after`."""

    def __init__(self, service: str, share: int, stalled_after: float):
        self.service, self.share, self.stalled_after = service, share, stalled_after
        self._started: dict[int, float] = {}
        self._changed = threading.Condition()
        self._calls = 0

    def enter(self) -> int:
        with self._changed:
            while len(self._started) >= self.share:
                waited = time.monotonic() - min(self._started.values())
                if waited >= self.stalled_after:
                    raise Unavailable(f"The {self.service} service is not answering; please try again shortly.")
                self._changed.wait(self.stalled_after - waited)
            self._calls += 1
            call = self._calls
            self._started[call] = time.monotonic()
        return call

    def leave(self, call: int):
        with self._changed:
            del self._started[call]
            self._changed.notify()


class Bulkheads:
    """Each service's `Bulkhead`, made on first use."""

    def __init__(self, share: int, stalled_after: float = STALLED_AFTER_SECONDS):
        self.share, self.stalled_after = share, stalled_after
        self._each: dict[str, Bulkhead] = {}
        self._lock = threading.Lock()

    def of(self, service: str) -> Bulkhead:
        with self._lock:
            if service not in self._each:
                self._each[service] = Bulkhead(service, self.share, self.stalled_after)
            return self._each[service]


class Consumers:
    """Whether a service has a consumer on its RPC queue, as RabbitMQ said at most a second ago.
    When RabbitMQ cannot be asked, the call is let through (it fails on its own, quickly)."""

    def __init__(self, amqp_uri: str, every: float = CONSUMERS_CHECKED_EVERY_SECONDS):
        self.amqp_uri = amqp_uri
        self.every = every
        self._known: dict[str, tuple[float, bool]] = {}
        self._connection: Connection | None = None
        self._channel: Channel | None = None
        self._lock = threading.Lock()

    def present(self, service: str) -> bool:
        """As last known; asked again once a second, by one thread while the others go on."""
        checked_at, present = self._known.get(service, (None, True))
        if checked_at is not None and time.monotonic() - checked_at < self.every:
            return present
        if not self._lock.acquire(blocking=False):
            return present
        try:
            present = self._ask(service)
            self._known[service] = (time.monotonic(), present)
        finally:
            self._lock.release()
        return present

    def _ask(self, service: str) -> bool:
        try:
            channel = self._channel
            if channel is None:
                connection = Connection(self.amqp_uri, connect_timeout=2,
                                        transport_options={"read_timeout": 2, "write_timeout": 2})
                connection.ensure_connection(max_retries=0)  # once: the broker away is an answer, not a reason to wait
                channel = connection.channel()
                self._connection, self._channel = connection, channel
            _, _, consumers = channel.queue_declare(f"rpc-{service}", passive=True)
            return consumers > 0
        except Exception as error:  # no such queue (never started), or the broker is away
            self._reset()
            return not (getattr(error, "code", None) == 404 or "NOT_FOUND" in str(error))

    def _reset(self):
        if self._connection is not None:
            try:
                self._connection.release()
            except Exception:  # already gone
                pass
        self._connection, self._channel = None, None


class GuardedMethod:
    """One RPC of a service, called only when the service is there, within its share."""

    def __init__(self, target, service: str, bulkheads: Bulkheads, consumers: Consumers):
        self._target, self._service, self._bulkheads, self._consumers = target, service, bulkheads, consumers

    def __call__(self, *args, **kwargs):
        if not self._consumers.present(self._service):
            raise Unavailable(f"The {self._service} service is not running; please try again shortly.")
        bulkhead = self._bulkheads.of(self._service)
        call = bulkhead.enter()
        try:
            return self._target(*args, **kwargs)
        finally:
            bulkhead.leave(call)

    def call_async(self, *args, **kwargs):
        """What the probes use to ask every service at once: no place taken."""
        return self._target.call_async(*args, **kwargs)


class GuardedService:
    def __init__(self, proxy, name: str, bulkheads: Bulkheads, consumers: Consumers):
        self._proxy, self._name, self._bulkheads, self._consumers = proxy, name, bulkheads, consumers

    def __getattr__(self, method: str) -> GuardedMethod:
        return GuardedMethod(getattr(self._proxy, method), self._name, self._bulkheads, self._consumers)


class GuardedProxy:
    def __init__(self, proxy, bulkheads: Bulkheads, consumers: Consumers):
        self._proxy, self._bulkheads, self._consumers = proxy, bulkheads, consumers

    def __getattr__(self, service: str) -> GuardedService:
        return GuardedService(getattr(self._proxy, service), service, self._bulkheads, self._consumers)


class RpcClients:
    def __init__(self, amqp_uri: str, secret_key: str | None):
        self.config = {"AMQP_URI": amqp_uri, "serializer": "json"}
        self.key = call_key(secret_key)
        self._local = threading.local()
        self.bulkheads = Bulkheads(share=THREADS_PER_WORKER // 2)
        self.consumers = Consumers(amqp_uri)

    def proxy(self, timeout: float = CALL_TIMEOUT_SECONDS, staff: dict | None = None):
        """This thread's proxy; started on first use, started again after a broken connection.
        Its calls carry the gateway's signed context, for `staff` (`actor`, `token_id`, `roles`)
        if given, and nothing else."""
        context = signed_context(self.key, "gateway", **(staff or {}))
        proxies = self._local.__dict__.setdefault("proxies", {})
        if timeout not in proxies:
            runner = ExpiringRpcProxy(self.config, timeout=timeout)
            proxies[timeout] = (runner, runner.start())
        runner, proxy = proxies[timeout]
        runner.carry(context)
        return GuardedProxy(proxy, self.bulkheads, self.consumers)

    def discard(self):
        """Drop this thread's proxies, e.g. after RabbitMQ went away."""
        for runner, _ in self._local.__dict__.pop("proxies", {}).values():
            try:
                runner.stop()
            except Exception:  # the connection is already gone
                pass
