"""The events store: events, per-session seat counters and registrations, changed atomically.

Seats are taken by a conditional decrement of `seats_left`, inside the same transaction that
stores the registration and its events, so capacity is never exceeded and the counters always
agree with the stored registrations.
"""
from datetime import datetime
from typing import Callable

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from nszm.contracts.errors import Conflict, NotFound
from nszm.links import LinkSigner
from nszm.storage import ServiceStore, StoreProvider, from_document, to_document
from services.events import domain


class IdTaken(Exception):
    """Another event took the id between choosing it and storing the event."""


def _session_key(event_id: str, session_id: str) -> str:
    return f"{event_id}/{session_id}"


def _registration_document(registration: dict) -> dict:
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


def _seat(stored: dict) -> dict:
    # Registrations stored before tickets existed kept their ticket under the position's name.
    return {"id": stored["id"], "status": stored["status"],
            "ticket": stored.get("ticket", stored.get("waitlist_position")), "waitlist_position": None}


def _to_registration(document: dict | None) -> dict | None:
    registration = from_document(document, hidden=("active_key",))
    if registration is not None:
        registration.setdefault("certificate_id", None)
        registration["sessions"] = [_seat(seat) for seat in registration["sessions"]]
    return registration


class EventsStore(ServiceStore):
    service = "events"

    def __init__(self, client, db_name):
        super().__init__(client, db_name)
        self.events = self.collection("events")
        self.sessions = self.collection("sessions")
        self.registrations = self.collection("registrations")
        self.counters = self.collection("counters")
        self._signer = None

    def ensure_indexes(self):
        super().ensure_indexes()
        self.events.create_index([("status", ASCENDING), ("starts_at", ASCENDING)])
        self.events.create_index([("status", ASCENDING), ("ends_at", ASCENDING)])
        self.sessions.create_index("event_id")
        self.registrations.create_index("active_key", unique=True, sparse=True)
        self.registrations.create_index("certificate_id", unique=True, sparse=True)
        self.registrations.create_index([("event_id", ASCENDING), ("created_at", ASCENDING)])
        self.registrations.create_index([("event_id", ASCENDING), ("sessions.id", ASCENDING),
                                         ("sessions.status", ASCENDING)])

    def is_empty(self) -> bool:
        return self.events.estimated_document_count() == 0

    def signer(self) -> LinkSigner:
        if self._signer is None:
            self._signer = LinkSigner(self.secret("links"))
        return self._signer

    # -- events -----------------------------------------------------------------------

    def taken_event_ids(self, base: str) -> set[str]:
        return {d["_id"] for d in self.events.find({"_id": {"$regex": f"^{base}(-[0-9]+)?$"}}, {"_id": 1})}

    def add_event(self, event: dict):
        static = [{k: v for k, v in s.items() if k not in ("seats_taken", "waitlist_seq")} for s in event["sessions"]]
        document = {**to_document(event), "sessions": static}

        def work(session):
            self.events.insert_one(document, session=session)
            self.sessions.insert_many([
                {"_id": _session_key(event["id"], s["id"]), "event_id": event["id"], "session_id": s["id"],
                 "capacity": s["capacity"], "seats_left": s["capacity"], "waiting": 0, "waitlist_seq": 0}
                for s in event["sessions"]
            ], session=session)

        try:
            self.atomically(work)
        except DuplicateKeyError:
            raise IdTaken(event["id"]) from None

    def _with_counters(self, documents: list[dict], session=None) -> list[dict]:
        ids = [d["_id"] for d in documents]
        counters = {c["_id"]: c for c in self.sessions.find({"event_id": {"$in": ids}}, session=session)}
        events = []
        for document in documents:
            event = {**from_document(document), "sessions": []}
            for static in document["sessions"]:
                counter = counters[_session_key(event["id"], static["id"])]
                event["sessions"].append({
                    **static, "seats_left": counter["seats_left"], "waiting": counter["waiting"],
                    "seats_taken": static["capacity"] - counter["seats_left"],
                })
            events.append(event)
        return events

    def get_event(self, event_id: str, published_only: bool = True, session=None) -> dict:
        query = {"_id": event_id, "status": "published"} if published_only else {"_id": event_id}
        document = self.events.find_one(query, session=session)
        if document is None:
            raise NotFound(f"No event '{event_id}'.")
        return self._with_counters([document], session)[0]

    def list_events(self, *, page: int, per_page: int, from_: datetime, to: datetime | None = None, type=None,
                    sort: str = "start"):
        query: dict = {"status": "published", "ends_at": {"$gte": from_}}
        if to:
            query["starts_at"] = {"$lt": to}
        if type:
            query["type"] = type
        total = self.events.count_documents(query)
        order = ([("starts_at", ASCENDING), ("_id", ASCENDING)] if sort == "start"
                 else [("published_at", DESCENDING), ("_id", ASCENDING)])
        cursor = self.events.find(query).sort(order)
        documents = list(cursor.skip((page - 1) * per_page).limit(per_page))
        return self._with_counters(documents), total

    def save_published(self, event: dict, events: list[dict]):
        def work(session):
            result = self.events.update_one(
                {"_id": event["id"], "status": "draft"},
                {"$set": {"status": "published", "published_at": event["published_at"]}}, session=session)
            if result.modified_count != 1:
                raise Conflict("The event is published already.")
            self.record_events(events, session)

        self.atomically(work)

    # -- registrations ----------------------------------------------------------------

    def register(self, registration: dict, announce: Callable[[dict], list[dict]]) -> dict:
        """Take a seat in every session asked for, or a place on its waiting list; all or nothing."""

        def work(session):
            current = registration
            for seat in registration["sessions"]:
                key = _session_key(registration["event_id"], seat["id"])
                granted = self.sessions.update_one(
                    {"_id": key, "seats_left": {"$gt": 0}}, {"$inc": {"seats_left": -1}}, session=session)
                if granted.modified_count == 1:
                    current = domain.with_seat(current, seat["id"], "confirmed")
                else:
                    counter = self.sessions.find_one_and_update(
                        {"_id": key}, {"$inc": {"waitlist_seq": 1, "waiting": 1}},
                        return_document=ReturnDocument.AFTER, session=session)
                    current = domain.with_seat(current, seat["id"], "waitlisted", ticket=counter["waitlist_seq"],
                                               position=counter["waiting"])
            self.registrations.insert_one(_registration_document(current), session=session)
            self.record_events(announce(current), session)
            return current

        try:
            return self.atomically(work)
        except DuplicateKeyError as error:
            if "active_key" not in (error.details or {}).get("keyPattern", {}):
                raise
            raise Conflict(f"{registration['email']} is registered for this event already.") from None

    def get_registration(self, registration_id: str, session=None) -> dict:
        registration = _to_registration(self.registrations.find_one({"_id": registration_id}, session=session))
        if registration is None:
            raise NotFound(f"No registration '{registration_id}'.")
        return registration

    def list_registrations(self, event_id: str, *, page: int, per_page: int, status=None):
        query = {"event_id": event_id, **({"status": status} if status else {})}
        total = self.registrations.count_documents(query)
        cursor = self.registrations.find(query).sort("created_at", ASCENDING).skip((page - 1) * per_page)
        return [_to_registration(d) for d in cursor.limit(per_page)], total

    def queues(self, event_id: str, session_ids, session=None) -> dict[str, list[int]]:
        """The sorted tickets of everyone waiting now in each of `session_ids`."""
        tickets: dict[str, list[int]] = {session_id: [] for session_id in session_ids}
        if tickets:
            waiting = self.registrations.find(
                {"event_id": event_id,
                 "sessions": {"$elemMatch": {"id": {"$in": list(tickets)}, "status": "waitlisted"}}},
                {"sessions": 1}, session=session)
            for document in waiting:
                for seat in map(_seat, document["sessions"]):
                    if seat["id"] in tickets and seat["status"] == "waitlisted":
                        tickets[seat["id"]].append(seat["ticket"])
        return {session_id: sorted(queue) for session_id, queue in tickets.items()}

    def registrations_of(self, event_id: str) -> list[dict]:
        return [_to_registration(d) for d in self.registrations.find({"event_id": event_id})]

    def cancel_registration(self, registration_id: str, decide: Callable, announce: Callable) -> dict:
        """Cancel, free its seats and give each freed seat to the first person waiting for it."""

        def work(session):
            registration = self.get_registration(registration_id, session)
            event = self.get_event(registration["event_id"], published_only=False, session=session)
            cancelled, freed = decide(registration, event)
            self.registrations.replace_one({"_id": registration_id}, _registration_document(cancelled),
                                           session=session)
            for seat in registration["sessions"]:
                if seat["status"] == "waitlisted":
                    self._count(event["id"], seat["id"], waiting=-1, session=session)
            promoted: dict[str, tuple[dict, list[str]]] = {}
            for session_id in freed:
                waiting = [_to_registration(d) for d in self.registrations.find(
                    {"event_id": event["id"], "sessions": {"$elemMatch": {"id": session_id, "status": "waitlisted"}}},
                    session=session)]
                lucky = domain.first_waiting(waiting, session_id)
                if lucky is None:
                    self._count(event["id"], session_id, seats_left=1, session=session)
                    continue
                lucky = domain.with_seat(lucky, session_id, "confirmed")
                self.registrations.replace_one({"_id": lucky["id"]}, _registration_document(lucky), session=session)
                self._count(event["id"], session_id, waiting=-1, session=session)
                promoted[lucky["id"]] = (lucky, promoted.get(lucky["id"], (None, []))[1] + [session_id])
            promoted_now = [
                (domain.with_queue_positions(
                    lucky, self.queues(event["id"], domain.waiting_sessions(lucky), session)), sessions)
                for lucky, sessions in promoted.values()]
            self.record_events(announce(event, cancelled, freed, promoted_now), session)
            return cancelled

        return self.atomically(work)

    def _count(self, event_id: str, session_id: str, session=None, **changes):
        self.sessions.update_one({"_id": _session_key(event_id, session_id)}, {"$inc": changes}, session=session)

    def check_in(self, registration_id: str, decide: Callable, announce: Callable) -> dict:
        def work(session):
            registration = self.get_registration(registration_id, session)
            event = self.get_event(registration["event_id"], published_only=False, session=session)
            checked = decide(registration, event)
            if event["accredited"]:
                year = checked["checked_in_at"].year
                counter = self.counters.find_one_and_update(
                    {"_id": f"certificates-{year}"}, {"$inc": {"serial": 1}}, upsert=True,
                    return_document=ReturnDocument.AFTER, session=session)
                checked = {**checked, "certificate_id": domain.certificate_number(year, counter["serial"])}
            self.registrations.replace_one({"_id": registration_id}, _registration_document(checked),
                                           session=session)
            self.record_events(announce(event, checked), session)
            return checked

        return self.atomically(work)

    def by_certificate(self, certificate_id: str) -> dict:
        registration = _to_registration(self.registrations.find_one({"certificate_id": certificate_id}))
        if registration is None:
            raise NotFound(f"No certificate '{certificate_id}'.")
        return registration


class EventsStoreProvider(StoreProvider):
    store_class = EventsStore
