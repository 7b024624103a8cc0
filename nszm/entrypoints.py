"""The RPC entrypoint every service uses: platform errors are expected, not crashes."""
from nameko.rpc import rpc as nameko_rpc

from nszm.contracts.errors import PlatformError

rpc = nameko_rpc(expected_exceptions=PlatformError)
