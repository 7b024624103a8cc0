"""The embedded database server: SecantusDB's own command line, with three changes.

A transaction left open by a client that died inside it is rolled back after
TRANSACTION_IDLE_SECONDS, not after SecantusDB's minute (mongod's
`transactionLifetimeLimitSeconds`, which deploy/ sets alike). Until it is rolled back, such a
transaction holds what it wrote, and every registration for the same event conflicts with it.
The platform's transactions take milliseconds; a live one idle this long is rolled back too and
its client retries it whole.

A collection's index definitions and options are read from memory (CatalogCache). SecantusDB
reads them from its catalog tables several times in every write and every query it plans,
packing and unpacking each row in Python: under the registration rush that is a quarter of its
CPU for the index definitions and an eighth of the rest for the options (read five times for
every updated document). `make bench` measures the rush with them.

WiredTiger keys and values are packed by `ops/wiredtiger_packing.py` rather than by the Python
binding's general format interpreter (the same bytes, tested): a tenth of its CPU under the rush.

Run as a script (`python ops/secantusd.py --port …`), from any directory.
"""
import functools
import logging
import sys
import threading

import bson
import secantus
from secantus import cli
from secantus.storage import _COLL_TABLE as COLLECTIONS_TABLE
from secantus.storage import Storage

if __package__ in (None, ""):  # run as a script: ops/ is on the path, the project is not
    import wiredtiger_packing
else:
    from ops import wiredtiger_packing

TRANSACTION_IDLE_SECONDS = 5.0

# The SecantusDB release whose internals CatalogCache was written against and tested with.
CACHED_CATALOG_RELEASE = "0.7.0b3"

# Every Storage method that writes index definitions (the catalog table `secantus_indexes`) or
# collection options (`secantus_collections`); `_ensure_collection` too, when it creates one.
CATALOG_WRITERS = ("create_index", "drop_index", "drop_all_indexes", "set_index_expiry", "set_index_options",
                   "create_collection", "_write_coll_options", "drop_collection", "drop_database",
                   "rename_collection", "_recover_pending_drops_locked")

log = logging.getLogger(__name__)


class CatalogCache:
    """The committed index definitions and options of each collection, kept in memory.

    A writer of either bumps `generation` when it is done (for one inside a multi-document
    transaction: when that transaction ends), which drops what was read before. A row read while
    a writer runs, or read by a transaction that wrote to the catalog itself, is not cached: they
    may see what is not committed. A row is read in a fresh snapshot and kept only if no writer
    finished meanwhile, so the cache never holds what a later write replaced. Rows are kept
    encoded: every reader gets its own copy, as from the table.
    """

    def __init__(self, read_indexes):
        self.read_indexes = read_indexes
        self.lock = threading.Lock()
        self.generation = 0
        self.writers = 0
        self.transactions_with_writes: set = set()
        self.rows: dict[tuple[str, str, str], tuple[int, object]] = {}

    def install(self) -> None:
        @functools.wraps(Storage._iter_indexes)
        def iter_indexes(storage, db, coll):
            for name, encoded in self.definitions(storage, db, coll):
                payload = bson.decode(encoded)
                yield name, payload["key"], payload["options"]

        @functools.wraps(Storage._coll_options)
        def coll_options(storage, db, coll):
            encoded = self.options(storage, db, coll)
            return None if encoded is None else bson.decode(encoded) if encoded else {}

        ensure_collection = self.writer(Storage._ensure_collection)

        @functools.wraps(Storage._ensure_collection)
        def ensure_existing_collection(storage, db, coll):
            if self.options(storage, db, coll) is None:
                ensure_collection(storage, db, coll)

        Storage._iter_indexes = iter_indexes
        Storage._coll_options = coll_options
        for name in CATALOG_WRITERS:
            setattr(Storage, name, self.writer(getattr(Storage, name)))
        Storage._ensure_collection = ensure_existing_collection
        Storage._close_user_txn_session = self.transaction_end(Storage._close_user_txn_session)

    def definitions(self, storage: Storage, db: str, coll: str) -> list[tuple[str, bytes]]:
        return self.cached(storage, ("indexes", db, coll),
                           lambda: self.encoded(self.read_indexes(storage, db, coll)))

    def options(self, storage: Storage, db: str, coll: str) -> bytes | None:
        """The collection's options blob as stored (b"" for none), or None if there is no such collection."""
        def read():
            c = storage._cursor(COLLECTIONS_TABLE)
            c.set_key(db, coll)
            return bytes(c.get_value()) if c.search() == 0 else None
        return self.cached(storage, ("options", db, coll), read)

    def cached(self, storage: Storage, key: tuple[str, str, str], read):
        transaction = getattr(storage._tls, "user_txn", None)
        if self.writers or (transaction is not None and transaction in self.transactions_with_writes):
            return read()
        generation = self.generation
        cached = self.rows.get(key)
        if cached is not None and cached[0] == generation:
            return cached[1]
        with storage._committed_read_scope():
            row = read()
        with self.lock:
            if self.generation == generation and not self.writers:
                self.rows[key] = (generation, row)
        return row

    @staticmethod
    def encoded(rows) -> list[tuple[str, bytes]]:
        return [(name, bson.encode({"key": key, "options": options})) for name, key, options in rows]

    def forget_locked(self) -> None:
        self.generation += 1
        self.rows.clear()

    def writer(self, method):
        @functools.wraps(method)
        def write_definitions(storage, *args, **kwargs):
            with self.lock:
                self.writers += 1
            try:
                return method(storage, *args, **kwargs)
            finally:
                transaction = getattr(storage._tls, "user_txn", None)
                with self.lock:
                    self.writers -= 1
                    if transaction is not None:
                        self.transactions_with_writes.add(transaction)
                    self.forget_locked()
        return write_definitions

    def transaction_end(self, close_session):
        @functools.wraps(close_session)
        def close(storage, handle):
            try:
                return close_session(storage, handle)
            finally:
                if handle in self.transactions_with_writes:
                    with self.lock:
                        self.transactions_with_writes.discard(handle)
                        self.forget_locked()
        return close


def main(argv: list[str] | None = None) -> int:
    cli.SecantusDBServer = functools.partial(cli.SecantusDBServer,
                                             transaction_lifetime_seconds=TRANSACTION_IDLE_SECONDS)
    if secantus.__version__ == CACHED_CATALOG_RELEASE:
        CatalogCache(Storage._iter_indexes).install()
    else:
        log.warning("SecantusDB %s, not %s: its catalog is read from its tables every time",
                    secantus.__version__, CACHED_CATALOG_RELEASE)
    wiredtiger_packing.install()
    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
