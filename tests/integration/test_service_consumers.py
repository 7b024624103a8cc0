"""The gateway asks RabbitMQ whether a service has a consumer before calling it."""
from gateway.rpc import Consumers
from ops.embedded import free_port
from services.members.service import MembersService


def test_a_service_is_present_while_it_consumes_and_absent_once_stopped(container_factory, service_config):
    consumers = Consumers(service_config["AMQP_URI"], every=0)
    assert consumers.present("members") is False  # never started: no queue at all
    container = container_factory(MembersService, service_config)
    container.start()
    assert consumers.present("members") is True
    container.stop()
    assert consumers.present("members") is False  # its queue stays, with nobody on it
    assert consumers.present("nosuchservice") is False


def test_when_rabbitmq_cannot_be_asked_the_call_is_let_through():
    consumers = Consumers(f"amqp://guest:guest@127.0.0.1:{free_port()}/", every=0)
    assert consumers.present("members") is True
