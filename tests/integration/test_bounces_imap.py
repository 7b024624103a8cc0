"""The bounce mailbox over IMAP, against a real IMAP server (pymap, with STARTTLS and a certificate
of a test authority): bounces and complaints of ours are counted and removed, auto-replies and
people's answers stay in the folder unread, and reading again changes nothing."""
import imaplib
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import trustme
from nameko.testing.services import worker_factory

from nszm.batches import Batches
from nszm.config import Settings
from ops import embedded
from services.notify.mail.mailer import Mailer, SmtpTransport
from services.notify.service import NotifyService
from services.notify.suppression.mailbox import ImapInbox
from tests.integration.test_bounces import SENDER, bounce_of, send
from tests.integration.test_mailout_crash import add_subscribers
from tests.waiting import wait_until

USER, PASSWORD = "bounces", "heslo-k-bouncum"


@pytest.fixture
def authority():
    return trustme.CA()


@pytest.fixture
def imap_server(tmp_path, authority):
    """pymap's in-memory IMAP server on loopback, offering STARTTLS with a certificate for 127.0.0.1."""
    certificate = authority.issue_cert("127.0.0.1", "localhost")
    cert, key = tmp_path / "imap.pem", tmp_path / "imap.key"
    certificate.cert_chain_pems[0].write_to_path(cert)
    certificate.private_key_pem.write_to_path(key)
    port = embedded.free_port()
    server = subprocess.Popen([str(Path(sys.executable).parent / "pymap"), "--host", "127.0.0.1", "--port", str(port),
                               "--cert", str(cert), "--key", str(key), "dict", "--demo-user", USER,
                               "--demo-password", PASSWORD], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def listening() -> bool:
        assert server.poll() is None, server.stderr.read().decode() if server.stderr else "pymap exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False

    wait_until(listening, timeout=30, message="the IMAP server listening")
    yield port
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def trusting(authority) -> ssl.SSLContext:
    context = ssl.create_default_context()
    authority.configure_trust(context)
    return context


def folder(port: int, context: ssl.SSLContext) -> imaplib.IMAP4:
    imap = imaplib.IMAP4("127.0.0.1", port)
    imap.starttls(context)
    imap.login(USER, PASSWORD)
    imap.select("INBOX")
    return imap


def contents(port: int, context: ssl.SSLContext) -> list[tuple[bytes, bytes]]:
    """(flags, subject line) of each message in the folder, without marking any as read."""
    imap = folder(port, context)
    try:
        found = []
        for uid in imap.uid("SEARCH", "ALL")[1][0].split():
            answer = imap.uid("FETCH", uid, "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")[1]
            head, subject = answer[0]
            found.append((head, subject.strip()))
        return found
    finally:
        imap.logout()


def test_bounces_over_imap_are_counted_and_removed_and_the_rest_stays_unread(notify_store, smtp_sink, imap_server,
                                                                               trusting):
    url = f"imap://{USER}:{PASSWORD}@127.0.0.1:{imap_server}/INBOX"
    config = {"MAILOUT_RATE": "0", "PUBLIC_URL": "https://api.example.cz", "MAIL_FROM": SENDER}
    service = worker_factory(NotifyService, store=notify_store, asked_together=Batches(), config=config,
                             mailer=Mailer(SmtpTransport(smtp_sink.url), SENDER,
                                           Settings.from_env(config).bounce_address),
                             bounce_inbox=ImapInbox(url, context=trusting))
    domain = add_subscribers(notify_store, 4)
    send(service, notify_store, {"newsletter": True})
    messages = sorted(smtp_sink.messages_to_domain(domain), key=lambda m: m["To"].addresses[0].addr_spec)
    assert len(messages) == 4
    imap = folder(imap_server, trusting)
    for message, sample in zip(messages, ("postfix-user-unknown", "rfc5965-complaint", "vacation-reply",
                                          "human-reply")):
        assert imap.append("INBOX", None, None, bounce_of(message, sample))[0] == "OK"
    imap.logout()

    service.read_bounce_mailbox()
    left = contents(imap_server, trusting)
    assert len(left) == 2 and all(b"\\Seen" not in flags for flags, _ in left)
    people = [notify_store.pseudonyms.person(m["To"].addresses[0].addr_spec) for m in messages]
    entries = {entry["person"]: entry["reason"] for entry in notify_store.suppressions_of_people(people)}
    assert entries == {people[0]: "bounced", people[1]: "complained"}

    service.read_bounce_mailbox()  # what stayed is not read again, and nothing changes
    assert contents(imap_server, trusting) == left
    assert len(notify_store.suppressions_of_people(people)) == 2


def test_an_imap_server_whose_certificate_is_not_trusted_is_refused(imap_server):
    inbox = ImapInbox(f"imap://{USER}:{PASSWORD}@127.0.0.1:{imap_server}/INBOX")
    with pytest.raises(ssl.SSLCertVerificationError):
        with inbox:
            pass
