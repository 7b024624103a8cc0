"""Rules of events: sessions, seats and the waiting list, cancellation, attendance, certificates."""
import hmac
import secrets
import uuid
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, cast

from marshmallow import ValidationError

from nszm import czech
from nszm.addresses import email_key
from nszm.contracts import bus
from nszm.contracts.errors import NotFound
from nszm.contracts.events import DEFAULT_MIN_ATTENDANCE_SHARE, DEFAULT_REMINDER_DAYS, EventSchema, answer_field
from nszm.privacy import ERASED_NAME, consent_given, erased_address
from nszm.records import Attendance, Event, Registration, Seat, Session
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
    questions = [{"session": None, **question, "id": f"q{number}"}
                 for number, question in enumerate(data.get("questions", []), start=1)]
    known = {session["id"] for session in sessions}
    for number, question in enumerate(questions):
        if question["session"] is not None and question["session"] not in known:
            raise RuleBroken(f"No session '{question['session']}' for the question “{question['label']}”.",
                             f"questions.{number}.session")
    return cast(Event, {  # the loaded EventInputSchema, completed
        **data,
        "id": event_id,
        "sessions": sessions,
        "questions": questions,
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
        "answers": answered(event, wanted, data.get("answers") or {}),
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
        "attendance": [],
        "attended_sessions": [],
        "hours": None,
        "certificate_id": None,
        **({"request_id": request_id} if request_id else {}),
    })


def answered(event: Event, sessions: list[str], answers: dict) -> dict:
    """The answers to the event's questions asked of someone registering for `sessions`, as
    they are kept; refused, naming the question, when one is missing, unknown or does not fit."""
    questions = {question["id"]: question for question in event.get("questions", [])}
    unknown = sorted(set(answers) - set(questions))
    if unknown:
        raise RuleBroken(f"The event asks no question {', '.join(unknown)}.", f"answers.{unknown[0]}")
    kept = {}
    for question_id, question in questions.items():
        field_name, label, given = f"answers.{question_id}", question["label"], answers.get(question_id)
        if question["session"] is not None and question["session"] not in sessions:
            if given is not None:
                raise RuleBroken(f"“{label}” is asked only of those registering for session {question['session']}.",
                                 field_name)
            continue
        if given is None or given == "" or given == []:
            if question["required"]:
                raise RuleBroken(f"Please answer “{label}”.", field_name)
            continue
        try:
            value = answer_field(question).deserialize(given)
        except ValidationError as invalid:
            raise RuleBroken(f"“{label}”: {' '.join(_messages(invalid))}", field_name) from None
        if question["type"] == "consent" and question["required"] and value is not True:
            raise RuleBroken(f"“{label}” must be agreed to.", field_name)
        kept[question_id] = value
    return kept


def _messages(invalid: ValidationError) -> list[str]:
    messages = invalid.messages
    if isinstance(messages, dict):
        return [str(m) for inner in messages.values() for m in (inner if isinstance(inner, list) else [inner])]
    return [str(m) for m in messages]


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
    if not by_staff and now > event["cancellation_deadline"] and confirmed_sessions(registration):
        # someone only waiting frees no seat: they may withdraw at any time
        raise Refused("Online cancellation has closed for this event; please contact the organisers.",
                      code="cancellation_closed")
    seats = [Seat(id=seat["id"], status="cancelled", ticket=None, waitlist_position=None)
             for seat in registration["sessions"]]
    outcome = Cancellation({**registration, "sessions": seats, "status": "cancelled", "cancelled_at": now})
    outcome.promoted, outcome.seat_changes = _give_up(
        registration, {seat["id"]: seat["status"] for seat in registration["sessions"]}, waiting)
    return outcome


def _count(changes: dict[str, dict[str, int]], session_id: str, counter: str, by: int) -> None:
    session = changes.setdefault(session_id, {})
    session[counter] = session.get(counter, 0) + by


def _give_up(registration: Registration, seats: dict[str, str | None], waiting: list[Registration]
             ) -> tuple[list[tuple[Registration, list[str]]], dict[str, dict[str, int]]]:
    """What a registration giving up `seats` (session -> the seat's status) changes: who gets
    each seat (the first waiting for it; `waiting`: those waiting in these sessions) and the
    counters' increments; a place in a queue given up only shortens the queue."""
    changes: dict[str, dict[str, int]] = {}
    candidates = {r["id"]: r for r in waiting if r["id"] != registration["id"]}
    promoted: dict[str, list[str]] = {}
    for session_id, status in seats.items():
        if status == "waitlisted":
            _count(changes, session_id, "waiting", -1)
        if status != "confirmed":
            continue
        lucky = first_waiting(list(candidates.values()), session_id)
        if lucky is None:
            _count(changes, session_id, "seats_left", 1)
            continue
        candidates[lucky["id"]] = with_seat(lucky, session_id, "confirmed")
        promoted.setdefault(lucky["id"], []).append(session_id)
        _count(changes, session_id, "waiting", -1)
    return [(candidates[registration_id], sessions) for registration_id, sessions in promoted.items()], changes


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


@dataclass
class SessionChange:
    """What a participant's change of sessions changes: their registration, who gets each seat
    they give up, the counters; `taken` and `given_up` name the sessions."""

    changed: Registration
    taken: list[str]
    given_up: list[str]
    promoted: list[tuple[Registration, list[str]]] = field(default_factory=list)
    seat_changes: dict[str, dict[str, int]] = field(default_factory=dict)


def _changeable(registration: Registration, event: Event, now: datetime) -> None:
    if not holds_person(registration):
        raise Refused("The registration no longer holds its person's data.", code="erased")
    if registration["status"] == "cancelled":
        raise Refused("The registration is cancelled.", code="registration_cancelled")
    if now >= event["starts_at"]:
        raise Refused("The event has started; the registration can no longer be changed online.",
                      code="event_started")


def change_sessions(registration: Registration, event: Event, wanted: list[str], answers: dict | None,
                    is_coordinator: bool, counters: dict[str, dict], waiting: list[Registration], now: datetime
                    ) -> SessionChange:
    """The participant holds seats in (or waits for) `wanted` sessions from now on: a session
    taken gets a free seat or the next place in its queue, a seat given up goes to the first
    person waiting for it. Giving up a seat closes with the cancellation deadline; a session
    attended stays. `counters` are the event's seat counters as read; `waiting`, the
    registrations waiting in the sessions given up; `answers`, if given, replace the answers."""
    _changeable(registration, event, now)
    by_id = {session["id"]: session for session in event["sessions"]}
    wanted = list(dict.fromkeys(wanted))
    unknown = [sid for sid in wanted if sid not in by_id]
    if unknown:
        raise RuleBroken(f"No such session: {', '.join(unknown)}.", "sessions")
    if not wanted:
        raise RuleBroken("Keep at least one session, or cancel the registration.", "sessions")
    held = {seat["id"]: seat["status"] for seat in registration["sessions"] if seat["status"] != "cancelled"}
    taken = [sid for sid in wanted if sid not in held]
    given_up = [sid for sid in held if sid not in wanted]
    closed = [sid for sid in taken if by_id[sid]["audience"] == "coordinators" and not is_coordinator]
    if closed:
        raise RuleBroken(f"Session {', '.join(closed)} is only for coordinators of member municipalities.", "sessions")
    attended = [sid for sid in given_up if sid in registration["attended_sessions"]]
    if attended:
        raise Refused(f"Session {', '.join(attended)} was attended already.", code="attended")
    if any(held[sid] == "confirmed" for sid in given_up) and now > event["cancellation_deadline"]:
        raise Refused("Seats can no longer be given up online; please contact the organisers.",
                      code="cancellation_closed")
    if answers is None:  # the answers given before, but to the questions of sessions given up
        asked = {q["id"] for q in event.get("questions", []) if q["session"] is None or q["session"] in wanted}
        answers = {key: value for key, value in registration.get("answers", {}).items() if key in asked}
    kept_answers = answered(event, wanted, answers)
    outcome = SessionChange({**registration, "answers": kept_answers}, taken, given_up)
    outcome.promoted, outcome.seat_changes = _give_up(registration, {sid: held[sid] for sid in given_up}, waiting)
    changed = outcome.changed
    for session_id in given_up:
        changed = with_seat(changed, session_id, "cancelled")
    for session_id in taken:
        counter = counters[session_id]
        if not any(seat["id"] == session_id for seat in changed["sessions"]):
            changed = {**changed, "sessions": [*changed["sessions"], Seat(id=session_id, status=None, ticket=None,
                                                                          waitlist_position=None)]}
        if counter["seats_left"] > 0:
            _count(outcome.seat_changes, session_id, "seats_left", -1)
            changed = with_seat(changed, session_id, "confirmed")
        else:
            _count(outcome.seat_changes, session_id, "waiting", 1)
            _count(outcome.seat_changes, session_id, "waitlist_seq", 1)
            changed = with_seat(changed, session_id, "waitlisted", ticket=counter["waitlist_seq"] + 1)
    order = {session["id"]: n for n, session in enumerate(event["sessions"])}
    outcome.changed = {**changed, "sessions": sorted(changed["sessions"], key=lambda seat: order[seat["id"]])}
    return outcome


def session_change_events(outcome: SessionChange, event: Event,
                          queues_of: Callable[[Registration], dict[str, list[int]]]) -> list[dict]:
    """registration_changed, and registration_promoted for each person who got a seat given up;
    none when the sessions stay as they were."""
    if not (outcome.taken or outcome.given_up):
        return []
    mine = with_queue_positions(outcome.changed, queues_of(outcome.changed))
    announced = [registration_event(bus.REGISTRATION_CHANGED, event, mine, [*outcome.taken, *outcome.given_up])]
    for lucky, sessions in outcome.promoted:
        announced.append(registration_event(bus.REGISTRATION_PROMOTED, event,
                                            with_queue_positions(lucky, queues_of(lucky)), sessions))
    return announced


def sessions_after_leaving(registration: Registration, session_id: str) -> list[str]:
    """The sessions a participant keeps on leaving the waiting list of one; none left means the
    registration is to be cancelled."""
    waiting = waiting_sessions(registration)
    if session_id not in waiting:
        raise Refused(f"The registration is not on the waiting list of session {session_id}.", code="not_waiting")
    return [seat["id"] for seat in registration["sessions"]
            if seat["status"] not in (None, "cancelled") and seat["id"] != session_id]


def edited(registration: Registration, event: Event, changes: dict, now: datetime) -> Registration:
    """The registration with the person's own changes to their contact and answers; the name
    stays as certified once a certificate is issued in it."""
    if not holds_person(registration):
        raise Refused("The registration no longer holds its person's data.", code="erased")
    if registration["status"] == "cancelled":
        raise Refused("The registration is cancelled.", code="registration_cancelled")
    if now >= event["ends_at"]:
        raise Refused("The event is over; the registration can no longer be changed online.", code="event_over")
    if registration.get("certificate_id") and changes.get("name", registration["name"]) != registration["name"]:
        raise Refused("The certificate is issued in this name; please ask the organisers to change it.",
                      code="certified_name")
    answers = changes.get("answers")
    kept = {key: value for key, value in changes.items() if key != "answers"}
    live = [seat["id"] for seat in registration["sessions"] if seat["status"] != "cancelled"]
    return {**registration, **kept,
            "answers": answered(event, live, registration.get("answers", {}) if answers is None else answers)}


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


# -- reminders -------------------------------------------------------------------------------------

def reminder_due(event: Event, now: datetime) -> bool:
    """An event's reminders go from its reminder days before its start until it starts."""
    days = event.get("reminder_days", DEFAULT_REMINDER_DAYS)
    return bool(days) and event["status"] == "published" and event["starts_at"] - timedelta(days=days) <= now < \
        event["starts_at"]


def reminded(registrations: list[Registration], event: Event, now: datetime) -> Decided[list[Registration]]:
    """Of the event's registrations not reminded yet, those holding a seat, marked as reminded,
    with a registration_reminded for each; nobody is reminded twice, the waiting are not."""
    due: list[Registration] = [
        {**r, "reminded_at": now} for r in registrations
        if not r.get("reminded_at") and confirmed_sessions(r) and r["status"] != "cancelled" and holds_person(r)]
    return Decided(due, [
        registration_event(bus.REGISTRATION_REMINDED, event, r, confirmed_sessions(r)) for r in due])


# -- attendance -----------------------------------------------------------------------------------

# A scanner that types as a US keyboard into a Czech layout gives these for the digits 1–0.
CZECH_KEYBOARD_DIGITS = str.maketrans("+ěščřžýáíé", "1234567890")


def ticket_code(scanned: str) -> str:
    """The registration id a scan read: the QR code holds the id, a link ends with it, and a
    scanner typing on a Czech keyboard layout turns its digits into letters with diacritics."""
    code = scanned.strip().translate(CZECH_KEYBOARD_DIGITS).lower().split("?", 1)[0]
    return code.split("/registrations/", 1)[1].split("/", 1)[0] if "/registrations/" in code else code


@dataclass(frozen=True)
class Scan:
    """What a scan at a session's door did (`SCAN_OUTCOMES`): the registration as it is to be stored,
    and the events announcing the change; none when the scan repeated one made already."""

    outcome: str
    registration: Registration
    events: list[dict]


def session_of(event: Event, session_id: str) -> Session:
    session = next((s for s in event["sessions"] if s["id"] == session_id), None)
    if session is None:
        raise NotFound(f"No session '{session_id}' in event '{event['id']}'.")
    return session


def _attendance_of(registration: Registration, session_id: str) -> Attendance | None:
    return next((a for a in registration["attendance"] if a["session_id"] == session_id), None)


def _seated(registration: Registration, event: Event, session_id: str) -> None:
    """Refuse a scan unless the registration holds a seat in the session of this event."""
    session_of(event, session_id)
    name = registration["name"]
    if registration["event_id"] != event["id"]:
        raise Refused(f"The registration of {name} is for another event.", code="other_event")
    if registration["status"] == "cancelled":
        raise Refused(f"The registration of {name} is cancelled.", code="registration_cancelled")
    seat = next((seat["status"] for seat in registration["sessions"] if seat["id"] == session_id), None)
    if seat is None:
        raise Refused(f"{name} is not registered for session {session_id}.", code="not_registered_for_session")
    if seat == "waitlisted":
        raise Refused(f"{name} waits for a seat in session {session_id} and holds none.", code="waitlisted")
    if seat != "confirmed":
        raise Refused(f"{name} gave up the seat in session {session_id}.", code="seat_given_up")


def attended_hours(event: Event, session_ids: list[str]) -> float:
    return sum(s["hours"] for s in event["sessions"] if s["id"] in session_ids)


def _with_attendance(registration: Registration, event: Event, attendance: list[Attendance]) -> Registration:
    attended = [a["session_id"] for a in attendance]
    first = min((a["checked_in_at"] for a in attendance), default=None)
    return {**registration, "attendance": attendance, "attended_sessions": attended,
            "hours": attended_hours(event, attended), "checked_in_at": first}


def certificate_due(registration: Registration, event: Event) -> bool:
    """An accredited event certifies a participant once the hours they attended reach its minimum
    share of the hours of the sessions they hold seats in."""
    if not event["accredited"] or registration.get("certificate_id"):
        return False
    held = attended_hours(event, confirmed_sessions(registration))
    share = event.get("min_attendance_share", DEFAULT_MIN_ATTENDANCE_SHARE)
    return held > 0 and (registration["hours"] or 0) >= share * held - 1e-9


def arrive(registration: Registration, event: Event, session_id: str, now: datetime,
           next_serial: Callable[[int], int]) -> Scan:
    """Check a participant in to one session; the certificate comes with the check-in that brings
    their hours to the event's minimum (`next_serial(year)`: the next number of the year)."""
    _seated(registration, event, session_id)
    if _attendance_of(registration, session_id):
        return Scan("already_checked_in", registration, [])
    arrival = Attendance(session_id=session_id, checked_in_at=now, checked_out_at=None)
    attended = _with_attendance(registration, event, [*registration["attendance"], arrival])
    issued = certificate_due(attended, event)
    if issued:
        attended = with_certificate(attended, next_serial(now.year), now)
    return Scan("checked_in", attended, [attendance_recorded(attended, event, session_id, "checked_in", issued)])


def leave(registration: Registration, event: Event, session_id: str, now: datetime) -> Scan:
    """Check a participant out of a session they were checked in to; the hours stay the session's."""
    _seated(registration, event, session_id)
    present = _attendance_of(registration, session_id)
    if present is None:
        raise Refused(f"{registration['name']} has not been checked in to session {session_id}.",
                      code="not_checked_in")
    if present["checked_out_at"]:
        return Scan("already_checked_out", registration, [])
    attendance = [Attendance(**{**a, "checked_out_at": now}) if a["session_id"] == session_id else a
                  for a in registration["attendance"]]
    left = _with_attendance(registration, event, attendance)
    return Scan("checked_out", left, [attendance_recorded(left, event, session_id, "checked_out", False)])


def check_in(registration: Registration, event: Event, session_ids: list[str] | None, now: datetime,
             next_serial: Callable[[int], int]) -> Scan:
    """Check a participant in to several sessions at once (default: every one they hold a seat in)."""
    if registration["status"] == "cancelled":
        raise Refused("The registration is cancelled.", code="registration_cancelled")
    confirmed = confirmed_sessions(registration)
    if not confirmed:
        raise Refused("The participant holds no confirmed seat.", code="waitlisted")
    asked = list(dict.fromkeys(session_ids)) if session_ids else confirmed
    not_held = [sid for sid in asked if sid not in confirmed]
    if not_held:
        raise RuleBroken(f"No confirmed seat in session {', '.join(not_held)}.", "sessions")
    outcome, announced = registration, list[dict]()
    for session_id in asked:
        scan = arrive(outcome, event, session_id, now, next_serial)
        outcome, announced = scan.registration, announced + scan.events
    if not announced:
        raise Refused("The participant is checked in already.", code="already_checked_in")
    return Scan("checked_in", outcome, announced)


def attendance_recorded(registration: Registration, event: Event, session_id: str, action: str,
                        certificate_issued: bool) -> dict:
    """The event announcing a check-in or check-out at one session, with the sessions attended so
    far, their hours, and the certificate's number once there is one."""
    return bus.envelope(bus.ATTENDANCE_RECORDED, {
        "registration": cached_schema(bus.RegistrationRefData).dump(registration),
        "event": cached_schema(bus.EventSummaryData).dump(event),
        "session_id": session_id,
        "action": action,
        "attended_sessions": registration["attended_sessions"],
        "hours": registration["hours"],
        "certificate_id": registration.get("certificate_id"),
        "certificate_issued": certificate_issued,
    })


def attendees(registrations: list[Registration], session_id: str, query: str | None) -> list[dict]:
    """The people holding a seat in the session (or waiting for one, or having given it up), in
    Czech order of names; with `query`, those whose name or organisation holds it, diacritics or not."""
    wanted = czech.fold(query or "")
    found = []
    for registration in registrations:
        seat = next((s for s in registration["sessions"] if s["id"] == session_id), None)
        if seat is None or not holds_person(registration):
            continue
        if wanted and wanted not in czech.fold(f"{registration['name']} {registration['organization']}"):
            continue
        present = _attendance_of(registration, session_id)
        found.append({"registration_id": registration["id"], "name": registration["name"],
                      "organization": registration["organization"], "email": registration["email"],
                      "seat": seat["status"], "checked_in_at": present["checked_in_at"] if present else None,
                      "checked_out_at": present["checked_out_at"] if present else None,
                      "answers": registration.get("answers", {})})
    return sorted(found, key=lambda person: (czech.sort_key(person["name"]), person["registration_id"]))


def certificate_register(registrations: list[Registration]) -> list[dict]:
    """The certificates issued for an event, by number: who, how many hours, when issued. An
    erased person's entry keeps its number and hours under the erased name."""
    return sorted(({"certificate_id": r["certificate_id"], "name": r["name"], "organization": r["organization"],
                    "hours": r["hours"], "issued_at": r.get("certificate_issued_at") or r["checked_in_at"]}
                   for r in registrations if r.get("certificate_id")), key=lambda entry: entry["certificate_id"])


def certificate_number(year: int, serial: int) -> str:
    return f"NSZM-{year}-{serial:06d}"


# A registration's mailed link (cancel, certificate) works this long: certificates are fetched years later.
LINK_VALIDITY = timedelta(days=3 * 365)
VERIFICATION_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off paper
VERIFICATION_LENGTH = 10  # 50 random bits: the number alone, which is in sequence, proves nothing


def with_certificate(attended: Registration, serial: int, now: datetime) -> Registration:
    """The certificate's number (in sequence, per year) and its unguessable verification code."""
    code = "".join(secrets.choice(VERIFICATION_ALPHABET) for _ in range(VERIFICATION_LENGTH))
    return {**attended, "certificate_id": certificate_number(now.year, serial), "verification_code": code,
            "certificate_issued_at": now}


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
    """What a certificate of attendance states, with each session attended; refused unless the
    participant earned it at an accredited event."""
    if not event["accredited"]:
        raise Refused("The event is not accredited; it has no certificates of attendance.")
    if not registration.get("certificate_id"):
        raise Refused("The participant has not attended enough of the event for a certificate.",
                      code="no_certificate")
    by_id = {s["id"]: s for s in event["sessions"]}
    attended = sorted((by_id[sid] for sid in registration["attended_sessions"] if sid in by_id),
                      key=lambda s: s["starts_at"])
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
        "sessions": [{"title": s["title"], "starts_at": s["starts_at"], "ends_at": s["ends_at"], "hours": s["hours"]}
                     for s in attended],
        "accreditation": event.get("accreditation"),
        "issued_at": registration.get("certificate_issued_at") or registration["checked_in_at"],
    }


def seats_left(session: Session) -> int:
    return max(session["capacity"] - session["seats_taken"], 0)


def news_item(event: Event) -> dict:
    """A published event as the news feed tells it."""
    return {"key": f"event:{event['id']}", "title": f"Akce: {event['title']}",
            "summary": event.get("description") or event["title"], "path": f"/api/v1/events/{event['id']}",
            "published": event["published_at"], "category": "event"}


# -- personal data ------------------------------------------------------------------------------

PERSONAL_FIELDS = ("phone", "note", "consent", "answers")  # dropped at erasure and at the end of retention


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
            "manage_url": links["manage_url"],
            "certificate_url": links["certificate_url"] if registration.get("certificate_id") else None,
            "join_url": event.get("join_url") if event.get("online") and confirmed else None}
