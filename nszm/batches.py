"""Group commit: requests for one key that arrive while a batch of that key is being written
wait, and go together in the next batch, one transaction for all of them.

In a rush (two hundred people registering for one session) each request would otherwise take
its own transaction in turn; the database pays for a transaction, not for a document, so a
batch of twenty costs little more than one. A request alone is written at once, as before.
"""
import threading
from typing import Callable, Generic, TypeVar, cast

from nameko.extensions import DependencyProvider

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")

MAX_BATCH = 50


class _Waiting(Generic[Item]):
    """One submitted item: woken when its outcome is there, or when it is its turn to lead."""

    def __init__(self, item: Item):
        self.item = item
        self.woken = threading.Event()
        self.leads = False
        self.settled = False
        self.outcome: object = None

    def settle(self, outcome: object):
        self.outcome, self.settled = outcome, True
        self.woken.set()

    def lead(self):
        self.leads = True
        self.woken.set()


class Batches:
    """`submit(key, item, write)`: `write(items)` is called with this item and those submitted for
    the same key meanwhile, and returns one outcome per item (a result, or an exception that
    item's caller gets). If `write` raises for a batch of several, each item is written alone,
    so that one item's failure never becomes its neighbours'.

    The first to come leads: it writes a batch with its own item and whatever waits, then hands
    the lead to the first of those who came meanwhile, and returns; nobody writes for others
    for longer than one batch."""

    def __init__(self, max_batch: int = MAX_BATCH):
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._queues: dict[str, list[_Waiting]] = {}

    def is_idle(self) -> bool:
        return not self._queues

    def submit(self, key: str, item: Item, write: Callable[[list[Item]], list[Outcome]]) -> Outcome:
        waiting = _Waiting(item)
        with self._lock:
            if key in self._queues:
                self._queues[key].append(waiting)
            else:
                self._queues[key] = []
                waiting.leads = True
        while not waiting.settled:
            if waiting.leads:
                self._write_batch(key, waiting, write)
            else:
                waiting.woken.wait()
                waiting.woken.clear()
        if isinstance(waiting.outcome, BaseException):
            raise waiting.outcome
        return cast(Outcome, waiting.outcome)  # what `write` gave for this item

    def _write_batch(self, key: str, leader: _Waiting, write: Callable[[list[Item]], list]):
        with self._lock:
            queue = self._queues[key]
            batch = [leader, *queue[:self.max_batch - 1]]
            del queue[:self.max_batch - 1]
        try:
            outcomes = self._outcomes(batch, write)
        except BaseException as error:  # the leader itself is stopped: its batch gets the error
            outcomes = [error] * len(batch)
        finally:
            self._hand_on(key)
        for waiting, outcome in zip(batch, outcomes):
            waiting.settle(outcome)

    def _hand_on(self, key: str):
        """The lead goes to the first who waits, or the key is free again."""
        with self._lock:
            queue = self._queues[key]
            if queue:
                queue.pop(0).lead()
            else:
                del self._queues[key]

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


class BatchesProvider(DependencyProvider):
    """Injects one `Batches` shared by the workers of a service container."""

    def setup(self):
        self.batches = Batches()

    def get_dependency(self, worker_ctx) -> Batches:
        return self.batches
