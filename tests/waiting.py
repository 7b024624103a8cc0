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
