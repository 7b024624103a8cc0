"""Limits on public writes, per client address and per mailbox, counted in MongoDB.

Every gateway worker and replica shares the counters (a moving window of the `limits`
library; a request's limits are counted together, and with those of the requests counted at the
same time, in one round trip). The limits are generous enough for a town hall or a school behind one address;
they stop scripts that fill an event's seats, stuff a vote or mail-bomb an address: the forms
that mail a confirmation (registrations, votes, newsletter subscriptions) share one daily limit
per mailbox, whichever form and client address it comes from. An IPv6 client counts by its /64
network (one household or office gets one, and can pick any address in it). A request
with a valid staff token is not limited. If the counters cannot be reached the request goes
through: the services behind answer for themselves.
"""
import ipaddress
import logging
import math
import time
from dataclasses import dataclass
from typing import Callable

from limits import RateLimitItem, parse
from limits.strategies import MovingWindowRateLimiter
from pymongo.errors import PyMongoError

from nszm.addresses import canonical_mailbox
from nszm.batches import Batches
from nszm.contracts.errors import RateLimited
from nszm.patches.limits_storage import CountersInMongo
from nszm.privacy import Pseudonyms

log = logging.getLogger(__name__)

WINDOWS = "rate windows"

# Counters must not hold a request up when the database is slow or away. A counter written twice
# by a retry after a dropped connection is harmless, so writes are not made retryable (which
# costs the database a record of every write).
STORAGE_OPTIONS = {"serverSelectionTimeoutMS": 500, "connectTimeoutMS": 500, "socketTimeoutMS": 2000,
                   "retryWrites": False}


@dataclass(frozen=True)
class Limit:
    """At most `rate` (e.g. "100 per 10 minutes") per key; `per` names the key in messages and
    documentation, `key` finds it in the request (None: this limit does not apply). A limit with
    a `shared` name is counted together across every endpoint that has it."""

    rate: str
    per: str
    key: Callable[[str, dict], str | None]
    shared: str | None = None

    @property
    def item(self) -> RateLimitItem:
        return parse(self.rate)

    def identity(self, scope: str, number: int, key: str) -> tuple[str, str, str]:
        """The window this limit counts `key` in: its endpoint's (`scope`, its place there), or the shared one."""
        return (self.shared, "0", key) if self.shared else (scope, str(number), key)


def _address(address: str, body: dict) -> str | None:
    """The client's IPv4 address, or its IPv6 /64 network."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _mailbox(*path: str):
    """The canonical mailbox at `path` in the body: aliases of one mailbox share its limit."""
    def key(address: str, body: dict) -> str | None:
        value: object = body
        for name in path:
            value = value.get(name) if isinstance(value, dict) else None
        return canonical_mailbox(value) if isinstance(value, str) and "@" in value else None
    return key


def per_address(rate: str) -> Limit:
    return Limit(rate, "client address", _address)


def per_mailbox(rate: str, *path: str) -> Limit:
    return Limit(rate, "e-mail address", _mailbox(*path))


def confirmation_mails(rate: str, *path: str) -> Limit:
    """The confirmation mails one mailbox may be sent, counted across every form that sends one."""
    return Limit(rate, "e-mail address (confirmation mails from every form)", _mailbox(*path),
                 shared="confirmation mails")


CONFIRMATION_MAILS = confirmation_mails("30 per day", "email")
SIGN_IN_FAILURES = (per_address("10 per 15 minutes"),)  # the console's failed sign-ins; then locked out

# The public writes' limits, in one place.
VOTES = (per_address("100 per 10 minutes"), per_mailbox("10 per hour", "email"), CONFIRMATION_MAILS)
REGISTRATIONS = (per_address("200 per 10 minutes"), per_mailbox("20 per hour", "email"), CONFIRMATION_MAILS)
APPLICATIONS = (per_address("20 per hour"), per_mailbox("5 per hour", "contact", "email"))
SUBSCRIPTIONS = (per_address("50 per 10 minutes"), per_mailbox("5 per hour", "email"), CONFIRMATION_MAILS)


def describe(limits: tuple[Limit, ...]) -> str:
    return "Limited to " + " and ".join(f"{limit.rate} per {limit.per}" for limit in limits) + "."


class RateLimiter:
    """Counts requests in the shared windows; requests that threads of this process count at the
    same time go to the database together (`Batches`: a rush costs it one write per batch, not
    one per request)."""

    def __init__(self, mongo_uri: str, database: str, pseudonyms: Pseudonyms | None = None):
        self.pseudonyms = pseudonyms or Pseudonyms.from_env()
        self.storage = CountersInMongo(mongo_uri, database_name=database, counter_collection_name="gateway.rate_counters",
                                       window_collection_name="gateway.rate_windows", **STORAGE_OPTIONS)
        self.strategy = MovingWindowRateLimiter(self.storage)
        self.batches = Batches()

    def hit(self, scope: str, limits: tuple[Limit, ...], address: str, body: dict):
        """Count this request under each of its limits; RateLimited once one is used up."""
        counted = []
        for number, limit in enumerate(limits):
            key = self._key(limit, address, body if isinstance(body, dict) else {})
            if key is not None:
                counted.append((limit, limit.identity(scope, number, key)))
        if not counted:
            return
        try:
            full = self.batches.submit(WINDOWS, [(limit.item.key_for(*identity), limit.item.amount,
                                                  limit.item.get_expiry()) for limit, identity in counted],
                                       self._acquire)
            if full is None:
                return
            limit, identity = counted[full]
            reset_at, _ = self.strategy.get_window_stats(limit.item, *identity)
        except PyMongoError as error:
            log.warning("rate limits not counted (%r); the request goes through", error)
            return
        raise RateLimited(f"Too many requests from this {limit.per} ({limit.rate}); please try again later.",
                          retry_after=max(1, math.ceil(reset_at - time.time())))

    def exhausted(self, scope: str, limits: tuple[Limit, ...], address: str, body: dict | None = None) -> bool:
        """Whether one of the limits is used up for this request already (counting nothing)."""
        try:
            for number, limit in enumerate(limits):
                key = self._key(limit, address, body or {})
                if key is not None and not self.strategy.test(limit.item, *limit.identity(scope, number, key)):
                    return True
        except PyMongoError as error:
            log.warning("rate limits not read (%r)", error)
        return False

    def _key(self, limit: Limit, address: str, body: dict) -> str | None:
        """The request's key under `limit`, as the windows keep it: a keyed hash, never the client's
        address or mailbox itself."""
        key = limit.key(address, body)
        return None if key is None else self.pseudonyms.value(key)

    def _acquire(self, requests: list[list[tuple[str, int, int]]]) -> list:
        """A batch's outcomes; if the database cannot be reached, each request gets that error
        (not another attempt of its own, as a failed batch's requests would)."""
        try:
            return self.storage.acquire_entries(requests)
        except PyMongoError as error:
            return [error] * len(requests)
