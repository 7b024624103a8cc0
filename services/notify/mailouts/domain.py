"""Mailouts: templates kept in a sandbox, the audience, the states of a mailout, one recipient's
message, and what a failure means for the recipient."""
import hashlib
import re
import secrets
import uuid
from datetime import datetime, timedelta
from functools import lru_cache
from html import escape
from typing import Any, Mapping

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, meta, nodes, pass_context
from jinja2.sandbox import SandboxedEnvironment, SecurityError
from markdown_it import MarkdownIt

from nszm.addresses import email_key
from nszm.contracts import bus
from nszm.records import Mailout, Recipient
from nszm.rules import Refusal, Refused, RuleBroken
from services.notify.mail.domain import retry_after

PLACEHOLDERS = ("name", "organization", "email", "unsubscribe_url")
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


TEMPLATE_REFUSALS = (TemplateBudgetExceeded, Refusal)  # a template that may not be rendered for a recipient


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


def new_mailout(data: dict, now: datetime) -> Mailout:
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


def edited_mailout(mailout: Mailout, data: dict) -> Mailout:
    if mailout["status"] != "draft":
        raise Refused("Only a draft can be changed.")
    check_templates(data["subject"], data["body"])
    return {**mailout, "subject": data["subject"], "body": data["body"], "format": data["format"],
            "audience": data["audience"]}


def audience_keys(audience: dict) -> list[str]:
    return [key for key in ("members", "event", "newsletter") if audience.get(key) not in (None, False)]


def recipients(groups: list[list[dict]], suppressed: dict[str, str]) -> tuple[list[dict], list[dict]]:
    """The union of the audience's groups, one per address: (who gets it, who is skipped, each with
    the reason the suppression list gives, by address key in `suppressed`)."""
    chosen: dict[str, dict] = {}
    for group in groups:
        for person in group:
            key = email_key(person["email"])
            if key and key not in chosen:
                chosen[key] = {"key": key, "email": person["email"].strip(), "name": person.get("name"),
                               "organization": person.get("organization")}
    deliver = [p for key, p in chosen.items() if key not in suppressed]
    skipped = [{**p, "skip_reason": suppressed[key]} for key, p in chosen.items() if key in suppressed]
    return deliver, skipped


def ensure_recipients(deliver: list[dict]):
    if not deliver:
        raise Refused("The audience has no recipients.", "audience")


def scheduled(mailout: Mailout, at: datetime | None, now: datetime) -> Mailout:
    """Sending asked for: now, or at a later time. A mailout is sent once."""
    if mailout["status"] != "draft":
        raise Refused(f"The mailout is {mailout['status']}; it can be sent only once.")
    return {**mailout, "status": "scheduled", "scheduled_at": max(at or now, now)}


def started(mailout: Mailout, deliver: int, skipped: int, now: datetime) -> Mailout:
    """Sending begins with the audience frozen: `deliver` to send to, `skipped` held addresses."""
    return {**mailout, "status": "sending", "started_at": now, "total": deliver + skipped, "cursor": 0,
            "progress": {"sent": 0, "failed": 0, "skipped": skipped}}


def progress(mailout: Mailout) -> dict:
    """What a progress bar shows: counts by recipient state (exact once finished, running totals
    before). `sent` counts every message the server took, `bounced` those of them that came back."""
    counts = {key: mailout.get("progress", {}).get(key, 0) for key in ("sent", "failed", "skipped")}
    started = mailout["started_at"] is not None
    queued = max(mailout["total"] - sum(counts.values()), 0) if started and mailout["status"] != "sent" else 0
    return {**counts, "queued": queued, "bounced": mailout.get("progress", {}).get("bounced", 0),
            "recipients": mailout["total"] if started else mailout.get("recipients", 0)}


def final_counts(by_status: dict[str, int]) -> dict[str, int]:
    """A mailout's counts from its recipients' states: a bounced message was sent too."""
    return {"sent": by_status.get("sent", 0) + by_status.get("bounced", 0), "bounced": by_status.get("bounced", 0),
            "failed": by_status.get("failed", 0), "skipped": by_status.get("skipped", 0),
            "queued": by_status.get("queued", 0)}


def is_due(recipient: Recipient, now: datetime) -> bool:
    return recipient["status"] == "queued" and recipient["next_attempt_at"] <= now


def range_revisit(outcomes: list[tuple[str, datetime | None]]) -> datetime | None:
    """When a sender's range needs another visit: the earliest retry of anyone still queued in it."""
    return min((retry_at for status, retry_at in outcomes if status == "queued" and retry_at), default=None)


def tally(outcomes: list[tuple[str, datetime | None]]) -> dict[str, int]:
    return {status: sum(1 for s, _ in outcomes if s == status) for status in ("sent", "failed", "skipped")}


def paused(mailout: Mailout) -> Mailout:
    if mailout["status"] not in ("scheduled", "sending"):
        raise Refused(f"The mailout is {mailout['status']}; only a scheduled or sending one can be paused.")
    return {**mailout, "status": "paused"}


def resumed(mailout: Mailout) -> Mailout:
    if mailout["status"] != "paused":
        raise Refused(f"The mailout is {mailout['status']}, not paused.")
    return {**mailout, "status": "sending" if mailout["started_at"] else "scheduled"}


def cancelled(mailout: Mailout, now: datetime) -> Mailout:
    if mailout["status"] not in ("draft", "scheduled", "sending", "paused"):
        raise Refused(f"The mailout is {mailout['status']}; there is nothing to cancel.")
    return {**mailout, "status": "cancelled", "finished_at": now}


def is_time_to_start(mailout: Mailout, now: datetime) -> bool:
    scheduled_at = mailout["scheduled_at"]
    return mailout["status"] == "scheduled" and scheduled_at is not None and scheduled_at <= now


def finished(mailout: Mailout, by_status: dict[str, int], now: datetime) -> Mailout | None:
    """The mailout once every recipient's message was sent, failed or skipped (their sum is the
    total); None while anyone is still waiting for theirs."""
    counts = final_counts(by_status)
    done = counts["sent"] + counts["failed"] + counts["skipped"]
    if mailout["status"] != "sending" or counts["queued"] or done != mailout["total"]:
        return None
    return {**mailout, "status": "sent", "finished_at": now,
            "progress": {key: counts[key] for key in ("sent", "bounced", "failed", "skipped")}}


def retried(mailout: Mailout, by_status: dict[str, int]) -> Mailout:
    """Sending again to the recipients whose messages failed, and only to them."""
    if mailout["status"] != "sent":
        raise Refused(f"The mailout is {mailout['status']}; only a sent mailout's failed messages can be "
                      "sent again.", code="not_sent")
    failed = by_status.get("failed", 0)
    if not failed:
        raise Refused("No message of this mailout failed.", code="nothing_failed")
    counts = final_counts(by_status)
    return {**mailout, "status": "sending", "finished_at": None,
            "progress": {**{key: counts[key] for key in ("sent", "bounced", "skipped")}, "failed": 0}}


def mailout_finished(mailout: Mailout, by_status: dict[str, int]) -> dict:
    """The event announcing that a mailout ended (sent or cancelled), with its final counts."""
    if mailout["finished_at"] is None:
        raise ValueError(f"mailout {mailout['id']} has not ended")
    counts = final_counts(by_status)
    return bus.envelope(bus.MAILOUT_FINISHED, {
        "id": mailout["id"], "subject": mailout["subject"], "status": mailout["status"], "total": mailout["total"],
        "sent": counts.get("sent", 0), "failed": counts.get("failed", 0), "skipped": counts.get("skipped", 0),
        "finished_at": mailout["finished_at"].isoformat()})


def message_id(mailout_id: str, recipient_key: str) -> str:
    """The same for every attempt at one recipient's message, so a rare repeat is recognisable."""
    digest = hashlib.sha256(recipient_key.encode("utf-8")).hexdigest()[:20]
    return f"<mailout-{mailout_id}-{digest}@{MESSAGE_ID_DOMAIN}>"


def bulk_message(mailout: Mailout, recipient: Mapping[str, Any], unsubscribe_url: str) -> dict:
    """One recipient's message: text (and HTML from Markdown), with the unsubscribe link and headers."""
    values = {"email": recipient["email"], "name": recipient.get("name") or "",
              "organization": recipient.get("organization") or "", "unsubscribe_url": unsubscribe_url}
    text = _render(mailout["body"], values)
    footer = "" if _uses_unsubscribe_url(mailout["body"]) else UNSUBSCRIBE_FOOTER + unsubscribe_url + "\n"
    if footer:
        text = text.rstrip() + footer
    subject = " ".join(_render(mailout["subject"], values).split())
    html = None
    if mailout["format"] == "markdown":  # a page of its own for readers that show it as one (WCAG: language, title)
        html = (f'<!doctype html><html lang="cs"><head><meta charset="utf-8"><title>{escape(subject)}</title>'
                f"</head><body>{_markdown_html(mailout['body'], values, footer)}</body></html>")
    return {
        "id": f"{mailout['id']}:{recipient['key']}",
        "to": recipient["email"],
        "to_name": recipient.get("name"),
        "subject": subject,
        "text": text,
        "html": html,
        "message_id": message_id(mailout["id"], recipient["key"]),
        "bounce_token": recipient.get("bounce_token"),
        "headers": {"List-Unsubscribe": f"<{unsubscribe_url}>",
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                    "Precedence": "bulk", "Auto-Submitted": "auto-generated"},
        "attachments": [],
    }


def test_copy(message: dict, to: str) -> dict:
    return {**message, "to": to, "to_name": None, "subject": f"[TEST] {message['subject']}",
            "message_id": f"<test-{uuid.uuid4().hex}@{MESSAGE_ID_DOMAIN}>"}


def after_failure(attempts: int, rejected: bool, now: datetime) -> tuple[str, datetime | None]:
    """A recipient after a failed try: (status, next try). A server's permanent refusal of the
    recipient (5xx) fails the message at once (and counts as a hard bounce); anything temporary is
    retried like any mail, until the attempts run out."""
    retry_at = retry_after(attempts, rejected, now)
    return ("queued", retry_at) if retry_at else ("failed", None)


def one_sender_at_a_time(rate: float) -> bool:
    """MAILOUT_RATE is the platform's, however many notify processes run: with a rate, one of them
    at a time sends a mailout (one sends hundreds a second); without one, all of them do."""
    return rate > 0


def send_interval(rate: float) -> float:
    """Seconds between two bulk messages at MAILOUT_RATE messages per second (0: no pause)."""
    return 1.0 / rate if rate > 0 else 0.0
