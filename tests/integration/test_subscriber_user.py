"""A subscriber's own RabbitMQ user, made by `python -m ops.rabbit subscriber`, on the real broker:
it can subscribe to the platform's events, and cannot call an RPC, publish an event, reach a
platform queue or read internal events."""
import subprocess
import sys
import threading
import uuid
from urllib.parse import unquote, urlparse

import pika
import pytest
from nameko.standalone.rpc import ServiceRpcProxy
from pika.exceptions import ChannelClosedByBroker

from nszm.contracts import bus
from nszm.entrypoints import staff_context
from nszm.subscriber import Subscriber
from ops.rabbit import delete_user, subscriber_permissions
from services.members.service import MembersService
from tests import factories
from tests.conftest import ROOT

ACCESS_REFUSED = 403


@pytest.fixture
def platform(container_factory, service_config):
    container = container_factory(MembersService, service_config)
    container.start()  # declares the platform's exchanges, queues and its RPC queue
    return container


@pytest.fixture
def subscriber_user(amqp_uri, subprocess_env):
    name, password = f"crm-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    vhost = unquote(urlparse(amqp_uri).path[1:])
    made = subprocess.run([sys.executable, "-m", "ops.rabbit", "subscriber", name, "--vhost", vhost], cwd=ROOT,
                          env={**subprocess_env, "SUBSCRIBER_PASSWORD": password}, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    assert "password" not in made.stdout  # it was given, so it is not shown
    yield name, amqp_uri.replace("guest:guest@", f"{name}:{password}@")
    delete_user(name)


def refused(action) -> int:
    """The reply code of the broker's refusal of `action(channel)` on a fresh channel of its own."""
    with pytest.raises(ChannelClosedByBroker) as closed:
        action()
    return closed.value.reply_code


def test_a_subscriber_user_gets_events_and_can_do_nothing_else(platform, service_config, subscriber_user):
    name, uri = subscriber_user
    received, ready = [], threading.Event()
    kit = Subscriber(uri, f"{name}.applications", [("members", bus.MEMBER_APPLIED.name)],
                     lambda envelope: (received.append(envelope), kit.stop()), on_ready=ready.set)
    worker = threading.Thread(target=kit.run, daemon=True)
    worker.start()
    assert ready.wait(20), "the subscriber did not bind its queue"
    with ServiceRpcProxy("members", service_config, timeout=10, context_data=staff_context("tests")) as members:
        receipt = members.apply(factories.application())
    worker.join(20)
    assert [e["data"]["application_id"] for e in received] == [receipt["id"]]

    connection = pika.BlockingConnection(pika.URLParameters(uri))
    try:
        def on_new_channel(act):
            channel = connection.channel()
            channel.confirm_delivery()
            return lambda: act(channel)

        rpc = on_new_channel(lambda c: c.basic_publish("nameko-rpc", "members.list_applications", b"{}"))
        event = on_new_channel(lambda c: c.basic_publish(
            "practice.events", bus.VOTE_CONFIRMED.name, b'{"event_type": "vote_confirmed"}'))
        to_platform_queue = on_new_channel(lambda c: c.basic_publish("", bus.NOTIFY_MAILS.queue, b"{}"))
        internal = on_new_channel(lambda c: c.queue_bind(f"{name}.applications", "practice.internal",
                                                         bus.VOTE_REQUESTED.name))
        platform_queue = on_new_channel(lambda c: c.basic_get(bus.NOTIFY_MAILS.queue))
        exchange_removal = on_new_channel(lambda c: c.exchange_delete("members.events"))
        for action in (rpc, event, to_platform_queue, internal, platform_queue, exchange_removal):
            assert refused(action) == ACCESS_REFUSED
    finally:
        connection.close()


def test_a_platform_name_is_not_a_subscriber_name():
    for name in ("notify", "members", "gateway", "Crm", "a", "crm.x"):
        with pytest.raises(ValueError):
            subscriber_permissions(name)
