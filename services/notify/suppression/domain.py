"""The suppression list: why an address gets no mail, which mail it still gets, what a bounce or a
complaint does to it, and how soft bounces add up and fade."""
import math
import re
import secrets
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from nszm.contracts import bus
from nszm.rules import Refused
from services.notify.suppression import reports

# Why an address is on the list. The first three concern the address itself (it does not take
# mail, or its owner reports it as spam): the platform's other mail stops too, except the mail the
# person has just asked for. Unsubscribing and erasure stop bulk mail only.
BOUNCED = "bounced"  # a hard bounce, or a server's permanent refusal (5xx) while sending
SOFT_BOUNCED = "soft_bounced"  # temporary failures that kept coming
COMPLAINED = "complained"  # the recipient reported a message as spam (an ARF complaint)
UNSUBSCRIBED = "unsubscribed"
ERASED = "erased"
REASONS = (BOUNCED, SOFT_BOUNCED, COMPLAINED, UNSUBSCRIBED, ERASED)
UNDELIVERABLE = (BOUNCED, SOFT_BOUNCED, COMPLAINED)
LIFTED_BY_SUBSCRIBING = (UNSUBSCRIBED, ERASED)  # a confirmed subscription asks for mail again

# Mail that answers the person's own request goes whatever the list says: it is what they are
# waiting for, and their server's answer to it is the best test of the address.
ASKED_FOR = frozenset({bus.REGISTRATION_CONFIRMED.name, bus.REGISTRATION_WAITLISTED.name,
                       bus.REGISTRATION_CANCELLED.name, bus.REGISTRATION_CHANGED.name, bus.VOTE_REQUESTED.name,
                       "newsletter_confirmation", "mailout_test"})

# Soft bounces: each adds one to a score that halves every SOFT_HALF_LIFE; at SOFT_THRESHOLD the
# address is suppressed: three soft bounces within a few days do it, one a week never does.
SOFT_HALF_LIFE = timedelta(days=7)
SOFT_THRESHOLD = 2.5

HARD, SOFT, COMPLAINT = "hard", "soft", "complaint"  # what a report says of its recipient
ENHANCED_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")  # RFC 3463, in a server's answer
MAILBOX_FULL = "5.2.2"  # permanent by its class, yet a full mailbox empties again


def bounce_token() -> str:
    """The per-message part of a VERP return path (`bounces+<token>@…`): unguessable, so that a
    forged bounce cannot suppress somebody else's address."""
    return secrets.token_hex(10)


def return_path(bounce_address: str, token: str | None) -> str:
    """The envelope sender of a message: `bounces@zdravamesta.cz` → `bounces+<token>@zdravamesta.cz`."""
    if not token:
        return bounce_address
    local, _, domain = bounce_address.rpartition("@")
    return f"{local}+{token}@{domain}"


def severity(action: str | None, status: str | None, smtp_code: int | None = None) -> str | None:
    """What a delivery report says of one recipient: HARD, SOFT, or None when it is no failure
    (delivered, relayed, or only delayed: the server keeps trying)."""
    action = (action or "failed").lower()
    if action != "failed":
        return None
    if status:
        if status == MAILBOX_FULL or status.startswith("4."):
            return SOFT
        if status.startswith("5."):
            return HARD
    if smtp_code:
        return HARD if smtp_code >= 500 and smtp_code != 552 else SOFT
    return HARD  # a failure that gives no reason is final: the server has given up


def refused_while_sending(diagnostic: str) -> str:
    """What a server's 5xx while we sent says: a hard bounce, except a full mailbox (552, 5.2.2),
    which is soft, as in a delivery report."""
    status = ENHANCED_STATUS.search(diagnostic or "")
    return severity("failed", status.group(1) if status else None, _smtp_code(diagnostic) or 550) or HARD


def suppression(reason: str, now: datetime, email: str | None = None, detail: str | None = None) -> dict:
    """An entry of the list. Only undeliverable addresses are kept as addresses (staff fix them
    in members' contacts); an unsubscribed or erased person is kept as their keyed hash only."""
    return {"reason": reason, "at": now, "email": email.strip().lower() if email and reason in UNDELIVERABLE else None,
            "detail": (detail or "")[:500] or None}


def suppressed(existing: dict | None, reason: str, now: datetime, email: str | None = None,
               detail: str | None = None) -> dict | None:
    """The entry to keep once an address is suppressed for `reason`, or None when the entry it
    has stands: the first reason stays, except that an address found undeliverable is marked so
    whatever put it on the list before (it concerns the platform's other mail too)."""
    if existing is not None and (existing["reason"] in UNDELIVERABLE or reason not in UNDELIVERABLE):
        return None
    return suppression(reason, now, email, detail)


def after_report(kind: str, soft_score: dict | None, now: datetime) -> tuple[str | None, dict | None]:
    """(the reason to suppress the address for now, if any; its new soft score, if this report
    changes it)."""
    if kind == COMPLAINT:
        return COMPLAINED, None
    if kind == HARD:
        return BOUNCED, None
    score = faded(soft_score, now) + 1.0
    return (SOFT_BOUNCED if score >= SOFT_THRESHOLD else None), {"score": score, "at": now}


def faded(soft_score: dict | None, now: datetime) -> float:
    """A soft score as it stands now: halved for every SOFT_HALF_LIFE since it was last raised."""
    if not soft_score:
        return 0.0
    elapsed = max((now - _aware(soft_score["at"])).total_seconds(), 0.0)
    return soft_score["score"] * math.pow(0.5, elapsed / SOFT_HALF_LIFE.total_seconds())


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def stops(entry: dict | None, kind: str | None) -> bool:
    """Whether an entry of the list keeps this mail from its address: bulk mail (`kind` None)
    always, other mail when the address is undeliverable, unless the person asked for it."""
    if entry is None:
        return False
    if kind is None:
        return True
    return entry["reason"] in UNDELIVERABLE and kind not in ASKED_FOR


def check_lift(entry: dict | None) -> dict:
    """The entry staff lift: any except an erasure's, which only the person subscribing again lifts."""
    if entry is None:
        raise Refused("The address is not on the suppression list.", code="not_suppressed")
    if entry["reason"] == ERASED:
        raise Refused("The person asked to be erased; only their own new subscription lifts that.",
                      code="erased_stays")
    return entry


def named_mail(mail: Mapping[str, Any]) -> dict:
    """A transactional mail as a bounce names it."""
    return {"kind": "mail", "id": mail["id"], "email": mail["to"]}


def named_recipient(recipient: Mapping[str, Any]) -> dict:
    """A mailout's recipient as a bounce names it (with its record, which its mailout counts by)."""
    return {"kind": "recipient", "id": recipient["id"], "email": recipient["email"], "record": recipient}


def bounce_record(kind: str, source: str, now: datetime, *, status=None, diagnostic=None, message=None) -> dict:
    """What is kept of one bounce or complaint: its kind and reason, where it came from, the message
    it was about (a mail's or a mailout recipient's id)."""
    return {"kind": kind, "source": source, "at": now, "status": status,
            "diagnostic": (diagnostic or "")[:500] or None, "message": message}


def candidates(report: reports.Report) -> list[dict]:
    """What a report counts against its recipients: a complaint, or each failure that is one
    (delays and successes are not); nothing for auto-replies and mail that is no report."""
    if report.form == reports.ARF:
        return [{"address": report.failures[0].address if report.failures else None, "kind": COMPLAINT,
                 "status": None, "diagnostic": f"stížnost příjemce ({report.feedback_type or 'abuse'})"}]
    if report.form not in (reports.DSN, reports.NON_STANDARD):
        return []
    found = []
    for failure in report.failures:
        kind = severity(failure.action, failure.status, failure.smtp_code)
        if kind is not None:
            found.append({"address": failure.address, "kind": kind, "status": failure.status,
                          "diagnostic": failure.diagnostic})
    return found


def failure_for(found: list[dict], email: str) -> dict | None:
    """Of what a report counts, what concerns this address (a report about one message of ours
    names one recipient; an address it does not name is the report's first)."""
    key = email.strip().lower()
    return next((f for f in found if (f["address"] or "").strip().lower() == key), found[0] if found else None)


def failure_from_provider(data: dict) -> dict | None:
    """What a provider's webhook says of one address: a complaint, or a bounce that is hard or soft
    as the provider says, else by its status code; None when it is no failure."""
    if data["type"] == "complaint":
        return {"kind": COMPLAINT, "status": None, "diagnostic": data.get("diagnostic") or "stížnost příjemce"}
    kind = data.get("bounce_type") or severity("failed", data.get("status"), _smtp_code(data.get("diagnostic")))
    return {"kind": kind, "status": data.get("status"), "diagnostic": data.get("diagnostic")}


def _smtp_code(diagnostic: str | None) -> int | None:
    found = reports.SMTP_CODE.search(diagnostic or "")
    return int(found.group(1)) if found else None
