"""Every change the platform makes to a library's internals, in one place.

Those there for speed save more than 5 % of a path the benchmark covers (`python -m
bench.patches`, part of `make bench`, measures each against the library's own way); the others
(`nameko_rpc`, `reply_queues`) change what a library does. Each reaches into what its
library does not promise to keep, so each is written for one release (`WRITTEN_FOR`; a unit test
fails when an installed release differs, and the patch is then to be checked and the pin moved).
Nothing here changes anything on import: a process calls `install()` when it starts (the
services through `LibraryPatches`, the gateway in `create_app`).

- `producers`: nameko's publishers find kombu's producer pool without building a `Connection`
  per message (`nameko.amqp.publish.get_producer` replaced).
- `nameko_rpc`: the gateway's standalone RPC proxy, with expiring requests and a context set
  per call (nameko's private `_proxies`, `_worker_ctx`, `_reply_listener`).
- `reply_queues`: nameko's reply listeners on queues that are not durable, which a RabbitMQ
  cluster's lost node does not take with it for good (`ReplyListener.setup` written again).
- `limits_storage`: the limits library's MongoDB storage counting several windows in one round
  trip (it writes the library's document format).
- `mail_folding`: the email package's classic policy without folding a header that needs none
  (`Compat32._fold` overridden).

The embedded database's own patches live with its launcher (`ops/secantusd.py`,
`ops/wiredtiger_packing.py`), each with its release guard.
"""
import sys
from importlib.metadata import version

from nszm.patches import producers

WRITTEN_FOR = {"nameko": "2.14.1", "kombu": "5.7.0", "limits": "5.8.0", "python": "3.11"}


def install():
    """Put the patches that act by replacing a library's function in place (idempotent)."""
    producers.install()


def installed_releases() -> dict[str, str]:
    return {**{name: version(name) for name in ("nameko", "kombu", "limits")},
            "python": f"{sys.version_info.major}.{sys.version_info.minor}"}
