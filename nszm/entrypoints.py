"""The RPC entrypoints every service uses: platform errors are expected, not crashes.

Every call must carry its caller's context signed with the platform's key (`nszm.signing`):
an unsigned, forged or stale one is refused (`CallRefused`) before any work starts.
`staff_rpc` marks a staff action and `staff_read` a staff read of personal data: the signed
context must also name who does it (the `actor`, which the gateway sets from the staff token);
the call, its actor and its target go to the service's audit log.
"""
import logging
import sys

from kombu import Connection, Queue
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

from nszm.config import Settings
from nszm.contracts.errors import CallRefused, PlatformError, StaffOnly
from nszm.signing import ACTOR, ACTOR_ROLES, ACTOR_TOKEN, call_key, refusal, signed_context
from nszm.topology import declare_replacing, replicated

log = logging.getLogger(__name__)

BROKER_AWAY = (OperationalError, OSError)  # what sending on a connection RabbitMQ dropped raises

__all__ = ["ACTOR", "ACTOR_ROLES", "ACTOR_TOKEN", "REQUEST_ID", "rpc", "staff_rpc", "staff_read", "staff_context"]

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
    """nameko's RPC consumer; on a cluster (RPC_QUEUES_REPLICATED) its queue outlives the loss of a
    RabbitMQ node (a quorum queue), declared in place of a queue of the other kind from before."""

    queue: Queue | None

    def setup(self):
        if self.queue is not None:
            return
        super().setup()
        amqp_uri, declared = self.container.config[AMQP_URI_CONFIG_KEY], self.queue
        assert declared is not None  # nameko's setup has built it
        replicate = Settings.from_env(self.container.config).rpc_queues_replicated
        self.queue = Queue(declared.name, exchange=declared.exchange, routing_key=declared.routing_key,
                           durable=True, queue_arguments=replicated(amqp_uri) if replicate else {})
        with Connection(amqp_uri) as connection:
            declare_replacing(connection, self.queue)

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

    def setup(self):
        super().setup()
        self.call_key = call_key(Settings.from_env(self.container.config).secret_key)

    def handle_message(self, body, message):
        reason = self.refuses(self.unpack_message_headers(message))
        if reason is not None:
            self.refuse(message, reason)
            return
        correlation_id = message.properties.get("correlation_id")
        if correlation_id and message.headers is not None:
            message.headers[f"{self.header_prefix}.{REQUEST_ID}"] = correlation_id
        super().handle_message(body, message)

    def refuses(self, context: dict) -> str | None:
        """Why this entrypoint refuses a call with this context; None: it takes it."""
        return refusal(self.call_key, context)

    def refuse(self, message, reason: str):
        log.warning("%s refused: %s", self.method_name, reason)
        try:
            raise self.refused_error(f"'{self.method_name}' refused: {reason}.")
        except PlatformError:
            self.handle_result(message, None, None, sys.exc_info())

    refused_error: type[PlatformError] = CallRefused

    def handle_result(self, message, worker_ctx, result, exc_info):
        try:
            return super().handle_result(message, worker_ctx, result, exc_info)
        except BROKER_AWAY as error:
            log.warning("the answer to %s was not sent: %r", self.method_name, error)
            return result, exc_info


rpc = PlatformRpc.decorator(expected_exceptions=PlatformError)


UNNAMED_ACTOR = "it is a staff action, and the call does not name its actor"


class StaffRpc(PlatformRpc):
    refused_error = StaffOnly

    def refuses(self, context: dict) -> str | None:
        actor = context.get(ACTOR)
        named = isinstance(actor, str) and bool(actor.strip())
        return super().refuses(context) or (None if named else UNNAMED_ACTOR)

    def handle_result(self, message, worker_ctx, result, exc_info):
        """Before the caller hears back, the dependencies that keep a record of staff actions
        (the audit trail) complete it."""
        for dependency in self.container.dependencies if worker_ctx is not None else ():
            finished = getattr(dependency, "staff_call_finished", None)
            if finished is not None:
                finished(worker_ctx, result, exc_info)
        return super().handle_result(message, worker_ctx, result, exc_info)


staff_rpc = StaffRpc.decorator(expected_exceptions=PlatformError)


class StaffRead(StaffRpc):
    """A staff read of personal data: it needs its actor as a staff action does, and is audited
    as a read once it is answered."""


staff_read = StaffRead.decorator(expected_exceptions=PlatformError)


def staff_context(actor: str, token_id: str | None = None, roles=("admin",)) -> dict:
    """The signed context data of calls made for the staff member `actor` by an operations script
    (`ServiceRpcProxy(..., context_data=staff_context("Jana"))`), with SECRET_KEY from the
    environment; valid for `nszm.signing.CALL_MAX_AGE_SECONDS`."""
    return signed_context(call_key(Settings.from_env().secret_key), "ops", actor, token_id, roles)
