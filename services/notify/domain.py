"""What mail the platform sends, in Czech: the mail platform events cause, mailouts and the
newsletter, and how failed deliveries are retried; which events webhooks get, and their retries."""
import base64
import hashlib
import ipaddress
import re
import secrets
import uuid
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from html import escape
from pathlib import Path

from icalendar import Calendar
from icalendar import Event as CalendarEvent
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateSyntaxError,
    meta,
    nodes,
    pass_context,
)
from jinja2.sandbox import SandboxedEnvironment, SecurityError
from markdown_it import MarkdownIt
from standardwebhooks.webhooks import Webhook

from nszm import formatting
from nszm.addresses import email_key
from nszm.contracts import bus
from nszm.privacy import ERASED_NAME, consent_given, erased_address
from nszm.rules import Refused, RuleBroken
from nszm.tokens import new_token, token_hash

TEMPLATES = Path(__file__).parent / "templates"
MAX_ATTEMPTS = 20  # about nine hours of retries before a mail is marked failed
MAX_BACKOFF = timedelta(hours=1)



def _registered_person(data: dict) -> tuple[str, str | None]:
    return data["registration"]["email"], data["registration"]["name"]


def _voter(data: dict) -> tuple[str, str | None]:
    return data["email"], None


# the events that mail someone -> (who gets the mail, whether it carries a calendar invitation);
# each has its Czech template, templates/<event type>.txt
MAILS = {
    bus.REGISTRATION_CONFIRMED: (_registered_person, True),
    bus.REGISTRATION_WAITLISTED: (_registered_person, False),
    bus.REGISTRATION_PROMOTED: (_registered_person, True),
    bus.REGISTRATION_CANCELLED: (_registered_person, False),
    bus.ATTENDANCE_RECORDED: (_registered_person, False),
    bus.VOTE_REQUESTED: (_voter, False),
}


templates = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, keep_trailing_newline=True,
                        autoescape=False)
templates.filters.update(when=formatting.when, time=formatting.clock, place=formatting.place,
                         hours=formatting.hours)


def invitation(data: dict) -> bytes:
    """An iCalendar invitation with one entry per session the person holds a seat in."""
    event, seats = data["event"], {s["id"]: s["status"] for s in data["registration"]["sessions"]}
    calendar = Calendar()
    calendar.add("prodid", formatting.CALENDAR_PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    for session in data["sessions"]:
        if seats.get(session["id"]) != "confirmed":
            continue
        entry = CalendarEvent()
        entry.add("uid", formatting.calendar_uid(data["registration"]["id"], session["id"]))
        entry.add("dtstamp", datetime.fromisoformat(data["event"]["starts_at"]))
        entry.add("dtstart", datetime.fromisoformat(session["starts_at"]))
        entry.add("dtend", datetime.fromisoformat(session["ends_at"]))
        entry.add("summary", f"{event['title']}: {session['title']}")
        entry.add("location", event["join_url"] if event["online"] and event.get("join_url") else
                  formatting.place(event.get("venue")) or "online")
        entry.add("description", f"Zrušení registrace: {data['cancel_url']}" if data.get("cancel_url") else "")
        calendar.add_component(entry)
    return calendar.to_ical()


# events that name a registration, not its person: the mail's contact and links are fetched from events
ABOUT_REGISTRATIONS = (bus.REGISTRATION_CONFIRMED, bus.REGISTRATION_WAITLISTED, bus.REGISTRATION_PROMOTED,
                       bus.REGISTRATION_CANCELLED, bus.ATTENDANCE_RECORDED)


def needs_registration_details(spec: bus.EventSpec, envelope: dict) -> bool:
    """Whether the event's mail needs the registered person's contact and links (fetched)."""
    if spec == bus.ATTENDANCE_RECORDED and not envelope["data"].get("certificate_id"):
        return False
    return spec in ABOUT_REGISTRATIONS and spec in MAILS


def with_details(data: dict, details: dict) -> dict:
    """An event's data with the registered person's contact and links, as the templates read them."""
    return {**data, "registration": {**data["registration"], **{key: details[key] for key in (
                "name", "email", "organization")}},
            "event": {**data["event"], "join_url": details.get("join_url")},
            "cancel_url": details["cancel_url"], "certificate_url": details.get("certificate_url")}


def mail_for(spec: bus.EventSpec, envelope: dict, details: dict | None = None) -> dict | None:
    """The one mail an event causes (keyed by the event's id), or None for events that mail nobody
    (an event about a registration whose person is erased: `details` None)."""
    if spec not in MAILS:
        return None
    data = envelope["data"]
    if spec in ABOUT_REGISTRATIONS:
        if details is None or not needs_registration_details(spec, envelope):
            return None
        data = with_details(data, details)
    recipient, with_invitation = MAILS[spec]
    to, to_name = recipient(data)
    module = templates.get_template(f"{spec.name}.txt").make_module(data)
    attachments = []
    if with_invitation:
        attachments.append({"filename": "pozvanka.ics", "content_type": "text/calendar",
                            "data": invitation(data).decode("utf-8")})
    return {
        "id": envelope["event_id"],
        "kind": spec.name,
        "to": to,
        "to_name": to_name,
        "subject": module.subject,
        "text": str(module).lstrip(),
        "attachments": attachments,
    }


def next_attempt(attempts: int, now: datetime) -> datetime | None:
    """When to try again after `attempts` failures: doubling from 2 s up to an hour; None gives up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return now + min(timedelta(seconds=2 ** attempts), MAX_BACKOFF)


# -- mailouts ------------------------------------------------------------------------------

PLACEHOLDERS = ("name", "organization", "email", "unsubscribe_url")
# An unsubscribe link keeps working this long after the message that carried it.
UNSUBSCRIBE_LINK_VALIDITY = timedelta(days=5 * 365)
# Why an address gets no bulk mail: its owner unsubscribed, its server refused it for good, or its
# owner's data was erased on request.
UNSUBSCRIBED = "unsubscribed"
REFUSED = "refused"
ERASED = "erased"
LIFTED_BY_SUBSCRIBING = (UNSUBSCRIBED, ERASED)  # a confirmed subscription asks for mail again
SAMPLE_RECIPIENT = {"email": "jana.novakova@example.cz", "name": "Jana Nováková", "organization": "Město Příkladov"}
UNSUBSCRIBE_FOOTER = "\n\n--\nNechcete dostávat hromadné e-maily Národní sítě Zdravých měst? Odhlásit se můžete zde: "
MESSAGE_ID_DOMAIN = "zdravamesta.cz"

# Staff write these templates: the sandbox keeps them to the placeholders and plain expressions,
# and `TEMPLATE_NODES` to what cannot run away (no loops, calls, arithmetic or attributes).
TEMPLATE_NODES = (nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Const, nodes.Filter,
                  nodes.Test, nodes.If, nodes.CondExpr, nodes.Compare, nodes.Operand, nodes.And, nodes.Or,
                  nodes.Not, nodes.Concat)
# None of them can make its output much longer than its input.
TEMPLATE_FILTERS = {"upper", "lower", "title", "capitalize", "trim", "default", "d", "truncate", "string"}
TEMPLATE_OUTPUT_LIMIT = 200_000  # characters one rendering may produce
TEMPLATE_TIME_LIMIT = timedelta(seconds=1)
OUTPUTS = "_outputs"  # where the HTML rendering collects what each {{ … }} printed


@pass_context
def _collected(context, value):
    """In a rendering for HTML, what an expression prints is kept aside and stands as a marker in
    the Markdown, so that nothing a recipient's name holds is read as Markdown or as a link."""
    outputs = context.get(OUTPUTS)
    if outputs is None:
        return value
    outputs.append(str(value))
    return f"{outputs[0]}o{len(outputs) - 1}e"


bulk_templates = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True,
                                      finalize=_collected)
# Bare addresses (the unsubscribe link in the footer, a link typed into the text) become links.
markdown = MarkdownIt("commonmark", {"html": False, "linkify": True, "typographer": False}).enable("linkify")


class TemplateBudgetExceeded(Exception):
    """A rendering ran past its output or time budget."""


TEMPLATE_REFUSALS = (TemplateBudgetExceeded, RuleBroken)  # a template that may not be rendered for a recipient


@lru_cache(maxsize=32)
def _compiled(source: str):
    _check_nodes(bulk_templates.parse(source))
    return bulk_templates.from_string(source)


def _check_nodes(tree):
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, TEMPLATE_NODES):
            raise RuleBroken(f"A template holds only text, placeholders ({', '.join(PLACEHOLDERS)}), conditions "
                             f"({{% if %}}) and filters; '{type(node).__name__}' is not allowed.")
        if isinstance(node, nodes.Name) and node.name not in PLACEHOLDERS:
            raise RuleBroken(f"Unknown placeholder '{node.name}'; the placeholders are {', '.join(PLACEHOLDERS)}.")
        if isinstance(node, nodes.Filter) and node.name not in TEMPLATE_FILTERS:
            raise RuleBroken(f"The filter '{node.name}' is not allowed; allowed: {', '.join(sorted(TEMPLATE_FILTERS))}.")


@lru_cache(maxsize=32)
def _uses_unsubscribe_url(source: str) -> bool:
    return "unsubscribe_url" in meta.find_undeclared_variables(bulk_templates.parse(source))


def _render(source: str, values: dict) -> str:
    """The template rendered within its budget: TEMPLATE_OUTPUT_LIMIT characters, TEMPLATE_TIME_LIMIT."""
    started, produced, parts = datetime.now(), 0, []
    for part in _compiled(source).generate(**values):
        produced += len(part)
        if produced > TEMPLATE_OUTPUT_LIMIT or datetime.now() - started > TEMPLATE_TIME_LIMIT:
            raise TemplateBudgetExceeded(f"The template produces more than {TEMPLATE_OUTPUT_LIMIT} characters "
                                         f"or takes longer than {TEMPLATE_TIME_LIMIT.total_seconds():g} s.")
        parts.append(part)
    return "".join(parts)


def _markdown_html(source: str, values: dict, footer: str) -> str:
    """The HTML part: the template's Markdown with what each expression printed put back as plain,
    escaped text after the Markdown was read."""
    outputs = [f"nszm{secrets.token_hex(6)}"]  # the markers' prefix, unguessable
    marked = _render(source, {**values, OUTPUTS: outputs})
    if footer:
        marked = marked.rstrip() + footer
    html = markdown.render(marked)
    return re.sub(rf"{outputs[0]}o(\d+)e", lambda found: escape(outputs[int(found.group(1))]), html)


def check_templates(subject: str, body: str):
    """Refuse a subject or body that does not compile or render for a sample recipient (HTTP 422)."""
    values = {**SAMPLE_RECIPIENT, "unsubscribe_url": "https://example.cz/odhlasit"}
    for field, source in (("subject", subject), ("body", body)):
        try:
            _render(source, values)
        except RuleBroken as broken:
            raise RuleBroken(broken.message, field) from None
        except TemplateSyntaxError as error:
            raise RuleBroken(f"Template error on line {error.lineno}: {error.message}", field) from None
        except SecurityError as error:
            raise RuleBroken(f"Not allowed in a template: {error}", field) from None
        except TemplateBudgetExceeded as error:
            raise RuleBroken(str(error), field) from None
        except TemplateError as error:
            raise RuleBroken(f"{error.message or error}; the placeholders are {', '.join(PLACEHOLDERS)}.",
                             field) from None
        except Exception as error:  # e.g. a division by zero in an expression
            raise RuleBroken(f"The template fails: {type(error).__name__}: {error}", field) from None


def new_mailout(data: dict, now: datetime) -> dict:
    check_templates(data["subject"], data["body"])
    return {
        "id": uuid.uuid4().hex,
        "subject": data["subject"],
        "body": data["body"],
        "format": data["format"],
        "audience": data["audience"],
        "status": "draft",
        "created_at": now,
        "scheduled_at": None,
        "started_at": None,
        "finished_at": None,
        "total": 0,
    }


def edited_mailout(mailout: dict, data: dict) -> dict:
    if mailout["status"] != "draft":
        raise Refused("Only a draft can be changed.")
    check_templates(data["subject"], data["body"])
    return {**mailout, **{key: data[key] for key in ("subject", "body", "format", "audience")}}


def audience_keys(audience: dict) -> list[str]:
    return [key for key in ("members", "event", "newsletter") if audience.get(key) not in (None, False)]


def recipients(groups: list[list[dict]], unsubscribed: set[str]) -> tuple[list[dict], list[dict]]:
    """The union of the audience's groups, one per address: (who gets it, who is skipped as unsubscribed)."""
    chosen: dict[str, dict] = {}
    for group in groups:
        for person in group:
            key = email_key(person["email"])
            if key and key not in chosen:
                chosen[key] = {"key": key, "email": person["email"].strip(), "name": person.get("name"),
                               "organization": person.get("organization")}
    deliver = [p for key, p in chosen.items() if key not in unsubscribed]
    skipped = [p for key, p in chosen.items() if key in unsubscribed]
    return deliver, skipped


def ensure_recipients(deliver: list[dict]):
    if not deliver:
        raise Refused("The audience has no recipients.", "audience")


def scheduled(mailout: dict, at: datetime | None, now: datetime) -> dict:
    """Sending asked for: now, or at a later time. A mailout is sent once."""
    if mailout["status"] != "draft":
        raise Refused(f"The mailout is {mailout['status']}; it can be sent only once.")
    return {**mailout, "status": "scheduled", "scheduled_at": max(at or now, now)}


def started(mailout: dict, deliver: int, skipped: int, now: datetime) -> dict:
    """Sending begins with the audience frozen: `deliver` to send to, `skipped` held addresses."""
    return {**mailout, "status": "sending", "started_at": now, "total": deliver + skipped, "cursor": 0,
            "progress": {"sent": 0, "failed": 0, "skipped": skipped}}


def progress(mailout: dict) -> dict:
    """What a progress bar shows: counts by recipient state (exact once finished, running totals before)."""
    counts = {key: mailout.get("progress", {}).get(key, 0) for key in ("sent", "failed", "skipped")}
    started = mailout["started_at"] is not None
    queued = max(mailout["total"] - sum(counts.values()), 0) if started and mailout["status"] != "sent" else 0
    return {**counts, "queued": queued,
            "recipients": mailout["total"] if started else mailout.get("recipients", 0)}


def is_due(recipient: dict, now: datetime) -> bool:
    return recipient["status"] == "queued" and recipient["next_attempt_at"] <= now


def range_revisit(outcomes: list[tuple[str, datetime | None]]) -> datetime | None:
    """When a sender's range needs another visit: the earliest retry of anyone still queued in it."""
    return min((retry_at for status, retry_at in outcomes if status == "queued" and retry_at), default=None)


def tally(outcomes: list[tuple[str, datetime | None]]) -> dict[str, int]:
    return {status: sum(1 for s, _ in outcomes if s == status) for status in ("sent", "failed")}


def paused(mailout: dict) -> dict:
    if mailout["status"] not in ("scheduled", "sending"):
        raise Refused(f"The mailout is {mailout['status']}; only a scheduled or sending one can be paused.")
    return {**mailout, "status": "paused"}


def resumed(mailout: dict) -> dict:
    if mailout["status"] != "paused":
        raise Refused(f"The mailout is {mailout['status']}, not paused.")
    return {**mailout, "status": "sending" if mailout["started_at"] else "scheduled"}


def cancelled(mailout: dict, now: datetime) -> dict:
    if mailout["status"] not in ("draft", "scheduled", "sending", "paused"):
        raise Refused(f"The mailout is {mailout['status']}; there is nothing to cancel.")
    return {**mailout, "status": "cancelled", "finished_at": now}


def is_time_to_start(mailout: dict, now: datetime) -> bool:
    return mailout["status"] == "scheduled" and mailout["scheduled_at"] <= now


def finished(mailout: dict, counts: dict[str, int], now: datetime) -> dict | None:
    """The mailout once nobody waits for their message any more; None while someone does."""
    if mailout["status"] != "sending" or counts.get("queued", 0):
        return None
    return {**mailout, "status": "sent", "finished_at": now,
            "progress": {key: counts.get(key, 0) for key in ("sent", "failed", "skipped")}}


def finished_data(mailout: dict, counts: dict[str, int]) -> dict:
    return {"id": mailout["id"], "subject": mailout["subject"], "status": mailout["status"],
            "total": mailout["total"], "sent": counts.get("sent", 0), "failed": counts.get("failed", 0),
            "skipped": counts.get("skipped", 0), "finished_at": mailout["finished_at"].isoformat()}


def message_id(mailout_id: str, recipient_key: str) -> str:
    """The same for every attempt at one recipient's message, so a rare repeat is recognisable."""
    digest = hashlib.sha256(recipient_key.encode("utf-8")).hexdigest()[:20]
    return f"<mailout-{mailout_id}-{digest}@{MESSAGE_ID_DOMAIN}>"


def bulk_message(mailout: dict, recipient: dict, unsubscribe_url: str) -> dict:
    """One recipient's message: text (and HTML from Markdown), with the unsubscribe link and headers."""
    values = {"email": recipient["email"], "name": recipient.get("name") or "",
              "organization": recipient.get("organization") or "", "unsubscribe_url": unsubscribe_url}
    text = _render(mailout["body"], values)
    footer = "" if _uses_unsubscribe_url(mailout["body"]) else UNSUBSCRIBE_FOOTER + unsubscribe_url + "\n"
    if footer:
        text = text.rstrip() + footer
    html = None
    if mailout["format"] == "markdown":
        html = ('<!doctype html><html lang="cs"><head><meta charset="utf-8"></head><body>'
                f"{_markdown_html(mailout['body'], values, footer)}</body></html>")
    return {
        "id": f"{mailout['id']}:{recipient['key']}",
        "to": recipient["email"],
        "to_name": recipient.get("name"),
        "subject": " ".join(_render(mailout["subject"], values).split()),
        "text": text,
        "html": html,
        "message_id": message_id(mailout["id"], recipient["key"]),
        "headers": {"List-Unsubscribe": f"<{unsubscribe_url}>",
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                    "Precedence": "bulk", "Auto-Submitted": "auto-generated"},
        "attachments": [],
    }


def test_copy(message: dict, to: str) -> dict:
    return {**message, "to": to, "to_name": None, "subject": f"[TEST] {message['subject']}",
            "message_id": f"<test-{uuid.uuid4().hex}@{MESSAGE_ID_DOMAIN}>"}


def after_failure(attempts: int, rejected: bool, now: datetime) -> tuple[str, datetime | None, str | None]:
    """A recipient after a failed try: (status, next try, why its address is held for bulk mail, if it is).

    A server's permanent refusal of the recipient (5xx) fails the message at once and puts the
    address on hold; anything temporary is retried like any mail, until the attempts run out.
    """
    retry_at = retry_after(attempts, rejected, now)
    return ("queued", retry_at, None) if retry_at else ("failed", None, REFUSED if rejected else None)


def retry_after(attempts: int, rejected: bool, now: datetime) -> datetime | None:
    """When to try a failed message again; never after the server refused the recipient for good (5xx)."""
    return None if rejected else next_attempt(attempts, now)


def send_interval(rate: float) -> float:
    """Seconds between two bulk messages at MAILOUT_RATE messages per second (0: no pause)."""
    return 1.0 / rate if rate > 0 else 0.0


# -- the newsletter and unsubscribing --------------------------------------------------------

CONFIRMATION_RESEND_AFTER = timedelta(minutes=10)
CONFIRMATION_VALIDITY = timedelta(days=7)  # a subscription link not used by then is worth nothing


def subscription_requested(subscriber: dict | None, email: str, name: str | None, now: datetime,
                           consent: dict | None = None) -> tuple[dict | None, str | None]:
    """(the subscriber to store, the confirmation token to mail), or (None, None) when nothing is to be done.

    A confirmed subscriber is left alone; a pending one is mailed again only after a while, so
    that nobody can use the form to flood an address.
    """
    if subscriber and subscriber["status"] == "confirmed":
        return None, None
    if subscriber and subscriber["status"] == "pending" and now - subscriber["mailed_at"] < CONFIRMATION_RESEND_AFTER:
        return None, None
    token = new_token()
    return {
        "id": email_key(email), "email": email.strip(), "name": name or (subscriber or {}).get("name"),
        "status": "pending", "token_hash": token_hash(token), "mailed_at": now,
        "created_at": (subscriber or {}).get("created_at", now), "confirmed_at": None,
        "unsubscribed_at": (subscriber or {}).get("unsubscribed_at"),
        "consent_asked": consent or {},  # recorded as given when the person confirms
    }, token


def subscription_confirmed(subscriber: dict, now: datetime) -> dict:
    if subscriber["status"] == "confirmed":
        raise Refused("The subscription is confirmed already.")
    if subscriber.get("mailed_at") and _aware(subscriber["mailed_at"]) + CONFIRMATION_VALIDITY < now:
        raise Refused("This confirmation link has expired; subscribe again to get a new one.")
    return {**{key: value for key, value in subscriber.items() if key != "consent_asked"},
            "status": "confirmed", "confirmed_at": now, "token_hash": None,
            "consent": consent_given("newsletter", subscriber.get("consent_asked"), now)}


def _aware(moment: datetime) -> datetime:
    """A stored time as UTC (a database may hand times back without their zone)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def newsletter_confirmation(subscriber: dict, confirm_url: str) -> dict:
    """The double opt-in mail: a link to a page with a button."""
    module = templates.get_template("newsletter_confirmation.txt").make_module(
        {"name": subscriber.get("name"), "confirm_url": confirm_url})
    return {"id": f"newsletter-{uuid.uuid4().hex}", "kind": "newsletter_confirmation", "to": subscriber["email"],
            "to_name": subscriber.get("name"), "subject": module.subject, "text": str(module).lstrip(),
            "attachments": []}


# -- personal data ----------------------------------------------------------------------------

def erasure(person: str, now: datetime) -> dict:
    """A request to erase a person's data everywhere: notify erases its own records at once and
    announces `person_erased`, on which every other service erases its own."""
    return {"id": uuid.uuid4().hex, "person": person,
            "requested_at": now.replace(microsecond=now.microsecond // 1000 * 1000)}  # as the database keeps it


def erased_values(person: str) -> dict:
    """What the person's mail and recipient rows become: the status, dates and counts stay; the
    address, name, subject and message do not."""
    address = erased_address(person)
    return {"mail": {"to": address, "to_name": None, "subject": None},
            "mail_dropped": ["text", "html", "attachments", "headers"],
            "recipient": {"email": address, "key": address, "name": ERASED_NAME, "organization": None,
                          "message_id": None}}


# -- webhooks ---------------------------------------------------------------------------------

# Standard Webhooks' suggested schedule: the pause before each try after the first.
WEBHOOK_RETRY_DELAYS = (timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
                        timedelta(hours=5), timedelta(hours=10), timedelta(hours=10))
WEBHOOK_GIVE_UP_AFTER = timedelta(hours=24)  # a delivery is retried this long, then failed
WEBHOOK_DISABLE_AFTER = timedelta(hours=24)  # an endpoint failing this long is disabled until staff enable it
WEBHOOK_SECRET_PREFIX = "whsec_"


def new_webhook(data: dict, now: datetime) -> dict:
    """A webhook endpoint with a fresh signing secret (`whsec_` + base64 of 32 random bytes)."""
    secret = WEBHOOK_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()
    return {"id": uuid.uuid4().hex, "url": data["url"], "events": sorted(set(data["events"])),
            "description": data.get("description"), "secret": secret, "enabled": True, "created_at": now,
            "failing_since": None, "disabled_at": None}


def refused_address(addresses: list[str], allow_private: bool) -> str | None:
    """Why a webhook may not go to a host with these IP addresses, or None if it may."""
    if not addresses:
        return "The host name does not resolve."
    if allow_private:
        return None
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not _public(ip):
            return f"The host resolves to {ip}, which is not a public address."
    return None


NAT64 = ipaddress.ip_network("64:ff9b::/96")  # a gateway's translation of any IPv4 address, internal ones too


def _public(ip) -> bool:
    if not ip.is_global or ip.is_multicast:
        return False
    if ip.version == 6:
        if ip in NAT64:
            return False
        embedded = ip.sixtofour or (ip.teredo[1] if ip.teredo else None) or ip.ipv4_mapped
        if embedded is not None and not _public(embedded):
            return False
    return True


def deliveries_for(webhooks: list[dict], envelope: dict, now: datetime) -> list[dict]:
    """One delivery of the event to each enabled endpoint that asked for its type."""
    return [{"id": f"{webhook['id']}:{envelope['event_id']}", "webhook_id": webhook["id"],
             "event_id": envelope["event_id"], "event_type": envelope["event_type"], "envelope": envelope,
             "status": "pending", "attempts": 0, "last_status": None, "last_error": None, "created_at": now,
             "next_attempt_at": now, "delivered_at": None}
            for webhook in webhooks if webhook["enabled"] and envelope["event_type"] in webhook["events"]]


def signature_headers(secret: str, event_id: str, at: datetime, body: str) -> dict:
    """The Standard Webhooks headers: `webhook-signature` is `v1,` + base64 of HMAC-SHA256 over
    `{id}.{timestamp}.{body}`, keyed with the secret's base64-decoded part."""
    signature = Webhook(secret).sign(event_id, at, body)
    return {"webhook-id": event_id, "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": signature,
            "content-type": "application/json"}


def after_attempt(delivery: dict, webhook: dict, status: int | None, error: str | None,
                  now: datetime) -> tuple[dict, dict]:
    """The delivery and its endpoint after one try: delivered on a 2xx; else tried again later,
    for a day at the most; an endpoint failing for a day is disabled."""
    attempts = delivery["attempts"] + 1
    tried = {**delivery, "attempts": attempts, "last_status": status, "last_error": error}
    if status is not None and 200 <= status < 300:
        return ({**tried, "status": "delivered", "delivered_at": now, "next_attempt_at": None},
                {**webhook, "failing_since": None})
    retry_at = now + WEBHOOK_RETRY_DELAYS[attempts - 1] if attempts <= len(WEBHOOK_RETRY_DELAYS) else None
    if retry_at is None or retry_at - delivery["created_at"] > WEBHOOK_GIVE_UP_AFTER:
        tried = {**tried, "status": "failed", "next_attempt_at": None}
    else:
        tried = {**tried, "next_attempt_at": retry_at}
    failing_since = webhook["failing_since"] or now
    if webhook["enabled"] and now - failing_since >= WEBHOOK_DISABLE_AFTER:
        return tried, {**webhook, "failing_since": failing_since, "enabled": False, "disabled_at": now}
    return tried, {**webhook, "failing_since": failing_since}


def webhook_enabled(webhook: dict) -> dict:
    """Staff turn a disabled endpoint on again: its failures so far are forgotten."""
    return {**webhook, "enabled": True, "disabled_at": None, "failing_since": None}
