"""A mail nobody can deliver: retried on the real queue for about nine hours, then kept as failed.

The notify service runs through `worker_factory` on a real SecantusDB queue and its real SMTP
mailer aimed at a closed port; a test clock jumps to each retry time the queue stores, so the
whole schedule is walked in seconds and measured from what was stored, not from the code's constants.
"""
import uuid
from datetime import timedelta
from unittest.mock import patch

import pytest
from nameko.testing.services import worker_factory

from nszm.batches import Batches
from nszm.contracts import bus
from ops import embedded
from services.notify.mail import domain
from services.notify.mail.mailer import Mailer, SmtpTransport
from services.notify.service import NotifyService
from tests.event_factories import NOW
from tests.unit.test_notify_domain import details, registration_event

STATED_DURATION = timedelta(hours=9)  # the README: "retried … for about nine hours"
SENDER = "NSZM ČR <info@zdravamesta.cz>"


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    clock = Clock(NOW)
    with patch("services.notify.mail.service.utcnow", clock), patch("services.notify.mail.storage.utcnow", clock):
        yield clock


def test_an_undeliverable_mail_is_retried_for_about_nine_hours_then_kept_as_failed(notify_store, clock, smtp_sink):
    closed = SmtpTransport(f"smtp://127.0.0.1:{embedded.free_port()}")
    service = worker_factory(NotifyService, store=notify_store, asked_together=Batches(), mailer=Mailer(closed, SENDER))
    envelope = registration_event(bus.REGISTRATION_CONFIRMED)
    address = f"nedorucitelna-{uuid.uuid4().hex[:6]}@example.cz"
    service.events.mail_details.side_effect = lambda ids: {i: {**details(), "email": address} for i in ids}
    mail_id = envelope["event_id"]

    service.on_mail_event(envelope)
    attempts_at = [clock.now]
    while (mail := notify_store.get(mail_id))["status"] == "pending":
        assert mail["attempts"] == len(attempts_at) and "ConnectionRefusedError" in mail["last_error"]
        clock.now = mail["next_attempt_at"]
        service.deliver_due_mail()
        attempts_at.append(clock.now)
        assert len(attempts_at) <= 100, "never gave up"

    assert mail["status"] == "failed" and mail["attempts"] == len(attempts_at) == domain.MAX_ATTEMPTS
    retried_for = attempts_at[-1] - attempts_at[0]
    assert abs(retried_for - STATED_DURATION) <= timedelta(minutes=30), retried_for
    gaps = [later - earlier for earlier, later in zip(attempts_at, attempts_at[1:])]
    assert gaps == sorted(gaps) and gaps[0] == timedelta(seconds=2) and max(gaps) == timedelta(hours=1)

    clock.now += timedelta(days=2)  # given up means given up: no timer sends it again
    service.deliver_due_mail()
    assert notify_store.get(mail_id)["attempts"] == domain.MAX_ATTEMPTS
    failed = service.list_mails({"status": "failed", "to": address})
    assert failed["total"] == 1 and failed["items"][0]["last_error"].startswith("ConnectionRefusedError")

    service.mailer = Mailer(SmtpTransport(smtp_sink.url), SENDER)  # the server is fixed; staff send it again
    assert service.retry_mail(mail_id)["status"] == "sent"
    [message] = smtp_sink.messages(to=address)
    assert message["Message-ID"] == f"<{mail_id}@zdravamesta.cz>"
