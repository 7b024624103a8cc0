"""Bounces end to end with a real SMTP server, a real bounce Maildir and SecantusDB: a mailout of
1,000 with 30 bounces in Postfix's, Exim's and RFC 3464's formats suppresses exactly those 30
(auto-replies, a delay warning, a person's answer and a forged bounce stay in the mailbox,
uncounted), the next mailout skips them; soft bounces add up, complaints and send-time 5xx
suppress at once; mail the person asked for still goes."""
import itertools
import mailbox
import uuid

import pytest
from nameko.testing.services import worker_factory

from nszm import addresses
from nszm.batches import Batches
from nszm.config import Settings
from services.notify.mail.mailer import Mailer, SmtpTransport
from services.notify.service import NotifyService
from services.notify.suppression.mailbox import MaildirInbox
from tests import bounce_samples
from tests.integration.test_mailout_crash import add_subscribers
from tests.waiting import wait_until

SENDER = "Národní síť Zdravých měst ČR <info@zdravamesta.cz>"
HARD_FORMATS = ("postfix-user-unknown", "exim-dsn", "exim-plain", "rfc3464-multi-recipient")
LEFT_ALONE = ("exchange-out-of-office", "vacation-reply", "postfix-delayed", "human-reply")


@pytest.fixture
def inbox(tmp_path):
    return tmp_path / "bounces"


@pytest.fixture
def service(notify_store, smtp_sink, inbox):
    config = {"MAILOUT_RATE": "0", "PUBLIC_URL": "https://api.example.cz", "MAIL_FROM": SENDER}
    return worker_factory(NotifyService, store=notify_store, asked_together=Batches(), config=config,
                          mailer=Mailer(SmtpTransport(smtp_sink.url), SENDER, Settings.from_env(config).bounce_address),
                          bounce_inbox=MaildirInbox(inbox))


def send(service, notify_store, audience) -> dict:
    mailout = service.create_mailout({"subject": "Zpravodaj", "body": "Dobrý den, {{ name }}.", "audience": audience})
    service.send_mailout(mailout["id"])

    def done():
        service.run_mailouts()
        return notify_store.get_mailout(mailout["id"])["status"] == "sent"

    wait_until(done, timeout=180, interval=0, message="the mailout sent")
    return service.get_mailout(mailout["id"])


def bounce_of(message, name: str) -> bytes:
    """The sample `name` as it would come back for this message that we sent."""
    token = message["X-Bounce-Token"]
    assert message["Return-Path"] == f"<bounces+{token}@zdravamesta.cz>"  # the VERP return path
    return bounce_samples.sample(name, token, message["To"].addresses[0].addr_spec, message["Message-ID"])


def test_a_thousand_recipient_mailout_with_thirty_bounces_suppresses_exactly_those(service, notify_store, smtp_sink, inbox):
    domain = add_subscribers(notify_store, 1000)
    first = send(service, notify_store, {"newsletter": True})
    assert (first["total"], first["sent"], first["failed"], first["skipped"]) == (1000, 1000, 0, 0)

    messages = sorted(smtp_sink.messages_to_domain(domain), key=lambda m: m["To"].addresses[0].addr_spec)
    assert len(messages) == 1000 and len({m["X-Bounce-Token"] for m in messages}) == 1000
    bouncing, others = messages[:30], messages[30:]
    box = mailbox.Maildir(inbox, create=True)
    for message, name in zip(bouncing, itertools.cycle(HARD_FORMATS)):
        box.add(bounce_of(message, name))
    box.add(bounce_of(bouncing[0], "postfix-user-unknown"))  # the same bounce delivered twice
    for message, name in zip(others, LEFT_ALONE):
        box.add(bounce_of(message, name))
    forged = bounce_samples.sample("postfix-user-unknown", "f" * 20, others[10]["To"].addresses[0].addr_spec,
                                   "<not-ours@example.cz>")
    box.add(forged.replace(b"Message-Id: <2026", b"Message-Id: <forged-2026"))

    service.read_bounce_mailbox()
    assert len(box) == 5  # the bounces went; auto-replies, the delay, the answer and the forgery stayed

    bounced = {m["To"].addresses[0].addr_spec for m in bouncing}
    listed = service.list_suppressions({"per_page": 100, "q": domain})
    assert listed["total"] == 30 and {entry["email"] for entry in listed["items"]} == bounced
    assert {entry["reason"] for entry in listed["items"]} == {"bounced"}
    assert service.get_mailout(first["id"])["bounced"] == 30
    log = service.list_recipients(first["id"], {"status": "bounced", "per_page": 100})
    assert log["total"] == 30 and all(r["bounce"]["kind"] == "hard" for r in log["items"])

    service.read_bounce_mailbox()  # read again: nothing more is counted, nothing is removed
    assert len(box) == 5 and service.list_suppressions({"q": domain})["total"] == 30

    second = send(service, notify_store, {"newsletter": True})
    assert (second["total"], second["sent"], second["skipped"]) == (1000, 970, 30)
    skipped = service.list_recipients(second["id"], {"status": "skipped", "per_page": 100})["items"]
    assert {r["email"] for r in skipped} == bounced and {r["skip_reason"] for r in skipped} == {"bounced"}


def test_soft_bounces_add_up_a_complaint_and_a_refusal_suppress_at_once(service, notify_store, smtp_sink, inbox):
    domain = f"{uuid.uuid4().hex[:8]}.example.cz"
    full, complaining, refused = f"plna@{domain}", f"stezovatel@{domain}", f"nikdo+reject@{domain}"
    for email in (full, complaining, refused):
        notify_store.save_subscriber({"id": addresses.email_key(email), "email": email, "name": None, "status": "confirmed"})
    box = mailbox.Maildir(inbox, create=True)
    entry = None
    for round_ in range(3):
        done = send(service, notify_store, {"newsletter": True})
        assert done["failed"] == (1 if round_ == 0 else 0)  # the 5xx at RCPT: failed, and suppressed
        box.add(bounce_of(smtp_sink.messages(full)[-1], "postfix-mailbox-full"))
        if round_ == 0:
            [to_complainer] = smtp_sink.messages(complaining)
            box.add(bounce_of(to_complainer, "rfc5965-complaint"))
        service.read_bounce_mailbox()
        entry = notify_store.suppression_of(notify_store.pseudonyms.person(full))
        assert (entry is None) == (round_ < 2), round_  # the third soft bounce within days does it
    assert entry["reason"] == "soft_bounced" and entry["email"] == full
    assert notify_store.suppression_of(notify_store.pseudonyms.person(complaining))["reason"] == "complained"
    refusal = notify_store.suppression_of(notify_store.pseudonyms.person(refused))
    assert refusal["reason"] == "bounced" and "550" in refusal["detail"]
    bounces = notify_store.bounces_of_person(notify_store.pseudonyms.person(refused))
    assert [(b["kind"], b["source"]) for b in bounces] == [("hard", "send")]


def test_a_suppressed_address_gets_only_the_mail_it_asked_for(service, notify_store, smtp_sink):
    address = f"vraci-{uuid.uuid4().hex[:6]}@example.cz"
    assert service.take_bounce({"type": "bounce", "email": address, "status": "5.1.1",
                                "diagnostic": "550 5.1.1 user unknown", "id": "provider-1"})["outcome"] == "recorded"
    assert service.take_bounce({"type": "bounce", "email": address, "status": "5.1.1",
                                "id": "provider-1"})["outcome"] == "duplicate"
    service._send_now({"id": f"asked-{uuid.uuid4().hex}", "kind": "registration_confirmed", "to": address,
                       "subject": "Potvrzení", "text": "Jste registrováni.", "attachments": []})
    reminder_id = f"reminder-{uuid.uuid4().hex}"
    service._send_now({"id": reminder_id, "kind": "registration_reminded", "to": address, "subject": "Připomínka",
                       "text": "Zítra začínáme.", "attachments": []})
    assert [m["Subject"] for m in smtp_sink.messages(address)] == ["Potvrzení"]
    reminder = notify_store.get(reminder_id)
    assert reminder["status"] == "suppressed" and reminder["last_error"] == "suppressed: bounced"

    lifted = service.lift_suppression({"email": address})
    assert lifted["lifted"] and notify_store.suppression_of(notify_store.pseudonyms.person(address)) is None
    service._send_now({"id": f"again-{uuid.uuid4().hex}", "kind": "registration_reminded", "to": address,
                       "subject": "Připomínka", "text": "Zítra začínáme.", "attachments": []})
    wait_until(lambda: len(smtp_sink.messages(address)) == 2, timeout=10, message="mailed once lifted")


def test_an_erasure_leaves_no_trace_of_the_address_in_bounces_or_the_list(service, notify_store, mongo_client, db_name):
    address = f"smazat-{uuid.uuid4().hex[:6]}@example.cz"
    service._send_now({"id": f"mail-{uuid.uuid4().hex}", "kind": "registration_confirmed", "to": address,
                       "subject": "Potvrzení", "text": "Jste registrováni.", "attachments": []})
    [mail] = notify_store.list_mails(page=1, per_page=1, to=address)[0]
    report = bounce_samples.sample("postfix-user-unknown", notify_store.get(mail["id"])["bounce_token"], address,
                                   "<x@zdravamesta.cz>")
    assert service.take_bounce({"message": report.decode()})["outcome"] == "recorded"
    person = notify_store.pseudonyms.person(address)
    sections = service.personal_sections(person)
    assert sections["bounces"][0]["kind"] == "hard" and sections["suppression"][0]["email"] == address

    service.erase_person({"email": address})
    database = mongo_client[db_name]
    holding = [name for name in database.list_collection_names()
               if any(address in str(document) for document in database[name].find())]
    assert holding == []
    assert notify_store.suppression_of(person)["reason"] == "bounced"  # still suppressed, by the keyed hash only


def test_a_bounce_without_our_token_finds_its_mail_by_message_id(service, notify_store):
    address = f"bez-tokenu-{uuid.uuid4().hex[:6]}@example.cz"
    mail_id = f"mail-{uuid.uuid4().hex}"
    service._send_now({"id": mail_id, "kind": "registration_confirmed", "to": address, "subject": "Potvrzení",
                       "text": "Jste registrováni.", "attachments": []})
    sent = notify_store.get(mail_id)
    assert sent["status"] == "sent" and sent["message_id"] == f"<{mail_id}@zdravamesta.cz>"
    relayed = bounce_samples.sample("exim-dsn", "relay-lost-it", address, sent["message_id"])  # no token of ours
    assert service.take_bounce({"message": relayed.decode()})["outcome"] == "recorded"
    assert notify_store.get(mail_id)["status"] == "bounced"
    stranger = bounce_samples.sample("exim-dsn", "relay-lost-it", address, "<someone-else@zdravamesta.cz>")
    assert service.take_bounce({"message": stranger.decode().replace("E1tIqzA", "E1other")})["outcome"] == "unmatched"
