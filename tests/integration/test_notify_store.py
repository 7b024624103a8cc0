"""The notify store against a real SecantusDB: mails queued and marked sent at the same time go
in shared writes, each with its own outcome; one sender at a time starts a mailout; each
recipient range is handed out once, and a recipient whose record of being sent was lost (a
database crash) is handed out again; the
webhooks an event goes to follow changes made here at once and those made by another replica
within their freshness time."""
import time
from datetime import timedelta
from unittest.mock import patch

import eventlet
import pytest

from nszm.contracts.errors import Conflict
from nszm.storage import utcnow
from services.notify.storage import NotifyStore
from services.notify.webhooks import domain
from services.notify.webhooks.storage import WEBHOOKS_FRESH_SECONDS
from tests.waiting import wait_until

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


def test_one_sender_at_a_time_starts_a_mailout(store, mongo_client, db_name):
    other = NotifyStore(mongo_client, db_name)  # another process's
    store.add_mailout({"id": "m2", "status": "scheduled", "total": 0, "created_at": utcnow()})
    lease = store.claim_start("m2")
    assert lease is not None and other.claim_start("m2") is None
    mailout = store.get_mailout("m2")
    assert mailout["start_lease"] == lease
    store.mailouts.update_one({"_id": "m2"}, {"$set": {"start_lease": utcnow() - timedelta(seconds=1)}})  # it died
    taken_over = other.claim_start("m2")
    assert taken_over is not None
    with pytest.raises(Conflict):  # a holder whose lease ran out cannot start it any more
        store.save_mailout(mailout, {**mailout, "status": "sending"})
    other.save_mailout({**mailout, "start_lease": taken_over}, {**mailout, "status": "sending"})
    assert store.get_mailout("m2")["status"] == "sending" and store.claim_start("m2") is None


def test_one_sender_at_a_time_sends_a_mailout_and_a_dead_ones_turn_comes_back(store, mongo_client, db_name):
    mailout_id = sending(store, 10)
    other = NotifyStore(mongo_client, db_name)
    store.hold_as("host unix:///var/supervisor.sock notify-2")
    lease = store.claim_sending(mailout_id)
    assert lease is not None and other.claim_sending(mailout_id) is None
    assert store.claim_range(mailout_id, SIZE)[0]["start"] == 0  # not a range: ranges are handed out as before
    store.release_sending(mailout_id, lease)
    again = other.claim_sending(mailout_id)
    assert again is not None and store.claim_sending(mailout_id) is None
    store.claims.update_one({"_id": f"{mailout_id}:sender"}, {"$set": {"until": utcnow()}})  # its lease ran out
    taken = store.claim_sending(mailout_id)
    assert taken is not None
    other.release_sending(mailout_id, again)  # a late release does not end the new holder's turn
    assert other.claim_sending(mailout_id) is None
    assert store.claim_sending(mailout_id) is not None  # its own process takes it again (after an outage)
    NotifyStore(mongo_client, db_name).hold_as("host unix:///var/supervisor.sock notify-2")  # it died
    assert other.claim_sending(mailout_id) is not None


def webhook(store: NotifyStore, *events: str) -> str:
    added = domain.new_webhook({"url": "https://example.cz/hook", "events": list(events)}, utcnow())
    store.add_webhook(added)
    return added["id"]


def test_webhook_changes_here_count_at_once(store):
    assert store.webhooks_for("registration_confirmed") == []
    wanted = webhook(store, "registration_confirmed")
    other = webhook(store, "member_joined")
    assert [w["id"] for w in store.webhooks_for("registration_confirmed")] == [wanted]
    store.save_webhook({**store.get_webhook(wanted), "enabled": False})
    assert store.webhooks_for("registration_confirmed") == []
    store.delete_webhook(other)
    assert store.webhooks_for("member_joined") == []


def test_webhook_changes_by_another_replica_count_within_their_freshness(store, mongo_client, db_name):
    read_at = time.monotonic()
    assert store.webhooks_for("registration_confirmed") == []
    added = webhook(NotifyStore(mongo_client, db_name), "registration_confirmed")
    seen = store.webhooks_for("registration_confirmed")
    if time.monotonic() - read_at < WEBHOOKS_FRESH_SECONDS:
        assert seen == []  # this replica read them a moment ago
    wait_until(lambda: [w["id"] for w in store.webhooks_for("registration_confirmed")] == [added],
               timeout=WEBHOOKS_FRESH_SECONDS + 5)


def transactional_mail(mail_id: str) -> dict:
    return {"id": mail_id, "kind": "registration_confirmed", "to": f"{mail_id}@example.cz", "to_name": None,
            "subject": "Potvrzení", "text": "Dobrý den", "attachments": []}


def test_mails_queued_and_marked_sent_at_once_share_their_writes(store):
    store.enqueue(transactional_mail("queued-before"))
    ids = [f"mail{n}" for n in range(40)] + ["queued-before"]
    pool = eventlet.GreenPool(len(ids))
    with patch.object(store.mails, "insert_many", wraps=store.mails.insert_many) as inserts:
        queued = dict(zip(ids, pool.imap(lambda mail_id: store.enqueue(transactional_mail(mail_id), leased=True), ids)))
    assert queued.pop("queued-before") is None
    assert all(mail["id"] == mail_id and mail["status"] == "pending" for mail_id, mail in queued.items())
    assert 0 < inserts.call_count < 20
    with patch.object(store.mails, "bulk_write", wraps=store.mails.bulk_write) as marks:
        list(pool.imap(lambda mail_id: store.mark_sent(mail_id, f"<{mail_id}@test>"), queued))
    assert 0 < marks.call_count < 20
    for mail_id in queued:
        mail = store.get(mail_id)
        assert (mail["status"], mail["message_id"], mail["attempts"]) == ("sent", f"<{mail_id}@test>", 1)
    assert store.get("queued-before")["status"] == "pending"


def test_a_process_in_the_place_of_a_dead_one_takes_back_its_leases_at_once(store, mongo_client, db_name):
    """What notify-2 held when it was killed goes to the notify-2 that supervisor starts next, not
    to its living neighbour, and not only once the leases end."""
    dead, neighbour, successor = (NotifyStore(mongo_client, db_name) for _ in range(3))
    dead.hold_as("host unix:///var/supervisor.sock notify-2")
    neighbour.hold_as("host unix:///var/supervisor.sock notify")
    mailout_id = sending(store, 120)
    mail = dead.enqueue(transactional_mail("leased-when-killed"), leased=True)
    range_lease, _ = dead.claim_range(mailout_id, SIZE)
    now = utcnow()
    dead.add_deliveries([{"id": "d1", "webhook_id": "w1", "event_id": "e1", "status": "pending",
                          "attempts": 0, "created_at": now, "next_attempt_at": now}])
    assert [d["id"] for d in dead.claim_deliveries(utcnow(), 10)] == ["d1"]

    assert neighbour.claim() is None and neighbour.claim_deliveries(utcnow(), 10) == []
    assert neighbour.claim_range(mailout_id, SIZE)[0]["start"] == SIZE  # the dead one's range stays leased

    successor.hold_as("host unix:///var/supervisor.sock notify-2")
    assert successor.claim()["id"] == mail["id"]
    assert successor.claim_range(mailout_id, SIZE)[0]["start"] == range_lease["start"] == 0
    assert [d["id"] for d in successor.claim_deliveries(utcnow(), 10)] == ["d1"]
    assert neighbour.claim() is None  # the successor holds it now


def test_what_a_process_leases_while_it_takes_its_place_stays_its_own(store, mongo_client, db_name):
    """nameko starts every extension at once: a new notify-2's timer may lease a range while its
    store is still taking back what the dead notify-2 held. That lease is not taken back with them
    (another sender would send the same range beside it)."""
    mailout_id = sending(store, 120)
    successor, other = NotifyStore(mongo_client, db_name), NotifyStore(mongo_client, db_name)
    take_back = successor.claims.update_many
    leased = []

    def a_tick_meanwhile(*args, **kwargs):
        leased.append(successor.claim_range(mailout_id, SIZE)[0])
        return take_back(*args, **kwargs)

    with patch.object(successor.claims, "update_many", side_effect=a_tick_meanwhile):
        successor.hold_as("host unix:///var/supervisor.sock notify-2")
    assert leased[0]["start"] == 0
    assert other.claim_range(mailout_id, SIZE)[0]["start"] == SIZE


def test_a_range_whose_sending_was_cut_off_comes_back_to_its_process_at_once(store, mongo_client, db_name):
    """The database went away mid-range: the same process takes the range back at its next claim,
    not once the lease ends, unless another sender has claimed it meanwhile."""
    mailout_id = sending(store, 3 * SIZE)
    cut_off, queued = store.claim_range(mailout_id, SIZE)
    store.interrupted(cut_off)
    again, queued_again = store.claim_range(mailout_id, SIZE)
    assert again["id"] == cut_off["id"] and [r["seq"] for r in queued_again] == [r["seq"] for r in queued]

    other = NotifyStore(mongo_client, db_name)
    store.interrupted(again)
    store.claims.update_one({"_id": again["id"]}, {"$set": {"until": utcnow()}})  # its lease ran out
    assert other.claim_range(mailout_id, SIZE)[0]["id"] == again["id"]  # and another sender took it
    assert store.claim_range(mailout_id, SIZE)[0]["start"] == SIZE  # so it is not taken back
    assert store.claim_range(mailout_id, SIZE)[0]["start"] == 2 * SIZE
