"""Group commit and keyed locks, for the two writes that come in crowds: registrations for an
event and votes in a competition.

Two hundred people registering at once for one session would each take a transaction, and
each would collide with the others on the session's seat counters: every collision costs a
retry of the whole transaction. So the writes of one crowd wait for each other in this process
(`one_at_a_time`) and go together, one transaction for those that came meanwhile (`together`).
"""
import contextlib
import threading
from typing import Callable, Iterable, Iterator, TypeVar

from nameko.extensions import DependencyProvider

from nszm.batches import Batches

Item = TypeVar("Item")


class KeyedLocks:
    """One lock per key, forgotten once nobody holds or awaits it (keys come from requests: an
    unknown competition's must not stay in memory)."""

    def __init__(self):
        self._locks: dict[str, tuple[threading.Lock, list[int]]] = {}  # key -> its lock, [holders and waiters]
        self._guard = threading.Lock()

    def is_idle(self) -> bool:
        return not self._locks

    @contextlib.contextmanager
    def holding(self, keys: Iterable[str]) -> Iterator[None]:
        """Hold the lock of each key, taken in sorted order so that two holders never wait for
        each other."""
        with contextlib.ExitStack() as held:
            for key in sorted(set(keys)):
                held.enter_context(self._holding(key))
            yield

    @contextlib.contextmanager
    def _holding(self, key: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.setdefault(key, (threading.Lock(), [0]))
            users[0] += 1
        try:
            with lock:
                yield
        finally:
            with self._guard:
                users[0] -= 1
                if users[0] == 0:
                    del self._locks[key]


class Rush:
    """What a crowd's writes share in one service process."""

    def __init__(self):
        self._batches = Batches()
        self._locks = KeyedLocks()

    def together(self, key: str, item: Item, write: Callable[[list[Item]], list]) -> object:
        """`write(items)` for this item and those submitted for the same key meanwhile; `write`
        returns one outcome per item, and this item's is returned (or raised, if it is an error)."""
        return self._batches.submit(key, item, write)

    def one_at_a_time(self, keys: Iterable[str]) -> contextlib.AbstractContextManager[None]:
        """Wait for the turn of each key: units of work that count the same seats or votes do not
        collide."""
        return self._locks.holding(keys)

    def is_idle(self) -> bool:
        """Nothing waits, and no key is remembered (what requests for unknown keys leave)."""
        return self._batches.is_idle() and self._locks.is_idle()


class RushWrites(DependencyProvider):
    """Injects the service container's `Rush`, shared by its workers."""

    def setup(self):
        self.rush = Rush()

    def get_dependency(self, worker_ctx) -> Rush:
        return self.rush
