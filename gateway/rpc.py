"""RPC to the services from gunicorn threads: one standalone nameko proxy per thread.

Every call carries the gateway's signed context (`nszm.signing`), naming the staff member it is
made for, if any; services refuse calls without it.

A request expires in RabbitMQ when the gateway stops waiting for it: a service that was away
does not act on it later, so a client's retry after a 503 cannot do the thing twice.
"""
import threading

from nameko.rpc import ServiceProxy
from nameko.standalone.rpc import ClusterProxy, ClusterRpcProxy

from nszm import producers  # noqa: F401  (publishers find their pool at once)
from nszm.calls import EXPIRING_REQUEST
from nszm.signing import call_key, signed_context

CALL_TIMEOUT_SECONDS = 15
PROBE_TIMEOUT_SECONDS = 3
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
        super().__init__(config, timeout=timeout)
        self._proxy = ExpiringClusterProxy(self._worker_ctx, self._reply_listener, expiration=timeout)


class RpcClients:
    def __init__(self, amqp_uri: str, secret_key: str | None):
        self.config = {"AMQP_URI": amqp_uri, "serializer": "json"}
        self.key = call_key(secret_key)
        self._local = threading.local()

    def proxy(self, timeout: float = CALL_TIMEOUT_SECONDS, staff: dict | None = None):
        """This thread's proxy; started on first use, started again after a broken connection.
        Its calls carry the gateway's signed context, for `staff` (`actor`, `token_id`, `roles`)
        if given, and nothing else."""
        context = signed_context(self.key, "gateway", **(staff or {}))
        proxies = self._local.__dict__.setdefault("proxies", {})
        if timeout not in proxies:
            runner = ExpiringRpcProxy(self.config, timeout=timeout)
            proxies[timeout] = (runner, runner.start())
        runner, proxy = proxies[timeout]
        runner._worker_ctx.data.clear()
        runner._worker_ctx.data.update(context)
        return proxy

    def discard(self):
        """Drop this thread's proxies, e.g. after RabbitMQ went away."""
        for runner, _ in self._local.__dict__.pop("proxies", {}).values():
            try:
                runner.stop()
            except Exception:  # the connection is already gone
                pass
