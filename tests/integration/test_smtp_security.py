"""The mailer against real SMTP servers with TLS, AUTH and bad manners (tests/smtp_tls_server.py):
the password crosses only inside TLS, smtps:// checks the certificate, and a server that answers
QUIT with 421 after accepting the message gets it once."""
import smtplib
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import trustme

from ops import embedded
from ops.rabbit import port_open
from services.notify.mail.mailer import Mailer, SmtpTransport
from tests.conftest import ROOT
from tests.waiting import wait_until


@pytest.fixture(scope="module")
def certificate_authority(tmp_path_factory):
    """A test CA and a server certificate for 127.0.0.1; SSL_CERT_FILE points at the CA while in use."""
    authority = trustme.CA()
    directory = tmp_path_factory.mktemp("tls")
    server = authority.issue_cert("127.0.0.1")
    cert, key, ca = directory / "server.pem", directory / "server.key", directory / "ca.pem"
    server.cert_chain_pems[0].write_to_path(str(cert))
    server.private_key_pem.write_to_path(str(key))
    authority.cert_pem.write_to_path(str(ca))
    return cert, key, ca


class Server:
    def __init__(self, mode: str, directory: Path, tls_files=None):
        self.port = embedded.free_port()
        self.directory = directory
        files = [str(path) for path in tls_files[:2]] if tls_files else []
        self.process = subprocess.Popen([sys.executable, "-m", "tests.smtp_tls_server", mode, str(self.port),
                                         str(directory), *files], cwd=ROOT)
        wait_until(lambda: port_open("127.0.0.1", self.port) or self.process.poll() is not None, timeout=20)
        assert self.process.poll() is None, f"the {mode} server did not start"

    def messages(self) -> list[Path]:
        return sorted(self.directory.glob("*.eml"))

    def auth_attempts(self) -> list[str]:
        log = self.directory / "auth.log"
        return log.read_text().splitlines() if log.exists() else []

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def server(tmp_path):
    started = []

    def start(mode: str, tls_files=None) -> Server:
        started.append(Server(mode, tmp_path / mode, tls_files))
        return started[-1]

    yield start
    for running in started:
        running.stop()


def mail(n: int = 1) -> dict:
    return {"id": f"m{n}", "to": "jana@example.cz", "subject": "Zkouška", "text": "Dobrý den."}


def test_the_password_goes_only_inside_starttls_and_the_certificate_is_checked(server, certificate_authority,
                                                                                monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate_authority[2]))
    smtp = server("starttls-auth", certificate_authority)
    Mailer(SmtpTransport(f"smtp://user:secret@127.0.0.1:{smtp.port}"), "info@example.cz").send(mail())
    assert len(smtp.messages()) == 1
    assert smtp.auth_attempts() and all(line.endswith("tls=True") for line in smtp.auth_attempts())

    monkeypatch.delenv("SSL_CERT_FILE")  # the test CA is no longer trusted: no mail, no password
    with pytest.raises(ssl.SSLCertVerificationError):
        Mailer(SmtpTransport(f"smtp://user:secret@127.0.0.1:{smtp.port}"), "info@example.cz").send(mail(2))
    assert len(smtp.messages()) == 1 and len(smtp.auth_attempts()) == 1


def test_credentials_are_never_sent_to_a_server_without_tls(server):
    smtp = server("plain-auth")
    with pytest.raises(smtplib.SMTPNotSupportedError):
        Mailer(SmtpTransport(f"smtp://user:secret@127.0.0.1:{smtp.port}"), "info@example.cz").send(mail())
    assert smtp.auth_attempts() == [] and smtp.messages() == []


def test_smtps_checks_the_servers_certificate(server, certificate_authority, monkeypatch):
    smtp = server("smtps", certificate_authority)
    with pytest.raises(ssl.SSLCertVerificationError):
        Mailer(SmtpTransport(f"smtps://127.0.0.1:{smtp.port}"), "info@example.cz").send(mail())
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate_authority[2]))
    Mailer(SmtpTransport(f"smtps://127.0.0.1:{smtp.port}"), "info@example.cz").send(mail())
    assert len(smtp.messages()) == 1


def test_a_421_answer_to_quit_after_the_message_was_accepted_sends_nothing_twice(server):
    smtp = server("quit-421")
    mailer = Mailer(SmtpTransport(f"smtp://127.0.0.1:{smtp.port}"), "info@example.cz")
    mailer.send(mail())  # no error: the message was accepted before QUIT
    session = mailer.session()
    for n in range(2, 5):
        mailer.send(mail(n), session)
    session.close()
    assert len(smtp.messages()) == 4
