"""What mail a platform event causes, in Czech, and how failed deliveries are retried."""
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from icalendar import Calendar
from icalendar import Event as CalendarEvent
from jinja2 import Environment, FileSystemLoader, StrictUndefined

PRAGUE = ZoneInfo("Europe/Prague")
TEMPLATES = Path(__file__).parent / "templates"
MAX_ATTEMPTS = 20  # about nine hours of retries before a mail is marked failed
MAX_BACKOFF = timedelta(hours=1)



def _registered_person(data: dict) -> tuple[str, str | None]:
    return data["registration"]["email"], data["registration"]["name"]


def _voter(data: dict) -> tuple[str, str | None]:
    return data["email"], None


# event type -> (who gets the mail, whether it carries a calendar invitation)
MAILS = {
    "registration_confirmed": (_registered_person, True),
    "registration_waitlisted": (_registered_person, False),
    "registration_promoted": (_registered_person, True),
    "registration_cancelled": (_registered_person, False),
    "attendance_recorded": (_registered_person, False),
    "vote_requested": (_voter, False),
}


def _local(moment: str | datetime) -> datetime:
    value = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return value.astimezone(PRAGUE)


def _when(moment) -> str:
    local = _local(moment)
    return f"{local.day}. {local.month}. {local.year} {local.hour}:{local.minute:02d}"


def _time(moment) -> str:
    local = _local(moment)
    return f"{local.hour}:{local.minute:02d}"


def _place(venue: dict | None) -> str:
    venue = venue or {}
    return ", ".join(part for part in (venue.get("name"), venue.get("address"), venue.get("city")) if part)


def _hours(hours: float) -> str:
    return f"{hours:g}".replace(".", ",")


templates = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, keep_trailing_newline=True,
                        autoescape=False)
templates.filters.update(when=_when, time=_time, place=_place, hours=_hours)


def invitation(data: dict) -> bytes:
    """An iCalendar invitation with one entry per session the person holds a seat in."""
    event, seats = data["event"], {s["id"]: s["status"] for s in data["registration"]["sessions"]}
    calendar = Calendar()
    calendar.add("prodid", "-//Národní síť Zdravých měst ČR//platforma//CS")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    for session in data["sessions"]:
        if seats.get(session["id"]) != "confirmed":
            continue
        entry = CalendarEvent()
        entry.add("uid", f"{data['registration']['id']}-{session['id']}@zdravamesta.cz")
        entry.add("dtstamp", datetime.fromisoformat(data["event"]["starts_at"]))
        entry.add("dtstart", datetime.fromisoformat(session["starts_at"]))
        entry.add("dtend", datetime.fromisoformat(session["ends_at"]))
        entry.add("summary", f"{event['title']}: {session['title']}")
        entry.add("location", event["join_url"] if event["online"] and event.get("join_url") else
                  _place(event.get("venue")) or "online")
        entry.add("description", f"Zrušení registrace: {data['cancel_url']}" if data.get("cancel_url") else "")
        calendar.add_component(entry)
    return calendar.to_ical()


def mail_for(event_type: str, envelope: dict) -> dict | None:
    """The one mail an event causes (keyed by the event's id), or None for events that mail nobody."""
    if event_type not in MAILS:
        return None
    data = envelope["data"]
    if event_type == "attendance_recorded" and not data.get("certificate_url"):
        return None
    recipient, with_invitation = MAILS[event_type]
    to, to_name = recipient(data)
    module = templates.get_template(f"{event_type}.txt").make_module(data)
    attachments = []
    if with_invitation:
        attachments.append({"filename": "pozvanka.ics", "content_type": "text/calendar",
                            "data": invitation(data).decode("utf-8")})
    return {
        "id": envelope["event_id"],
        "kind": event_type,
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
