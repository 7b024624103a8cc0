"""HTTP clients that connect from other loopback addresses (127.0.0.0/8), as distinct clients would."""
from requests.adapters import HTTPAdapter


class SourceAddressAdapter(HTTPAdapter):
    """Connections from one loopback address of 127.0.0.0/8, as if from another client."""

    def __init__(self, source: str, **kwargs):
        self.source = source
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def loopback_address(n: int, block: int = 100) -> str:
    """The n-th client address of a block: 127.<block>.x.y."""
    return f"127.{block}.{n // 254}.{n % 254 + 1}"
