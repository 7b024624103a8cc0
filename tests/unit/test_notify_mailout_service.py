"""The notify service's mailout entrypoints with a fake store and mailer: audiences, the send loop,
refusals, pause and cancel, and the `mailout_finished` event."""
from datetime import datetime, timedelta, timezone

import pytest
from nameko.testing.services import worker_factory

from nszm.batches import Batches
from nszm.contracts.errors import Conflict, InvalidInput, NotFound
from services.notify.mailouts.service import SMTP_CONNECTIONS
from services.notify.service import NotifyService
from tests.fakes import FakeMailer, FakeMailoutStore

COORDINATORS = [{"email": "jana@chrudim.cz", "name": "Jana Nováková", "organization": "Chrudim"},
                {"email": "petr@kromeriz.cz", "name": "Petr Malý", "organization": "Kroměříž"}]
PARTICIPANTS = [{"email": "JANA@chrudim.cz", "name": "Jana N.", "organization": "Chrudim"},
                {"email": "eva@example.cz", "name": "Eva Dlouhá", "organization": "Spolek"}]
SUBSCRIBERS = [{"id": "zpravodaj@example.cz", "email": "zpravodaj@example.cz", "name": None, "status": "confirmed"}]
EVERYONE = {"members": {"region": ["Pardubický kraj"]}, "event": {"id": "skola"}, "newsletter": True}


@pytest.fixture
def store():
    return FakeMailoutStore(subscribers=SUBSCRIBERS)


@pytest.fixture
def mailer():
    return FakeMailer(refused={"eva@example.cz"})


@pytest.fixture
def service(store, mailer):
    worker = worker_factory(NotifyService, store=store, asked_together=Batches(), mailer=mailer,
                            config={"PUBLIC_URL": "https://api.example.cz", "MAILOUT_RATE": 0})
    worker.members.mailing_contacts.return_value = COORDINATORS
    worker.events.participants.return_value = PARTICIPANTS
    return worker


def draft(service, audience=EVERYONE, body="Dobrý den, {{ name }} ({{ organization }})."):
    return service.create_mailout({"subject": "Pozvánka", "body": body, "audience": audience})


def published_types(service):
    return [call.args[0] for call in service.dispatch.call_args_list]


def run_until_done(service, store, mailout_id, ticks=5):
    for _ in range(ticks):
        service.run_mailouts()
        if store.mailouts[mailout_id]["status"] not in ("scheduled", "sending"):
            return service.get_mailout(mailout_id)
    raise AssertionError(f"still {store.mailouts[mailout_id]['status']} after {ticks} ticks")


def test_the_audience_is_a_union_asked_of_the_services_that_know_the_people(service):
    created = draft(service)
    assert (created["status"], created["recipients"]) == ("draft", 4)
    service.members.mailing_contacts.assert_called_with({"type": [], "region": ["Pardubický kraj"],
                                                         "roles": ["coordinator"]})
    service.events.participants.assert_called_with({"id": "skola", "status": ["confirmed"]})
    assert service.audience_count({"newsletter": True}) == {"recipients": 1, "held": 0}


@pytest.mark.parametrize("payload, field", [
    ({"subject": "Ahoj", "body": "{{ ''.__class__ }}", "audience": {"newsletter": True}}, "body"),
    ({"subject": "Ahoj", "body": "{% for %}", "audience": {"newsletter": True}}, "body"),
    ({"subject": "Ahoj", "body": "Text", "audience": {}}, "audience"),
    ({"subject": "", "body": "Text", "audience": {"newsletter": True}}, "subject"),
])
def test_bad_templates_and_empty_audiences_are_named(service, payload, field):
    with pytest.raises(InvalidInput) as error:
        service.create_mailout(payload)
    assert field in error.value.errors


def test_an_unknown_event_in_the_audience_is_named(service):
    service.events.participants.side_effect = NotFound("No event 'x'.")
    with pytest.raises(InvalidInput) as error:
        draft(service, {"event": {"id": "x"}})
    assert "audience.event.id" in error.value.errors


def test_sending_reaches_each_address_once_and_announces_the_end(service, store, mailer):
    created = draft(service)
    assert service.send_mailout(created["id"])["status"] == "scheduled"
    with pytest.raises(Conflict):
        service.send_mailout(created["id"])
    done = run_until_done(service, store, created["id"])
    assert (done["status"], done["sent"], done["failed"], done["skipped"]) == ("sent", 3, 1, 0)
    assert sorted(m["to"] for m in mailer.sent) == ["jana@chrudim.cz", "petr@kromeriz.cz", "zpravodaj@example.cz"]
    assert len({m["message_id"] for m in mailer.sent}) == 3 and mailer.sessions == SMTP_CONNECTIONS  # not one per message
    assert all(m["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" for m in mailer.sent)
    assert "Dobrý den, Jana Nováková (Chrudim)." in mailer.sent[0]["text"]
    assert published_types(service) == ["mailout_finished"]
    failed = service.list_recipients(created["id"], {"status": "failed"})["items"]
    assert [(r["email"], r["attempts"]) for r in failed] == [("eva@example.cz", 1)]
    assert "550" in failed[0]["last_error"]


def test_a_refused_address_is_held_and_skipped_by_the_next_mailout(service, store, mailer):
    first = draft(service)
    service.send_mailout(first["id"])
    run_until_done(service, store, first["id"])
    assert service.audience_count(EVERYONE) == {"recipients": 3, "held": 1}
    second = draft(service)
    service.send_mailout(second["id"])
    done = run_until_done(service, store, second["id"])
    assert (done["sent"], done["skipped"], done["failed"]) == (3, 1, 0)
    assert [m["to"] for m in mailer.sent].count("eva@example.cz") == 0


def test_pause_holds_sending_resume_goes_on_and_cancel_is_final(service, store, mailer):
    created = draft(service)
    service.send_mailout(created["id"])
    assert service.pause_mailout(created["id"])["status"] == "paused"
    service.run_mailouts()
    assert mailer.sent == []
    with pytest.raises(Conflict):
        service.pause_mailout(created["id"])
    service.resume_mailout(created["id"])
    assert run_until_done(service, store, created["id"])["status"] == "sent"
    other = draft(service)
    assert service.cancel_mailout(other["id"])["status"] == "cancelled"
    with pytest.raises(Conflict):
        service.send_mailout(other["id"])
    assert published_types(service) == ["mailout_finished", "mailout_finished"]


def test_a_scheduled_mailout_waits_for_its_time(service, store, mailer):
    created = draft(service)
    later = datetime.now(timezone.utc) + timedelta(hours=2)
    assert service.send_mailout(created["id"], {"at": later.isoformat()})["status"] == "scheduled"
    service.run_mailouts()
    assert store.mailouts[created["id"]]["status"] == "scheduled" and mailer.sent == []


def test_a_mailout_another_sender_is_starting_is_left_to_it_until_its_lease_ends(service, store, mailer):
    created = draft(service)
    service.send_mailout(created["id"])
    held = store.claim_start(created["id"])  # another process is freezing the audience
    service.events.participants.reset_mock()
    service.run_mailouts()
    assert store.mailouts[created["id"]]["status"] == "scheduled" and created["id"] not in store.recipients
    assert mailer.sent == [] and not service.events.participants.called
    store.mailouts[created["id"]]["start_lease"] = held - timedelta(minutes=5)  # and died doing it
    assert run_until_done(service, store, created["id"])["sent"] == 3


def test_with_a_rate_a_mailout_another_process_is_sending_is_left_to_it(store, mailer):
    paced = worker_factory(NotifyService, store=store, asked_together=Batches(), mailer=mailer,
                           config={"PUBLIC_URL": "https://api.example.cz", "MAILOUT_RATE": 100})
    paced.members.mailing_contacts.return_value = COORDINATORS
    paced.events.participants.return_value = PARTICIPANTS
    created = draft(paced)
    paced.send_mailout(created["id"])
    held = store.claim_sending(created["id"])  # another notify process is sending it
    paced.run_mailouts()
    assert store.mailouts[created["id"]]["status"] == "sending" and mailer.sent == []  # started, not sent
    store.release_sending(created["id"], held)
    assert run_until_done(paced, store, created["id"])["sent"] == 3
    assert store.senders == {}  # given up after each burst


def test_preview_and_test_send_use_a_real_recipient(service, store, mailer):
    created = draft(service)
    preview = service.preview(created["id"], {"email": "petr@kromeriz.cz"})
    assert preview["to"] == "petr@kromeriz.cz" and "Petr Malý (Kroměříž)" in preview["text"]
    with pytest.raises(NotFound):
        service.preview(created["id"], {"email": "nikdo@example.cz"})
    copy = service.test_send(created["id"], {"email": "redakce@zdravamesta.cz"})
    assert copy["status"] == "sent" and mailer.sent[-1]["subject"] == "[TEST] Pozvánka"
    with pytest.raises(NotFound):
        service.get_mailout("neni")


def test_unsubscribing_holds_the_address_and_confirming_again_lifts_the_hold(service, store, mailer):
    service.subscribe({"email": "Nova@Example.cz", "name": "Nová"})
    token = mailer.sent[-1]["text"].split("token=")[1].split()[0]
    assert service.confirm_subscription(token)["status"] == "subscribed"
    with pytest.raises(NotFound):
        service.confirm_subscription(token)  # used already
    unsubscribe = service._unsubscribe_url("nova@example.cz").split("token=")[1]
    assert service.unsubscribe(unsubscribe)["status"] == "unsubscribed"
    entry = store.suppressions[store.pseudonyms.person("nova@example.cz")]
    assert entry["reason"] == "unsubscribed" and entry["email"] is None  # the hash, not the address
    assert "nova@example.cz" not in store.subscribers
    service.subscribe({"email": "nova@example.cz"})
    service.confirm_subscription(mailer.sent[-1]["text"].split("token=")[1].split()[0])
    assert store.suppressions == {} and store.subscribers["nova@example.cz"]["status"] == "confirmed"
    announced = [event["event_type"] for event in store.outbox.published + store.outbox.pending]
    assert announced == ["newsletter_subscribed", "newsletter_unsubscribed", "newsletter_subscribed"]


def test_a_pause_stops_the_sending_inside_a_lease_and_resuming_sends_the_rest_once(service, store, mailer,
                                                                                  monkeypatch):
    monkeypatch.setattr("services.notify.mailouts.service.STATUS_CHECK_SECONDS", 0)  # every message looks
    created = draft(service, audience={"newsletter": True})
    store.subscribers.update({f"odberatel{n}@example.cz": {"id": f"odberatel{n}@example.cz", "name": None,
                                                          "email": f"odberatel{n}@example.cz", "status": "confirmed"}
                              for n in range(40)})
    service.send_mailout(created["id"])
    send = mailer.send

    def pause_after_the_third(mail, session=None):
        send(mail, session)
        if len(mailer.sent) == 3:
            service.pause_mailout(created["id"])

    mailer.send = pause_after_the_third
    service.run_mailouts()
    assert store.mailouts[created["id"]]["status"] == "paused"
    assert 3 <= len(mailer.sent) <= 3 + SMTP_CONNECTIONS  # only those already handed to a connection
    service.resume_mailout(created["id"])
    assert run_until_done(service, store, created["id"])["sent"] == 41
    assert sorted(m["to"] for m in mailer.sent) == sorted({m["to"] for m in mailer.sent})
