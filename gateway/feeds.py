"""Machine-readable feeds built from the services: the iCalendar of upcoming events."""
from datetime import datetime, timezone

from icalendar import Calendar, Event

ICS_PRODID = "-//Národní síť Zdravých měst ČR//platforma//CS"


def events_calendar(events: list[dict], public_url: str) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", ICS_PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", "Akce Národní sítě Zdravých měst ČR")
    calendar.add("x-wr-timezone", "Europe/Prague")
    for item in events:
        entry = Event()
        entry.add("uid", f"{item['id']}@zdravamesta.cz")
        entry.add("dtstamp", datetime.fromisoformat(item["published_at"]) if item.get("published_at")
                  else datetime.now(timezone.utc))
        entry.add("dtstart", datetime.fromisoformat(item["starts_at"]))
        entry.add("dtend", datetime.fromisoformat(item["ends_at"]))
        entry.add("summary", item["title"])
        if item.get("description"):
            entry.add("description", item["description"])
        venue = item.get("venue") or {}
        location = ", ".join(p for p in (venue.get("name"), venue.get("address"), venue.get("city")) if p)
        entry.add("location", location or "online")
        entry.add("url", f"{public_url}/api/v1/events/{item['id']}")
        entry.add("categories", [item["type"]])
        calendar.add_component(entry)
    return calendar.to_ical()
