"""Subscribing to the platform's events from any Python program, with pika alone.

    from nszm.subscriber import Subscriber

    def on_event(envelope):          # {event_id, event_type, source, occurred_at, schema_version, data}
        ...

    Subscriber("amqp://guest:guest@rabbitmq:5672/", "crm.registrations",
               [("events", "registration_confirmed"), ("events", "registration_cancelled")],
               on_event).run_until_signalled()

The subscriber declares its own durable queue (name it after your service and purpose) and
binds it to `<source>.events` with each event type as the routing key, so events published
while it is down wait for it. It needs a RabbitMQ user that may read those exchanges and
configure, write and read its own queues, nothing more (`python -m ops.rabbit subscriber`). A message is acknowledged only after the handler returns; when
the handler raises, the event is handed back and tried again after a pause. An `event_id`
seen lately is acknowledged without calling the handler again (the platform may publish an
event twice; keep your own record of handled ids if a repeat after a restart matters). A
lost connection is opened again with growing pauses; SIGINT or SIGTERM stop it cleanly. This
module needs nothing but pika and may be copied on its own.
"""
import json
import logging
import signal
import time
from collections import OrderedDict
from typing import Callable, Iterable

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPChannelError, AMQPConnectionError

log = logging.getLogger(__name__)

RECONNECT_DELAYS = (0.5, 1, 2, 5, 10, 30)  # seconds; the last one repeats
HANDLER_RETRY_DELAY = 1.0
REMEMBERED_IDS = 100_000


class Subscriber:
    def __init__(self, amqp_url: str, queue: str, events: Iterable[tuple[str, str]],
                 handler: Callable[[dict], object], prefetch: int = 20,
                 on_ready: Callable[[], object] | None = None):
        self.parameters = pika.URLParameters(amqp_url)
        self.parameters.client_properties = {"connection_name": f"subscriber {queue}"}
        self.queue = queue
        self.bindings = list(events)
        self.handler = handler
        self.prefetch = prefetch
        self.on_ready = on_ready
        self.seen: OrderedDict[str, None] = OrderedDict()
        self.stopping = False
        self.connection: pika.BlockingConnection | None = None
        self.channel: BlockingChannel | None = None

    def run(self):
        """Consume until `stop()`; reconnects by itself after a lost connection."""
        failures = 0
        while not self.stopping:
            try:
                self._consume()
                failures = 0
            except (AMQPConnectionError, AMQPChannelError, ConnectionError) as error:
                if self.stopping:
                    break
                delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
                failures += 1
                log.warning("connection to the bus lost (%s); again in %s s", error, delay)
                self._pause(delay)
        self._close()

    def run_until_signalled(self):
        """`run()`, stopping cleanly on SIGINT or SIGTERM."""
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: self.stop())
        self.run()

    def stop(self):
        """Stop consuming; safe from a signal handler or another thread."""
        self.stopping = True
        connection = self.connection
        if connection is not None and connection.is_open:
            connection.add_callback_threadsafe(self._stop_consuming)

    def _consume(self):
        self.connection = connection = pika.BlockingConnection(self.parameters)
        channel = self._open_channel(connection)
        channel.queue_declare(self.queue, durable=True)
        for source, event_type in self.bindings:
            exchange = f"{source}.events"
            channel = self._ensure_exchange(connection, channel, exchange)
            channel.queue_bind(self.queue, exchange, routing_key=event_type)
        channel.basic_consume(self.queue, self._on_message)
        self.channel = channel
        log.info("consuming %s", self.queue)
        if self.on_ready is not None:
            self.on_ready()
        if not self.stopping:
            channel.start_consuming()

    def _open_channel(self, connection: pika.BlockingConnection) -> BlockingChannel:
        channel = connection.channel()
        channel.basic_qos(prefetch_count=self.prefetch)
        return channel

    def _ensure_exchange(self, connection: pika.BlockingConnection, channel: BlockingChannel,
                         exchange: str) -> BlockingChannel:
        """Only checks that the platform's exchange is there (a subscriber's own RabbitMQ user may
        read it, not declare it); declares it only when it is missing, before the platform's
        first start, which needs a user allowed to. Returns the channel to go on with (a
        refused check closes the one it was made on)."""
        try:
            channel.exchange_declare(exchange, exchange_type="topic", durable=True, passive=True)
        except AMQPChannelError as missing:
            if getattr(missing, "reply_code", None) != 404:
                raise
            channel = self._open_channel(connection)
            channel.exchange_declare(exchange, exchange_type="topic", durable=True)
        return channel

    def _on_message(self, channel, method, properties, body: bytes):
        try:
            envelope = json.loads(body)
            event_id = envelope["event_id"]
        except (ValueError, KeyError, TypeError):
            log.error("not a platform event; dropped: %r", body[:200])
            channel.basic_ack(method.delivery_tag)
            return
        if event_id in self.seen:
            channel.basic_ack(method.delivery_tag)
            return
        try:
            self.handler(envelope)
        except Exception:
            log.exception("handling %s failed; it comes back in %s s", event_id, HANDLER_RETRY_DELAY)
            channel.connection.sleep(HANDLER_RETRY_DELAY)
            channel.basic_nack(method.delivery_tag, requeue=True)
            return
        self._remember(event_id)
        channel.basic_ack(method.delivery_tag)

    def _remember(self, event_id: str):
        self.seen[event_id] = None
        if len(self.seen) > REMEMBERED_IDS:
            self.seen.popitem(last=False)

    def _stop_consuming(self):
        if self.channel is not None and self.channel.is_open:
            self.channel.stop_consuming()

    def _pause(self, seconds: float):
        """Wait before reconnecting, in short steps so that a stop is not kept waiting."""
        end = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < end:
            time.sleep(min(0.1, max(0.0, end - time.monotonic())))

    def _close(self):
        connection, self.connection = self.connection, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except Exception:  # closing a connection that is going anyway
                pass

