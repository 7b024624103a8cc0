"""gunicorn settings for the gateway: threaded workers, each thread with its own RPC proxy."""
from nszm.config import Settings

settings = Settings.from_env()
bind = settings.gateway_bind
worker_class = "gthread"
workers = settings.gateway_workers
threads = 16
timeout = 60
graceful_timeout = 5
keepalive = 5
accesslog = "-"
logger_class = "gateway.access_log.RedactingLogger"  # no `token=` values of mailed links in the log
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(L)ss'
# The runtime control socket has one fixed path per user; several gateways on one machine
# (a second platform, the tests) would fight over it, and nothing here uses it.
control_socket_disable = True
