"""Calls from one service to another with a deadline.

nameko's `RpcProxy` waits for an answer forever, and its request waits in the queue until the
other service comes back, which may then act on it long after the caller gave up.
`TimedRpcProxy` gives each call a deadline: past it (`SERVICE_CALL_TIMEOUT`, 5 s) the caller
gets `Unavailable` (the gateway answers 503), and the request expires in RabbitMQ at the same
moment. Each call is signed afresh by the calling service, for the staff member its worker
serves, if any (`nszm.signing`).
"""
import eventlet
from nameko.rpc import MethodProxy, RpcProxy, ServiceProxy

from nszm.config import DEFAULT_SERVICE_CALL_TIMEOUT, Settings
from nszm.contracts.errors import Unavailable
from nszm.patches.reply_queues import TransientReplyListener
from nszm.signing import call_key, resigned

# A request that expires with its caller's patience is not worth writing to disk: RabbitMQ keeps
# it in memory (AMQP delivery mode 1), and a broker restart loses only calls already given up on.
EXPIRING_REQUEST = {"delivery_mode": 1}


class TimedMethodProxy(MethodProxy):
    def __init__(self, *args, timeout: float, signer, **options):
        super().__init__(*args, expiration=timeout, **EXPIRING_REQUEST, **options)
        self.timeout = timeout
        self.signer = signer

    def __call__(self, *args, **kwargs):
        self.worker_ctx.data.update(self.signer(self.worker_ctx.data))
        reply = self.call_async(*args, **kwargs)
        try:
            with eventlet.Timeout(self.timeout):
                return reply.result()
        except eventlet.Timeout:
            raise Unavailable(f"The {self.service_name} service did not answer in time; "
                              "nothing was changed, please try again.") from None


class TimedServiceProxy(ServiceProxy):
    def __init__(self, *args, timeout: float, signer, **options):
        super().__init__(*args, **options)
        self.timeout = timeout
        self.signer = signer

    def __getattr__(self, name):
        return TimedMethodProxy(self.worker_ctx, self.service_name, name, self.reply_listener,
                                timeout=self.timeout, signer=self.signer, **self.options)


class TimedRpcProxy(RpcProxy):
    """`RpcProxy` with a deadline per call: SERVICE_CALL_TIMEOUT seconds in the service's config;
    its replies come to a queue that a lost RabbitMQ node does not take with it for good."""

    rpc_reply_listener = TransientReplyListener()

    def __init__(self, target_service: str, **options):
        super().__init__(target_service, **options)
        self.timeout = DEFAULT_SERVICE_CALL_TIMEOUT

    def setup(self):
        settings = Settings.from_env(self.container.config)
        self.timeout = settings.service_call_timeout
        key, caller = call_key(settings.secret_key), self.container.service_name
        self.signer = lambda context: resigned(key, caller, context)

    def get_dependency(self, worker_ctx):
        return TimedServiceProxy(worker_ctx, self.target_service, self.rpc_reply_listener, timeout=self.timeout,
                                 signer=self.signer, **self.options)
