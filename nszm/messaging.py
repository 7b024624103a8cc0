"""Publishing and consuming platform events with nothing lost on the way.

`BusPublisher` (a service's `dispatch`) declares the whole topology when the service starts,
makes sure the queues of an event's platform subscribers exist right before publishing it (once
for the events of one type that one worker publishes together),
and publishes with publisher confirms, and `mandatory` when the platform subscribes to it: an
event the broker cannot route to them, or does not confirm, raises, so that it stays in the
outbox. Every event carries the platform's signature of its body (`nszm.signing`).

`consumes(subscription)` consumes one of the contract's subscriptions. A handler that raises
has its event tried again after each of `BUS_RETRY_DELAYS`, then the event goes to the
subscription's dead-letter queue with the error (`nszm.deadletters` lists and replays them).
A `platform_only` subscription sends an event without the platform's signature straight to its
dead-letter queue, unhandled.
"""
import logging
import traceback
from datetime import datetime, timezone

from kombu import Connection
from kombu.utils.json import dumps
from nameko.amqp.publish import UndeliverableMessage
from nameko.extensions import DependencyProvider
from nameko.messaging import Consumer

from nszm.config import Settings
from nszm.contracts.bus import BY_NAME, Subscription, subscriptions_of
from nszm.entrypoints import BROKER_AWAY
from nszm.patches.producers import get_producer
from nszm.signing import EVENT_SIGNATURE_HEADER, event_is_signed, event_key, event_signature
from nszm.topology import Topology, exchange_of

log = logging.getLogger(__name__)

ATTEMPTS = "x-nszm-attempts"
ERROR = "x-nszm-error"
FAILED_AT = "x-nszm-failed-at"
QUEUE = "x-nszm-queue"
CONNECT_ATTEMPTS = 20


def topology_of(config) -> Topology:
    return Topology(Settings.from_env(config))


class BusPublisher(DependencyProvider):
    """Injects `dispatch(event_type, envelope)`; raises unless the broker took the event into
    every subscribed queue's care."""

    def setup(self):
        self.topology = topology_of(self.container.config)
        self.key = event_key(Settings.from_env(self.container.config).secret_key)
        with Connection(self.topology.amqp_uri) as connection:
            connection.ensure_connection(max_retries=CONNECT_ATTEMPTS)
            self.topology.declare_all(connection)
            self.topology.remove_legacy_queues(connection)

    def get_dependency(self, worker_ctx):
        routed: set[str] = set()

        def dispatch(event_type: str, envelope: dict):
            """A worker's events come out of one commit and go out together: the routes of each
            type are made sure of before the first of them (the broker has confirmed that one
            before the next is published, so its queues are there)."""
            try:
                self.dispatch(event_type, envelope, declare=event_type not in routed)
            except Exception:
                routed.discard(event_type)  # and the next attempt makes sure of them again
                raise
            routed.add(event_type)

        return dispatch

    def dispatch(self, event_type: str, envelope: dict, declare: bool = True):
        spec = BY_NAME[event_type]
        with get_producer(self.topology.amqp_uri, True) as producer:
            subscribed = (self.topology.declare_routes(producer.channel, spec) if declare
                          else bool(subscriptions_of(spec)))
            publish_signed(producer, spec, envelope, self.key, mandatory=subscribed)


def publish_signed(producer, spec, envelope: dict, key: bytes, mandatory: bool):
    """Publish an event of `spec` with the platform's signature of its body."""
    body = dumps(envelope).encode("utf-8")
    try:
        producer.publish(body, exchange=exchange_of(spec), routing_key=spec.name, mandatory=mandatory,
                         content_type="application/json", content_encoding="utf-8", delivery_mode=2,
                         headers={EVENT_SIGNATURE_HEADER: event_signature(key, body)}, retry=False)
    except Exception as error:
        if "NO_ROUTE" in str(error):
            raise UndeliverableMessage(f"no queue takes {spec.name}") from error
        raise


class SubscriptionConsumer(Consumer):
    """A nameko entrypoint on a contract subscription's queue, with bounded retries and dead letters."""

    def __init__(self, subscription: Subscription, **kwargs):
        self.subscription = subscription
        super().__init__(queue=None, requeue_on_error=False, **kwargs)

    def setup(self):
        self.topology = topology_of(self.container.config)
        self.key = event_key(Settings.from_env(self.container.config).secret_key)
        self.queue = self.topology.queue(self.subscription)
        super().setup()

    def handle_message(self, body, message):
        if self.subscription.platform_only and not event_is_signed(self.key, message.body, message.headers):
            log.error("%s: an event the platform did not sign (%s); set aside unhandled",
                      self.subscription.queue, (message.delivery_info or {}).get("routing_key"))
            try:
                self._set_aside(message, "not signed by the platform: set aside unhandled", 1,
                                self.topology.dead_queue(self.subscription))
            except Exception:
                log.exception("could not set an unsigned event aside; it is dropped")
            self._settle(self.queue_consumer.ack_message, message)
            return
        super().handle_message(body, message)

    def handle_result(self, message, worker_ctx, result=None, exc_info=None):
        if exc_info is not None:
            try:
                self._try_later_or_bury(message, exc_info)
            except Exception:  # the broker is away: the event comes back to this queue as it is
                log.exception("could not set %s aside; it is tried again now", self.subscription.queue)
                self._settle(self.queue_consumer.requeue_message, message)
                return result, exc_info
        self._settle(self.queue_consumer.ack_message, message)
        return result, exc_info

    def _settle(self, settle, message):
        """Ack or requeue; if the connection is gone meanwhile, RabbitMQ delivers the event again
        once it is back, and the handler, idempotent by `event_id`, does nothing twice. The
        service must not stop over it."""
        try:
            settle(message)
        except BROKER_AWAY as error:
            log.warning("%s: the broker is away (%r); the event will come again", self.subscription.queue, error)

    def _try_later_or_bury(self, message, exc_info):
        attempts = int((message.headers or {}).get(ATTEMPTS, 0)) + 1
        error = "".join(traceback.format_exception_only(*exc_info[:2])).strip()[-2000:]
        if attempts <= len(self.topology.retry_delays):
            target = self.topology.retry_queue(self.subscription, attempts)
            log.warning("%s failed (try %d), again in %ss: %s", self.subscription.queue, attempts,
                        self.topology.retry_delays[attempts - 1], error)
        else:
            target = self.topology.dead_queue(self.subscription)
            log.error("%s failed %d times; to %s: %s", self.subscription.queue, attempts, target.name, error)
        self._set_aside(message, error, attempts, target)

    def _set_aside(self, message, error: str, attempts: int, target):
        headers = {**(message.headers or {}), ATTEMPTS: attempts, ERROR: error, QUEUE: self.subscription.queue,
                   FAILED_AT: datetime.now(timezone.utc).isoformat()}
        with get_producer(self.topology.amqp_uri, True) as producer:
            target(producer.channel).declare()
            producer.publish(message.body, exchange="", routing_key=target.name, headers=headers,
                             content_type=message.content_type, content_encoding=message.content_encoding,
                             delivery_mode=2, retry=False)


consumes = SubscriptionConsumer.decorator
