"""What every platform service mixes in: the unit of work, the health check and the outbox relay."""
import functools
import logging
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Callable, ClassVar, Generic

from nameko.dependency_providers import Config
from nameko.extensions import DependencyProvider
from nameko.timer import timer
from pymongo.errors import PyMongoError

from nszm import imports, patches
from nszm.audit import AuditTrail
from nszm.config import Settings
from nszm.contracts import audit as audit_contract
from nszm.contracts import privacy
from nszm.contracts.bus import Subscription, queues_of
from nszm.contracts.errors import Conflict, InvalidInput
from nszm.deadletters import discard_dead_letters
from nszm.entrypoints import REQUEST_ID, rpc, staff_read
from nszm.messaging import BusPublisher, topology_of
from nszm.rules import Refusal, Refused, RuleBroken
from nszm.schemas import load
from nszm.storage import Stored, StoreProvider, Verbs, utcnow

log = logging.getLogger(__name__)

RELAY_INTERVAL_SECONDS = 0.5
RELAY_BATCH = 100
RELAY_FAILURES_IN_A_ROW = 3
RETENTION_INTERVAL_SECONDS = 3600.0  # what retention makes due is done within the hour
ERASURE_ACTOR = "person_erased"  # the audit's actor of an erasure a service does on the event


def as_error(outcome):
    """A domain's refusal (raised or returned) as the shared error type: a state conflict is 409,
    bad input 422; any other outcome as it is."""
    if isinstance(outcome, Refused):
        return Conflict(outcome.message, outcome.code)
    if isinstance(outcome, RuleBroken):
        return InvalidInput(outcome.message, {outcome.field or "_schema": [outcome.message]}, outcome.code)
    return outcome


@contextmanager
def refusals_as_errors():
    """Raise a domain's refusals as the shared error types (see `as_error`)."""
    try:
        yield
    except Refusal as refusal:
        raise as_error(refusal) from None


def listing(items: list, total: int, query: dict) -> dict:
    """The contract's list envelope for a loaded `PageQuerySchema` query."""
    return {"items": items, "total": total, "page": query["page"], "per_page": query["per_page"]}


class LibraryPatches(DependencyProvider):
    """Installs the library patches (`nszm.patches`) when a service container is set up."""

    def setup(self):
        patches.install()


class RequestId(DependencyProvider):
    """The id of the RPC request this worker serves (None for timers and events): the same
    when RabbitMQ delivers the request again after the service died while doing it."""

    def get_dependency(self, worker_ctx):
        request_id = worker_ctx.data.get(REQUEST_ID)
        return request_id if isinstance(request_id, str) else None


class PlatformService(Generic[Verbs]):
    """Mixin for a nameko service whose store (a `ServiceStore`) is `self.store`.

    Entrypoints change state in a `unit_of_work`, which publishes the events the work commits
    once they are stored (leased to this worker, see `Outbox`), so that events usually leave at
    once; the timer sweeps whatever a crash or a broker outage left behind.
    """

    name: ClassVar[str]
    store: ClassVar[StoreProvider]
    config = Config()
    library_patches = LibraryPatches()
    dispatch = BusPublisher()
    audit = AuditTrail()
    request_id = RequestId()

    @functools.cached_property
    def settings(self) -> Settings:
        """The contract's configuration as this service's nameko config passes it on (read once
        per worker: a mailout's worker asks for it for every message)."""
        return Settings.from_env(self.config)

    def checked_import(self, kind: str, request: dict, errors: list[dict], planned: Callable[[Verbs], Any],
                       write: Callable[[Verbs, Any], None]) -> dict:
        """A check of an import (`request["dry_run"]`) or the import: `planned(tx)` decides (its
        `errors`, `changes`, `events`), `write(tx, plan)` stores it, with its events, in one
        transaction, and only if it would change what the check given as `plan` showed."""
        def work(tx: Verbs) -> dict:
            plan = planned(tx)
            result = imports.report(kind, len(request["rows"]), errors + plan.errors, plan.changes, request["dry_run"])
            if not request["dry_run"]:
                with refusals_as_errors():
                    imports.check_plan(request.get("plan"), result["plan"])
                write(tx, plan)
                tx.commit(plan.events)
            return result

        return work(self.store) if request["dry_run"] else self.unit_of_work(work)

    def unit_of_work(self, work: Callable[[Verbs], Stored]) -> Stored:
        """`work(tx)` as one transaction of the store (`tx` is the store bound to it), again from
        the start on transient conflicts; the events it commits (`tx.commit(events)`) are
        published after. Returns what `work` does."""
        committed: list[dict] = []

        def attempt(tx: Verbs) -> Stored:
            result = work(tx)
            self.audit.write_in(tx, result)  # a staff action's entry goes in with its change
            committed[:] = tx.committed
            return result

        result = self.store.unit_of_work(attempt)
        self.audit.committed()
        self.publish(committed)
        return result

    def handle_once(self, subscription: Subscription, envelope: dict, work: Callable[[Verbs], object]):
        """`work(tx)` in a unit of work, unless this subscription handled this event before."""
        def once(tx: Verbs):
            if tx.first_delivery(subscription.queue, envelope["event_id"]):
                work(tx)

        self.unit_of_work(once)

    @rpc
    def health(self):
        return {"service": self.name, "mongo": self.store.ping(), "outbox_pending": self.store.outbox.pending_count()}

    @rpc
    def audit_log(self, query):
        """This service's newest staff actions, `page * per_page` of them, for the gateway to merge."""
        query = load(audit_contract.AuditQuerySchema(), query)
        items, total = self.audit.entries(query.get("actor"), query.get("action"), query["page"] * query["per_page"])
        return audit_contract.AuditSliceSchema().dump({"items": items, "total": total})

    # -- personal data ------------------------------------------------------------------------

    @staff_read
    def personal_data(self, query):
        """Everything this service holds about the person with this address (and its aliases)."""
        email = load(privacy.PersonQuerySchema(), query)["email"]
        sections = self.personal_sections(self.store.pseudonyms.person(email))
        return privacy.PersonDataSchema().dump({"service": self.name, "sections": sections})

    @staff_read
    def erasure_status(self, query):
        """This service's latest erasure of the person (by keyed hash), or None."""
        person = load(privacy.ErasureQuerySchema(), query)["person"]
        erasure = self.store.erasure_of(person)
        return privacy.ErasureSchema().dump(erasure) if erasure else None

    def personal_sections(self, person: str) -> dict[str, list[dict]]:
        """The service's records of the person, by section, dumped with its schemas."""
        raise NotImplementedError

    def erase_on(self, subscription: Subscription, envelope: dict, erase: Callable[[Verbs, str], object]):
        """Erase the person a `person_erased` event names, once: `erase(tx, person)`, the record of
        the erasure and its audit entry go in one transaction."""
        data = envelope["data"]

        def work(tx):
            erase(tx, data["person"])
            tx.record_erasure({"id": data["erasure_id"], "person": data["person"], "service": self.name,
                               "requested_at": datetime.fromisoformat(data["requested_at"]), "erased_at": utcnow()})
            self.audit.record_in(tx, ERASURE_ACTOR, "erase_person", data["erasure_id"])

        self.handle_once(subscription, envelope, work)

    @timer(interval=RETENTION_INTERVAL_SECONDS, eager=True)
    def apply_retention(self):
        """Delete or pseudonymise what the retention periods (settings) make due, and the dead
        letters of this service's subscriptions that are older than RETAIN_DEAD_LETTERS_DAYS."""
        now = utcnow()
        self.retain(now)
        queues = queues_of(self.name)
        if queues:
            discard_dead_letters(topology_of(self.config), queues, self.settings.retention.cutoff("dead_letters", now))

    def retain(self, now):
        """This service's retention, as it stands at `now`."""
        raise NotImplementedError

    @timer(interval=RELAY_INTERVAL_SECONDS)
    def relay_outbox(self):
        self.publish_stored_events()

    def publish(self, events: list[dict]):
        """Publish events this worker just stored, in order, until one fails (the relay retries the rest)."""
        published = []
        for event in events:
            if not self._dispatch({"_id": event["event_id"], "event_type": event["event_type"], "payload": event}):
                break
            published.append(event["event_id"])
        if published:
            self._mark_published(published)

    def publish_stored_events(self) -> int:
        """Publish what the outbox holds; an event that fails waits and the relay goes past it,
        until several fail in a row (the broker is away)."""
        published = failed_in_a_row = 0
        while published < RELAY_BATCH and failed_in_a_row < RELAY_FAILURES_IN_A_ROW:
            record = self.store.outbox.claim()
            if record is None:
                break
            if self._dispatch(record):
                self._mark_published([record["_id"]])
                published, failed_in_a_row = published + 1, 0
            else:
                failed_in_a_row += 1
        return published

    def _dispatch(self, record: dict) -> bool:
        try:
            self.dispatch(record["event_type"], record["payload"])
        except Exception:
            log.exception("publishing %s failed; it stays in the outbox", record["_id"])
            self.store.outbox.release(record)
            return False
        return True

    def _mark_published(self, event_ids: list[str]):
        """Once published, an event leaves the outbox; if the database cannot be told now, the
        relay publishes it again when its lease runs out (consumers de-duplicate), and the
        caller, whose change is stored, still gets its answer."""
        try:
            self.store.outbox.mark_published(event_ids)
        except PyMongoError as error:
            log.warning("published events %s stay in the outbox for now (%r)", event_ids, error)
