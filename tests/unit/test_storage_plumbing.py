"""The MongoDB plumbing's own choices: retryable writes, and writes kept up across a lost connection."""
import pytest
from pymongo.errors import AutoReconnect, OperationFailure

from nszm import storage
from ops import embedded


def test_retryable_writes_are_on_as_the_driver_has_them_and_off_only_for_the_embedded_server():
    production = storage.connect("mongodb://db1.example.cz,db2.example.cz/?replicaSet=rs0")
    embedded_server = storage.connect(embedded.uri_for(1))
    try:
        assert production.options.retry_writes is True
        assert embedded_server.options.retry_writes is False
    finally:
        production.close()
        embedded_server.close()


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
