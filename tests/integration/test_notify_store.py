"""The notify store's recipient ranges against a real SecantusDB: each range is handed out once,
and a recipient whose record of being sent was lost (a database crash) is handed out again."""
import pytest

from nszm.storage import utcnow
from services.notify.storage import NotifyStore

SIZE = 50


@pytest.fixture
def store(mongo_client, db_name):
    notify_store = NotifyStore(mongo_client, db_name)
    notify_store.ensure_indexes()
    return notify_store


def sending(store: NotifyStore, recipients: int) -> str:
    store.add_mailout({"id": "m1", "status": "sending", "total": recipients, "cursor": 0, "created_at": utcnow()})
    people = [{"key": f"p{n}@example.cz", "email": f"p{n}@example.cz", "name": None} for n in range(recipients)]
    store.freeze_recipients("m1", people, [])
    return "m1"


def send_all(store: NotifyStore, mailout_id: str) -> list[int]:
    """Claim every range and record each recipient sent; the numbers handed out, in order."""
    handed_out = []
    while True:
        lease, queued = store.claim_range(mailout_id, SIZE)
        if lease is None:
            return handed_out
        handed_out += [r["seq"] for r in queued]
        store.recipients_sent([(r["id"], f"<{r['seq']}@test>", utcnow()) for r in queued])
        store.settle_range(lease, None)


def test_each_recipient_is_handed_out_once(store):
    mailout_id = sending(store, 120)
    assert send_all(store, mailout_id) == list(range(120))
    assert store.recipient_counts(mailout_id) == {"sent": 120} and not store.ranges_left(mailout_id)


def test_a_recipient_whose_sent_record_was_lost_is_handed_out_again(store):
    mailout_id = sending(store, 120)
    send_all(store, mailout_id)
    store.recipients.update_one({"_id": "m1:0000070"}, {"$set": {"status": "queued", "next_attempt_at": utcnow()}})
    lease, queued = store.claim_range(mailout_id, SIZE)
    assert (lease["start"], lease["end"]) == (50, 100) and [r["seq"] for r in queued] == [70]
    assert store.claim_range(mailout_id, SIZE) == (None, [])  # leased: not twice
    store.recipients_sent([("m1:0000070", "<70@test>", utcnow())])
    store.settle_range(lease, None)
    assert store.recipient_counts(mailout_id) == {"sent": 120} and not store.ranges_left(mailout_id)
