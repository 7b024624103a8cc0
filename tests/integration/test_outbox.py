"""The outbox on a real SecantusDB: the events of one transaction are stored together, and marks
that workers make at the same time go in one update, each mark still done."""
from unittest.mock import patch

import eventlet

from nszm.contracts import bus
from nszm.storage import Outbox


def test_marks_made_at_the_same_time_share_one_update(mongo_client, db_name):
    outbox = Outbox(mongo_client[db_name]["outbox"])
    outbox.ensure_indexes()
    events = [bus.envelope(bus.VOTE_CONFIRMED, {"competition_id": "c1", "practice": f"p{n}"}) for n in range(30)]
    outbox.add(events)
    assert outbox.pending_count() == 30
    pool = eventlet.GreenPool(30)
    with patch.object(outbox.collection, "update_many", wraps=outbox.collection.update_many) as updates:
        list(pool.imap(lambda event: outbox.mark_published([event["event_id"]]), events))
    assert 0 < updates.call_count < 15
    assert outbox.pending_count() == 0 and outbox.claim() is None
