"""The events service's entrypoints: calendar, registrations, cancellation, check-in, certificates."""
from datetime import datetime, timedelta
from typing import Callable

from nameko.timer import timer

from nszm.calls import TimedRpcProxy
from nszm.contracts import bus
from nszm.contracts.common import NEWS_PER_SERVICE, NewsItemSchema
from nszm.contracts.errors import Conflict, InvalidInput, NotFound
from nszm.contracts.events import MAX_REMINDER_DAYS
from nszm.contracts.notify import EventAudienceSchema, MailingContactSchema
from nszm.entrypoints import rpc, staff_read, staff_rpc
from nszm.messaging import consumes
from nszm.records import Event, Registration
from nszm.rules import Refused
from nszm.rush import RushWrites
from nszm.schemas import cached_schema, load
from nszm.service import PlatformService, as_error, listing, refusals_as_errors
from nszm.storage import utcnow, with_free_id
from services.events import domain, schemas
from services.events.storage import EventsStoreProvider, EventsStoreVerbs

LINK_PURPOSE = "registration"
REGISTRATIONS = "registrations"  # one group commit for all of them: a rush is often for several events
REMINDER_INTERVAL_SECONDS = 300.0  # a reminder goes within five minutes of its time
REMINDER_BATCH = 200
RETENTION_BATCH = 500  # registrations pseudonymised per transaction when their retention ends
MAIL_DETAILS_AT_ONCE = 100
# how a check-in or check-out changes a registration at an event, now, drawing certificate numbers
AttendanceRule = Callable[[Registration, Event, datetime, Callable[[int], int]], domain.Scan]


class EventsService(PlatformService[EventsStoreVerbs]):
    name = "events"
    store = EventsStoreProvider()
    rush = RushWrites()
    members = TimedRpcProxy("members")

    # -- the calendar ---------------------------------------------------------------

    @rpc
    def list_events(self, query):
        query = load(schemas.EventQuerySchema(), query)
        items, total = self.store.list_events(
            page=query["page"], per_page=query["per_page"], from_=query.get("from_") or utcnow(),
            to=query.get("to"), type=query.get("type"), sort=query["sort"])
        return schemas.EventPageSchema().dump(listing(items, total, query))

    @rpc
    def news(self):
        """The events published most recently that have not ended, as news."""
        events, _ = self.store.list_events(page=1, per_page=NEWS_PER_SERVICE, from_=utcnow(), sort="newest")
        return NewsItemSchema(many=True).dump([domain.news_item(event) for event in events])

    @rpc
    def list_event_details(self, query):
        query = load(schemas.EventDetailQuerySchema(), query)
        items, total = self.store.list_events(page=query["page"], per_page=query["per_page"], type=query.get("type"),
                                              status=query.get("status"), sort="latest")
        return schemas.EventDetailPageSchema().dump(listing(items, total, query))

    @rpc
    def get_event(self, event_id):
        return schemas.EventSchema().dump(self.store.get_event(str(event_id)))

    @rpc
    def get_event_detail(self, event_id):
        return schemas.EventDetailSchema().dump(self.store.get_event(str(event_id), published_only=False))

    @staff_rpc
    def create_event(self, payload):
        data = load(schemas.EventInputSchema(), payload)
        base = domain.event_id_base(data["title"], data["starts_at"])

        def store(event_id: str) -> Event:
            with refusals_as_errors():
                event = domain.new_event(data, event_id, utcnow())
            self.store.add_event(event)
            return event

        event = with_free_id(base, self.store.taken_event_ids(base), store)
        return schemas.EventDetailSchema().dump(event)  # as stored, with its counters as they start

    @staff_rpc
    def publish_event(self, event_id):
        def work(tx: EventsStoreVerbs) -> Event:
            with refusals_as_errors():
                published = domain.publish(tx.get_event(str(event_id), published_only=False), utcnow())
            tx.save_published(published.record)
            tx.commit(published.events)
            return published.record

        return schemas.EventDetailSchema().dump(self.unit_of_work(work))

    # -- registrations ----------------------------------------------------------------

    def _links(self, registration_id: str) -> dict:
        token = self.store.signer().sign(LINK_PURPOSE, registration_id)
        base = f"{self.settings.public_url}/api/v1/registrations/{registration_id}"
        return {"cancel_url": f"{base}/cancel?token={token}", "manage_url": f"{base}/manage?token={token}",
                "certificate_url": f"{base}/certificate.pdf?token={token}"}

    def _is_coordinator(self, event: Event, data: dict) -> bool:
        audiences = {s["id"]: s["audience"] for s in event["sessions"]}
        if not any(audiences.get(sid) == "coordinators" for sid in data["sessions"]):
            return False
        return self.members.coordinator_of(data["email"]) is not None

    @rpc
    def register(self, event_id, payload):
        request = self.request_id if isinstance(self.request_id, str) else None
        try:
            event = self.store.get_event(str(event_id), with_counters=False)  # an unknown event is a 404 first
            data = load(cached_schema(schemas.RegistrationInputSchema), payload)
            with refusals_as_errors():
                registration = domain.new_registration(event, data, self._is_coordinator(event, data), utcnow(),
                                                       self.store.pseudonyms.person(data["email"]), request)
        except (NotFound, Conflict, InvalidInput):
            # this very request, delivered again after a crash, once the event had closed: the same answer
            stored = self.store.registrations_for_requests([request]).get(request) if request else None
            if stored is None:
                raise
        else:
            stored = self.rush.together(REGISTRATIONS, (event, registration), self._register_together)
        return cached_schema(schemas.RegistrationReceiptSchema).dump({**stored, **self._links(stored["id"])})

    def _register_together(self, batch: list[tuple[Event, Registration]]) -> list:
        """The registrations that came meanwhile, in one unit of work, once no other holds the
        seats of their events."""
        with self.rush.one_at_a_time(self._seats_of(event["id"]) for event, _ in batch):
            return self.unit_of_work(lambda tx: self._seat_batch(tx, batch))

    def _seat_batch(self, tx: EventsStoreVerbs, batch: list[tuple[Event, Registration]]) -> list:
        """Store (event, registration) pairs, for one event or several, in the order they came,
        with their seats: each its stored registration, or the error its caller gets. A request
        delivered again after a crash gets what it stored the first time."""
        events = {event["id"]: event for event, _ in batch}
        registrations = [registration for _, registration in batch]
        done = tx.registrations_for_requests([r["request_id"] for r in registrations if r.get("request_id")])
        fresh = [r for r in registrations if r.get("request_id") not in done]
        registered = tx.registered_addresses([(r["event_id"], r["email_key"]) for r in fresh])
        counters = tx.seat_counters(list(events))
        outcomes, changes = domain.seat_for_events(fresh, registered, counters)
        seated = [outcome for outcome in outcomes if not isinstance(outcome, Refused)]
        if seated:
            tx.move_counters(counters, changes)
            tx.add_registrations(seated)
            tx.commit(domain.seated_events(seated, events))
        by_id = dict(zip((r["id"] for r in fresh), outcomes))
        return [done.get(r["request_id"]) if r.get("request_id") in done else as_error(by_id[r["id"]])
                for r in registrations]

    @staff_read
    def list_registrations(self, event_id, query):
        query = load(schemas.RegistrationQuerySchema(), query)
        self.store.get_event(str(event_id), published_only=False, with_counters=False)
        items, total = self.store.list_registrations(str(event_id), page=query["page"], per_page=query["per_page"],
                                                     status=query.get("status"))
        return schemas.RegistrationPageSchema().dump(listing(self._in_queue(str(event_id), items), total, query))

    @rpc
    def participants(self, audience):
        """People registered for an event, by status, for a mailout's audience; for the notify service."""
        audience = load(EventAudienceSchema(), audience or {})
        self.store.get_event(audience["id"], published_only=False, with_counters=False)
        registrations = self.store.registrations_of(audience["id"])
        return MailingContactSchema(many=True).dump(domain.participants(registrations, audience["status"]))

    @rpc
    def mail_details(self, registration_ids):
        """For notify's mail about each of these registrations (events on the bus carry neither):
        the registered person's contact and links, by registration id; None for one whose person's
        data is erased, or that does not exist."""
        ids = [str(registration_id) for registration_id in registration_ids or []][:MAIL_DETAILS_AT_ONCE]
        registrations = self.store.registrations_by_id(ids)
        answer = {}
        for registration_id in ids:
            registration = registrations.get(registration_id)
            details = None
            if registration is not None:
                event = self.store.get_event(registration["event_id"], published_only=False, with_counters=False)
                details = domain.mail_details(registration, event, self._links(registration_id))
            answer[registration_id] = schemas.RegistrationMailSchema().dump(details) if details else None
        return answer

    @rpc
    def get_registration(self, registration_id):
        registration = self.store.get_registration(str(registration_id))
        return schemas.RegistrationSchema().dump(self._in_queue(registration["event_id"], [registration])[0])

    def _in_queue(self, event_id: str, registrations: list[Registration]) -> list[Registration]:
        """The registrations with each waiting seat's place in the queue as it is now."""
        waiting = {session_id for r in registrations for session_id in domain.waiting_sessions(r)}
        queues = self.store.queues(event_id, sorted(waiting))
        return [domain.with_queue_positions(r, queues) for r in registrations]

    def _linked(self, registration_id, token) -> str:
        """The registration a mailed link's token was signed for; NotFound for any other token."""
        registration_id = str(registration_id)
        if not isinstance(token, str) or not self.store.signer().verify(
                LINK_PURPOSE, token, registration_id, int(domain.LINK_VALIDITY.total_seconds())):
            raise NotFound(f"No registration '{registration_id}' for this link.")
        return registration_id

    @rpc
    def registration_by_link(self, registration_id, token):
        """The registration as its person sees it behind the mailed link."""
        return self.get_registration(self._linked(registration_id, token))

    @rpc
    def edit_registration(self, registration_id, token, payload):
        """The participant changes their name, organisation, phone or answers."""
        registration_id = self._linked(registration_id, token)
        changes = load(schemas.RegistrationEditSchema(), payload or {})
        now = utcnow()

        def work(tx: EventsStoreVerbs) -> Registration:
            registration = tx.get_registration(registration_id)
            event = tx.get_event(registration["event_id"], published_only=False, with_counters=False)
            with refusals_as_errors():
                changed = domain.edited(registration, event, changes, now)
            tx.save_registrations([changed])
            return changed

        changed = self.unit_of_work(work)
        return schemas.RegistrationSchema().dump(self._in_queue(changed["event_id"], [changed])[0])

    @rpc
    def change_sessions(self, registration_id, token, payload):
        """The participant takes sessions, gives some up or leaves a waiting list, seat by seat as
        exactly as registrations take them; a seat given up goes to the first person waiting."""
        registration_id = self._linked(registration_id, token)
        change = load(schemas.SessionChangeSchema(), payload or {})
        registration = self.store.get_registration(registration_id)
        event = self.store.get_event(registration["event_id"], published_only=False, with_counters=False)
        is_coordinator = self._is_coordinator(event, {"sessions": change["sessions"], "email": registration["email"]})
        now = utcnow()

        def work(tx: EventsStoreVerbs) -> Registration:
            registration = tx.get_registration(registration_id)
            event = tx.get_event(registration["event_id"], published_only=False)
            counters = tx.seat_counters([event["id"]])
            waiting = tx.waiting_in(event["id"], domain.confirmed_sessions(registration))
            with refusals_as_errors():
                outcome = domain.change_sessions(registration, event, change["sessions"], change.get("answers"),
                                                 is_coordinator, counters[event["id"]], waiting, now)
            if outcome.changed == registration:
                return registration
            tx.move_counters(counters, {event["id"]: outcome.seat_changes} if outcome.seat_changes else {})
            tx.save_registrations([outcome.changed, *(lucky for lucky, _ in outcome.promoted)])
            tx.commit(domain.session_change_events(
                outcome, event, lambda someone: tx.queues(event["id"], domain.waiting_sessions(someone))))
            return outcome.changed

        with self.rush.one_at_a_time([self._seats_of(event["id"])]):
            changed = self.unit_of_work(work)
        return schemas.RegistrationSchema().dump(self._in_queue(changed["event_id"], [changed])[0])

    @rpc
    def leave_waiting_list(self, registration_id, token, session_id):
        """The participant stops waiting for a session; with nothing else left, the registration ends."""
        registration_id = self._linked(registration_id, token)
        with refusals_as_errors():
            keep = domain.sessions_after_leaving(self.store.get_registration(registration_id), str(session_id))
        if not keep:
            return self._cancel(registration_id, by_staff=False)
        return self.change_sessions(registration_id, token, {"sessions": keep})

    @rpc
    def cancel_registration(self, registration_id, token):
        """The participant cancels with the mailed link's token, until the deadline."""
        return self._cancel(self._linked(registration_id, token), by_staff=False)

    @staff_rpc
    def cancel_registration_as_staff(self, registration_id):
        """Staff cancel any registration, also after the deadline (the gateway checks the role)."""
        return self._cancel(str(registration_id), by_staff=True)

    def _cancel(self, registration_id: str, by_staff: bool) -> dict:
        now = utcnow()

        def work(tx: EventsStoreVerbs) -> Registration:
            registration = tx.get_registration(registration_id)
            event = tx.get_event(registration["event_id"], published_only=False)
            waiting = tx.waiting_in(event["id"], domain.confirmed_sessions(registration))
            with refusals_as_errors():
                outcome = domain.cancel(registration, event, waiting, by_staff, now)
            tx.save_registrations(outcome.changed)
            tx.count_seats(event["id"], outcome.seat_changes)
            tx.commit(domain.cancellation_events(
                outcome, event, registration, by_staff,
                lambda lucky: tx.queues(event["id"], domain.waiting_sessions(lucky))))
            return outcome.cancelled

        event_id = self.store.get_registration(registration_id)["event_id"]
        with self.rush.one_at_a_time([self._seats_of(event_id)]):
            return schemas.RegistrationSchema().dump(self.unit_of_work(work))

    @staticmethod
    def _seats_of(event_id: str) -> str:
        """Changes of one event's seat counters take turns (they would collide on its sessions)."""
        return f"seats:{event_id}"

    @staff_rpc
    def check_in(self, registration_id, payload=None):
        """Check a participant in to sessions at once (default: every one they hold a seat in)."""
        options = load(schemas.CheckInSchema(), payload or {})
        scan = self._record_attendance(str(registration_id), None, lambda registration, event, now, serial: (
            domain.check_in(registration, event, options.get("sessions"), now, serial)))
        return schemas.RegistrationSchema().dump(scan.registration)

    @staff_rpc
    def check_in_at_session(self, event_id, session_id, payload):
        """A scan at a session's door: the participant is checked in, or was already."""
        return self._scan_at(str(event_id), str(session_id), payload, lambda registration, event, now, serial: (
            domain.arrive(registration, event, str(session_id), now, serial)))

    @staff_rpc
    def check_out_at_session(self, event_id, session_id, payload):
        """A scan on leaving a session: the participant is checked out, or was already."""
        return self._scan_at(str(event_id), str(session_id), payload, lambda registration, event, now, serial: (
            domain.leave(registration, event, str(session_id), now)))

    def _scan_at(self, event_id: str, session_id: str, payload, decide: AttendanceRule) -> dict:
        code = domain.ticket_code(load(schemas.ScanSchema(), payload)["code"])
        scan = self._record_attendance(code, event_id, decide)
        return schemas.ScanResultSchema().dump(
            {"outcome": scan.outcome, "registration": scan.registration, "session_id": session_id})

    def _record_attendance(self, registration_id: str, event_id: str | None, decide: AttendanceRule
                           ) -> domain.Scan:
        """Record what `decide` makes of a registration's attendance at an event (the one scanned
        at, or the registration's own); a repeated scan changes nothing."""
        now = utcnow()

        def work(tx: EventsStoreVerbs) -> domain.Scan:
            registration = tx.get_registration(registration_id)
            event = tx.get_event(event_id or registration["event_id"], published_only=False)
            with refusals_as_errors():
                scan = decide(registration, event, now, tx.next_certificate_serial)
            if scan.events:
                tx.save_registrations([scan.registration])
                tx.commit(scan.events)
            return scan

        return self.unit_of_work(work)

    @staff_read
    def session_attendees(self, event_id, session_id, query):
        """The people of a session with their attendance, for the door's name search and the sheets."""
        query = load(schemas.AttendeeQuerySchema(), query or {})
        event = self.store.get_event(str(event_id), published_only=False, with_counters=False)
        with refusals_as_errors():
            domain.session_of(event, str(session_id))
        people = domain.attendees(self.store.registrations_in_session(event["id"], str(session_id)),
                                  str(session_id), query.get("q"))
        start = (query["page"] - 1) * query["per_page"]
        return schemas.AttendeePageSchema().dump(listing(people[start:start + query["per_page"]], len(people), query))

    @staff_read
    def certificate_register(self, event_id):
        """The register of the certificates issued for the event."""
        event = self.store.get_event(str(event_id), published_only=False, with_counters=False)
        return schemas.IssuedCertificateSchema(many=True).dump(
            domain.certificate_register(self.store.registrations_of(event["id"])))

    @rpc
    def certificate(self, registration_id, token):
        """What the participant's certificate states, for the mailed link's token."""
        return self._certificate(self._linked(registration_id, token))

    @staff_read
    def certificate_as_staff(self, registration_id):
        return self._certificate(str(registration_id))

    def _certificate(self, registration_id: str) -> dict:
        registration = self.store.get_registration(registration_id)
        event = self.store.get_event(registration["event_id"], published_only=False)
        with refusals_as_errors():
            return schemas.CertificateSchema().dump(domain.certificate(registration, event))

    @rpc
    def verify_certificate(self, certificate_id, query=None):
        code = load(schemas.CertificateCheckQuerySchema(), query or {}).get("code")
        registration = self.store.by_certificate(str(certificate_id))
        if not domain.verifies(registration, code):
            raise NotFound(f"No certificate '{certificate_id}' with this verification code.")
        event = self.store.get_event(registration["event_id"], published_only=False)
        return schemas.CertificateCheckSchema().dump(domain.certificate_check(registration, event))

    # -- reminders ----------------------------------------------------------------------------

    @timer(interval=REMINDER_INTERVAL_SECONDS, eager=True)
    def send_reminders(self):
        """Remind the participants with a seat of each event whose reminder days have come: each
        once, marked in the same transaction that stores the event announcing it."""
        now = utcnow()
        for event in self.store.events_starting_between(now, now + timedelta(days=MAX_REMINDER_DAYS + 1)):
            if not domain.reminder_due(event, now):
                continue

            def remind_some(tx: EventsStoreVerbs, event: Event = event) -> int:
                decided = domain.reminded(tx.registrations_to_remind(event["id"], REMINDER_BATCH), event, now)
                tx.save_registrations(decided.record)
                tx.commit(decided.events)
                return len(decided.record)

            while self.unit_of_work(remind_some):
                pass

    # -- personal data ------------------------------------------------------------------------

    def personal_sections(self, person: str) -> dict:
        registrations = self.store.registrations_of_person(person)
        events = self.store.events_by_id(sorted({r["event_id"] for r in registrations}))
        return {"registrations": schemas.RegistrationExportSchema(many=True).dump(
            [{**r, "event_title": events[r["event_id"]]["title"]} for r in registrations])}

    @consumes(bus.EVENTS_PRIVACY)
    def on_person_erased(self, envelope):
        self.erase_on(bus.EVENTS_PRIVACY, envelope, self._erase)

    @staticmethod
    def _erase(tx: EventsStoreVerbs, person: str):
        now = utcnow()
        tx.save_registrations([domain.erased_registration(r, now) for r in tx.registrations_of_person(person)])

    def retain(self, now):
        """Registrations of events over for RETAIN_REGISTRATIONS_MONTHS lose their contact and answers."""
        ended = self.store.ended_before(self.settings.retention.cutoff("registrations", now))

        def expire_some(tx: EventsStoreVerbs) -> int:
            due = tx.registrations_holding_people(ended, RETENTION_BATCH)
            tx.save_registrations([domain.expired_registration(r, now) for r in due])
            return len(due)

        expired = bool(ended)
        while expired:
            expired = self.unit_of_work(expire_some) > 0
