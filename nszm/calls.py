"""Calls from one service to another with a deadline.

nameko's `RpcProxy` waits for an answer forever, and its request waits in the queue until the
other service comes back, which may then act on it long after the caller gave up.
`TimedRpcProxy` gives each call a deadline: past it (`SERVICE_CALL_TIMEOUT`, 5 s) the caller
gets `Unavailable` (the gateway answers 503), and the request expires in RabbitMQ at the same
moment.
"""
import eventlet
from nameko.rpc import MethodProxy, RpcProxy, ServiceProxy

from nszm.config import DEFAULT_SERVICE_CALL_TIMEOUT, Settings
from nszm.contracts.errors import Unavailable

# A request that expires with its caller's patience is not worth writing to disk: RabbitMQ keeps
# it in memory (AMQP delivery mode 1), and a broker restart loses only calls already given up on.
EXPIRING_REQUEST = {"delivery_mode": 1}


class TimedMethodProxy(MethodProxy):
    def __init__(self, *args, timeout: float, **options):
        super().__init__(*args, expiration=timeout, **EXPIRING_REQUEST, **options)
        self.timeout = timeout

    def __call__(self, *args, **kwargs):
        reply = self.call_async(*args, **kwargs)
        try:
            with eventlet.Timeout(self.timeout):
                return reply.result()
        except eventlet.Timeout:
            raise Unavailable(f"The {self.service_name} service did not answer in time; "
                              "nothing was changed, please try again.") from None


class TimedServiceProxy(ServiceProxy):
    def __init__(self, *args, timeout: float, **options):
        super().__init__(*args, **options)
        self.timeout = timeout

    def __getattr__(self, name):
        return TimedMethodProxy(self.worker_ctx, self.service_name, name, self.reply_listener,
                                timeout=self.timeout, **self.options)


class TimedRpcProxy(RpcProxy):
    """`RpcProxy` with a deadline per call: SERVICE_CALL_TIMEOUT seconds in the service's config."""

    def __init__(self, target_service: str, **options):
        super().__init__(target_service, **options)
        self.timeout = DEFAULT_SERVICE_CALL_TIMEOUT

    def setup(self):
        self.timeout = Settings.from_env(self.container.config).service_call_timeout

    def get_dependency(self, worker_ctx):
        return TimedServiceProxy(worker_ctx, self.target_service, self.rpc_reply_listener, timeout=self.timeout,
                                 **self.options)
