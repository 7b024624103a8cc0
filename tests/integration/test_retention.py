"""Retention on the real database and broker, with the clock moved forward: each service's job
deletes or pseudonymises what its period makes due, and nothing else."""
import json
import uuid
from datetime import timedelta
from unittest.mock import patch

from kombu import Connection
from nameko.testing.services import worker_factory

from nszm import messaging
from nszm.batches import Batches
from nszm.config import Settings
from nszm.contracts.bus import NOTIFY_MAILS
from nszm.deadletters import discard_dead_letters, list_dead_letters
from nszm.privacy import ERASED_DOMAIN
from nszm.rush import Rush
from nszm.topology import Topology
from services.events.service import EventsService
from services.events.storage import EventsStore
from services.members.service import MembersService
from services.notify.service import NotifyService
from services.practice.service import PracticeService
from services.practice.storage import PracticeStore
from tests import factories
from tests.event_factories import NOW, event_payload, registration_input
from tests.fakes import FakeMailer


def mail(store, mail_id: str, to: str, created_at, status: str):
    with patch("services.notify.mail.storage.utcnow", return_value=created_at):
        store.enqueue({"id": mail_id, "kind": "registration_confirmed", "to": to, "to_name": "Jana",
                       "subject": "Potvrzení", "text": f"Dobrý den, {to}", "attachments": []})
    if status == "sent":
        store.mails.update_one({"_id": mail_id}, {"$set": {"status": "sent", "sent_at": created_at},
                                                  "$unset": {"next_attempt_at": ""}})


def test_notify_drops_old_bodies_recipient_lists_pending_subscribers_and_deliveries_only(notify_store):
    old, recent = NOW - timedelta(days=40), NOW - timedelta(days=5)
    mail(notify_store, "old-sent", "a@example.cz", old, "sent")
    mail(notify_store, "recent-sent", "b@example.cz", recent, "sent")
    mail(notify_store, "old-pending", "c@example.cz", old, "pending")
    for mailout_id, finished in (("ended", old), ("ended-lately", recent)):
        notify_store.add_mailout({"id": mailout_id, "status": "sent", "subject": "S", "finished_at": finished,
                                  "created_at": finished})
        notify_store.freeze_recipients(mailout_id, [{"key": "d@example.cz", "email": "d@example.cz"}], [])
    for key, mailed in (("old@example.cz", old), ("new@example.cz", recent)):
        notify_store.save_subscriber({"id": key, "email": key, "status": "pending", "mailed_at": mailed})
    notify_store.save_subscriber({"id": "kept@example.cz", "email": "kept@example.cz", "status": "confirmed",
                                  "mailed_at": old})
    notify_store.deliveries.insert_many([
        {"_id": "done-old", "status": "delivered", "created_at": old},
        {"_id": "done-recent", "status": "delivered", "created_at": recent},
        {"_id": "still-trying", "status": "pending", "created_at": old, "next_attempt_at": NOW}])

    service = worker_factory(NotifyService, store=notify_store, asked_together=Batches(), mailer=FakeMailer(), config={})
    service.retain(NOW)

    bodies = {d["_id"]: "text" in d for d in notify_store.mails.find()}
    assert bodies == {"old-sent": False, "recent-sent": True, "old-pending": True}
    assert notify_store.get("old-sent")["status"] == "sent" and notify_store.get("old-sent")["to"] == "a@example.cz"
    assert {d["mailout_id"] for d in notify_store.recipients.find()} == {"ended-lately"}
    assert {d["_id"] for d in notify_store.subscribers.find()} == {"new@example.cz", "kept@example.cz"}
    assert {d["_id"] for d in notify_store.deliveries.find()} == {"done-recent", "still-trying"}


def test_bounces_go_after_their_year_and_a_bounced_mail_loses_the_servers_words_with_its_body(notify_store):
    old, recent = NOW - timedelta(days=400), NOW - timedelta(days=40)
    mail(notify_store, "bounced", "e@example.cz", recent, "sent")
    notify_store.mark_mail_bounced("bounced", {"kind": "hard", "status": "5.1.1",
                                               "diagnostic": "550 5.1.1 <e@example.cz>: unknown"})
    for key, at in (("old-bounce", old), ("recent-bounce", recent)):
        notify_store.record_bounce(key, "person-" + key, {"kind": "hard", "source": "mailbox", "at": at})
    service = worker_factory(NotifyService, store=notify_store, asked_together=Batches(), mailer=FakeMailer(), config={})
    service.retain(NOW)
    assert notify_store.get("bounced")["bounce"] == {"kind": "hard", "status": "5.1.1"}
    assert notify_store.get("bounced")["status"] == "bounced"
    assert {d["_id"] for d in notify_store.bounces.find()} == {"recent-bounce"}


def test_registrations_lose_their_contact_months_after_the_event_and_certificate_holders_keep_the_register(
        mongo_client, db_name):
    store = EventsStore(mongo_client, db_name)
    store.ensure_indexes()
    with patch("services.events.service.utcnow", return_value=NOW):
        service = worker_factory(EventsService, store=store, rush=Rush(), config={"PUBLIC_URL": "https://api.example.cz"})
        service.members.coordinator_of.return_value = None
        event = service.create_event(event_payload(capacities=(5,)))
        service.publish_event(event["id"])
        attended = service.register(event["id"], registration_input("ucastnik@example.cz", note="bez lepku"))
        absent = service.register(event["id"], registration_input("nepřišel@example.cz", name="Petr Nepřišel"))
        service.check_in(attended["id"])
    seats = store.get_event(event["id"])["sessions"][0]["seats_left"]

    service.retain(NOW + timedelta(days=300))  # the event ended less than a year before
    assert store.registrations.count_documents({"expired_at": {"$exists": True}}) == 0
    service.retain(NOW + timedelta(days=400))
    kept = {d["_id"]: d for d in store.registrations.find()}
    assert kept[attended["id"]]["name"] == "Jana Nováková" and kept[attended["id"]]["certificate_id"]
    assert kept[absent["id"]]["name"] != "Petr Nepřišel"
    for document in kept.values():
        assert document["email"].endswith(ERASED_DOMAIN) and "note" not in document and document["organization"] == ""
        assert document["status"] == "confirmed"
    assert store.get_event(event["id"])["sessions"][0]["seats_left"] == seats
    assert store.by_certificate(kept[attended["id"]]["certificate_id"])["hours"] == 7.0


def test_votes_lose_their_address_once_the_results_are_out(mongo_client, db_name):
    store = PracticeStore(mongo_client, db_name)
    store.ensure_indexes()
    for competition, closed in (("closed", NOW), ("open", None)):
        store.add_competition({"id": competition, "closed_at": closed, "voting_closes_at": NOW})
        store.add_votes([{"id": f"{competition}-vote", "competition_id": competition, "practice": "kola",
                          "email": "volic@example.cz", "person": store.pseudonyms.person("volic@example.cz"),
                          "counted": True, "token_hash": uuid.uuid4().hex, "created_at": NOW, "confirmed_at": NOW}])
    worker_factory(PracticeService, store=store, rush=Rush(), config={}).retain(NOW)
    emails = {d["_id"]: d["email"] for d in store.votes.find()}
    assert emails["closed-vote"].endswith(ERASED_DOMAIN) and emails["open-vote"] == "volic@example.cz"
    assert store.counts("closed") == {"kola": 1}
    assert store.counted_vote_exists("closed", store.pseudonyms.person("Volic@example.cz"))


def test_rejected_applications_lose_their_contact_after_six_months(members_store):
    service = worker_factory(MembersService, store=members_store, config={})
    applications = [factories.application(), factories.application()]
    with patch("services.members.service.utcnow", return_value=NOW):
        rejected, pending = (service.apply(application) for application in applications)
        service.reject_application(rejected["id"], {"reason": "Mimo síť."})
    service.retain(NOW + timedelta(days=100))
    assert members_store.get_application(rejected["id"])["contact"] == applications[0]["contact"]
    service.retain(NOW + timedelta(days=200))
    assert members_store.get_application(rejected["id"])["contact"]["email"].endswith(ERASED_DOMAIN)
    assert not members_store.get_application(pending["id"])["contact"]["email"].endswith(ERASED_DOMAIN)


def test_old_dead_letters_are_discarded_and_recent_ones_kept(service_config):
    topology = Topology(Settings.from_env(service_config))
    with Connection(topology.amqp_uri) as connection:
        channel = connection.channel()
        topology.declare_subscription(connection, NOTIFY_MAILS)
        producer = connection.Producer(channel)
        old, recent = f"old-{uuid.uuid4().hex[:6]}", f"recent-{uuid.uuid4().hex[:6]}"
        for event_id, failed_at in ((old, NOW - timedelta(days=40)), (recent, NOW - timedelta(days=2))):
            producer.publish(json.dumps({"event_id": event_id, "event_type": "vote_requested"}),
                             routing_key=topology.dead_queue(NOTIFY_MAILS).name, exchange="",
                             headers={messaging.FAILED_AT: failed_at.isoformat(), messaging.ATTEMPTS: 4})
        channel.close()
    assert discard_dead_letters(topology, [NOTIFY_MAILS.queue], NOW - timedelta(days=30)) == 1
    kept = {letter["event_id"] for letter in list_dead_letters(topology, NOTIFY_MAILS.queue)}
    assert recent in kept and old not in kept  # and other tests' letters, failed just now, stay too
    assert discard_dead_letters(topology, [NOTIFY_MAILS.queue], mentioning=recent) == 1  # leaves the queue as it was
