"""A request the gateway gave up on expires in RabbitMQ: a service that comes back later does not
act on it, so a retry after the 503 cannot apply twice."""
import os
import time
import uuid

import pytest
from kombu import Connection
from nameko.exceptions import RpcTimeout
from nameko.standalone.rpc import ServiceRpcProxy

from gateway.rpc import RpcClients
from nszm.contracts.errors import Unavailable
from nszm.entrypoints import staff_context
from ops.rabbit import drop_vhost, make_vhost
from services.members.service import MembersService
from services.members.storage import MembersStore
from services.practice.service import PracticeService
from tests import factories
from tests.waiting import wait_until


@pytest.fixture
def config(rabbitmq_running, mongo_uri, db_name):
    name = f"nszm-rpc-{uuid.uuid4().hex[:8]}"
    yield {"AMQP_URI": make_vhost(name), "MONGO_URI": mongo_uri, "MONGO_DB": db_name, "serializer": "json",
           "SECRET_KEY": os.environ["SECRET_KEY"]}
    drop_vhost(name)


class StillThere:
    """What `gateway.rpc.Consumers` said a moment before the service went away."""

    def present(self, service):
        return True


def waiting_requests(amqp_uri: str) -> int:
    with Connection(amqp_uri) as connection:
        return connection.default_channel.queue_declare("rpc-members", passive=True).message_count


def test_a_request_nobody_took_in_time_expires_instead_of_running_later(container_factory, config, mongo_client):
    members = container_factory(MembersService, config)
    members.start()
    members.stop()  # its request queue stays, with nobody consuming it
    clients = RpcClients(config["AMQP_URI"], config["SECRET_KEY"])
    with pytest.raises(Unavailable, match="not running"):  # the gateway sees nobody consumes: nothing is sent
        clients.proxy(timeout=1).members.apply(factories.application())
    assert waiting_requests(config["AMQP_URI"]) == 0
    clients.consumers = StillThere()  # the service went away just after the gateway looked
    with pytest.raises(RpcTimeout):
        clients.proxy(timeout=1).members.apply(factories.application())
    clients.discard()
    wait_until(lambda: waiting_requests(config["AMQP_URI"]) == 0, timeout=10, message="the request expired")

    container_factory(MembersService, config).start()
    clients = RpcClients(config["AMQP_URI"], config["SECRET_KEY"])
    staff = {"actor": "tests", "roles": ["admin"]}
    assert clients.proxy(timeout=10, staff=staff).members.list_applications({})["total"] == 0
    clients.discard()
    assert MembersStore(mongo_client, config["MONGO_DB"]).list_applications(page=1, per_page=10)[1] == 0


def test_a_service_whose_neighbour_is_away_answers_unavailable_in_time_and_its_request_expires(
        container_factory, config):
    config = {**config, "SERVICE_CALL_TIMEOUT": "1"}
    members = container_factory(MembersService, config)
    members.start()
    members.stop()  # practice asks members about the practice's member: nobody answers
    container_factory(PracticeService, config).start()
    with ServiceRpcProxy("practice", config, timeout=10, context_data=staff_context("tests")) as practice:
        started = time.monotonic()
        with pytest.raises(Unavailable) as refused:
            practice.create_practice({"title": "Zdraví a pohyb", "summary": "Pohyb pro všechny.", "body": "Popis.",
                                      "member": "hradec-kralove", "themes": [5], "year": 2025})
        assert time.monotonic() - started < 5 and "members" in refused.value.detail
        wait_until(lambda: waiting_requests(config["AMQP_URI"]) == 0, timeout=10, message="the request expired")
        assert practice.list_practice_details({})["total"] == 0  # nothing was stored
