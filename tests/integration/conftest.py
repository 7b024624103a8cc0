"""Integration fixtures: stores on fresh databases, services running in-process on the test vhost."""
import pytest

from services.members.storage import MembersStore
from services.notify.storage import NotifyStore


@pytest.fixture(scope="session", autouse=True)
def broker(rabbitmq_running):
    """Every test at this level talks to a real RabbitMQ."""


@pytest.fixture
def members_store(mongo_client, db_name):
    store = MembersStore(mongo_client, db_name)
    store.ensure_indexes()
    return store


@pytest.fixture
def notify_store(mongo_client, db_name):
    store = NotifyStore(mongo_client, db_name)
    store.ensure_indexes()
    return store
