"""Each service's privacy entrypoints with fake stores: its export, its erasure on `person_erased`
(once, audited), and its retention job with the clock moved forward, deleting what is due only."""
from datetime import timedelta
from unittest.mock import patch

from nameko.testing.services import worker_factory

from nszm.batches import Batches
from nszm.contracts import bus
from nszm.privacy import ERASED_DOMAIN
from nszm.rush import Rush
from services.members.service import MembersService
from services.notify.service import NotifyService
from services.practice.service import PracticeService
from tests.event_factories import NOW, event_payload, events_worker, registration_input
from tests.fakes import FakeEventsStore, FakeMailer, FakeMailoutStore, FakeMembersStore, FakePracticeStore

EMAIL = "Jana.Vymazana@example.cz"


def erased_event(store, email=EMAIL) -> dict:
    return bus.envelope(bus.PERSON_ERASED, {"erasure_id": "e1", "person": store.pseudonyms.person(email),
                                            "requested_at": NOW.isoformat()})


def test_events_exports_erases_once_and_pseudonymises_after_the_retention_period():
    store = FakeEventsStore()
    with events_worker(store) as service:
        event = service.create_event(event_payload(capacities=(5,)))
        service.publish_event(event["id"])
        mine = service.register(event["id"], registration_input(EMAIL, note="bez lepku"))
        other = service.register(event["id"], registration_input("petr@example.cz"))
        service.check_in(mine["id"])
        [exported] = service.personal_data({"email": "jana.vymazana+x@EXAMPLE.cz"})["sections"]["registrations"]
        assert exported["id"] == mine["id"] and exported["note"] == "bez lepku" and exported["consent"]["form"] == "api"

        service.retain(NOW)  # the event is still ahead: nothing is due
        assert all("expired_at" not in r for r in store.registrations.values())

        envelope = erased_event(store)
        service.on_person_erased(envelope)
        erased = store.registrations[mine["id"]]
        assert erased["email"].endswith(ERASED_DOMAIN) and "note" not in erased and erased["certificate_id"]
        assert store.registrations[other["id"]]["email"] == "petr@example.cz"
        assert service.erasure_status({"person": envelope["data"]["person"]})["service"] == "events"
        service.audit.record_in.assert_called_once()
        store.registrations[mine["id"]]["name"] = "changed after"  # a second delivery changes nothing
        service.on_person_erased(envelope)
        assert store.registrations[mine["id"]]["name"] == "changed after"

        later = NOW + timedelta(days=400)
        service.retain(later)
        assert store.registrations[other["id"]]["email"].endswith(ERASED_DOMAIN)
        assert store.registrations[other["id"]]["expired_at"] == later
        assert store.registrations[mine["id"]].get("expired_at") is None  # erased already: left as it was


def test_members_erase_the_contact_and_retention_drops_old_rejected_applications():
    store = FakeMembersStore()
    service = worker_factory(MembersService, store=store, config={})
    applied = service.apply({"name": "Obec Příkladov", "type": "municipality", "region": "Kraj Vysočina",
                             "ico": "00283924", "population": 800, "contact": {"name": "Jana", "email": EMAIL}})
    sections = service.personal_data({"email": EMAIL})["sections"]
    assert sections["applications"][0]["id"] == applied["id"] and sections["member_contacts"] == []
    [announced] = store.outbox.published + store.outbox.pending
    assert announced["data"]["contact_person"] == store.pseudonyms.person(EMAIL) and EMAIL not in str(announced)

    with patch("services.members.service.utcnow", return_value=NOW):
        service.reject_application(applied["id"], {"reason": "Mimo síť."})
    service.retain(NOW + timedelta(days=30))
    assert store.applications[applied["id"]]["contact"]["email"] == EMAIL
    service.retain(NOW + timedelta(days=200))
    assert store.applications[applied["id"]]["contact"]["email"].endswith(ERASED_DOMAIN)
    assert store.applications[applied["id"]]["name"] == "Obec Příkladov"


def test_practice_pseudonymises_votes_once_results_are_out_and_forgets_their_confirmation_requests():
    store = FakePracticeStore()
    store.add_competition({"id": "open", "closed_at": None})
    store.add_competition({"id": "closed", "closed_at": NOW})
    person = store.pseudonyms.person(EMAIL)
    for competition in ("open", "closed"):
        store.add_votes([{"id": competition, "competition_id": competition, "practice": "kola", "email": EMAIL,
                          "person": person, "counted": True, "created_at": NOW, "confirmed_at": NOW}])
    service = worker_factory(PracticeService, store=store, rush=Rush(), config={})
    assert len(service.personal_data({"email": EMAIL})["sections"]["votes"]) == 2
    service.retain(NOW)
    assert store.votes["closed"]["email"].endswith(ERASED_DOMAIN) and store.votes["open"]["email"] == EMAIL
    service.on_person_erased(erased_event(store))
    assert store.votes["open"]["email"].endswith(ERASED_DOMAIN) and store.votes["open"]["counted"] is True
    assert any(field == "data.email" and EMAIL in values for field, values in store.forgotten)


def test_notify_erases_its_records_holds_the_person_and_announces_the_erasure():
    store = FakeMailoutStore(subscribers=[{"id": EMAIL.lower(), "email": EMAIL, "name": "Jana", "status": "confirmed",
                                           "created_at": NOW, "confirmed_at": NOW}])
    service = worker_factory(NotifyService, store=store, asked_together=Batches(), mailer=FakeMailer(), config={})
    store.enqueue({"id": "m1", "kind": "registration_confirmed", "to": EMAIL, "to_name": "Jana", "subject": "Ahoj",
                   "text": "Dobrý den, Jano", "attachments": [], "created_at": NOW})
    store.mails["m1"]["status"] = "sent"
    sections = service.personal_data({"email": EMAIL})["sections"]
    assert [m["id"] for m in sections["mails"]] == ["m1"] and sections["subscriptions"][0]["status"] == "confirmed"

    with patch("services.notify.service.discard_dead_letters") as discard:  # the broker's part: integration tests
        erasure = service.erase_person({"email": EMAIL})
    assert discard.call_args.kwargs["mentioning"] == EMAIL
    person = store.pseudonyms.person(EMAIL)
    assert erasure["person"] == person and store.suppressions[person]["reason"] == "erased"
    assert store.subscribers == {} and "text" not in store.mails["m1"] and EMAIL not in str(store.mails)
    [announced] = [e for e in store.outbox.pending + store.outbox.published if e["event_type"] == "person_erased"]
    assert announced["data"]["erasure_id"] == erasure["id"] and announced["data"]["person"] == person
    assert service.erasure_status({"person": person})["service"] == "notify"


def test_notify_retention_drops_bodies_recipient_lists_unconfirmed_subscribers_and_old_deliveries():
    store = FakeMailoutStore(subscribers=[{"id": "p@example.cz", "email": "p@example.cz", "status": "pending",
                                           "mailed_at": NOW}])
    store.enqueue({"id": "old", "kind": "x", "to": EMAIL, "subject": "s", "text": "t", "attachments": [],
                   "created_at": NOW})
    store.mails["old"]["status"] = "sent"
    store.mailouts["m"] = {"id": "m", "status": "sent", "finished_at": NOW, "subject": "s"}
    store.recipients["m"] = [{"email": EMAIL, "status": "sent"}]
    service = worker_factory(NotifyService, store=store, asked_together=Batches(), mailer=FakeMailer(), config={})
    service.retain(NOW + timedelta(days=29))
    assert "text" in store.mails["old"] and store.recipients["m"] and store.subscribers
    service.retain(NOW + timedelta(days=31))
    assert "text" not in store.mails["old"] and store.mails["old"]["status"] == "sent"
    assert "m" not in store.recipients and store.subscribers == {}
