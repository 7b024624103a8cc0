"""The RPC entrypoints every service uses: platform errors are expected, not crashes.

`staff_rpc` marks a staff action: the caller must say who does it (the `actor` in the call's
context, which the gateway sets from the staff token); a call without one is refused before
any work starts, and the unit of work writes the actor, the action and its target to the
service's audit log in the same transaction as the change.
"""
import logging
import sys

from kombu.exceptions import OperationalError
from nameko.amqp.publish import Publisher
from nameko.constants import (
    AMQP_SSL_CONFIG_KEY,
    AMQP_URI_CONFIG_KEY,
    DEFAULT_SERIALIZER,
    LOGIN_METHOD_CONFIG_KEY,
    SERIALIZER_CONFIG_KEY,
)
from nameko.rpc import Responder, Rpc, RpcConsumer, get_rpc_exchange

from nszm import producers  # noqa: F401  (publishers find their pool at once)
from nszm.contracts.errors import PlatformError, StaffOnly

log = logging.getLogger(__name__)

BROKER_AWAY = (OperationalError, OSError)  # what sending on a connection RabbitMQ dropped raises

ACTOR = "actor"  # context data keys, sent as `nameko.actor` and `nameko.actor_token` headers
ACTOR_TOKEN = "actor_token"
REQUEST_ID = "request_id"  # the call's own id (its AMQP correlation id), the same when RabbitMQ redelivers it


class ReplyPublisher(Publisher):
    """Replies go to the caller's own reply queue, exclusive and not durable: writing them to disk
    buys nothing, and waiting for the broker to confirm each one only delays the answer. A reply
    the broker loses is one the caller times out on, as when it could not be sent at all."""

    use_confirms = False
    delivery_mode = 1


class ReplyResponder(Responder):
    publisher_cls = ReplyPublisher


class PlatformRpcConsumer(RpcConsumer):
    def handle_result(self, message, result, exc_info):
        config = self.container.config
        responder = ReplyResponder(config[AMQP_URI_CONFIG_KEY], get_rpc_exchange(config),
                                   config.get(SERIALIZER_CONFIG_KEY, DEFAULT_SERIALIZER), message,
                                   ssl=config.get(AMQP_SSL_CONFIG_KEY), login_method=config.get(LOGIN_METHOD_CONFIG_KEY))
        result, exc_info = responder.send_response(result, exc_info)
        self.queue_consumer.ack_message(message)
        return result, exc_info


class PlatformRpc(Rpc):
    """nameko's RPC entrypoint, except that an answer which cannot be sent because RabbitMQ went
    away is dropped (the caller has given up by then) instead of killing the whole service; the
    unacknowledged request is redelivered, or expires, once the broker is back. Each call's
    context carries its `request_id`, by which a service recognises a request it has done before
    (a redelivery after a crash) and answers as it did."""

    rpc_consumer = PlatformRpcConsumer()

    def handle_message(self, body, message):
        correlation_id = message.properties.get("correlation_id")
        if correlation_id and message.headers is not None:
            message.headers[f"{self.header_prefix}.{REQUEST_ID}"] = correlation_id
        super().handle_message(body, message)

    def handle_result(self, message, worker_ctx, result, exc_info):
        try:
            return super().handle_result(message, worker_ctx, result, exc_info)
        except BROKER_AWAY as error:
            log.warning("the answer to %s was not sent: %r", self.method_name, error)
            return result, exc_info


rpc = PlatformRpc.decorator(expected_exceptions=PlatformError)


class StaffRpc(PlatformRpc):
    def handle_message(self, body, message):
        actor = self.unpack_message_headers(message).get(ACTOR)
        if not isinstance(actor, str) or not actor.strip():
            try:
                raise StaffOnly(f"'{self.method_name}' is a staff action: the call must name its actor.")
            except StaffOnly:
                self.handle_result(message, None, None, sys.exc_info())
            return
        super().handle_message(body, message)

    def handle_result(self, message, worker_ctx, result, exc_info):
        """Before the caller hears back, the dependencies that keep a record of staff actions
        (the audit trail) complete it."""
        for dependency in self.container.dependencies if worker_ctx is not None else ():
            finished = getattr(dependency, "staff_call_finished", None)
            if finished is not None:
                finished(worker_ctx, result, exc_info)
        return super().handle_result(message, worker_ctx, result, exc_info)


staff_rpc = StaffRpc.decorator(expected_exceptions=PlatformError)


def staff_context(actor: str, token_id: str | None = None) -> dict:
    """The context data of calls made for the staff member `actor` (e.g. `ServiceRpcProxy(...,
    context_data=staff_context("Jana"))` in an operations script)."""
    return {ACTOR: actor, **({ACTOR_TOKEN: token_id} if token_id else {})}
