"""The gateway when parts of the platform are down: readiness names them, calls answer 503."""
import os
import uuid

import pytest

from gateway.app import create_app
from nszm.config import Settings
from ops import embedded
from ops.rabbit import drop_vhost, make_vhost


@pytest.fixture
def empty_vhost():
    name = f"nszm-empty-{uuid.uuid4().hex[:8]}"
    yield make_vhost(name)
    drop_vhost(name)


def gateway(amqp_uri: str, mongo_uri: str):
    settings = Settings.from_env({"AMQP_URI": amqp_uri, "MONGO_URI": mongo_uri, "SECRET_KEY": os.environ["SECRET_KEY"]})
    return create_app(settings).test_client()


def test_readiness_names_services_that_do_not_answer(empty_vhost, mongo_uri):
    client = gateway(empty_vhost, mongo_uri)
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["mongodb"] == "ok" and checks["rabbitmq"] == "ok"
    assert all(checks[name].startswith("down") for name in ("members", "events", "practice", "notify"))
    unavailable = client.get("/api/v1/members")
    assert unavailable.status_code == 503
    assert unavailable.content_type == "application/problem+json"


def test_a_gateway_whose_own_connections_work_stays_ready_for_its_load_balancer(empty_vhost, mongo_uri):
    """Services that do not answer are every gateway's problem alike; none leaves the rotation."""
    client = gateway(empty_vhost, mongo_uri)
    response = client.get("/readyz/gateway")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"mongodb": "ok", "rabbitmq": "ok"}


def test_readiness_names_a_broker_that_is_down(mongo_uri):
    closed = f"amqp://guest:guest@127.0.0.1:{embedded.free_port()}/"
    client = gateway(closed, mongo_uri)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["rabbitmq"].startswith("down")
    assert client.get("/api/v1/members/stats").status_code == 503
    assert client.get("/readyz/gateway").status_code == 503


def test_readiness_names_a_database_that_is_down(amqp_uri):
    client = gateway(amqp_uri, embedded.uri_for(embedded.free_port()))
    checks = client.get("/readyz").get_json()["checks"]
    assert checks["mongodb"].startswith("down")
    assert client.get("/readyz/gateway").get_json()["checks"]["mongodb"].startswith("down")
