"""The MongoDB plumbing's own choices: retryable writes, and writes kept up across a lost connection."""
import pytest
from pymongo.errors import AutoReconnect, OperationFailure

from nszm import storage


def test_retryable_writes_are_off_unless_the_uri_asks_for_them():
    default = storage.connect("mongodb://127.0.0.1:1/?directConnection=true")
    asked = storage.connect("mongodb://127.0.0.1:1/?directConnection=true&retryWrites=true")
    try:
        assert default.options.retry_writes is False
        assert asked.options.retry_writes is True
    finally:
        default.close()
        asked.close()


def test_a_write_is_done_again_while_the_connection_is_lost_and_its_result_returned():
    attempts = []

    def write():
        attempts.append(1)
        if len(attempts) < 3:
            raise AutoReconnect("database restarting")
        return "written"

    assert storage.persistently(write, within=5) == "written"
    assert len(attempts) == 3


def test_a_connection_lost_for_longer_than_allowed_is_the_callers_error():
    def write():
        raise AutoReconnect("database away")

    with pytest.raises(AutoReconnect):
        storage.persistently(write, within=0.05)


def test_a_refused_write_is_not_done_again():
    attempts = []

    def write():
        attempts.append(1)
        raise OperationFailure("not allowed")

    with pytest.raises(OperationFailure):
        storage.persistently(write, within=5)
    assert len(attempts) == 1
