"""How the platform writes times, hours, places and calendar entries in Czech, in one place.

Times are shown in Prague time; a calendar entry's uid is stable, so a calendar that gets the
same entry again (a new mail, the feed read twice) updates it instead of adding a copy.
"""
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

PRAGUE = ZoneInfo("Europe/Prague")
CALENDAR_DOMAIN = "zdravamesta.cz"
CALENDAR_PRODID = "-//Národní síť Zdravých měst ČR//platforma//CS"


def local(moment: str | datetime) -> datetime:
    """A time (ISO text or datetime; naive means UTC) in Prague."""
    value = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(PRAGUE)


def day(moment: str | datetime | date) -> str:
    """'1. 12. 2026' (a time's day in Prague)."""
    if isinstance(moment, str) and len(moment) == 10:
        value = date.fromisoformat(moment)
    elif isinstance(moment, (str, datetime)):
        value = local(moment)
    else:
        value = moment
    return f"{value.day}. {value.month}. {value.year}"


def clock(moment: str | datetime) -> str:
    """'9:05'."""
    value = local(moment)
    return f"{value.hour}:{value.minute:02d}"


def when(moment: str | datetime) -> str:
    """'1. 12. 2026 9:05' in Prague time."""
    return f"{day(moment)} {clock(moment)}"


def days(starts_at: str | datetime, ends_at: str | datetime) -> str:
    """'1. 12. 2026', or '1. 12. 2026 – 3. 12. 2026' for several days."""
    first, last = day(starts_at), day(ends_at)
    return first if first == last else f"{first} – {last}"


def hours(value: float) -> str:
    """'6', '1,5'."""
    return f"{value:g}".replace(".", ",")


def answer(value) -> str:
    """An answer to a registration question as a cell shows it: 'ano', 'oběd, večeře', or ''."""
    if isinstance(value, bool):
        return "ano" if value else "ne"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return "" if value is None else str(value)


def exported_questions(event: dict) -> list[dict]:
    """The event's questions whose answers go into exports, in order."""
    return [question for question in event.get("questions") or [] if question["in_exports"]]


def place(venue: dict | None) -> str:
    """'Radnice, Náměstí 1, Kroměříž' from a venue's parts that are there."""
    venue = venue or {}
    return ", ".join(part for part in (venue.get("name"), venue.get("address"), venue.get("city")) if part)


def calendar_uid(*parts: str) -> str:
    """A calendar entry's stable uid: 'event-id@zdravamesta.cz', 'registration-session@…'."""
    return f"{'-'.join(parts)}@{CALENDAR_DOMAIN}"
