"""The suppression list's rules and the reading of what comes back: real bounce formats (RFC 3464's
examples, Postfix, Exim), RFC 5965 complaints, auto-replies, and mail that is no report at all."""
from datetime import datetime, timedelta, timezone

import pytest

from nszm.rules import Refused
from services.notify.suppression import domain, reports
from tests.bounce_samples import BOUNCES, NOT_COUNTED, SOFT, sample

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)
TOKEN = "0123456789abcdef0123"


def counted(name: str, recipient: str = "jana@example.cz") -> dict | None:
    report = reports.read(sample(name, TOKEN, recipient, "<mailout-m1-abc@zdravamesta.cz>"))
    return domain.failure_for(domain.candidates(report), recipient)


@pytest.mark.parametrize("name", BOUNCES)
def test_hard_bounces_in_every_format_name_their_message_and_recipient(name):
    report = reports.read(sample(name, TOKEN, "jana@example.cz", "<mailout-m1-abc@zdravamesta.cz>"))
    assert report.tokens[0] == TOKEN
    assert report.message_ids == ("<mailout-m1-abc@zdravamesta.cz>",)
    failure = domain.failure_for(domain.candidates(report), "jana@example.cz")
    assert failure["kind"] == domain.HARD and failure["address"] == "jana@example.cz"


def test_the_status_and_the_servers_words_are_kept():
    failure = counted("postfix-user-unknown")
    assert failure["status"] == "5.1.1"
    assert failure["diagnostic"].startswith("550 5.1.1 <jana@example.cz>: Recipient address rejected: User unknown")


@pytest.mark.parametrize("name", SOFT)
def test_a_full_mailbox_and_a_temporary_failure_are_soft(name):
    assert counted(name)["kind"] == domain.SOFT


def test_an_arf_complaint_names_its_recipient_and_counts_at_once():
    report = reports.read(sample("rfc5965-complaint", TOKEN, "jana@example.cz", "<x@zdravamesta.cz>"))
    assert report.form == reports.ARF and report.feedback_type == "abuse" and TOKEN in report.tokens
    assert counted("rfc5965-complaint")["kind"] == domain.COMPLAINT
    assert counted("rfc5965-complaint")["address"] == "jana@example.cz"


@pytest.mark.parametrize("name", NOT_COUNTED)
def test_delays_auto_replies_and_peoples_answers_count_for_nothing(name):
    assert counted(name) is None


def test_auto_replies_are_recognised_as_such():
    for name in ("exchange-out-of-office", "vacation-reply"):
        assert reports.read(sample(name)).form == reports.AUTO_REPLY
    assert reports.read(sample("human-reply")).form == reports.NOT_A_REPORT


def test_of_a_multi_recipient_report_the_failure_of_our_recipient_counts():
    report = reports.read(sample("rfc3464-multi-recipient", TOKEN, "eva@example.cz"))
    found = domain.candidates(report)
    assert [f["address"] for f in found] == ["arathib@vnet.ibm.com", "eva@example.cz"]  # the delayed one is none
    assert domain.failure_for(found, "EVA@example.cz")["address"] == "eva@example.cz"


def test_a_report_is_known_by_its_own_message_id_or_its_content():
    assert reports.read(sample("postfix-user-unknown", TOKEN)).key == \
        f"<20261204110002.3B7F61A0123@mail.zdravamesta.cz> {TOKEN}"
    without_id = sample("human-reply").replace(b"Message-ID: <3f2a@obec-lhota.cz>\n", b"")
    assert reports.read(without_id).key.startswith("sha256:")


def test_the_return_path_carries_the_token():
    assert domain.return_path("bounces@zdravamesta.cz", TOKEN) == f"bounces+{TOKEN}@zdravamesta.cz"
    assert domain.return_path("bounces@zdravamesta.cz", None) == "bounces@zdravamesta.cz"
    assert domain.bounce_token() != domain.bounce_token() and len(domain.bounce_token()) == 20


def test_severity_by_action_status_and_code():
    assert domain.severity("failed", "5.1.1") == domain.HARD
    assert domain.severity("failed", "5.2.2") == domain.SOFT  # a full mailbox empties again
    assert domain.severity("failed", "4.4.7") == domain.SOFT
    assert domain.severity("delayed", "4.4.1") is None and domain.severity("delivered", "2.0.0") is None
    assert domain.severity("failed", None, 550) == domain.HARD and domain.severity("failed", None, 452) == domain.SOFT


@pytest.mark.parametrize("answer, kind", [
    ("SMTPRecipientsRefused: 550 5.1.1 No such mailbox here", domain.HARD),
    ("554 Transaction failed", domain.HARD),
    ("552 5.2.2 Mailbox full", domain.SOFT),
    ("552 Requested mail action aborted: exceeded storage allocation", domain.SOFT),
    ("550 5.2.2 mailbox over quota", domain.SOFT),
    ("refused", domain.HARD),
])
def test_a_refusal_while_sending_is_hard_unless_the_mailbox_is_full(answer, kind):
    assert domain.refused_while_sending(answer) == kind


def test_hard_bounces_and_complaints_suppress_at_once():
    assert domain.after_report(domain.HARD, None, NOW) == (domain.BOUNCED, None)
    assert domain.after_report(domain.COMPLAINT, None, NOW) == (domain.COMPLAINED, None)


def test_soft_bounces_suppress_at_the_threshold_and_fade_with_time():
    reason, score = domain.after_report(domain.SOFT, None, NOW)
    assert reason is None and score["score"] == 1.0
    reason, score = domain.after_report(domain.SOFT, score, NOW + timedelta(hours=1))
    assert reason is None
    reason, _ = domain.after_report(domain.SOFT, score, NOW + timedelta(hours=2))
    assert reason == domain.SOFT_BOUNCED  # three within hours
    spread, reason = None, None
    for week in range(6):  # one a week: each has half faded before the next
        reason, spread = domain.after_report(domain.SOFT, spread, NOW + week * domain.SOFT_HALF_LIFE)
        assert reason is None
    assert spread["score"] < 2.0
    naive = {"score": 2.0, "at": NOW.replace(tzinfo=None)}  # as a database may return it
    assert domain.faded(naive, NOW + domain.SOFT_HALF_LIFE) == pytest.approx(1.0)


def test_the_list_stops_bulk_mail_always_and_other_mail_only_for_undeliverable_addresses():
    bounced = domain.suppression(domain.BOUNCED, NOW, "Jana@Example.cz", "550 user unknown")
    unsubscribed = domain.suppression(domain.UNSUBSCRIBED, NOW, "jana@example.cz")
    assert bounced["email"] == "jana@example.cz" and unsubscribed["email"] is None  # only the hash is kept
    assert domain.stops(bounced, None) and domain.stops(unsubscribed, None)
    assert domain.stops(bounced, "registration_reminded") and not domain.stops(unsubscribed, "registration_reminded")
    assert not domain.stops(bounced, "registration_confirmed")  # what the person asked for goes
    assert not domain.stops(None, None)


def test_an_undeliverable_reason_replaces_an_unsubscribe_and_nothing_replaces_the_first_otherwise():
    unsubscribed = domain.suppression(domain.UNSUBSCRIBED, NOW)
    assert domain.suppressed(unsubscribed, domain.BOUNCED, NOW, "jana@example.cz")["reason"] == domain.BOUNCED
    bounced = domain.suppression(domain.BOUNCED, NOW, "jana@example.cz")
    assert domain.suppressed(bounced, domain.UNSUBSCRIBED, NOW) is None
    assert domain.suppressed(bounced, domain.COMPLAINED, NOW) is None
    assert domain.suppressed(None, domain.ERASED, NOW)["reason"] == domain.ERASED


def test_staff_lift_anything_but_an_erasure():
    domain.check_lift(domain.suppression(domain.BOUNCED, NOW, "jana@example.cz"))
    with pytest.raises(Refused):
        domain.check_lift(domain.suppression(domain.ERASED, NOW))
    with pytest.raises(Refused):
        domain.check_lift(None)


def test_a_providers_word_decides_or_else_its_status():
    assert domain.failure_from_provider({"type": "complaint"})["kind"] == domain.COMPLAINT
    assert domain.failure_from_provider({"type": "bounce", "bounce_type": "soft"})["kind"] == domain.SOFT
    assert domain.failure_from_provider({"type": "bounce", "status": "5.1.1"})["kind"] == domain.HARD
    assert domain.failure_from_provider({"type": "bounce", "diagnostic": "452 try later"})["kind"] == domain.SOFT
