"""Czech words for the codes the services answer with, and Prague times, for the console's pages."""
from datetime import date, datetime

from nszm import formatting
from nszm.formatting import PRAGUE

ROLES = {"members": "členství", "events": "akce", "practice": "dobrá praxe", "mailouts": "e-maily",
         "admin": "správce"}

STATUSES = {
    "draft": "koncept", "published": "zveřejněno", "archived": "archivováno",
    "pending": "čeká", "approved": "schváleno", "rejected": "zamítnuto",
    "active": "aktivní", "left": "vystoupil",
    "confirmed": "potvrzeno", "waitlisted": "čeká na místo", "cancelled": "zrušeno", "attended": "zúčastnil se",
    "scheduled": "naplánováno", "sending": "odesílá se", "paused": "pozastaveno", "sent": "odesláno",
    "failed": "selhalo", "queued": "ve frontě", "skipped": "přeskočeno",
    "upcoming": "před hlasováním", "open": "hlasuje se", "closed": "uzavřeno",
}


def status(code: str | None) -> str:
    return STATUSES.get(code, code or "–")


def when(value: str | datetime | None) -> str:
    """A time as '1. 12. 2026 9:00' in Prague time, a date as '1. 12. 2026'; nothing as '–'."""
    if not value:
        return "–"
    if (isinstance(value, date) and not isinstance(value, datetime)) or (isinstance(value, str) and len(value) == 10):
        return formatting.day(value)
    return formatting.when(value)


def from_local_input(value: str | None) -> str | None:
    """What a `datetime-local` field sends, read as Prague time; anything else is passed on for the
    service to name as invalid."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=PRAGUE).isoformat()
    except ValueError:
        return value
