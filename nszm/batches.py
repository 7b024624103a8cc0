"""Group commit: requests for one key that arrive while a batch of that key is being written
wait, and go together in the next batch, one transaction for all of them.

In a rush (two hundred people registering for one session) each request would otherwise take
its own transaction in turn; the database pays for a transaction, not for a document, so a
batch of twenty costs little more than one. A request alone is written at once, as before.
"""
import threading
from typing import Callable, Generic, TypeVar

Item = TypeVar("Item")

MAX_BATCH = 50


class _Waiting(Generic[Item]):
    def __init__(self, item: Item):
        self.item = item
        self.settled = threading.Event()
        self.outcome: object = None

    def settle(self, outcome: object):
        self.outcome = outcome
        self.settled.set()

    def result(self):
        self.settled.wait()
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


class Batches:
    """`submit(key, item, write)`: `write(items)` is called with this item and those submitted for
    the same key meanwhile, and returns one outcome per item (a result, or an exception that
    item's caller gets). If `write` raises for a batch of several, each item is written alone,
    so that one item's failure never becomes its neighbours'."""

    def __init__(self, max_batch: int = MAX_BATCH):
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._queues: dict[str, list[_Waiting]] = {}

    def submit(self, key: str, item: Item, write: Callable[[list[Item]], list]) -> object:
        waiting = _Waiting(item)
        with self._lock:
            leading = key not in self._queues
            self._queues.setdefault(key, []).append(waiting)
        if leading:
            self._lead(key, write)
        return waiting.result()

    def _lead(self, key: str, write: Callable[[list[Item]], list]):
        """Write batches for `key` until nobody waits for it (the first to come leads)."""
        while True:
            with self._lock:
                queue = self._queues[key]
                batch, queue[:] = queue[:self.max_batch], queue[self.max_batch:]
                if not batch:
                    del self._queues[key]
                    return
            try:
                outcomes = self._outcomes(batch, write)
            except BaseException as error:  # the leader itself is stopped: nobody may wait for it forever
                with self._lock:
                    batch += self._queues.pop(key)
                for waiting in batch:
                    waiting.settle(error)
                raise
            for waiting, outcome in zip(batch, outcomes):
                waiting.settle(outcome)

    @staticmethod
    def _outcomes(batch: list[_Waiting], write: Callable[[list[Item]], list]) -> list:
        try:
            outcomes = write([waiting.item for waiting in batch])
        except Exception as error:
            if len(batch) == 1:
                return [error]
            return [Batches._outcomes([waiting], write)[0] for waiting in batch]
        if len(outcomes) != len(batch):
            raise AssertionError("a batch write must give one outcome per item")
        return outcomes
