"""Delivering mail: SMTP when SMTP_URL is set, otherwise a Maildir under DATA_DIR.

Transactional mail opens a connection per message; a mailout's messages go through one
`session()`, which keeps its SMTP connection open from message to message.
"""
import mailbox
import smtplib
import ssl
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from urllib.parse import unquote, urlparse

from nameko.extensions import DependencyProvider

from nszm.config import Settings

SMTP_TIMEOUT_SECONDS = 30


class Rejected(Exception):
    """The server refused this recipient or message for good (a 5xx answer)."""


def build_message(mail: dict, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = formataddr((mail.get("to_name") or "", mail["to"]))
    message["Subject"] = mail["subject"]
    # Stable per mail, so a rare second delivery after a crash can be recognised as a duplicate.
    message["Message-ID"] = mail.get("message_id") or f"<{mail['id']}@zdravamesta.cz>"
    message["Date"] = format_datetime(mail.get("created_at") or datetime.now(timezone.utc))
    for name, value in (mail.get("headers") or {}).items():
        message[name] = value
    message.set_content(mail["text"])
    if mail.get("html"):
        message.add_alternative(mail["html"], subtype="html")
    for attachment in mail.get("attachments", []):
        maintype, subtype = attachment["content_type"].split("/", 1)
        message.add_attachment(attachment["data"].encode("utf-8"), maintype=maintype, subtype=subtype,
                               filename=attachment["filename"])
    return message


class SmtpTransport:
    def __init__(self, url: str):
        parts = urlparse(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError(f"SMTP_URL must be smtp:// or smtps://, not {parts.scheme}://")
        self.secure = parts.scheme == "smtps"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.secure else 25)
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None

    def connect(self) -> smtplib.SMTP:
        if self.secure:  # the certificate is checked against the system's store (or SSL_CERT_FILE)
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=SMTP_TIMEOUT_SECONDS,
                                    context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT_SECONDS)
        try:
            smtp.ehlo()
            if not self.secure and smtp.has_extn("starttls"):
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            elif not self.secure and self.user:
                raise smtplib.SMTPNotSupportedError("The server offers no STARTTLS; the password is not sent in clear.")
            if self.user:
                smtp.login(self.user, self.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message: EmailMessage):
        session = self.session()
        try:
            session.send(message)
        finally:
            session.close()

    def session(self) -> "SmtpSession":
        return SmtpSession(self)


def deliver(smtp: smtplib.SMTP, message: EmailMessage):
    """Send on an open connection; a permanent refusal of the recipient or message is `Rejected`."""
    try:
        smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as refused:
        if all(code >= 500 for code, _ in refused.recipients.values()):
            raise Rejected("; ".join(f"{code} {text.decode(errors='replace')}"
                                     for code, text in refused.recipients.values())) from refused
        raise
    except smtplib.SMTPDataError as error:
        if error.smtp_code >= 500:
            raise Rejected(f"{error.smtp_code} {error.smtp_error.decode(errors='replace')}") from error
        raise


class SmtpSession:
    """One SMTP connection for many messages; reopened after anything but a refused recipient."""

    def __init__(self, transport: SmtpTransport):
        self.transport = transport
        self.smtp: smtplib.SMTP | None = None

    def send(self, message: EmailMessage):
        if self.smtp is None:
            self.smtp = self.transport.connect()
        try:
            deliver(self.smtp, message)
        except Rejected:
            raise
        except BaseException:
            self.close()
            raise

    def close(self):
        if self.smtp is not None:
            smtp, self.smtp = self.smtp, None
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()


class MaildirTransport:
    def __init__(self, directory: Path):
        self.directory = directory

    def send(self, message: EmailMessage):
        mailbox.Maildir(self.directory, create=True).add(message)

    def session(self) -> "MaildirTransport":
        return self

    def close(self):
        pass


class Mailer:
    def __init__(self, transport, sender: str):
        self.transport = transport
        self.sender = sender

    def send(self, mail: dict, session=None) -> str:
        """Deliver `mail` (over `session` if given); returns its Message-ID. Raises on any failure."""
        message = build_message(mail, self.sender)
        (session or self.transport).send(message)
        return message["Message-ID"]

    def session(self):
        """A connection to send many messages over; close it when done."""
        return self.transport.session()


class MailerProvider(DependencyProvider):
    def setup(self):
        settings = Settings.from_env(self.container.config)
        transport = (SmtpTransport(settings.smtp_url) if settings.smtp_url
                     else MaildirTransport(settings.data_dir / "mail"))
        self.mailer = Mailer(transport, settings.mail_from)

    def get_dependency(self, worker_ctx):
        return self.mailer
