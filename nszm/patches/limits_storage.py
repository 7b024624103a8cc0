"""The limits library's MongoDB storage, counting several moving windows in one round trip.

It writes the library's own document format (`_id`, `entries`, `expireAt`) directly, so it is
written for one version of the library (`nszm.patches.WRITTEN_FOR`).
"""
import time
from datetime import datetime, timedelta, timezone

from limits.storage import MongoDBStorage
from pymongo import InsertOne, UpdateOne
from pymongo.errors import BulkWriteError

DUPLICATE_KEY = 11000  # MongoDB's error code for a unique index's refusal


class CountersInMongo(MongoDBStorage):
    """The library's MongoDB storage, counting several moving windows in one round trip, and minus
    its finaliser's habit of connecting in order to close a client it never opened (a traceback
    at every worker's exit).

    When none of a round trip's windows has been written by this process yet, they are created
    with inserts, not with the library's conditional upserts: in a rush nearly every address and
    mailbox is new, and the database pays for an insert a third of what it pays for an upsert.
    If a window exists after all (another worker wrote it), its insert is refused and it is
    counted the library's way. A round trip is all inserts or all upserts: the driver sends an
    ordered run of each kind as a command of its own."""

    # Windows this process has written, remembered to go the library's way at once (a bound, not a cache
    # whose loss matters: a window forgotten costs one refused insert).
    KNOWN_WINDOWS = 100_000

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.known: set[str] = set()

    def acquire_entries(self, requests: list[list[tuple[str, int, int]]]) -> list[int | None]:
        """For each request, one entry in each of its `(key, limit, expiry in seconds)` windows, in
        order, stopping at the first that is full: its index, or None when every window took its
        entry. The same writes as the library's `acquire_entry` for each window, all sent in one
        ordered round trip (a window after a full one is not counted, as when they are counted one
        by one); the database stops at a full window or at an existing one it was asked to create,
        so the windows after it are sent again."""
        outcomes: list[int | None] = [None] * len(requests)
        pending = [(number, index) for number, windows in enumerate(requests) for index in range(len(windows))]
        while pending:
            now = time.time()
            expires = datetime.now(timezone.utc)
            fresh = not any(requests[number][index][0] in self.known for number, index in pending)
            writes = [self._entry(*requests[number][index], now, expires, fresh) for number, index in pending]
            try:
                self.windows.bulk_write(writes, ordered=True)
            except BulkWriteError as error:
                failure = error.details["writeErrors"][0]
                if failure["code"] != DUPLICATE_KEY:
                    raise
                at = failure["index"]
                number, index = pending[at]
                self._remember(requests[n][i][0] for n, i in pending[:at + 1])
                if isinstance(writes[at], InsertOne):  # the window exists: count it the library's way
                    pending = pending[at:]
                else:  # a full window: no match, and the upsert met it
                    outcomes[number] = index
                    pending = [(n, i) for n, i in pending[at + 1:] if n != number]
                continue
            self._remember(requests[number][index][0] for number, index in pending)
            pending = []
        return outcomes

    @staticmethod
    def _entry(key: str, limit: int, expiry: int, now: float, expires: datetime, create: bool):
        if create:
            return InsertOne({"_id": key, "entries": [now], "expireAt": expires + timedelta(seconds=expiry)})
        return UpdateOne({"_id": key, f"entries.{limit - 1}": {"$not": {"$gte": now - expiry}}},
                         {"$push": {"entries": {"$each": [now], "$position": 0, "$slice": limit}},
                          "$set": {"expireAt": expires + timedelta(seconds=expiry)}},
                         upsert=True)

    def _remember(self, keys):
        if len(self.known) >= self.KNOWN_WINDOWS:
            self.known.clear()
        self.known.update(keys)

    def __del__(self):
        if self._storage is not None:
            try:
                self._storage.close()
            except Exception:  # closing ends its sessions on a server it may never have reached, at
                pass               # garbage collection, which may run anywhere (eventlet's hub refuses I/O)
