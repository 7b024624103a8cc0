"""Error types shared by every service and the gateway.

They are registered with nameko so that an RPC caller receives the same exception class the
service raised, not a generic RemoteError. The gateway maps them to HTTP in one table.
"""
from nameko.exceptions import deserialize_to_instance


class PlatformError(Exception):
    """Base of the platform's expected errors; `detail` is safe to show to the caller, and `code`,
    if given, names the rule that refused, for a client that shows its own words for it."""

    def __init__(self, detail: str = "", code: str | None = None):
        super().__init__(*((detail, code) if code else (detail,)))
        self.detail = detail
        self.code = code


@deserialize_to_instance
class NotFound(PlatformError):
    """The thing asked for does not exist (or is not public)."""


@deserialize_to_instance
class Conflict(PlatformError):
    """The request clashes with the current state, e.g. a duplicate IČO."""


@deserialize_to_instance
class InvalidInput(PlatformError):
    """The payload failed validation; `errors` maps each field to its messages."""

    def __init__(self, detail: str = "", errors: dict | None = None, code: str | None = None):
        Exception.__init__(self, *((detail, errors or {}, code) if code else (detail, errors or {})))
        self.detail = detail
        self.errors = errors or {}
        self.code = code


@deserialize_to_instance
class RateLimited(PlatformError):
    """Too many requests from one client; `retry_after` is in seconds."""

    def __init__(self, detail: str = "", retry_after: int = 60):
        Exception.__init__(self, detail, retry_after)
        self.detail = detail
        self.retry_after = retry_after
        self.code = None


@deserialize_to_instance
class StaffOnly(PlatformError):
    """A staff action called without the staff member who does it (the `actor` of the call)."""


@deserialize_to_instance
class CallRefused(PlatformError):
    """A call on the bus without a valid signature of the platform (see `nszm.signing`)."""


@deserialize_to_instance
class Unavailable(PlatformError):
    """Another service this one needed did not answer in time (HTTP 503); nothing was changed."""
