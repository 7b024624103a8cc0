"""Waiting for asynchronous effects: poll with a deadline, never a bare sleep."""
import threading
import time

_never = threading.Event()  # nothing sets it: waiting on it is the pause between two polls


def wait_until(condition, timeout: float = 10.0, interval: float = 0.05, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        remaining = deadline - time.monotonic()
        if remaining < 0:
            raise AssertionError(f"{message} not reached within {timeout} s")
        _never.wait(min(interval, remaining))


def keep_for(seconds: float, check=None, interval: float = 0.5):
    """Keep a fault in place for `seconds` (an outage of a given length is the test itself),
    calling `check()` meanwhile: what must hold while the part is away."""
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        if check is not None:
            check()
        _never.wait(min(interval, remaining))


def pace(seconds: float):
    """A client's pause between two of its requests (a stream spread over time), not a wait for an effect."""
    _never.wait(seconds)
