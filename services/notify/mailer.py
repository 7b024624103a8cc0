"""Delivering mail: SMTP when SMTP_URL is set, otherwise a Maildir under DATA_DIR."""
import mailbox
import smtplib
import ssl
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from urllib.parse import unquote, urlparse

from nameko.extensions import DependencyProvider

SMTP_TIMEOUT_SECONDS = 30


def build_message(mail: dict, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = formataddr((mail.get("to_name") or "", mail["to"]))
    message["Subject"] = mail["subject"]
    # Stable per mail, so a rare second delivery after a crash can be recognised as a duplicate.
    message["Message-ID"] = f"<{mail['id']}@zdravamesta.cz>"
    message["Date"] = format_datetime(mail.get("created_at") or datetime.now(timezone.utc))
    message.set_content(mail["text"])
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

    def send(self, message: EmailMessage):
        factory = smtplib.SMTP_SSL if self.secure else smtplib.SMTP
        with factory(self.host, self.port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
            if not self.secure and self.user and smtp.has_extn("starttls"):
                smtp.starttls(context=ssl.create_default_context())
            if self.user:
                smtp.login(self.user, self.password or "")
            smtp.send_message(message)


class MaildirTransport:
    def __init__(self, directory: Path):
        self.directory = directory

    def send(self, message: EmailMessage):
        mailbox.Maildir(self.directory, create=True).add(message)


class Mailer:
    def __init__(self, transport, sender: str):
        self.transport = transport
        self.sender = sender

    def send(self, mail: dict) -> str:
        """Deliver `mail`; returns its Message-ID. Raises on any delivery failure."""
        message = build_message(mail, self.sender)
        self.transport.send(message)
        return message["Message-ID"]


class MailerProvider(DependencyProvider):
    def setup(self):
        config = self.container.config
        sender = config.get("MAIL_FROM") or "Národní síť Zdravých měst ČR <info@zdravamesta.cz>"
        smtp_url = config.get("SMTP_URL")
        transport = (SmtpTransport(smtp_url) if smtp_url
                     else MaildirTransport(Path(config.get("DATA_DIR") or "./var") / "mail"))
        self.mailer = Mailer(transport, sender)

    def get_dependency(self, worker_ctx):
        return self.mailer
