"""nameko's reply listeners on reply queues that are not durable.

On a RabbitMQ cluster, a durable classic queue whose node is lost cannot be declared again until
that node is back, so every call of a process whose reply queue lived there would fail; a queue
that is not durable goes with its node, and the listener declares it afresh on a node that is up.
nameko builds the queue in `ReplyListener.setup` and registers it in the same step (the
standalone listener declares it at once), so the setup is written again here with one change,
`durable=False`: it is written for one nameko release (`nszm.patches.WRITTEN_FOR`).
"""
import uuid
from typing import Any

from kombu import Queue
from nameko.rpc import RPC_REPLY_QUEUE_TEMPLATE, RPC_REPLY_QUEUE_TTL, ReplyListener, get_rpc_exchange
from nameko.standalone.rpc import SingleThreadedReplyListener


class TransientReplies:
    """`ReplyListener.setup` of nameko 2.14.1, on a queue that is not durable."""

    container: Any  # nameko's ServiceContainer (nameko ships no types)
    queue_consumer: Any

    def setup(self):
        reply_queue_uuid = uuid.uuid4()
        self.routing_key = str(reply_queue_uuid)
        self.queue = Queue(RPC_REPLY_QUEUE_TEMPLATE.format(self.container.service_name, reply_queue_uuid),
                           exchange=get_rpc_exchange(self.container.config), routing_key=self.routing_key,
                           durable=False, queue_arguments={"x-expires": RPC_REPLY_QUEUE_TTL})
        self.queue_consumer.register_provider(self)


class TransientReplyListener(TransientReplies, ReplyListener):
    """The reply listener of a service's RPC proxy."""


class TransientStandaloneReplyListener(TransientReplies, SingleThreadedReplyListener):
    """The reply listener of the gateway's standalone proxy."""
