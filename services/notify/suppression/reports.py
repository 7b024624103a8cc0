"""Reading what comes back to the bounce address: delivery status notifications (RFC 3464),
complaints in the Abuse Reporting Format (RFC 5965), auto-replies (RFC 3834 and the usual
out-of-office signs), older bounces that follow no standard (read by flufl.bounce), and
everything else, which is no report at all. Pure reading: what a report means is `domain`'s."""
import hashlib
import re
from dataclasses import dataclass, field
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32
from typing import Any

from flufl.bounce import all_failures

DSN, ARF, AUTO_REPLY, NON_STANDARD, NOT_A_REPORT = "dsn", "arf", "auto_reply", "non_standard", "not_a_report"
TOKEN_HEADER = "X-Bounce-Token"  # every message carries its token here too: complaints quote the message
TOKEN = r"[0-9a-f]{20}"
# Where a mailbox's delivery agent writes the address a message came to (the VERP return path).
DELIVERED_TO = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "X-Rcpt-To", "To")
MAIL_SYSTEMS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mail\.daemon)@", re.IGNORECASE)
AUTO_REPLY_SUBJECTS = re.compile(
    r"^\s*(auto(matic)?[ -]?(reply|response|answer)|autoreply|auto:|out of (the )?office|abwesenheit|"
    r"automatick[áa] odpov[ěe]ď|nep[řr][íi]tomnost|mimo kancel[áa][řr]|dovolen[áa])", re.IGNORECASE)
SMTP_CODE = re.compile(r"\b([245]\d\d)\b")


@dataclass(frozen=True)
class Failure:
    """What a report says of one recipient."""

    address: str | None
    action: str | None = None  # failed, delayed, delivered, relayed, expanded
    status: str | None = None  # the enhanced status code, 5.1.1
    diagnostic: str | None = None
    smtp_code: int | None = None


@dataclass(frozen=True)
class Report:
    form: str  # DSN, ARF, AUTO_REPLY, NON_STANDARD or NOT_A_REPORT
    key: str  # names the report itself: reading it twice does nothing more
    tokens: tuple[str, ...] = ()  # bounce tokens found, the return path's first
    message_ids: tuple[str, ...] = ()  # Message-IDs of the original message
    failures: tuple[Failure, ...] = field(default_factory=tuple)
    feedback_type: str | None = None  # of a complaint: abuse, fraud, ...


def read(raw: bytes) -> Report:
    """What a message that came to the bounce address is."""
    message = message_from_bytes(raw, policy=compat32)
    tokens = _tokens(message, raw)
    key = _key(message, raw, tokens)
    report_type = str(message.get_param("report-type") or "").lower() \
        if message.get_content_type() == "multipart/report" else ""
    if report_type == "feedback-report":
        return _complaint(message, key, tokens)
    if report_type == "delivery-status":
        return _delivery_status(message, key, tokens)
    if is_auto_reply(message):
        return Report(AUTO_REPLY, key, tokens)
    if _from_a_mail_system(message):
        temporary, permanent = all_failures(message)
        failures = tuple(Failure(address.decode("utf-8", "replace"), "failed", "5.0.0") for address in permanent) + \
            tuple(Failure(address.decode("utf-8", "replace"), "failed", "4.0.0") for address in temporary
                  if address not in permanent)
        if failures:
            return Report(NON_STANDARD, key, tokens, _original_ids(message) or _quoted_ids(message, key), failures)
    return Report(NOT_A_REPORT, key, tokens)


def _key(message: Message, raw: bytes, tokens: tuple[str, ...]) -> str:
    """The report's own Message-ID with the token it is about (a server's IDs are unique; a
    careless one's are not), or a digest of the whole report."""
    own_id = (message.get("Message-ID") or "").strip()
    return f"{own_id} {tokens[0] if tokens else ''}".strip() if own_id else "sha256:" + hashlib.sha256(raw).hexdigest()


def _tokens(message: Message, raw: bytes) -> tuple[str, ...]:
    """Tokens of the return path the report came to, then those quoted from the original message."""
    found: list[str] = []
    for name in DELIVERED_TO:
        for value in message.get_all(name) or []:
            found += re.findall(rf"\+({TOKEN})@", str(value), re.IGNORECASE)
    found += re.findall(rf"^{TOKEN_HEADER}:[ \t]*({TOKEN})\b".encode(), raw, re.IGNORECASE | re.MULTILINE)
    found += re.findall(rf"\+({TOKEN})@".encode(), raw, re.IGNORECASE)
    return tuple(dict.fromkeys(t.decode().lower() if isinstance(t, bytes) else t.lower() for t in found))


def _delivery_status(message: Message, key: str, tokens) -> Report:
    failures = []
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks: Any = part.get_payload()
        if isinstance(blocks, str):  # a body the parser did not split: its blocks by blank lines
            blocks = [HeaderParser().parsestr(block) for block in re.split(r"\r?\n\r?\n", blocks) if block.strip()]
        for block in blocks[1:]:  # the first block is about the message, the others one recipient each
            failures.append(_failure(block))
    return Report(DSN, key, tokens, _original_ids(message), tuple(failures))


def _failure(block: Message) -> Failure:
    diagnostic = _field_value(block.get("Diagnostic-Code"))
    code = SMTP_CODE.search(diagnostic or "")
    status = (block.get("Status") or "").strip().split(" ")[0] or None
    return Failure(_field_value(block.get("Final-Recipient") or block.get("Original-Recipient")),
                   (block.get("Action") or "").strip().lower() or None, status,
                   " ".join((diagnostic or "").split()) or None, int(code.group(1)) if code else None)


def _field_value(value) -> str | None:
    """`rfc822; jana@example.cz` → `jana@example.cz`; `smtp; 550 …` → `550 …`."""
    if value is None:
        return None
    text = str(value)
    return (text.split(";", 1)[1] if ";" in text else text).strip().strip("<>").strip() or None


def _complaint(message: Message, key: str, tokens) -> Report:
    recipient, feedback_type = None, None
    for part in message.walk():
        if part.get_content_type() == "message/feedback-report":
            fields: Any = part.get_payload(0) if part.is_multipart() else HeaderParser().parsestr(str(part.get_payload()))
            feedback_type = (fields.get("Feedback-Type") or "").strip().lower() or None
            recipient = _field_value(fields.get("Original-Rcpt-To"))
    return Report(ARF, key, tokens, _original_ids(message), (Failure(recipient),), feedback_type)


def _original_ids(message: Message) -> tuple[str, ...]:
    """The Message-IDs of the original message a report quotes (whole or its headers only)."""
    ids = []
    quoted: Any
    for part in message.walk():
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global") and part.is_multipart():
            quoted = part.get_payload(0)
        elif kind in ("text/rfc822-headers", "message/rfc822-headers", "text/rfc822-header"):
            quoted = HeaderParser().parsestr(_text(part))
        else:
            continue
        if quoted.get("Message-ID"):
            ids.append(str(quoted["Message-ID"]).strip())
    return tuple(dict.fromkeys(ids))


def _quoted_ids(message: Message, own_id: str) -> tuple[str, ...]:
    """Message-IDs in a notice that quotes the original as plain text (older Exim, qmail)."""
    text = "\n".join(_text(part) for part in message.walk() if part.get_content_maintype() == "text")
    found = re.findall(r"^Message-ID:[ \t]*(<[^>\s]+>)", text, re.IGNORECASE | re.MULTILINE)
    return tuple(dict.fromkeys(i for i in found if i != own_id))


def _text(part: Message) -> str:
    payload: Any = part.get_payload(decode=True)
    return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def is_auto_reply(message: Message) -> bool:
    """An out-of-office or other automatic answer (RFC 3834's Auto-Submitted, and the headers and
    subjects that mail programs use instead)."""
    submitted = (message.get("Auto-Submitted") or "no").strip().lower()
    precedence = (message.get("Precedence") or "").strip().lower()
    return (submitted != "no" or precedence in ("auto_reply", "auto-reply")
            or any(message.get(name) for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"))
            or bool(AUTO_REPLY_SUBJECTS.match(_subject(message))))


def _subject(message: Message) -> str:
    try:
        return str(make_header(decode_header(str(message.get("Subject") or ""))))
    except (LookupError, ValueError):
        return str(message.get("Subject") or "")


def _from_a_mail_system(message: Message) -> bool:
    sender = str(message.get("From") or "")
    address = re.search(r"[^\s<>\"]+@[^\s<>\"]+", sender)
    return bool(address and MAIL_SYSTEMS.match(address.group(0))) or (message.get("Return-Path") or "").strip() == "<>"
