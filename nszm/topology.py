"""The bus's exchanges and queues, declared from the contracts (`nszm.contracts.bus.SUBSCRIPTIONS`).

Each subscription of the platform's own services is a durable queue `<consumer>.<name>` bound
to `<source>.events` with its event types as routing keys (a quorum queue where the broker
has them, RabbitMQ 3.8+), plus what its failures need: one retry queue per delay, whose
messages go back to the subscription's queue when their time is up, and a dead-letter queue
`<queue>.dead` for what failed every time. Every service declares all of it when it starts,
so no event finds its subscribers' queues missing, whichever service starts first.
"""
import functools
import logging

from amqp.exceptions import PreconditionFailed
from kombu import Connection, Exchange, Queue, binding

from nszm.config import Settings
from nszm.contracts.bus import SUBSCRIPTIONS, EventSpec, Subscription, subscriptions_of

log = logging.getLogger(__name__)

QUORUM_SINCE = (3, 8)
QUORUM_TTL_SINCE = (3, 10)  # quorum queues keep messages for a time (retry queues) since RabbitMQ 3.10


def exchange(source: str) -> Exchange:
    """`<source>.events`, declared exactly as nameko declares it."""
    return exchange_named(f"{source}.events")


def exchange_named(name: str) -> Exchange:
    return Exchange(name, type="topic", durable=True, delivery_mode=2)


def exchange_of(spec: EventSpec) -> Exchange:
    """Where events of `spec` are published: `<source>.events`, or `<source>.internal`."""
    return exchange_named(spec.exchange)


@functools.lru_cache(maxsize=None)
def broker_version(amqp_uri: str) -> tuple[int, ...]:
    with Connection(amqp_uri) as connection:
        connection.connect()
        version = connection.connection.server_properties.get("version", b"0")
    version = version.decode() if isinstance(version, bytes) else str(version)
    return tuple(int(part) for part in version.split(".")[:2] if part.isdigit())


def replicated(amqp_uri: str, ttl: bool = False) -> dict:
    """The arguments of a queue that outlives the loss of any one RabbitMQ node of a cluster: a
    quorum queue where the broker has them (for a queue whose messages wait out a TTL, 3.10+)."""
    return {"x-queue-type": "quorum"} if broker_version(amqp_uri) >= (QUORUM_TTL_SINCE if ttl else QUORUM_SINCE) else {}


def declare_replacing(connection, queue: Queue):
    """Declare `queue`; an empty queue of that name declared with other arguments (a classic
    queue from before the platform asked for quorum ones) is deleted and declared anew. One that
    holds messages is left for an operator to drain, and the error says so."""
    channel = connection.channel()
    try:
        queue(channel).declare()
        return
    except PreconditionFailed as inequivalent:
        log.warning("queue %s was declared with other arguments (%s): replacing it", queue.name, inequivalent)
    finally:
        if channel.is_open:
            channel.close()
    channel = connection.channel()
    try:
        channel.queue_delete(queue.name, if_empty=True)
        queue(channel).declare()
    finally:
        if channel.is_open:
            channel.close()


class Topology:
    def __init__(self, settings: Settings):
        self.amqp_uri = settings.amqp_uri
        self.retry_delays = settings.bus_retry_delays

    @functools.cached_property
    def _durable_arguments(self) -> dict:
        return replicated(self.amqp_uri)

    def queue(self, subscription: Subscription) -> Queue:
        return Queue(subscription.queue, durable=True, queue_arguments=self._durable_arguments,
                     bindings=[binding(exchange_of(spec), routing_key=spec.name) for spec in subscription.events])

    def retry_queue(self, subscription: Subscription, attempt: int) -> Queue:
        """Where a message waits after its `attempt`-th failure (1-based) before it is tried again."""
        delay_ms = int(self.retry_delays[attempt - 1] * 1000)
        return Queue(f"{subscription.queue}.retry.{delay_ms}ms", durable=True, queue_arguments={
            **replicated(self.amqp_uri, ttl=True), "x-message-ttl": delay_ms, "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": subscription.queue})

    def dead_queue(self, subscription: Subscription) -> Queue:
        return Queue(f"{subscription.queue}.dead", durable=True, queue_arguments=self._durable_arguments)

    def declare_all(self, connection):
        for subscription in SUBSCRIPTIONS:
            self.declare_subscription(connection, subscription)

    def declare_subscription(self, connection, subscription: Subscription):
        declare_replacing(connection, self.queue(subscription))
        for attempt in range(1, len(self.retry_delays) + 1):
            declare_replacing(connection, self.retry_queue(subscription, attempt))
        declare_replacing(connection, self.dead_queue(subscription))

    def declare_routes(self, channel, spec: EventSpec) -> bool:
        """Make sure every platform queue that subscribes to `spec` exists and is bound to it (again,
        if someone deleted it), just before an event of that type is published; False if there is
        none. Without waiting for the broker's answers: it handles a channel's commands in order,
        so the queue is there before the event that follows, and an error closes the channel, so
        the event's publication fails."""
        subscriptions = subscriptions_of(spec)
        for subscription in subscriptions:
            queue = self.queue(subscription)(channel)
            queue.queue_declare(nowait=True)
            channel.queue_bind(queue.name, exchange=spec.exchange, routing_key=spec.name, nowait=True)
        return bool(subscriptions)

    @staticmethod
    def remove_legacy_queues(connection):
        """Drop the queues nameko's `event_handler`s declared before the subscriptions existed, once
        they are empty (nothing consumes them any more; they would keep every event forever), and
        the bindings of internal events to the public exchanges they once travelled on."""
        channel = connection.channel()
        try:
            for subscription in SUBSCRIPTIONS:
                for spec in subscription.events:
                    if spec.internal:
                        channel.queue_unbind(subscription.queue, f"{spec.source}.events", spec.name)
        except Exception as refused:
            log.warning("old bindings of internal events kept: %s", refused)
        finally:
            if channel.is_open:
                channel.close()
        for subscription in SUBSCRIPTIONS:
            for spec in subscription.events:
                name = f"evt-{spec.source}-{spec.name}--{subscription.consumer}.on_{spec.name}"
                channel = connection.channel()
                try:
                    channel.queue_delete(name, if_empty=True)
                except Exception as refused:  # not empty: left for an operator to drain
                    log.warning("legacy queue %s kept: %s", name, refused)
                finally:
                    if channel.is_open:
                        channel.close()
