"""Rules of events: sessions, seats and the waiting list, cancellation, attendance, certificates."""
import hmac
import secrets
import uuid
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, cast

from nszm import czech
from nszm.addresses import email_key
from nszm.contracts import bus
from nszm.contracts.events import EventSchema
from nszm.privacy import ERASED_NAME, consent_given, erased_address
from nszm.records import Event, Registration, Seat, Session
from nszm.rules import Decided, Refused, RuleBroken
from nszm.schemas import cached_schema

DEFAULT_CANCELLATION_WINDOW = timedelta(hours=24)


def event_id_base(title: str, starts_at: datetime) -> str:
    return f"{starts_at:%Y-%m}-{czech.slugify(title)}"[:80].rstrip("-")


def session_hours(starts_at: datetime, ends_at: datetime) -> float:
    """Accredited hours default to the session's length, rounded to half hours."""
    return round((ends_at - starts_at).total_seconds() / 1800) / 2


def new_event(data: dict, event_id: str, now: datetime) -> Event:
    sessions = []
    for number, session in enumerate(data["sessions"], start=1):
        sessions.append({
            **session,
            "id": f"s{number}",
            "hours": session.get("hours", session_hours(session["starts_at"], session["ends_at"])),
            "seats_taken": 0, "seats_left": session["capacity"], "waiting": 0,  # what its counters start at
        })
    for session in sessions:
        if session["starts_at"] < data["starts_at"] or session["ends_at"] > data["ends_at"]:
            raise RuleBroken("A session must lie within the event.", "sessions")
    return cast(Event, {  # the loaded EventInputSchema, completed
        **data,
        "id": event_id,
        "sessions": sessions,
        "cancellation_deadline": data.get("cancellation_deadline") or data["starts_at"] - DEFAULT_CANCELLATION_WINDOW,
        "status": "draft",
        "created_at": now,
        "published_at": None,
    })


def publish(event: Event, now: datetime) -> Decided[Event]:
    if event["status"] == "published":
        raise Refused("The event is published already.")
    published: Event = {**event, "status": "published", "published_at": now}
    return Decided(published, [bus.envelope(bus.EVENT_PUBLISHED, cached_schema(EventSchema).dump(published))])


def registration_event(spec: bus.EventSpec, event: Event, registration: Registration, changed: list[str],
                       cancelled_by: str | None = None) -> dict:
    """An event about a registration: its id, person, status and seats, never its contact."""
    asked = {seat["id"] for seat in registration["sessions"]}
    return bus.envelope(spec, {
        "registration": cached_schema(bus.RegistrationRefData).dump(registration),
        "event": cached_schema(bus.EventSummaryData).dump(event),
        "sessions": cached_schema(bus.SessionSummaryData, many=True).dump(
            [s for s in event["sessions"] if s["id"] in asked]),
        "changed_sessions": changed,
        "cancelled_by": cancelled_by,
    })


def seated_events(seated: list[Registration], events: dict[str, Event]) -> list[dict]:
    """registration_confirmed or registration_waitlisted for each registration just seated."""
    return [registration_event(
        bus.REGISTRATION_CONFIRMED if r["status"] == "confirmed" else bus.REGISTRATION_WAITLISTED,
        events[r["event_id"]], r, [s["id"] for s in r["sessions"]]) for r in seated]


def new_registration(event: Event, data: dict, is_coordinator: bool, now: datetime, person: str,
                     request_id: str | None = None) -> Registration:
    """A registration asking for seats; the store then grants or waitlists each seat. It keeps
    the id of the request that made it, so that the same request delivered again is recognised."""
    if event["status"] != "published":
        raise Refused("Registration is not open for this event.")
    if now >= event["starts_at"]:
        raise Refused("The event has started; registration is closed.")
    by_id = {s["id"]: s for s in event["sessions"]}
    wanted = list(dict.fromkeys(data["sessions"]))
    unknown = [sid for sid in wanted if sid not in by_id]
    if unknown:
        raise RuleBroken(f"No such session: {', '.join(unknown)}.", "sessions")
    closed = [sid for sid in wanted if by_id[sid]["audience"] == "coordinators" and not is_coordinator]
    if closed:
        raise RuleBroken(
            f"Session {', '.join(closed)} is only for coordinators of member municipalities; "
            "register with the e-mail address the association has for you.", "sessions")
    return cast(Registration, {  # the loaded RegistrationInputSchema, completed
        **{key: value for key, value in data.items() if key != "consent"},
        "id": uuid.uuid4().hex,
        "event_id": event["id"],
        "email_key": email_key(data["email"]),
        "person": person,
        "consent": consent_given("registration", data.get("consent"), now),
        "sessions": [{"id": sid, "status": None, "ticket": None, "waitlist_position": None} for sid in wanted],
        "status": None,
        "created_at": now,
        "cancelled_at": None,
        "checked_in_at": None,
        "attended_sessions": [],
        "hours": None,
        "certificate_id": None,
        **({"request_id": request_id} if request_id else {}),
    })


def overall_status(seats: list[Seat]) -> str:
    """Confirmed once every seat asked for is held; cancelled when nothing is left."""
    live = [seat["status"] for seat in seats if seat["status"] != "cancelled"]
    if not live:
        return "cancelled"
    return "confirmed" if all(status == "confirmed" for status in live) else "waitlisted"


def with_seat(registration: Registration, session_id: str, status: str, ticket: int | None = None,
              position: int | None = None) -> Registration:
    """The registration holding `status` in one session; a waitlisted seat keeps the queue ticket it drew."""
    seats = [
        Seat(id=seat["id"], status=status, ticket=ticket, waitlist_position=position) if seat["id"] == session_id
        else seat
        for seat in registration["sessions"]
    ]
    return {**registration, "sessions": seats, "status": overall_status(seats)}


def first_per_address(registrations: list[Registration], registered: set[str]) -> list[Registration | Refused]:
    """Each registration, or its refusal when its address holds a live registration for the event
    already: one stored (`registered`: their e-mail keys) or one earlier in the same list."""
    seen = set(registered)
    outcomes: list[Registration | Refused] = []
    for registration in registrations:
        if registration["email_key"] in seen:
            outcomes.append(Refused(f"{registration['email']} is registered for this event already."))
        else:
            seen.add(registration["email_key"])
            outcomes.append(registration)
    return outcomes


def seat_in_order(registrations: list[Registration], counters: dict[str, dict]
                  ) -> tuple[list[Registration], dict[str, dict[str, int]]]:
    """Seats for registrations in the order they came: each session asked for gives a seat while
    any is left (`counters[session]["seats_left"]`), else the next ticket of its waiting list
    and the place behind everyone waiting. Returns the seated registrations and the counters'
    increments per session."""
    changes: dict[str, dict[str, int]] = {}
    seated = []
    for registration in registrations:
        for seat in registration["sessions"]:
            counter = counters[seat["id"]]
            change = changes.setdefault(seat["id"], {"seats_left": 0, "waiting": 0, "waitlist_seq": 0})
            if counter["seats_left"] + change["seats_left"] > 0:
                change["seats_left"] -= 1
                registration = with_seat(registration, seat["id"], "confirmed")
            else:
                change["waiting"] += 1
                change["waitlist_seq"] += 1
                registration = with_seat(registration, seat["id"], "waitlisted",
                                         ticket=counter["waitlist_seq"] + change["waitlist_seq"],
                                         position=counter["waiting"] + change["waiting"])
        seated.append(registration)
    return seated, {session_id: {name: by for name, by in change.items() if by}
                    for session_id, change in changes.items() if any(change.values())}


def seat_for_events(registrations: list[Registration], registered: set[tuple[str, str]],
                    counters: dict[str, dict[str, dict]]
                    ) -> tuple[list[Registration | Refused], dict[str, dict[str, dict[str, int]]]]:
    """Registrations for several events at once, in the order they came: each event's by
    `first_per_address` (`registered`: the (event id, e-mail key) pairs holding a live
    registration) and then `seat_in_order` with its counters (`counters[event][session]`).
    Returns each registration's outcome, seated or refused, in order, and the counters'
    increments by event and session."""
    outcomes: dict[str, Registration | Refused] = {}
    changes: dict[str, dict[str, dict[str, int]]] = {}
    for event_id in dict.fromkeys(r["event_id"] for r in registrations):
        theirs = [r for r in registrations if r["event_id"] == event_id]
        admitted = first_per_address(theirs, {key for event, key in registered if event == event_id})
        seated, moved = seat_in_order([r for r in admitted if not isinstance(r, Refused)], counters[event_id])
        outcomes.update((r["id"], outcome) for r, outcome in zip(theirs, admitted))
        outcomes.update((r["id"], r) for r in seated)
        if moved:
            changes[event_id] = moved
    return [outcomes[r["id"]] for r in registrations], changes


def waiting_sessions(registration: Registration) -> list[str]:
    return [seat["id"] for seat in registration["sessions"] if seat["status"] == "waitlisted"]


def with_queue_positions(registration: Registration, queues: dict[str, list[int]]) -> Registration:
    """Each waitlisted seat's place in its session's current queue: one more than the people ahead.

    `queues` holds, per session, the sorted tickets of everyone waiting now; tickets only order
    the queue, so a promotion or a cancellation ahead moves everyone behind up at once.
    """
    seats = [
        Seat(id=seat["id"], status=seat["status"], ticket=seat["ticket"],
             waitlist_position=bisect_left(queues[seat["id"]], seat["ticket"]) + 1
             if seat["status"] == "waitlisted" and seat["ticket"] is not None else None)
        for seat in registration["sessions"]
    ]
    return {**registration, "sessions": seats}


@dataclass
class Cancellation:
    """What cancelling a registration changes: the registration, who gets each freed seat, the counters."""

    cancelled: Registration
    promoted: list[tuple[Registration, list[str]]] = field(default_factory=list)  # (registration, sessions it got)
    seat_changes: dict[str, dict[str, int]] = field(default_factory=dict)  # session id -> counter increments

    @property
    def changed(self) -> list[Registration]:
        return [self.cancelled, *(registration for registration, _ in self.promoted)]


def confirmed_sessions(registration: Registration) -> list[str]:
    return [seat["id"] for seat in registration["sessions"] if seat["status"] == "confirmed"]


def cancel(registration: Registration, event: Event, waiting: list[Registration], by_staff: bool, now: datetime) -> Cancellation:
    """Cancel a registration; each seat it frees goes to the first person waiting for it (`waiting`:
    the registrations waiting in those sessions), or back to the free seats if nobody waits."""
    if registration["status"] == "cancelled":
        raise Refused("The registration is cancelled already.")
    if registration["checked_in_at"]:
        raise Refused("The participant has been checked in; the registration can no longer be cancelled.")
    if not by_staff and now > event["cancellation_deadline"]:
        raise Refused("Online cancellation has closed for this event; please contact the organisers.")
    seats = [Seat(id=seat["id"], status="cancelled", ticket=None, waitlist_position=None)
             for seat in registration["sessions"]]
    outcome = Cancellation({**registration, "sessions": seats, "status": "cancelled", "cancelled_at": now})

    def count(session_id: str, counter: str, by: int):
        changes = outcome.seat_changes.setdefault(session_id, {})
        changes[counter] = changes.get(counter, 0) + by

    for session_id in waiting_sessions(registration):
        count(session_id, "waiting", -1)
    candidates = {r["id"]: r for r in waiting if r["id"] != registration["id"]}
    promoted: dict[str, list[str]] = {}
    for session_id in confirmed_sessions(registration):
        lucky = first_waiting(list(candidates.values()), session_id)
        if lucky is None:
            count(session_id, "seats_left", 1)
            continue
        candidates[lucky["id"]] = with_seat(lucky, session_id, "confirmed")
        promoted.setdefault(lucky["id"], []).append(session_id)
        count(session_id, "waiting", -1)
    outcome.promoted = [(candidates[registration_id], sessions) for registration_id, sessions in promoted.items()]
    return outcome


def cancellation_events(outcome: Cancellation, event: Event, before: Registration, by_staff: bool,
                        queues_of: Callable[[Registration], dict[str, list[int]]]) -> list[dict]:
    """registration_cancelled, and registration_promoted for each person who got a freed seat, with
    their places in the queues they still wait in (`queues_of(registration)`, read once the
    cancellation is stored)."""
    announced = [registration_event(bus.REGISTRATION_CANCELLED, event, outcome.cancelled, confirmed_sessions(before),
                                    "staff" if by_staff else "participant")]
    for lucky, sessions in outcome.promoted:
        announced.append(registration_event(bus.REGISTRATION_PROMOTED, event,
                                            with_queue_positions(lucky, queues_of(lucky)), sessions))
    return announced


def first_waiting(candidates: list[Registration], session_id: str) -> Registration | None:
    """Of registrations waiting for `session_id`, the one that asked first."""
    def position(registration):
        return next(s["ticket"] for s in registration["sessions"] if s["id"] == session_id)

    waiting = [r for r in candidates if any(s["id"] == session_id and s["status"] == "waitlisted"
                                              for s in r["sessions"])]
    return min(waiting, key=position, default=None)


def participants(registrations: list[Registration], statuses: list[str]) -> list[dict]:
    """The people of these registration statuses; `attended` means checked in."""
    return [
        {"email": r["email"], "name": r["name"], "organization": r["organization"]}
        for r in registrations
        if holds_person(r) and (r["status"] in statuses or ("attended" in statuses and r["checked_in_at"]))
    ]


def check_in(registration: Registration, event: Event, session_ids: list[str] | None, now: datetime
             ) -> Registration:
    if registration["status"] == "cancelled":
        raise Refused("The registration is cancelled.")
    if registration["checked_in_at"]:
        raise Refused("The participant is checked in already.")
    confirmed = [seat["id"] for seat in registration["sessions"] if seat["status"] == "confirmed"]
    if not confirmed:
        raise Refused("The participant holds no confirmed seat.")
    attended = list(dict.fromkeys(session_ids)) if session_ids else confirmed
    not_held = [sid for sid in attended if sid not in confirmed]
    if not_held:
        raise RuleBroken(f"No confirmed seat in session {', '.join(not_held)}.", "sessions")
    hours = sum(s["hours"] for s in event["sessions"] if s["id"] in attended)
    return {**registration, "checked_in_at": now, "attended_sessions": attended, "hours": hours}


def attendance_recorded(checked: Registration, event: Event) -> dict:
    """The event announcing a check-in: sessions attended, hours, the certificate's number if any."""
    return bus.envelope(bus.ATTENDANCE_RECORDED, {
        "registration": cached_schema(bus.RegistrationRefData).dump(checked),
        "event": cached_schema(bus.EventSummaryData).dump(event),
        "attended_sessions": checked["attended_sessions"],
        "hours": checked["hours"],
        "certificate_id": checked.get("certificate_id"),
    })


def certificate_number(year: int, serial: int) -> str:
    return f"NSZM-{year}-{serial:06d}"


def earns_certificate(event: Event) -> bool:
    """Attendance at an accredited event is certified, with a number of its year."""
    return bool(event["accredited"])


# A registration's mailed link (cancel, certificate) works this long: certificates are fetched years later.
LINK_VALIDITY = timedelta(days=3 * 365)
VERIFICATION_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off paper
VERIFICATION_LENGTH = 10  # 50 random bits: the number alone, which is in sequence, proves nothing


def with_certificate(checked: Registration, serial: int) -> Registration:
    """The certificate's number (in sequence, per year) and its unguessable verification code."""
    code = "".join(secrets.choice(VERIFICATION_ALPHABET) for _ in range(VERIFICATION_LENGTH))
    checked_in_at = checked["checked_in_at"]
    if checked_in_at is None:
        raise ValueError(f"registration {checked['id']} is not checked in")
    return {**checked, "certificate_id": certificate_number(checked_in_at.year, serial), "verification_code": code}


def verifies(registration: Registration, code: str | None) -> bool:
    """A certificate is shown to the public only for the code printed on it."""
    expected = registration.get("verification_code")
    if not (expected and code):
        return False
    return hmac.compare_digest(expected.encode(), code.strip().upper().encode("utf-8", "surrogatepass"))


def certificate_check(registration: Registration, event: Event) -> dict:
    """What the public verification shows: who, which event, when, how many hours; nothing more."""
    return {"certificate_id": registration["certificate_id"], "name": registration["name"],
            "event_title": event["title"], "starts_at": event["starts_at"], "ends_at": event["ends_at"],
            "hours": registration["hours"]}


def certificate(registration: Registration, event: Event) -> dict:
    """What a certificate of attendance states; refused unless the participant attended an accredited event."""
    if not event["accredited"]:
        raise Refused("The event is not accredited; it has no certificates of attendance.")
    if not registration["checked_in_at"] or not registration.get("certificate_id"):
        raise Refused("The participant has not been checked in.")
    titles = {s["id"]: s["title"] for s in event["sessions"]}
    venue = event.get("venue") or {}
    return {
        "certificate_id": registration["certificate_id"],
        "verification_code": registration.get("verification_code"),
        "name": registration["name"],
        "organization": registration["organization"],
        "event_title": event["title"],
        "event_type": event["type"],
        "starts_at": event["starts_at"],
        "ends_at": event["ends_at"],
        "venue": ", ".join(part for part in (venue.get("name"), venue.get("city")) if part) or
                 ("online" if event.get("online") else None),
        "hours": registration["hours"],
        "sessions": [titles[sid] for sid in registration["attended_sessions"]],
        "accreditation": event.get("accreditation"),
        "issued_at": registration["checked_in_at"],
    }


def seats_left(session: Session) -> int:
    return max(session["capacity"] - session["seats_taken"], 0)


def news_item(event: Event) -> dict:
    """A published event as the news feed tells it."""
    return {"key": f"event:{event['id']}", "title": f"Akce: {event['title']}",
            "summary": event.get("description") or event["title"], "path": f"/api/v1/events/{event['id']}",
            "published": event["published_at"], "category": "event"}


# -- personal data ------------------------------------------------------------------------------

PERSONAL_FIELDS = ("phone", "note", "consent")  # dropped at erasure and at the end of retention


def holds_person(registration: Registration) -> bool:
    """Whether the registration still holds its person's contact (not erased, not past retention)."""
    return not registration.get("erased_at") and not registration.get("expired_at")


def _without_contact(registration: Registration, name: str, **stamp: datetime) -> Registration:
    """The registration without its person's address, organisation and answers, under `name`."""
    address = erased_address(registration["person"])
    kept = {key: value for key, value in registration.items() if key not in PERSONAL_FIELDS}
    return cast(Registration, {**kept, "name": name, "email": address, "email_key": address, "organization": "",
                               **stamp})


def erased_registration(registration: Registration, now: datetime) -> Registration:
    """The registration after its person asked to be erased: seats, attendance, hours and the
    certificate's number and code stay (the register of issued certificates, and the counts);
    nothing else about the person does."""
    return _without_contact(registration, ERASED_NAME, erased_at=registration.get("erased_at") or now)


def expired_registration(registration: Registration, now: datetime) -> Registration:
    """The registration once its event is long over (RETAIN_REGISTRATIONS_MONTHS): the contact and
    answers go; seats and attendance stay; a certificate's holder keeps their name in the register
    of issued certificates."""
    if not holds_person(registration):
        return registration
    name = registration["name"] if registration.get("certificate_id") else ERASED_NAME
    return _without_contact(registration, name, expired_at=now)


def mail_details(registration: Registration, event: Event, links: dict) -> dict | None:
    """What a mail to the registered person needs beyond the event: their contact and their links
    (the join link only with a confirmed seat); None once the person is erased or expired."""
    if not holds_person(registration):
        return None
    confirmed = any(seat["status"] == "confirmed" for seat in registration["sessions"])
    return {"name": registration["name"], "email": registration["email"],
            "organization": registration["organization"], "cancel_url": links["cancel_url"],
            "certificate_url": links["certificate_url"] if registration.get("certificate_id") else None,
            "join_url": event.get("join_url") if event.get("online") and confirmed else None}
