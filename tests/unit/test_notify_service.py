"""The notify service's handlers with a fake queue and mailer: one mail per event, retries, giving up."""
import pytest
from nameko.testing.services import worker_factory

from nszm.batches import Batches
from nszm.contracts import bus
from nszm.contracts.errors import Conflict, InvalidInput, NotFound
from services.notify.mail import domain
from services.notify.mail.mailer import Rejected
from services.notify.service import NotifyService
from tests.fakes import FakeMailer, FakeNotifyStore
from tests.unit.test_notify_domain import details, registration_event


@pytest.fixture
def store():
    return FakeNotifyStore()


def notify(store, mailer, asked_together=None):
    """The service; the events service answers for each registration's person as `details()`."""
    service = worker_factory(NotifyService, store=store, mailer=mailer, asked_together=asked_together or Batches())
    service.events.mail_details.side_effect = lambda ids: {registration_id: details() for registration_id in ids}
    return service


def test_an_event_delivered_twice_sends_one_mail(store):
    mailer = FakeMailer()
    service = notify(store, mailer)
    envelope = registration_event()
    service.on_mail_event(envelope)
    service.on_mail_event(envelope)
    assert [m["id"] for m in mailer.sent] == [envelope["event_id"]]
    assert store.mails[envelope["event_id"]]["status"] == "sent"


def test_a_failed_send_is_kept_for_a_retry(store):
    mailer = FakeMailer(failures=1)
    service = notify(store, mailer)
    envelope = registration_event(bus.REGISTRATION_WAITLISTED, statuses=("waitlisted",))
    service.on_mail_event(envelope)
    mail = store.mails[envelope["event_id"]]
    assert mail["status"] == "pending" and mail["attempts"] == 1 and "SMTP server down" in mail["last_error"]
    assert mail["retry_at"] is not None and mailer.sent == []


def test_a_recipient_refused_for_good_is_not_tried_again(store):
    service = notify(store, FakeMailer(refuse=Rejected("550 no such mailbox")))
    envelope = registration_event()
    service.on_mail_event(envelope)
    mail = store.mails[envelope["event_id"]]
    assert (mail["status"], mail["attempts"], mail["retry_at"]) == ("failed", 1, None)
    assert "550 no such mailbox" in mail["last_error"]


def exhausted(store):
    """A mail whose last allowed attempt has just failed; returns the service, mailer and event."""
    mailer = FakeMailer(failures=1)
    service = notify(store, mailer)
    envelope = registration_event()
    store.enqueue(domain.mail_for(bus.REGISTRATION_CONFIRMED, envelope, details()))
    store.mails[envelope["event_id"]]["attempts"] = domain.MAX_ATTEMPTS - 1
    service.deliver_due_mail()
    return service, mailer, envelope


def test_after_the_last_attempt_the_mail_is_marked_failed_not_dropped(store):
    _, _, envelope = exhausted(store)
    assert store.mails[envelope["event_id"]]["status"] == "failed"


def test_the_timer_delivers_what_is_due(store):
    mailer = FakeMailer()
    service = notify(store, mailer)
    for n in range(3):
        store.enqueue({**domain.mail_for(bus.REGISTRATION_CONFIRMED, registration_event(), details()), "id": f"m{n}"})
    service.deliver_due_mail()
    assert [m["id"] for m in mailer.sent] == ["m0", "m1", "m2"]


def test_a_malformed_event_raises_so_that_it_ends_among_the_dead_letters(store):
    mailer = FakeMailer()
    with pytest.raises(KeyError):
        notify(store, mailer).on_mail_event({"event_id": "x", "event_type": "registration_cancelled",
                                             "data": {"registration": {}}})
    assert store.mails == {} and mailer.sent == []


def test_attendance_without_a_certificate_mails_nobody(store):
    mailer = FakeMailer()
    envelope = {**registration_event(), "event_type": bus.ATTENDANCE_RECORDED.name}
    envelope["data"]["certificate_id"] = None
    service = notify(store, mailer)
    service.on_mail_event(envelope)
    assert mailer.sent == [] and not service.events.mail_details.called


def test_the_person_and_links_are_fetched_from_events_and_an_erased_person_gets_nothing(store):
    mailer = FakeMailer()
    service = notify(store, mailer)
    envelope = registration_event()
    service.on_mail_event(envelope)
    service.events.mail_details.assert_called_once_with(["r1"])
    [mail] = mailer.sent
    assert mail["to"] == "jana@example.cz" and "cancel?token=abc" in mail["text"]
    erased = notify(store, mailer)
    erased.events.mail_details.side_effect = lambda ids: {registration_id: None for registration_id in ids}
    erased.on_mail_event(registration_event())
    assert len(mailer.sent) == 1


def test_staff_see_the_queue_and_can_send_a_failed_mail_again(store):
    service, mailer, envelope = exhausted(store)
    failed = service.list_mails({"status": "failed"})
    assert failed["total"] == 1 and failed["items"][0]["last_error"].startswith("ConnectionRefusedError")
    retried = service.retry_mail(envelope["event_id"])
    assert retried["status"] == "sent" and [m["id"] for m in mailer.sent] == [envelope["event_id"]]
    with pytest.raises(Conflict):
        service.retry_mail(envelope["event_id"])
    with pytest.raises(NotFound):
        service.retry_mail("no-such-mail")
    with pytest.raises(InvalidInput):
        service.list_mails({"status": "lost"})


def test_workers_that_need_peoples_details_at_once_ask_events_together(store):
    import eventlet

    calls = []

    def slow_answer(ids):
        calls.append(list(ids))
        eventlet.sleep(0.05)  # while the first call is out, the others wait for the next one
        return {registration_id: details() for registration_id in ids}

    asked_together = Batches()  # one per service process, shared by its workers
    services = [notify(store, FakeMailer(), asked_together) for _ in range(8)]
    for service in services:
        service.events.mail_details.side_effect = slow_answer
    pool = eventlet.GreenPool()
    answers = list(pool.imap(lambda n: services[n]._registration_details(f"r{n}"), range(8)))
    assert all(answer["email"] == "jana@example.cz" for answer in answers)
    assert sorted(i for call in calls for i in call) == [f"r{n}" for n in range(8)] and len(calls) == 2
