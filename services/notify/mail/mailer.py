"""Delivering mail: SMTP when SMTP_URL is set, otherwise a Maildir under DATA_DIR.

Transactional mail opens a connection per message; a mailout's messages go through a few
`session()`s, each of which keeps its SMTP connection open from message to message. Each message
goes out from its own return path (`bounces+<token>@…`, VERP), so that its bounce names it.
"""
import base64
import mailbox
import smtplib
import ssl
import uuid
from datetime import datetime, timezone
from email import charset, encoders
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from typing import Any

from nameko.extensions import DependencyProvider

from nszm.config import MailServer, Settings, bounce_address_for
from nszm.patches.mail_folding import QuickFolding
from services.notify.suppression.domain import return_path
from services.notify.suppression.reports import TOKEN_HEADER

SMTP_TIMEOUT_SECONDS = 30
UTF8 = charset.Charset("utf-8")  # bodies quoted-printable (readable, 7-bit), headers the shorter encoding
UTF8.body_encoding = charset.QP
UTF8.header_encoding = charset.SHORTEST


QUICK_FOLDING = QuickFolding()


def _boundary() -> str:
    """A multipart boundary that cannot occur in the parts: they are quoted-printable, where "="
    is always followed by two hex digits or a line break, or base64, which has no "_". Given up
    front, it spares the generator its search of every part's text for a boundary of its own."""
    return f"=_{uuid.uuid4().hex}"


class Rejected(Exception):
    """The server refused this recipient or message for good (a 5xx answer)."""


def build_message(mail: dict, sender: str) -> Message:
    """The message as sent: plain text (and HTML, if any) in UTF-8, quoted-printable, attachments
    in base64. Built with the email package's classic classes, which do the same job as
    `EmailMessage` in a tenth of the time (its header parsing was most of a mail's cost)."""
    body: Message[str, Any] = _text_part(mail["text"], "plain")
    if mail.get("html"):
        body = MIMEMultipart("alternative", _boundary(), policy=QUICK_FOLDING, _subparts=[
            _inner(body), _inner(_text_part(mail["html"], "html"))])
    message = body
    if mail.get("attachments"):
        message = MIMEMultipart("mixed", _boundary(), policy=QUICK_FOLDING, _subparts=[_inner(body)])
        for attachment in mail["attachments"]:
            maintype, subtype = attachment["content_type"].split("/", 1)
            part = MIMEBase(maintype, subtype, policy=QUICK_FOLDING,
                            **({"charset": "utf-8"} if maintype == "text" else {}))
            part.set_payload(base64.b64decode(attachment["data"]) if attachment.get("base64")
                             else attachment["data"].encode("utf-8"))
            encoders.encode_base64(part)
            part.add_header("Content-Disposition", "attachment", filename=attachment["filename"])
            message.attach(_inner(part))
    message["From"] = formataddr(parseaddr(sender), charset="utf-8")
    message["To"] = formataddr((mail.get("to_name") or "", mail["to"]), charset="utf-8")
    message["Subject"] = Header(mail["subject"], UTF8)
    # Stable per mail, so a rare second delivery after a crash can be recognised as a duplicate.
    message["Message-ID"] = mail.get("message_id") or f"<{mail['id']}@zdravamesta.cz>"
    message["Date"] = format_datetime(mail.get("created_at") or datetime.now(timezone.utc))
    for name, value in (mail.get("headers") or {}).items():
        message[name] = _Verbatim(value) if value.isascii() else Header(value, UTF8)
    if mail.get("bounce_token"):  # quoted by complaints, which come back without the return path
        message[TOKEN_HEADER] = mail["bounce_token"]
    return message


class _Verbatim:
    """A header value written on one line as it is: folding a long link (List-Unsubscribe)
    would start it on a line of its own, which some readers take as a leading space."""

    def __init__(self, value: str):
        self.value = value

    def __str__(self):
        return self.value

    def encode(self, linesep: str = "\n", maxlinelen: int | None = None) -> str:
        return self.value


def _text_part(text: str, subtype: str) -> Message:
    """A text part in UTF-8, quoted-printable (what `MIMEText` builds, given the `Charset`)."""
    part = MIMENonMultipart("text", subtype, policy=QUICK_FOLDING, charset="utf-8")
    part.set_payload(text, UTF8)
    return part


def _inner(part: Message) -> Message:
    """A part inside a multipart message (MIME-Version belongs to the message only)."""
    del part["MIME-Version"]
    return part


class SmtpTransport:
    def __init__(self, url: str):
        server = MailServer.from_url(url, "SMTP_URL", "smtp", (25, 465))
        self.secure, self.host, self.port = server.secure, server.host, server.port
        self.user, self.password = server.user, server.password

    def connect(self) -> smtplib.SMTP:
        smtp: smtplib.SMTP
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

    def send(self, message: Message, envelope_from: str):
        session = self.session()
        try:
            session.send(message, envelope_from)
        finally:
            session.close()

    def session(self) -> "SmtpSession":
        return SmtpSession(self)


def deliver(smtp: smtplib.SMTP, message: Message, envelope_from: str):
    """Send on an open connection; a permanent refusal of the recipient or message is `Rejected`."""
    try:
        smtp.send_message(message, from_addr=envelope_from)
    except smtplib.SMTPRecipientsRefused as refused:
        if all(code >= 500 for code, _ in refused.recipients.values()):
            raise Rejected("; ".join(f"{code} {text.decode(errors='replace')}"
                                     for code, text in refused.recipients.values())) from refused
        raise
    except smtplib.SMTPDataError as error:
        if error.smtp_code >= 500:
            reason = error.smtp_error
            raise Rejected(f"{error.smtp_code} {reason.decode(errors='replace') if isinstance(reason, bytes) else reason}"
                           ) from error
        raise


class SmtpSession:
    """One SMTP connection for many messages; reopened after anything but a refused recipient."""

    def __init__(self, transport: SmtpTransport):
        self.transport = transport
        self.smtp: smtplib.SMTP | None = None

    def send(self, message: Message, envelope_from: str):
        if self.smtp is None:
            self.smtp = self.transport.connect()
        try:
            deliver(self.smtp, message, envelope_from)
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

    def send(self, message: Message, envelope_from: str):
        message["Return-Path"] = f"<{envelope_from}>"  # what the delivering server would add
        mailbox.Maildir(self.directory, create=True).add(message)

    def session(self) -> "MaildirTransport":
        return self

    def close(self):
        pass


class Mailer:
    def __init__(self, transport, sender: str, bounce_address: str | None = None):
        self.transport = transport
        self.sender = sender
        self.bounce_address = bounce_address or bounce_address_for(sender)

    def send(self, mail: dict, session=None) -> str:
        """Deliver `mail` (over `session` if given); returns its Message-ID. Raises on any failure."""
        message = build_message(mail, self.sender)
        (session or self.transport).send(message, return_path(self.bounce_address, mail.get("bounce_token")))
        return message["Message-ID"]

    def session(self):
        """A connection to send many messages over; close it when done."""
        return self.transport.session()


class MailerProvider(DependencyProvider):
    def setup(self):
        settings = Settings.from_env(self.container.config)
        transport = (SmtpTransport(settings.smtp_url) if settings.smtp_url
                     else MaildirTransport(settings.data_dir / "mail"))
        self.mailer = Mailer(transport, settings.mail_from, settings.bounce_address)

    def get_dependency(self, worker_ctx):
        return self.mailer
