"""Publishers find their producer pool without a new connection per message, and their
messages still arrive (with and without publisher confirms) on a real RabbitMQ."""
import uuid

import pytest
from kombu import Connection, Exchange, Queue
from nameko.amqp import publish
from nameko.amqp.publish import Publisher

from nszm import patches
from nszm.patches import producers
from tests.waiting import wait_until


class Unconfirmed(Publisher):
    use_confirms = False


def test_every_nameko_publisher_takes_its_producer_from_the_cached_pools_once_installed():
    patches.install()
    assert publish.get_producer is producers.get_producer


def test_the_same_options_find_the_same_pool_and_other_options_another(amqp_uri):
    with producers.get_producer(amqp_uri, confirms=True) as first:
        pass
    with producers.get_producer(amqp_uri, confirms=True) as second:
        pass
    with producers.get_producer(amqp_uri, confirms=False) as unconfirmed:
        pass
    assert second is first  # the same pool gave the same producer back
    assert unconfirmed is not first
    assert unconfirmed.connection.transport_options["confirm_publish"] is False
    assert first.connection.transport_options["confirm_publish"] is True
    assert len([key for key in producers._pool_keys if key[0] == amqp_uri]) == 2


@pytest.mark.parametrize("publisher_cls", [Publisher, Unconfirmed])
def test_messages_published_through_the_cached_pools_arrive(amqp_uri, publisher_cls):
    exchange = Exchange(f"test.producers.{uuid.uuid4().hex}", type="direct", durable=False, auto_delete=True)
    queue = Queue(f"test.producers.{uuid.uuid4().hex}", exchange=exchange, routing_key="k", durable=False,
                  auto_delete=True)
    with Connection(amqp_uri) as connection:
        bound = queue(connection.channel())
        bound.declare()
        publisher = publisher_cls(amqp_uri)
        for n in range(3):
            publisher.publish({"n": n}, exchange=exchange, routing_key="k", serializer="json")
        received = []
        wait_until(lambda: received.append(bound.get(no_ack=True)) or len([m for m in received if m]) == 3,
                   timeout=5, message="the three messages")
    assert [message.payload for message in received if message] == [{"n": 0}, {"n": 1}, {"n": 2}]
