"""Czech words for the codes the services answer with, and Prague times, for the console's pages."""
from datetime import date, datetime

from nszm import formatting
from nszm.contracts.members import MEMBER_TYPES
from nszm.formatting import PRAGUE

ROLES = {"members": "členství", "events": "akce", "practice": "dobrá praxe", "mailouts": "e-maily",
         "admin": "správce"}

STATUSES = {
    "draft": "koncept", "published": "zveřejněno", "archived": "archivováno",
    "pending": "čeká", "approved": "schváleno", "rejected": "zamítnuto",
    "active": "aktivní", "left": "vystoupil",
    "confirmed": "potvrzeno", "waitlisted": "čeká na místo", "cancelled": "zrušeno", "attended": "zúčastnil se",
    "scheduled": "naplánováno", "sending": "odesílá se", "paused": "pozastaveno", "sent": "odesláno",
    "failed": "selhalo", "queued": "ve frontě", "skipped": "přeskočeno", "bounced": "vráceno",
    "suppressed": "neodesláno (blokovaná adresa)",
    "upcoming": "před hlasováním", "open": "hlasuje se", "closed": "uzavřeno",
}


# the fields of a person's data export, as the console names them
FIELDS = {
    "id": "číslo záznamu", "status": "stav", "name": "jméno / název", "type": "typ", "region": "kraj", "ico": "IČO",
    "population": "obyvatel", "contact": "kontakt", "website": "web", "part_of": "součástí", "note": "poznámka",
    "submitted_at": "podáno", "decided_at": "rozhodnuto", "member": "člen", "member_name": "člen", "reason": "důvod",
    "role": "role", "email": "e-mail", "phone": "telefon", "event_id": "akce", "event_title": "akce",
    "organization": "organizace", "sessions": "bloky", "created_at": "vytvořeno", "cancelled_at": "zrušeno",
    "checked_in_at": "prezence", "attended_sessions": "navštívené bloky", "hours": "hodiny",
    "certificate_id": "osvědčení", "consent": "souhlas", "erased_at": "vymazáno", "expired_at": "po lhůtě uchování",
    "competition_id": "soutěž", "practice": "praxe", "confirmed_at": "potvrzeno", "counted": "započten",
    "kind": "druh", "subject": "předmět", "sent_at": "odesláno", "mailout_id": "hromadný e-mail",
    "purpose": "účel", "given_at": "uděleno", "form": "formulář", "text_version": "verze textu", "at": "kdy",
    "waitlist_position": "pořadí", "source": "zdroj", "imported_at": "importováno",
}
SERVICES = {"members": "členové", "events": "akce", "practice": "dobrá praxe", "notify": "e-maily"}
CONTACT_ROLES = {"coordinator": "koordinátor", "politician": "politik", "other": "jiná"}


def field(name: str) -> str:
    return FIELDS.get(name, name)


def value(shown) -> str:
    """An exported value in Czech: times in Prague time, codes in words, nothing as '–'."""
    if shown is None or shown == "":
        return "–"
    if isinstance(shown, bool):
        return "ano" if shown else "ne"
    if isinstance(shown, dict):
        return "; ".join(f"{field(key)}: {value(inner)}" for key, inner in shown.items())
    if isinstance(shown, list):
        return ", ".join(value(item) for item in shown) or "–"
    if isinstance(shown, str) and len(shown) >= 19 and shown[4] == "-" and shown[10] == "T":
        return when(shown)
    if isinstance(shown, str):
        return STATUSES.get(shown) or CONTACT_ROLES.get(shown) or MEMBER_TYPES.get(shown) or shown
    return str(shown)


def status(code: str | None) -> str:
    return STATUSES.get(code, code) if code else "–"


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
