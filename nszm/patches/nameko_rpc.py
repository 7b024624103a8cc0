"""nameko's standalone cluster proxy, with requests that expire and a context set per call.

It builds its service proxies and reads its worker context through the standalone proxy's
private attributes (`_proxies`, `_worker_ctx`, `_reply_listener`), so it is written for one
nameko release (`nszm.patches.WRITTEN_FOR`).
"""
from nameko.rpc import ServiceProxy
from nameko.standalone.rpc import ClusterProxy, ClusterRpcProxy

from nszm.calls import EXPIRING_REQUEST
from nszm.patches.reply_queues import TransientStandaloneReplyListener

# Publishing a request tries once more, soon, and then gives up (nameko's default waits up to
# 9 s between three tries): a client hears 503 quickly while RabbitMQ is away.
PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0.5, "interval_step": 0.5, "interval_max": 0.5}


class ExpiringClusterProxy(ClusterProxy):
    def __init__(self, worker_ctx, reply_listener, expiration: float):
        super().__init__(worker_ctx, reply_listener)
        self._expiration = expiration

    def __getattr__(self, name):
        if name not in self._proxies:
            self._proxies[name] = ServiceProxy(self._worker_ctx, name, self._reply_listener,
                                               expiration=self._expiration, retry_policy=PUBLISH_RETRY_POLICY,
                                               **EXPIRING_REQUEST)
        return self._proxies[name]


class ExpiringRpcProxy(ClusterRpcProxy):
    """A cluster proxy whose requests expire (message TTL) when its `timeout` runs out."""

    def __init__(self, config, timeout: float):
        super().__init__(config, timeout=timeout, reply_listener_cls=TransientStandaloneReplyListener)
        self._proxy = ExpiringClusterProxy(self._worker_ctx, self._reply_listener, expiration=timeout)

    def carry(self, context: dict):
        """The context data the next calls carry (in place of any earlier)."""
        self._worker_ctx.data.clear()
        self._worker_ctx.data.update(context)
