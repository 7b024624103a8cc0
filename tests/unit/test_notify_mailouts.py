"""Rules of mailouts and the newsletter (notify's domain), and the sent log's bound."""
from datetime import datetime, timedelta, timezone

import eventlet
import pytest

from nszm.rules import Refused, RuleBroken
from services.notify.mail import domain as mail_domain
from services.notify.mailouts import domain as mailouts_domain
from services.notify.mailouts.sentlog import SentLog
from services.notify.newsletter import domain as newsletter_domain

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
UNSUBSCRIBE = "https://api.example.cz/api/v1/unsubscribe?token=abc"


def draft(body="Dobrý den, {{ name }}.", subject="Pozvánka pro {{ organization }}", format="markdown"):
    return mailouts_domain.new_mailout({"subject": subject, "body": body, "format": format,
                               "audience": {"newsletter": True}}, NOW)


def person(email, name="Jana Nováková", organization="Město Chrudim"):
    return {"email": email, "name": name, "organization": organization}


@pytest.mark.parametrize("field, source, message", [
    ("body", "{{ name }", "Template error on line 1"),
    ("body", "{{ ''.__class__.__mro__ }}", "'Getattr' is not allowed"),
    ("body", "{{ cycler.__init__.__globals__ }}", "'Getattr' is not allowed"),
    ("body", "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
     "'For' is not allowed"),
    ("body", "{{ name * 100000000 }}", "'Mul' is not allowed"),
    ("subject", "{{ name|center(1000000000) }}", "The filter 'center' is not allowed"),
    ("body", "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "'Macro' is not allowed"),
    ("body", "{{ range(10) }}", "'Call' is not allowed"),
    ("body", "Dobrý den, {{ jmeno }}", "placeholders are name, organization, email, unsubscribe_url"),
    ("body", "{{ 1 / 0 }}", "'Div' is not allowed"),
    ("subject", "{% if %}", "Template error"),
])
def test_templates_that_do_not_compile_or_reach_outside_the_sandbox_are_refused(field, source, message):
    sources = {"subject": "Pozvánka", "body": "Dobrý den", field: source}
    with pytest.raises(RuleBroken) as refused:
        mailouts_domain.check_templates(sources["subject"], sources["body"])
    assert refused.value.field == field and message in refused.value.message


def test_the_audience_is_a_union_by_address_without_held_addresses():
    members = [person("Jana@Example.cz"), person("petr@example.cz", "Petr")]
    newsletter = [person("jana@example.cz", "Jana z newsletteru", None), person("eva@example.cz", "Eva", None)]
    deliver, skipped = mailouts_domain.recipients([members, newsletter], {"petr@example.cz": "bounced"})
    assert [(p["key"], p["name"]) for p in deliver] == [("jana@example.cz", "Jana Nováková"),
                                                        ("eva@example.cz", "Eva")]
    assert [(p["email"], p["skip_reason"]) for p in skipped] == [("petr@example.cz", "bounced")]
    with pytest.raises(Refused):
        mailouts_domain.ensure_recipients([])


def test_a_mailout_is_sent_once_and_moves_only_along_its_states():
    mailout = draft()
    scheduled = mailouts_domain.scheduled(mailout, NOW + timedelta(hours=2), NOW)
    assert scheduled["status"] == "scheduled" and scheduled["scheduled_at"] == NOW + timedelta(hours=2)
    assert mailouts_domain.scheduled(mailout, NOW - timedelta(hours=2), NOW)["scheduled_at"] == NOW
    with pytest.raises(Refused):
        mailouts_domain.scheduled(scheduled, None, NOW)
    assert not mailouts_domain.is_time_to_start(scheduled, NOW) and mailouts_domain.is_time_to_start(scheduled, NOW + timedelta(hours=3))
    assert mailouts_domain.resumed(mailouts_domain.paused(scheduled))["status"] == "scheduled"
    sending = mailouts_domain.started(scheduled, deliver=8, skipped=2, now=NOW)
    assert mailouts_domain.resumed(mailouts_domain.paused(sending))["status"] == "sending"
    with pytest.raises(Refused):
        mailouts_domain.resumed(sending)
    cancelled = mailouts_domain.cancelled(sending, NOW)
    for change in (mailouts_domain.paused, lambda m: mailouts_domain.cancelled(m, NOW), lambda m: mailouts_domain.edited_mailout(m, {})):
        with pytest.raises(Refused):
            change(cancelled)


def test_progress_and_the_end_of_sending():
    sending = mailouts_domain.started(mailouts_domain.scheduled(draft(), None, NOW), deliver=8, skipped=2, now=NOW)
    assert mailouts_domain.progress(sending) == {"sent": 0, "failed": 0, "skipped": 2, "queued": 8, "bounced": 0,
                                                 "recipients": 10}
    assert mailouts_domain.finished(sending, {"sent": 7, "queued": 1, "skipped": 2}, NOW) is None
    # sent + failed + skipped short of the total (a recipient not accounted for): not finished
    assert mailouts_domain.finished(sending, {"sent": 6, "failed": 1, "skipped": 2}, NOW) is None
    done = mailouts_domain.finished(sending, {"sent": 5, "bounced": 2, "failed": 1, "skipped": 2}, NOW)
    assert done["status"] == "sent" and mailouts_domain.progress(done) == {
        "sent": 7, "bounced": 2, "failed": 1, "skipped": 2, "queued": 0, "recipients": 10}
    announced = mailouts_domain.mailout_finished(done, {"sent": 5, "bounced": 2, "failed": 1, "skipped": 2})
    assert announced["event_type"] == "mailout_finished" and announced["data"]["total"] == 10
    assert announced["data"]["sent"] == 7


def test_only_a_sent_mailout_with_failures_is_retried_and_only_its_failed_count_starts_again():
    sending = mailouts_domain.started(mailouts_domain.scheduled(draft(), None, NOW), deliver=8, skipped=2, now=NOW)
    with pytest.raises(Refused):
        mailouts_domain.retried(sending, {"sent": 8, "skipped": 2})
    done = mailouts_domain.finished(sending, {"sent": 6, "failed": 2, "skipped": 2}, NOW)
    with pytest.raises(Refused) as nothing:
        mailouts_domain.retried(done, {"sent": 8, "skipped": 2})
    assert nothing.value.code == "nothing_failed"
    again = mailouts_domain.retried(done, {"sent": 6, "failed": 2, "skipped": 2})
    assert again["status"] == "sending" and again["finished_at"] is None
    assert mailouts_domain.progress(again) == {"sent": 6, "bounced": 0, "failed": 0, "skipped": 2, "queued": 2,
                                               "recipients": 10}


def test_each_recipient_gets_one_message_with_a_stable_id_and_the_one_click_headers():
    mailout = draft(body="Dobrý den, {{ name }},\n\nzveme **{{ organization }}**.")
    jana = {**person("jana@example.cz"), "key": "jana@example.cz"}
    message = mailouts_domain.bulk_message(mailout, jana, UNSUBSCRIBE)
    assert message["subject"] == "Pozvánka pro Město Chrudim"
    assert message["headers"]["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert message["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["text"].endswith(UNSUBSCRIBE + "\n")  # the template has no link: one is added
    assert "<strong>Město Chrudim</strong>" in message["html"]
    assert message["message_id"] == mailouts_domain.bulk_message(mailout, jana, "https://other")["message_id"]
    eva = {**person("eva@example.cz"), "key": "eva@example.cz"}
    assert message["message_id"] != mailouts_domain.bulk_message(mailout, eva, UNSUBSCRIBE)["message_id"]
    own_link = draft(body="Odhlásit: {{ unsubscribe_url }}", format="text")
    plain = mailouts_domain.bulk_message(own_link, jana, UNSUBSCRIBE)
    assert plain["text"].count(UNSUBSCRIBE) == 1 and plain["html"] is None


def test_the_unsubscribe_address_and_typed_addresses_are_links_in_the_html_part():
    mailout = draft(body="Program najdete na https://www.zdravamesta.cz/skola-2031 nebo na www.zdravamesta.cz.")
    message = mailouts_domain.bulk_message(mailout, {**person("jana@example.cz"), "key": "jana@example.cz"}, UNSUBSCRIBE)
    assert f'<a href="{UNSUBSCRIBE}">{UNSUBSCRIBE}</a>' in message["html"]
    assert '<a href="https://www.zdravamesta.cz/skola-2031">' in message["html"]
    assert '<a href="http://www.zdravamesta.cz">www.zdravamesta.cz</a>' in message["html"]
    assert "<a " not in message["text"] and message["text"].endswith(UNSUBSCRIBE + "\n")


def test_markup_in_placeholders_never_becomes_html():
    mailout = draft(body="Dobrý den, {{ name }}.")
    message = mailouts_domain.bulk_message(mailout, {**person("x@example.cz", name="<script>alert(1)</script>"),
                                            "key": "x@example.cz"}, UNSUBSCRIBE)
    assert "<script>" not in message["html"] and "&lt;script&gt;" in message["html"]


def test_markdown_and_links_in_placeholders_are_plain_text_in_the_html_part():
    mailout = draft(body="Dobrý den, {{ name }} z {{ organization|upper }}.\n\n[Program](https://www.zdravamesta.cz/program)")
    phishing = {**person("x@example.cz", name="[Ověřte účet](https://phish.example.com/login)",
                         organization="**www.phish.example.com** `kód`"), "key": "x@example.cz"}
    html = mailouts_domain.bulk_message(mailout, phishing, UNSUBSCRIBE)["html"]
    assert "phish.example.com/login\"" not in html and 'href="https://phish' not in html
    assert 'href="http://www.phish' not in html.lower() and "<strong>" not in html and "<code>" not in html
    assert "[Ověřte účet](https://phish.example.com/login)" in html
    assert "**WWW.PHISH.EXAMPLE.COM** `KÓD`" in html
    assert '<a href="https://www.zdravamesta.cz/program">Program</a>' in html  # the template's own link stays
    assert f'<a href="{UNSUBSCRIBE}">' in html


def test_a_rendering_past_its_budget_is_refused():
    mailout = draft(body="{{ name }}" * 100)
    long_name = {**person("x@example.cz", name="N" * 5000), "key": "x@example.cz"}
    with pytest.raises(mailouts_domain.TemplateBudgetExceeded):
        mailouts_domain.bulk_message(mailout, long_name, UNSUBSCRIBE)
    assert mailouts_domain.bulk_message(mailout, {**person("y@example.cz"), "key": "y@example.cz"}, UNSUBSCRIBE)["text"]


def test_a_permanent_refusal_fails_at_once_and_temporary_ones_are_retried():
    assert mailouts_domain.after_failure(1, rejected=True, now=NOW) == ("failed", None)
    status, retry_at = mailouts_domain.after_failure(1, rejected=False, now=NOW)
    assert status == "queued" and retry_at == NOW + timedelta(seconds=2)
    assert mailouts_domain.after_failure(mail_domain.MAX_ATTEMPTS, rejected=False, now=NOW) == ("failed", None)
    later = NOW + timedelta(minutes=5)
    assert mailouts_domain.range_revisit([("sent", None), ("queued", later), ("queued", NOW + timedelta(hours=1))]) == later
    assert mailouts_domain.range_revisit([("sent", None), ("failed", None)]) is None
    assert mailouts_domain.tally([("sent", None), ("sent", None), ("failed", None), ("queued", later),
                                  ("skipped", None)]) == {"sent": 2, "failed": 1, "skipped": 1}
    assert mailouts_domain.send_interval(0) == 0 and mailouts_domain.send_interval(20) == 0.05


def test_a_newsletter_confirmation_expires_after_a_week():
    subscriber, token = newsletter_domain.subscription_requested(None, "jana@example.cz", "Jana", NOW)
    assert token and newsletter_domain.subscription_confirmed(subscriber, NOW + timedelta(days=6))["status"] == "confirmed"
    with pytest.raises(Refused, match="expired"):
        newsletter_domain.subscription_confirmed(subscriber, NOW + newsletter_domain.CONFIRMATION_VALIDITY + timedelta(minutes=1))
    naive = {**subscriber, "mailed_at": subscriber["mailed_at"].replace(tzinfo=None)}  # as a database may return it
    with pytest.raises(Refused, match="expired"):
        newsletter_domain.subscription_confirmed(naive, NOW + timedelta(days=8))


def test_double_opt_in_never_floods_an_address():
    subscriber, token = newsletter_domain.subscription_requested(None, " Jana@Example.cz ", "Jana", NOW)
    assert subscriber["id"] == "jana@example.cz" and subscriber["status"] == "pending" and token
    assert subscriber["token_hash"] != token
    assert newsletter_domain.subscription_requested(subscriber, "jana@example.cz", None, NOW + timedelta(minutes=5)) == (
        None, None)
    again, new_token = newsletter_domain.subscription_requested(subscriber, "jana@example.cz", None, NOW + timedelta(hours=1))
    assert again["name"] == "Jana" and new_token != token
    confirmed = newsletter_domain.subscription_confirmed(again, NOW)
    assert confirmed["status"] == "confirmed" and confirmed["token_hash"] is None
    with pytest.raises(Refused):
        newsletter_domain.subscription_confirmed(confirmed, NOW)
    assert newsletter_domain.subscription_requested(confirmed, "jana@example.cz", None, NOW) == (None, None)
    # unsubscribing deletes the subscriber (its hold keeps the address unsubscribed): a new start
    assert newsletter_domain.subscription_requested(None, "jana@example.cz", None, NOW)[0]["status"] == "pending"


def sent(log: SentLog, recipient_id: str):
    log.reserve()
    log.add(recipient_id, f"<{recipient_id}>")


def test_the_sent_log_never_has_more_than_its_limit_being_sent_or_unrecorded():
    recorded, gate = [], eventlet.event.Event()

    def slow_record(batch):
        gate.wait()
        recorded.extend(batch)

    log = SentLog(slow_record, limit=3)
    sent(log, "r1")
    sent(log, "r2")
    log.reserve()  # the third place: a message on its way to the SMTP server
    fourth = eventlet.spawn(sent, log, "r4")
    eventlet.sleep(0.01)
    assert not fourth.dead and log.unrecorded == 2  # the fourth waits: two unrecorded and one being sent
    log.release()  # the third was not accepted: its place is free
    fourth.wait()
    assert not recorded  # nothing recorded yet: the fourth took the freed place
    gate.send()
    log.close()
    assert [r for r, _, _ in recorded] == ["r1", "r2", "r4"] and log.unrecorded == 0


def test_a_failed_record_stops_the_sender():
    def broken(batch):
        raise ConnectionError("database down")

    log = SentLog(broken, limit=2)
    sent(log, "r1")
    sent(log, "r2")
    with pytest.raises(ConnectionError):
        log.reserve()  # waits for a place; the record failed meanwhile


def test_after_a_failed_record_closing_gives_up_the_unrecorded_instead_of_waiting_forever():
    calls = []

    def broken(batch):
        calls.append(batch)
        raise ConnectionError("database down")

    log = SentLog(broken, limit=2)
    sent(log, "r1")
    sent(log, "r2")
    with pytest.raises(ConnectionError):
        log.reserve()
    closing = eventlet.spawn(log.close)  # what the sender's `finally` does after the failure
    with eventlet.Timeout(2):
        closing.wait()
    assert log.unrecorded == 0 and len(calls) == 1  # left queued in the database: sent again, within the bound
