"""A transaction left open by a process killed inside it (the events service, SIGKILLed in the
middle of a registration) holds what it wrote until the database rolls it back; the embedded
server does that within seconds, not after a minute of conflicts for everyone who writes the
same document (the seats of one event)."""
import signal
import subprocess
import sys
import uuid

import pymongo

from nszm.storage import connect
from ops.secantusd import TRANSACTION_IDLE_SECONDS

LEAVES_A_TRANSACTION_OPEN = """
import sys, pymongo
client = pymongo.MongoClient(sys.argv[1])
seats = client[sys.argv[2]].seats
with client.start_session() as session:
    session.start_transaction()
    seats.update_one({"_id": "s1"}, {"$inc": {"taken": 100}}, session=session)
    print("written", flush=True)
    sys.stdin.read()  # holds the transaction open until it is killed
"""


def test_a_transaction_left_open_by_a_killed_process_is_rolled_back_within_seconds(mongo_uri):
    db_name = f"abandoned_{uuid.uuid4().hex[:8]}"
    client = connect(mongo_uri)
    seats = client[db_name].seats
    seats.insert_one({"_id": "s1", "taken": 0})
    killed = subprocess.Popen([sys.executable, "-c", LEAVES_A_TRANSACTION_OPEN, mongo_uri, db_name],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert killed.stdout.readline().strip() == "written"
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=10)

    def take_a_seat(session):
        seats.update_one({"_id": "s1"}, {"$inc": {"taken": 1}}, session=session)

    # with mongod's default (60 s) the transaction would still hold the seats when this gives up
    with pymongo.timeout(TRANSACTION_IDLE_SECONDS * 4), client.start_session() as session:
        session.with_transaction(take_a_seat)
    assert seats.find_one({"_id": "s1"})["taken"] == 1  # the killed transaction's write is gone
    client.drop_database(db_name)
    client.close()
