"""RPC to the services from gunicorn threads: one standalone nameko proxy per thread."""
import threading

from nameko.standalone.rpc import ClusterRpcProxy

CALL_TIMEOUT_SECONDS = 15
PROBE_TIMEOUT_SECONDS = 3


class RpcClients:
    def __init__(self, amqp_uri: str):
        self.config = {"AMQP_URI": amqp_uri, "serializer": "json"}
        self._local = threading.local()

    def proxy(self, timeout: float = CALL_TIMEOUT_SECONDS):
        """This thread's proxy; started on first use, started again after a broken connection."""
        proxies = self._local.__dict__.setdefault("proxies", {})
        if timeout not in proxies:
            runner = ClusterRpcProxy(self.config, timeout=timeout)
            proxies[timeout] = (runner, runner.start())
        return proxies[timeout][1]

    def discard(self):
        """Drop this thread's proxies, e.g. after RabbitMQ went away."""
        for runner, _ in self._local.__dict__.pop("proxies", {}).values():
            try:
                runner.stop()
            except Exception:  # the connection is already gone
                pass
