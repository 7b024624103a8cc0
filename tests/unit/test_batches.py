"""Group commit (`nszm.batches`): who is written with whom, and whose error reaches whom."""
import threading

import pytest

from nszm.batches import Batches
from tests.waiting import wait_until


class Writer:
    """Records each batch it is given; holds the first until released, so that others queue."""

    def __init__(self, hold_first: bool = False, failing: frozenset = frozenset()):
        self.batches: list[list] = []
        self.release = threading.Event()
        self.holding = threading.Event()
        self.hold_first = hold_first
        self.failing = failing
        self.hold_next: threading.Event | None = None
        self.second_release = threading.Event()

    def __call__(self, items: list) -> list:
        self.batches.append(list(items))
        if self.hold_first and len(self.batches) == 1:
            self.holding.set()
            self.release.wait(10)
        elif self.hold_next is not None and len(self.batches) == 2:
            self.hold_next.set()
            self.second_release.wait(10)
        if self.failing & set(items):
            raise RuntimeError(f"cannot write {sorted(self.failing & set(items))}")
        return [ValueError(f"refused {item}") if item < 0 else item * 10 for item in items]


def submit_all(batches: Batches, writer: Writer, items: list, key: str = "k") -> dict:
    outcomes: dict = {}

    def one(item):
        try:
            outcomes[item] = batches.submit(key, item, writer)
        except Exception as error:
            outcomes[item] = error

    threads = [threading.Thread(target=one, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    return {"threads": threads, "outcomes": outcomes}


def finish(started: dict) -> dict:
    for thread in started["threads"]:
        thread.join(10)
    return started["outcomes"]


def test_a_lone_item_is_written_at_once_and_gets_its_own_result():
    writer = Writer()
    assert Batches().submit("k", 4, writer) == 40
    assert writer.batches == [[4]]


def test_items_that_come_while_a_batch_is_written_go_together_in_the_next():
    batches, writer = Batches(), Writer(hold_first=True)
    first = submit_all(batches, writer, [1])
    assert writer.holding.wait(10)
    rest = submit_all(batches, writer, [2, 3, 4, 5])
    wait_until(lambda: len(batches._queues["k"]) == 4, timeout=10)
    writer.release.set()
    assert finish(first) == {1: 10}
    assert finish(rest) == {2: 20, 3: 30, 4: 40, 5: 50}
    assert writer.batches[0] == [1]
    assert sorted(writer.batches[1]) == [2, 3, 4, 5] and len(writer.batches) == 2


def test_a_leader_returns_once_its_own_batch_is_written_and_the_next_in_line_leads():
    batches, writer = Batches(), Writer(hold_first=True)
    first = submit_all(batches, writer, [1])
    assert writer.holding.wait(10)
    second = submit_all(batches, writer, [2])
    wait_until(lambda: len(batches._queues["k"]) == 1, timeout=10)
    held_again = threading.Event()
    writer.hold_next = held_again  # the second batch is held in its turn
    writer.release.set()
    assert finish(first) == {1: 10}  # while the batch after it is still being written
    assert held_again.wait(10) and writer.batches[1] == [2]
    writer.second_release.set()
    assert finish(second) == {2: 20}


def test_batches_are_no_larger_than_the_limit():
    batches, writer = Batches(max_batch=2), Writer(hold_first=True)
    first = submit_all(batches, writer, [1])
    assert writer.holding.wait(10)
    rest = submit_all(batches, writer, [2, 3, 4, 5, 6])
    wait_until(lambda: len(batches._queues["k"]) == 5, timeout=10)
    writer.release.set()
    finish(first), finish(rest)
    assert [len(batch) for batch in writer.batches] == [1, 2, 2, 1]


def test_keys_do_not_wait_for_each_other():
    batches, writer = Batches(), Writer(hold_first=True)
    held = submit_all(batches, writer, [1], key="busy")
    assert writer.holding.wait(10)
    assert batches.submit("other", 2, Writer()) == 20
    writer.release.set()
    assert finish(held) == {1: 10}


def test_an_items_refusal_reaches_only_its_caller():
    batches, writer = Batches(), Writer(hold_first=True)
    first = submit_all(batches, writer, [1])
    assert writer.holding.wait(10)
    rest = submit_all(batches, writer, [2, -3, 4])
    wait_until(lambda: len(batches._queues["k"]) == 3, timeout=10)
    writer.release.set()
    finish(first)
    outcomes = finish(rest)
    assert outcomes[2] == 20 and outcomes[4] == 40
    assert isinstance(outcomes[-3], ValueError)


def test_a_failed_batch_is_written_again_item_by_item():
    batches, writer = Batches(), Writer(hold_first=True, failing=frozenset({3}))
    first = submit_all(batches, writer, [1])
    assert writer.holding.wait(10)
    rest = submit_all(batches, writer, [2, 3, 4])
    wait_until(lambda: len(batches._queues["k"]) == 3, timeout=10)
    writer.release.set()
    finish(first)
    outcomes = finish(rest)
    assert outcomes[2] == 20 and outcomes[4] == 40
    assert isinstance(outcomes[3], RuntimeError)
    assert sorted(writer.batches[1]) == [2, 3, 4] and sorted(map(tuple, writer.batches[2:])) == [(2,), (3,), (4,)]


def test_a_stopped_leader_leaves_nobody_waiting_and_the_key_usable():
    class Stop(BaseException):
        pass

    def stopping(items):
        raise Stop()

    batches = Batches()
    with pytest.raises(Stop):
        batches.submit("k", 1, stopping)
    assert batches.submit("k", 2, Writer()) == 20
