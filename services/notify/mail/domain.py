"""Which mail a platform event causes, in Czech (the templates in `templates/`), and when a
failed delivery is tried again."""
from datetime import datetime, timedelta
from pathlib import Path

from icalendar import Calendar
from icalendar import Event as CalendarEvent
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from nszm import formatting, tickets
from nszm.contracts import bus

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
    bus.REGISTRATION_CHANGED: (_registered_person, True),
    bus.REGISTRATION_REMINDED: (_registered_person, True),
    bus.ATTENDANCE_RECORDED: (_registered_person, False),
    bus.VOTE_REQUESTED: (_voter, False),
}


templates = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, keep_trailing_newline=True,
                        autoescape=False)
templates.filters.update(when=formatting.when, time=formatting.clock, place=formatting.place,
                         hours=formatting.hours)


def rendered(template: str, data: dict) -> tuple[str, str]:
    """A mail template's subject (what it sets as `subject`) and text, rendered with `data`."""
    module = templates.get_template(template).make_module(data)
    return vars(module)["subject"], str(module).lstrip()


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
                       bus.REGISTRATION_CANCELLED, bus.REGISTRATION_CHANGED, bus.REGISTRATION_REMINDED,
                       bus.ATTENDANCE_RECORDED)


def certificate_issued(attendance: dict) -> bool:
    """Whether this check-in earned the certificate (before schema version 3, every check-in
    with a certificate's number did)."""
    return attendance.get("certificate_issued", bool(attendance.get("certificate_id")))


def needs_registration_details(spec: bus.EventSpec, envelope: dict) -> bool:
    """Whether the event's mail needs the registered person's contact and links (fetched)."""
    if spec == bus.ATTENDANCE_RECORDED and not certificate_issued(envelope["data"]):
        return False
    return spec in ABOUT_REGISTRATIONS and spec in MAILS


def with_details(data: dict, details: dict) -> dict:
    """An event's data with the registered person's contact and links, as the templates read them."""
    return {**data, "registration": {**data["registration"], **{key: details[key] for key in (
                "name", "email", "organization")}},
            "event": {**data["event"], "join_url": details.get("join_url")},
            "cancel_url": details["cancel_url"], "manage_url": details.get("manage_url", details["cancel_url"]),
            "certificate_url": details.get("certificate_url")}


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
    subject, text = rendered(f"{spec.name}.txt", data)
    attachments: list[dict] = []
    if with_invitation and any(seat["status"] == "confirmed" for seat in data["registration"]["sessions"]):
        attachments.append({"filename": "pozvanka.ics", "content_type": "text/calendar",
                            "data": invitation(data).decode("utf-8")})
        attachments.append({"filename": "qr-kod-pro-vstup.png", "content_type": "image/png", "base64": True,
                            "data": tickets.png_base64(data["registration"]["id"])})
    return {
        "id": envelope["event_id"],
        "kind": spec.name,
        "to": to,
        "to_name": to_name,
        "subject": subject,
        "text": text,
        "attachments": attachments,
    }


def next_attempt(attempts: int, now: datetime) -> datetime | None:
    """When to try again after `attempts` failures: doubling from 2 s up to an hour; None gives up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return now + min(timedelta(seconds=2 ** attempts), MAX_BACKOFF)


def retry_after(attempts: int, rejected: bool, now: datetime) -> datetime | None:
    """When to try a failed message again; never after the server refused the recipient for good (5xx)."""
    return None if rejected else next_attempt(attempts, now)
