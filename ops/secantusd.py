"""The embedded database server: SecantusDB's own command line, with two changes.

A transaction left open by a client that died inside it is rolled back after
TRANSACTION_IDLE_SECONDS, not after SecantusDB's minute (mongod's
`transactionLifetimeLimitSeconds`, which deploy/ sets alike). Until it is rolled back, such a
transaction holds what it wrote: with the events service killed inside a registration, every
registration for that event conflicts with it and is retried, and for a minute the public got
503s. The platform's transactions take milliseconds; a live one idle this long is rolled back
too and its client retries it whole.

A collection's index definitions are read from memory (IndexCatalogCache). SecantusDB reads
them from its catalog table several times in every write and every query it plans, packing
and unpacking each row in Python: under the registration rush that cost a quarter of its CPU
(37.5 ms per registration before, 28.8 after, on the same machine).

WiredTiger keys and values are packed by `ops/wiredtiger_packing.py` rather than by the Python
binding's general format interpreter (the same bytes, tested; a seventh of the CPU before).

Run as a script (`python ops/secantusd.py --port …`), from any directory.
"""
import functools
import logging
import sys
import threading

import bson
import secantus
from secantus import cli
from secantus.storage import Storage

if __package__ in (None, ""):  # run as a script: ops/ is on the path, the project is not
    import wiredtiger_packing
else:
    from ops import wiredtiger_packing

TRANSACTION_IDLE_SECONDS = 5.0

# The SecantusDB release whose internals IndexCatalogCache was written against and tested with.
CACHED_CATALOG_RELEASE = "0.7.0b3"

# Every Storage method that writes index definitions (the catalog table `secantus_indexes`).
INDEX_DEFINITION_WRITERS = ("create_index", "drop_index", "drop_all_indexes", "set_index_expiry",
                            "set_index_options", "drop_collection", "drop_database", "rename_collection",
                            "_recover_pending_drops_locked")

log = logging.getLogger(__name__)


class IndexCatalogCache:
    """The committed index definitions of each collection, kept in memory.

    A writer of definitions bumps `generation` when it is done (for one inside a multi-document
    transaction: when that transaction ends), which drops what was read before. A definition read
    while a writer runs, or read by a transaction that wrote definitions itself, is not cached:
    they may see what is not committed. A row is read in a fresh snapshot and kept only if no
    writer finished meanwhile, so the cache never holds what a later write replaced. Rows are
    kept encoded: every reader gets its own copy, as from the table.
    """

    def __init__(self, read_rows):
        self.read_rows = read_rows
        self.lock = threading.Lock()
        self.generation = 0
        self.writers = 0
        self.transactions_with_writes: set = set()
        self.rows: dict[tuple[str, str], tuple[int, list[tuple[str, bytes]]]] = {}

    def install(self) -> None:
        @functools.wraps(Storage._iter_indexes)
        def iter_indexes(storage, db, coll):
            for name, encoded in self.definitions(storage, db, coll):
                payload = bson.decode(encoded)
                yield name, payload["key"], payload["options"]

        Storage._iter_indexes = iter_indexes
        for name in INDEX_DEFINITION_WRITERS:
            setattr(Storage, name, self.writer(getattr(Storage, name)))
        Storage._close_user_txn_session = self.transaction_end(Storage._close_user_txn_session)

    def definitions(self, storage: Storage, db: str, coll: str) -> list[tuple[str, bytes]]:
        transaction = getattr(storage._tls, "user_txn", None)
        if self.writers or (transaction is not None and transaction in self.transactions_with_writes):
            return self.encoded(self.read_rows(storage, db, coll))
        generation = self.generation
        cached = self.rows.get((db, coll))
        if cached is not None and cached[0] == generation:
            return cached[1]
        with storage._committed_read_scope():
            rows = self.encoded(self.read_rows(storage, db, coll))
        with self.lock:
            if self.generation == generation and not self.writers:
                self.rows[(db, coll)] = (generation, rows)
        return rows

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
        IndexCatalogCache(Storage._iter_indexes).install()
    else:
        log.warning("SecantusDB %s, not %s: index definitions are read from its catalog every time",
                    secantus.__version__, CACHED_CATALOG_RELEASE)
    wiredtiger_packing.install()
    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
