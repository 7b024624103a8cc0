"""Dead letters: events a subscription's handler failed on every try, and sending them back.

They wait in `<queue>.dead` with the error in their headers. Listing reads them without
taking them (what was read goes back when the channel closes); replaying publishes each
chosen one to its subscription's queue with a fresh count of tries, and only then removes it.
"""
import json
from datetime import datetime

from kombu import Connection

from nszm import messaging
from nszm.contracts.bus import SUBSCRIPTIONS
from nszm.topology import Topology


def _dead_letters(topology: Topology, channel, queue: str | None):
    """(subscription, message) for every dead letter, in order, on `channel` (unacknowledged)."""
    for subscription in SUBSCRIPTIONS:
        if queue and queue != subscription.queue:
            continue
        dead = topology.dead_queue(subscription)(channel)
        dead.declare()
        while (message := dead.get(no_ack=False)) is not None:
            yield subscription, message


def _describe(subscription, message) -> dict:
    try:
        envelope = json.loads(message.body)
    except ValueError:
        envelope = {}
    headers = message.headers or {}
    return {"queue": subscription.queue, "event_id": envelope.get("event_id"),
            "event_type": envelope.get("event_type"), "attempts": headers.get(messaging.ATTEMPTS),
            "error": headers.get(messaging.ERROR), "failed_at": headers.get(messaging.FAILED_AT)}


def list_dead_letters(topology: Topology, queue: str | None = None) -> list[dict]:
    with Connection(topology.amqp_uri) as connection:
        channel = connection.channel()
        try:
            return [_describe(subscription, message) for subscription, message in
                    _dead_letters(topology, channel, queue)]
        finally:
            channel.close()  # returns every message read to its dead-letter queue


def replay_dead_letters(topology: Topology, queue: str | None = None, event_ids=None) -> list[dict]:
    """Send the chosen dead letters (all, of one queue, or with these event ids) back to their
    subscriptions; returns what was sent."""
    wanted = set(event_ids) if event_ids else None
    replayed = []
    with Connection(topology.amqp_uri, transport_options={"confirm_publish": True}) as connection:
        channel = connection.channel()
        producer = connection.Producer(channel)
        try:
            for subscription, message in _dead_letters(topology, channel, queue):
                described = _describe(subscription, message)
                if wanted is not None and described["event_id"] not in wanted:
                    continue
                headers = {k: v for k, v in (message.headers or {}).items() if not k.startswith("x-nszm-")}
                producer.publish(message.body, exchange="", routing_key=subscription.queue, headers=headers,
                                 content_type=message.content_type, content_encoding=message.content_encoding,
                                 delivery_mode=2)
                message.ack()
                replayed.append(described)
        finally:
            channel.close()
    return replayed


def discard_dead_letters(topology: Topology, queues: list[str], failed_before: datetime | None = None,
                         mentioning: str | None = None) -> int:
    """Delete the dead letters of these subscriptions' queues that failed before a moment
    (retention), or whose body mentions a text (an erased person's address), ignoring case; the
    others stay as they were."""
    discarded = 0
    with Connection(topology.amqp_uri) as connection:
        channel = connection.channel()
        try:
            for queue in queues:
                for _, message in _dead_letters(topology, channel, queue):
                    if _due(message, failed_before, mentioning):
                        message.ack()
                        discarded += 1
        finally:
            channel.close()  # the letters kept go back to their queues
    return discarded


def _due(message, failed_before: datetime | None, mentioning: str | None) -> bool:
    if mentioning is not None:
        body = message.body if isinstance(message.body, str) else bytes(message.body).decode("utf-8", "replace")
        return mentioning.casefold() in body.casefold()
    failed_at = (message.headers or {}).get(messaging.FAILED_AT)
    return bool(failed_before and failed_at and datetime.fromisoformat(str(failed_at)) < failed_before)
