"""The events store: events, per-session seat counters and registrations, changed atomically.

Seats are taken by a conditional decrement of `seats_left`, inside the same transaction that
stores the registration and its events, so capacity is never exceeded and the counters always
agree with the stored registrations.
"""
import copy
from collections import OrderedDict
from datetime import datetime
from typing import Protocol, cast

from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from nszm.contracts.errors import Conflict, NotFound
from nszm.records import Event, Registration, Seat
from nszm.storage import (
    DUPLICATE_KEY,
    ChangedSinceRead,
    IdTaken,
    ServiceStore,
    StoreProvider,
    StoreVerbs,
    found,
    from_document,
    paged,
    taken_ids,
    to_document,
)

COUNTED = ("seats_taken", "seats_left", "waiting", "waitlist_seq")  # a session's counters: kept apart from the event
PUBLISHED_KEPT = 1000  # published events a store keeps in memory (an event's own fields are a few kilobytes)


def _session_key(event_id: str, session_id: str) -> str:
    return f"{event_id}/{session_id}"


def _registration_document(registration: Registration) -> dict:
    document = to_document(registration)
    # A position changes whenever someone ahead leaves the queue; only the ticket is kept.
    document["sessions"] = [{k: v for k, v in seat.items() if k != "waitlist_position"}
                            for seat in registration["sessions"]]
    if registration["status"] != "cancelled":
        # One live registration per e-mail and event; a cancelled one frees the address.
        document["active_key"] = f"{registration['event_id']}:{registration['email_key']}"
    if document.get("certificate_id") is None:
        document.pop("certificate_id", None)  # a sparse unique index still indexes explicit nulls
    return document


def _seat_as_stored(stored: dict) -> Seat:
    # Registrations stored before tickets existed kept their ticket under the position's name.
    return Seat(id=stored["id"], status=stored["status"], ticket=stored.get("ticket", stored.get("waitlist_position")),
                waitlist_position=None)


def _to_registration(document: dict) -> Registration:
    registration = from_document(document, hidden=("active_key",))
    registration.setdefault("certificate_id", None)
    registration.setdefault("revision", 0)
    registration["sessions"] = [_seat_as_stored(seat) for seat in registration["sessions"]]
    if "attendance" not in registration:  # checked in before attendance was kept per session
        registration["attendance"] = [
            {"session_id": session_id, "checked_in_at": registration["checked_in_at"], "checked_out_at": None}
            for session_id in registration.get("attended_sessions", [])]
    return cast(Registration, registration)


def _as_read(revision: int) -> dict:
    """The filter of a registration still at the revision read (one stored before revisions has none)."""
    return {"revision": revision} if revision else {"revision": {"$in": [0, None]}}


def _to_event(document: dict) -> Event:
    return cast(Event, from_document(document))


class EventsStoreVerbs(StoreVerbs, Protocol):
    """What the events service asks of its store (the real one and the unit tests' fake); inside a
    unit of work the same verbs run in its transaction."""

    def taken_event_ids(self, base: str) -> set[str]: ...
    def add_event(self, event: Event) -> None: ...
    def get_event(self, event_id: str, published_only: bool = True, with_counters: bool = True) -> Event: ...
    def list_events(self, *, page: int, per_page: int, from_: datetime | None = None, to: datetime | None = None,
                    type: str | None = None, sort: str = "start", status: str | None = "published"
                    ) -> tuple[list[Event], int]: ...
    def save_published(self, event: Event) -> None: ...
    def seat_counters(self, event_ids: list[str]) -> dict[str, dict[str, dict]]: ...
    def move_counters(self, seen: dict[str, dict[str, dict]], changes: dict[str, dict[str, dict[str, int]]]) -> None: ...
    def registered_addresses(self, addresses: list[tuple[str, str]]) -> set[tuple[str, str]]: ...
    def add_registrations(self, registrations: list[Registration]) -> None: ...
    def registrations_for_requests(self, request_ids: list[str]) -> dict[str, Registration]: ...
    def save_registrations(self, registrations: list[Registration]) -> None: ...
    def registrations_in_session(self, event_id: str, session_id: str) -> list[Registration]: ...
    def events_starting_between(self, start: datetime, end: datetime) -> list[Event]: ...
    def registrations_to_remind(self, event_id: str, limit: int) -> list[Registration]: ...
    def count_seats(self, event_id: str, changes: dict[str, dict[str, int]]) -> None: ...
    def waiting_in(self, event_id: str, session_ids: list[str]) -> list[Registration]: ...
    def next_certificate_serial(self, year: int) -> int: ...
    def get_registration(self, registration_id: str) -> Registration: ...
    def list_registrations(self, event_id: str, *, page: int, per_page: int, status: str | None = None
                           ) -> tuple[list[Registration], int]: ...
    def queues(self, event_id: str, session_ids: list[str]) -> dict[str, list[int]]: ...
    def registrations_of(self, event_id: str) -> list[Registration]: ...
    def by_certificate(self, certificate_id: str) -> Registration: ...
    def registrations_of_person(self, person: str) -> list[Registration]: ...
    def registrations_by_id(self, registration_ids: list[str]) -> dict[str, Registration]: ...
    def events_by_id(self, event_ids: list[str]) -> dict[str, Event]: ...
    def ended_before(self, moment: datetime) -> list[str]: ...
    def registrations_holding_people(self, event_ids: list[str], limit: int) -> list[Registration]: ...


class EventsStore(ServiceStore):
    service = "events"

    def __init__(self, client, db_name, pseudonyms=None):
        super().__init__(client, db_name, pseudonyms)
        self.events = self.collection("events")
        self.sessions = self.collection("sessions")
        self.registrations = self.collection("registrations")
        self.counters = self.collection("counters")
        self._published: OrderedDict[str, Event] = OrderedDict()  # published events read; the first read goes first

    def ensure_indexes(self):
        super().ensure_indexes()
        self.events.create_index([("status", ASCENDING), ("starts_at", ASCENDING)])
        self.events.create_index([("status", ASCENDING), ("ends_at", ASCENDING)])
        self.sessions.create_index("event_id")
        self.registrations.create_index("active_key", unique=True, sparse=True)
        self.registrations.create_index("certificate_id", unique=True, sparse=True)
        self.registrations.create_index("request_id", unique=True, sparse=True)
        self.registrations.create_index([("event_id", ASCENDING), ("created_at", ASCENDING)])
        self.registrations.create_index([("event_id", ASCENDING), ("sessions.id", ASCENDING),
                                         ("sessions.status", ASCENDING)])
        self.registrations.create_index("person")
        self.backfill_people(self.registrations, lambda document: [document.get("email")])

    def is_empty(self) -> bool:
        return self.events.estimated_document_count() == 0

    # -- events -----------------------------------------------------------------------

    def taken_event_ids(self, base: str) -> set[str]:
        return taken_ids(self.events, base)

    def add_event(self, event: Event):
        static = [{k: v for k, v in s.items() if k not in COUNTED} for s in event["sessions"]]
        document = {**to_document(event), "sessions": static}

        def work(session):  # the counters first: an event is never found without them
            self.sessions.insert_many([
                {"_id": _session_key(event["id"], s["id"]), "event_id": event["id"], "session_id": s["id"],
                 "capacity": s["capacity"], "seats_left": s["capacity"], "waiting": 0, "waitlist_seq": 0}
                for s in event["sessions"]
            ], session=session)
            self.events.insert_one(document, session=session)

        try:
            self.atomically(work)
        except BulkWriteError as error:  # its sessions' keys are taken: the event's id is
            if error.details["writeErrors"][0].get("code") != DUPLICATE_KEY:
                raise
            raise IdTaken(event["id"]) from None
        except DuplicateKeyError:
            raise IdTaken(event["id"]) from None

    def _with_counters(self, documents: list[dict]) -> list[Event]:
        ids = [d["_id"] for d in documents]
        counters = {c["_id"]: c for c in self.sessions.find({"event_id": {"$in": ids}}, session=self.session)}
        events = []
        for document in documents:
            event = {**from_document(document), "sessions": []}
            for static in document["sessions"]:
                counter = counters[_session_key(event["id"], static["id"])]
                event["sessions"].append({
                    **static, "seats_left": counter["seats_left"], "waiting": counter["waiting"],
                    "seats_taken": static["capacity"] - counter["seats_left"],
                })
            events.append(cast(Event, event))
        return events

    def get_event(self, event_id: str, published_only: bool = True, with_counters: bool = True) -> Event:
        """The event; without its sessions' seat counters (one query less) unless `with_counters`.
        A published event's own fields are read once per process (every registration asks for
        them): publication is final, and nothing changes a published event but its counters."""
        if published_only and not with_counters and self.session is None and event_id in self._published:
            return copy.deepcopy(self._published[event_id])
        query = {"_id": event_id, "status": "published"} if published_only else {"_id": event_id}
        document = self.events.find_one(query, session=self.session)
        if document is None:
            raise NotFound(f"No event '{event_id}'.")
        if with_counters:
            return self._with_counters([document])[0]
        event = _to_event(document)
        if event["status"] == "published" and self.session is None:
            self._published[event_id] = copy.deepcopy(event)
            while len(self._published) > PUBLISHED_KEPT:
                self._published.popitem(last=False)
        return event

    def list_events(self, *, page: int, per_page: int, from_: datetime | None = None, to: datetime | None = None,
                    type=None, sort: str = "start", status: str | None = "published"):
        query: dict = {}
        if status:
            query["status"] = status
        if from_:
            query["ends_at"] = {"$gte": from_}
        if to:
            query["starts_at"] = {"$lt": to}
        if type:
            query["type"] = type
        order = {"start": [("starts_at", ASCENDING), ("_id", ASCENDING)],
                 "latest": [("starts_at", DESCENDING), ("_id", ASCENDING)],
                 "newest": [("published_at", DESCENDING), ("_id", ASCENDING)]}[sort]
        documents, total = paged(self.events, query, order, page, per_page, convert=dict)
        return self._with_counters(documents), total

    def save_published(self, event: Event):
        result = self.events.update_one(
            {"_id": event["id"], "status": "draft"},
            {"$set": {"status": "published", "published_at": event["published_at"]}}, session=self.session)
        if result.modified_count != 1:
            raise Conflict("The event is published already.")

    # -- registrations ----------------------------------------------------------------

    def seat_counters(self, event_ids: list[str]) -> dict[str, dict[str, dict]]:
        """The counters of each event's sessions, by event and session: seats left, people waiting,
        the last waiting-list ticket drawn."""
        counters: dict[str, dict[str, dict]] = {event_id: {} for event_id in event_ids}
        for c in self.sessions.find({"event_id": {"$in": list(counters)}}, session=self.session):
            counters[c["event_id"]][c["session_id"]] = {"seats_left": c["seats_left"], "waiting": c["waiting"],
                                                        "waitlist_seq": c["waitlist_seq"]}
        return counters

    def move_counters(self, seen: dict[str, dict[str, dict]], changes: dict[str, dict[str, dict[str, int]]]):
        """Move the counters by `changes` (by event and session), in one write, if they still are as
        `seen` (by `seat_counters`); ChangedSinceRead if any is not (the transaction is then abandoned)."""
        moves = [UpdateOne({"_id": _session_key(event_id, session_id),
                            "seats_left": seen[event_id][session_id]["seats_left"],
                            "waitlist_seq": seen[event_id][session_id]["waitlist_seq"]}, {"$inc": counts})
                 for event_id, sessions in changes.items() for session_id, counts in sessions.items()]
        if moves and self.sessions.bulk_write(moves, session=self.session).matched_count != len(moves):
            raise ChangedSinceRead(f"The seats of {', '.join(changes)} changed meanwhile.")

    def registered_addresses(self, addresses: list[tuple[str, str]]) -> set[tuple[str, str]]:
        """Those of the (event id, e-mail key) `addresses` that hold a live registration for the event."""
        keys = {f"{event_id}:{key}": (event_id, key) for event_id, key in addresses}
        return {keys[d["active_key"]] for d in self.registrations.find(
            {"active_key": {"$in": list(keys)}}, {"active_key": 1}, session=self.session)}

    def add_registrations(self, registrations: list[Registration]):
        try:
            self.registrations.insert_many([_registration_document(r) for r in registrations], session=self.session)
        except BulkWriteError as error:
            first = error.details["writeErrors"][0]
            if first.get("code") != DUPLICATE_KEY or "active_key" not in first.get("keyPattern", {}):
                raise
            raise Conflict(f"{registrations[first['index']]['email']} is registered for this event already.") from None

    def registrations_for_requests(self, request_ids: list[str]) -> dict[str, Registration]:
        """The registrations that RPC requests with these ids stored, by request id, if they did."""
        return {d["request_id"]: _to_registration(d) for d in self.registrations.find(
            {"request_id": {"$in": request_ids}}, session=self.session)}

    def save_registrations(self, registrations: list[Registration]):
        """Store the registrations as changed, each if nobody changed it since it was read;
        ChangedSinceRead if anyone did (the unit of work then starts again)."""
        for registration in registrations:
            revision = registration.get("revision", 0)
            document = {**_registration_document(registration), "revision": revision + 1}
            result = self.registrations.replace_one({"_id": registration["id"], **_as_read(revision)}, document,
                                                    session=self.session)
            if result.matched_count != 1:
                raise ChangedSinceRead(f"The registration {registration['id']} changed meanwhile.")

    def count_seats(self, event_id: str, changes: dict[str, dict[str, int]]):
        """Move the seat counters of sessions: {session id: {"seats_left": +1, "waiting": -1}}."""
        for session_id, counts in changes.items():
            self.sessions.update_one({"_id": _session_key(event_id, session_id)}, {"$inc": counts}, session=self.session)

    def waiting_in(self, event_id: str, session_ids: list[str]) -> list[Registration]:
        """The registrations waiting for a seat in any of these sessions."""
        if not session_ids:
            return []
        return [_to_registration(d) for d in self.registrations.find(
            {"event_id": event_id, "sessions": {"$elemMatch": {"id": {"$in": list(session_ids)},
                                                               "status": "waitlisted"}}}, session=self.session)]

    def next_certificate_serial(self, year: int) -> int:
        counter = self.counters.find_one_and_update(
            {"_id": f"certificates-{year}"}, {"$inc": {"serial": 1}}, upsert=True,
            return_document=ReturnDocument.AFTER, session=self.session)
        return counter["serial"]

    def get_registration(self, registration_id: str) -> Registration:
        return _to_registration(found(self.registrations.find_one({"_id": registration_id}, session=self.session),
                                      f"No registration '{registration_id}'."))

    def list_registrations(self, event_id: str, *, page: int, per_page: int, status=None):
        query = {"event_id": event_id, **({"status": status} if status else {})}
        return paged(self.registrations, query, [("created_at", ASCENDING)], page, per_page, _to_registration)

    def queues(self, event_id: str, session_ids) -> dict[str, list[int]]:
        """The sorted tickets of everyone waiting now in each of `session_ids`."""
        tickets: dict[str, list[int]] = {session_id: [] for session_id in session_ids}
        if tickets:
            waiting = self.registrations.find(
                {"event_id": event_id,
                 "sessions": {"$elemMatch": {"id": {"$in": list(tickets)}, "status": "waitlisted"}}},
                {"sessions": 1}, session=self.session)
            for document in waiting:
                for seat in map(_seat_as_stored, document["sessions"]):
                    if seat["id"] in tickets and seat["status"] == "waitlisted" and seat["ticket"] is not None:
                        tickets[seat["id"]].append(seat["ticket"])
        return {session_id: sorted(queue) for session_id, queue in tickets.items()}

    def registrations_in_session(self, event_id: str, session_id: str) -> list[Registration]:
        """The registrations that hold, held or wait for a seat in the session."""
        return [_to_registration(d) for d in self.registrations.find(
            {"event_id": event_id, "sessions.id": session_id}, session=self.session)]

    def events_starting_between(self, start: datetime, end: datetime) -> list[Event]:
        """The published events starting in [start, end), without their counters."""
        return [_to_event(d) for d in self.events.find(
            {"status": "published", "starts_at": {"$gte": start, "$lt": end}}, session=self.session)]

    def registrations_to_remind(self, event_id: str, limit: int) -> list[Registration]:
        """Up to `limit` live registrations of the event holding a confirmed seat and not reminded yet."""
        return [_to_registration(d) for d in self.registrations.find(
            {"event_id": event_id, "reminded_at": {"$exists": False}, "status": {"$ne": "cancelled"},
             "sessions": {"$elemMatch": {"status": "confirmed"}}, "erased_at": {"$exists": False},
             "expired_at": {"$exists": False}}, session=self.session).limit(limit)]

    def registrations_of(self, event_id: str) -> list[Registration]:
        return [_to_registration(d) for d in self.registrations.find({"event_id": event_id})]

    # -- personal data --------------------------------------------------------------------

    def registrations_by_id(self, registration_ids: list[str]) -> dict[str, Registration]:
        return {d["_id"]: _to_registration(d) for d in self.registrations.find({"_id": {"$in": list(registration_ids)}})}

    def registrations_of_person(self, person: str) -> list[Registration]:
        return [_to_registration(d) for d in self.registrations.find({"person": person}, session=self.session)
                .sort("created_at", ASCENDING)]

    def events_by_id(self, event_ids: list[str]) -> dict[str, Event]:
        return {d["_id"]: _to_event(d) for d in self.events.find({"_id": {"$in": list(event_ids)}})}

    def ended_before(self, moment: datetime) -> list[str]:
        """The ids of the events that ended before `moment`."""
        return [d["_id"] for d in self.events.find({"ends_at": {"$lt": moment}}, {"_id": 1})]

    def registrations_holding_people(self, event_ids: list[str], limit: int) -> list[Registration]:
        """Up to `limit` registrations of these events that still hold their person's contact."""
        return [_to_registration(d) for d in self.registrations.find(
            {"event_id": {"$in": list(event_ids)}, "expired_at": {"$exists": False},
             "erased_at": {"$exists": False}}, session=self.session).limit(limit)]

    def by_certificate(self, certificate_id: str) -> Registration:
        return _to_registration(found(self.registrations.find_one({"certificate_id": certificate_id}),
                                      f"No certificate '{certificate_id}'."))


class EventsStoreProvider(StoreProvider[EventsStoreVerbs]):
    store_class = EventsStore
