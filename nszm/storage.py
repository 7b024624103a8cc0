"""MongoDB plumbing shared by the services: the client, the store base, the outbox.

A service's `storage.py` subclasses `ServiceStore` with its domain verbs and `StoreProvider`
to inject it; entrypoints never see a database handle.
"""
import copy
import random
import re
import secrets
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, Generic, Iterator, Mapping, Protocol, Self, TypeVar, overload

import pymongo
from nameko.extensions import DependencyProvider
from pymongo import ReturnDocument
from pymongo.client_session import ClientSession
from pymongo.errors import DuplicateKeyError

from nszm import czech
from nszm.batches import Batches
from nszm.config import Settings
from nszm.contracts.errors import Conflict, NotFound
from nszm.links import LinkSigner
from nszm.privacy import Pseudonyms

RETRY_BACKOFF_BASE = 0.005
RETRY_BACKOFF_CAP = 0.25
FREE_ID_ATTEMPTS = 5
STALE_READ_ATTEMPTS = 20
DUPLICATE_KEY = 11000  # MongoDB's error code for a unique index's refusal
PERSIST_SECONDS = 30.0

Stored = TypeVar("Stored")


class IdTaken(Exception):
    """Another writer stored a record under the id between choosing it and storing ours."""


class ChangedSinceRead(Exception):
    """A transaction's conditional write found the document changed since the transaction read
    it (another process's transaction came first): the transaction is done again from the start."""


def connect(uri: str) -> pymongo.MongoClient:
    """A client for `uri`, with the driver's defaults but for time zones and quick failing."""
    return pymongo.MongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=5000, connectTimeoutMS=5000)


def persistently(write: Callable[[], Stored], within: float = PERSIST_SECONDS) -> Stored:
    """`write()`, again while the connection is lost (the database restarting), for `within`
    seconds at most; only for a write that does no harm done twice, such as setting a field."""
    deadline = time.monotonic() + within
    pause = RETRY_BACKOFF_BASE
    while True:
        try:
            return write()
        except pymongo.errors.ConnectionFailure:
            if time.monotonic() >= deadline:
                raise
            time.sleep(pause)
            pause = min(1.0, pause * 2)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@overload
def from_document(document: dict, id_name: str = "id", hidden: tuple[str, ...] = ()) -> dict: ...
@overload
def from_document(document: dict | None, id_name: str = "id", hidden: tuple[str, ...] = ()) -> dict | None: ...
def from_document(document: dict | None, id_name: str = "id", hidden: tuple[str, ...] = ()) -> dict | None:
    """A stored document as the domain sees it: `_id` under its own name, index-only fields dropped."""
    if document is None:
        return None
    record = {key: value for key, value in document.items() if key != "_id" and key not in hidden}
    record[id_name] = document["_id"]
    return record


def to_document(record: Mapping[str, Any], id_name: str = "id") -> dict:
    """The reverse of `from_document`: the record's id becomes `_id`."""
    document = {key: value for key, value in record.items() if key != id_name}
    document["_id"] = record[id_name]
    return document


def as_record(document: dict) -> dict:
    """`from_document` with its defaults, as a converter."""
    return from_document(document)


def found(record: Stored | None, missing: str) -> Stored:
    """The record, or NotFound with the message `missing` when there is none."""
    if record is None:
        raise NotFound(missing)
    return record


def paged(collection, query: dict, order, page: int, per_page: int,
          convert: Callable[[dict], Any] = as_record, projection: dict | None = None) -> tuple[list[Any], int]:
    """One page of the documents matching `query` in `order`, converted, and how many match in all."""
    cursor = collection.find(query, projection).sort(order).skip((page - 1) * per_page).limit(per_page)
    return [convert(document) for document in cursor], collection.count_documents(query)


IN_BATCH = 20  # values per `$in`: SecantusDB checks each candidate against the whole list, so long lists cost n²


def in_batches(values) -> Iterator[list]:
    """`values` a few at a time, for `{"$in": batch}`."""
    values = list(values)
    for start in range(0, len(values), IN_BATCH):
        yield values[start:start + IN_BATCH]


def find_in(collection, field: str, values, projection: dict | None = None, session=None) -> Iterator[dict]:
    """The documents whose `field` is one of `values`, asked for a few values at a time."""
    for batch in in_batches(values):
        yield from collection.find({field: {"$in": batch}}, projection, session=session)


def taken_ids(collection, base: str) -> set[str]:
    """The ids `base`, `base-2`, `base-3`, … that `collection` holds already."""
    return {d["_id"] for d in collection.find({"_id": {"$regex": f"^{re.escape(base)}(-[0-9]+)?$"}}, {"_id": 1})}


def with_free_id(base: str, taken: set[str], store: Callable[[str], Stored]) -> Stored:
    """`store(id)` under the first of `base`, `base-2`, … not taken; the next one if a concurrent
    writer took it first (`store` raises IdTaken)."""
    for _ in range(FREE_ID_ATTEMPTS):
        candidate = czech.first_free(base, taken)
        try:
            return store(candidate)
        except IdTaken:
            taken.add(candidate)
    raise Conflict("Could not find a free address for the record; try again.")


class Outbox:
    """Events stored in the same transaction as the change they announce, published after.

    An event is stored leased to the worker that wrote it, which publishes it right after the
    commit without another claim; if that worker dies first, the lease runs out and a relay
    claims the event. `pending_since` exists only until the event is published, so its sparse
    index holds just the events still to go. Consumers de-duplicate by `event_id` the rare
    event that is published twice.
    """

    LEASE = timedelta(seconds=30)
    WRITER = "writer"  # the lease an event is stored with; a relay's claim takes a lease of its own
    KEPT_AFTER_PUBLISHING = timedelta(days=1)  # then the row and the personal data in it are gone
    RETRY_CAP = timedelta(minutes=5)

    def __init__(self, collection):
        self.collection = collection
        self._marks = Batches()

    def ensure_indexes(self):
        self.collection.create_index([("pending_since", 1)], sparse=True)
        self.collection.create_index("published_at", expireAfterSeconds=int(self.KEPT_AFTER_PUBLISHING.total_seconds()))

    def add(self, events: list[dict], session: ClientSession | None = None):
        now = utcnow()
        self.collection.insert_many([
            {"_id": event["event_id"], "event_type": event["event_type"], "payload": event, "created_at": now,
             "pending_since": now, "claimed_until": now + self.LEASE, "lease": self.WRITER}
            for event in events], session=session)

    def claim(self):
        """Lease the oldest event whose writer did not publish it in time."""
        now = utcnow()
        return self.collection.find_one_and_update(
            {"pending_since": {"$lte": now}, "claimed_until": {"$lt": now}},
            {"$set": {"claimed_until": now + self.LEASE, "lease": uuid.uuid4().hex}},
            sort=[("pending_since", 1)],
            return_document=ReturnDocument.AFTER,
        )

    def mark_published(self, event_ids: list[str]):
        """Marks that workers of this process make at the same time go in one update."""
        self._marks.submit("published", list(event_ids), self._mark_all_published)

    def _mark_all_published(self, marks: list[list[str]]) -> list[None]:
        now = utcnow()
        for batch in in_batches(event_id for ids in marks for event_id in ids):
            self.collection.update_many({"_id": {"$in": batch}},
                                        {"$set": {"published_at": now}, "$unset": {"pending_since": ""}})
        return [None] * len(marks)

    def release(self, record: dict):
        """After a failed publish, by the holder of the record's lease only (a writer whose lease ran
        out must not cut short a relay's): the event is tried again after a pause that grows with
        each failure, and meanwhile the relay goes on with the events behind it."""
        owned = {"_id": record["_id"], "lease": record.get("lease", self.WRITER)}
        failed = self.collection.find_one_and_update(owned, {"$inc": {"failures": 1}}, {"failures": 1},
                                                     return_document=ReturnDocument.AFTER)
        if failed is not None:
            pause = min(self.RETRY_CAP, timedelta(seconds=2 ** (failed.get("failures", 1) - 1)))
            self.collection.update_one(owned, {"$set": {"claimed_until": utcnow() + pause}})

    def pending_count(self) -> int:
        return self.collection.count_documents({"pending_since": {"$lte": utcnow()}})


class ServiceStore:
    """Base of a service's store: its own collections, prefixed by the service name."""

    service = ""
    session: ClientSession | None = None  # the open transaction of a store bound to one (`bound_to`)

    def __init__(self, client: pymongo.MongoClient, db_name: str, pseudonyms: Pseudonyms | None = None):
        self.client = client
        self.db = client[db_name]
        self.pseudonyms = pseudonyms or Pseudonyms.from_env()
        self.outbox = Outbox(self.collection("outbox"))
        self.erasures = self.collection("erasures")
        self._signer: LinkSigner | None = None
        self.committed: list[dict] = []  # the events a bound store's work committed (`commit`)

    def collection(self, name: str):
        return self.db[f"{self.service}.{name}"]

    def ensure_indexes(self):
        self.outbox.ensure_indexes()
        self.erasures.create_index([("person", 1), ("requested_at", -1)])

    def backfill_people(self, collection, people_of: Callable[[dict], list[str | None]], field: str = "person",
                        many: bool = False):
        """Give records stored before they carried their people's keyed hashes the hashes of the
        addresses `people_of(document)` finds in them (one hash, or a list when `many`)."""
        for document in collection.find({field: {"$exists": False}}):
            hashes = [self.pseudonyms.person(address) for address in people_of(document) if address]
            if many or hashes:
                collection.update_one({"_id": document["_id"], field: {"$exists": False}},
                                      {"$set": {field: hashes if many else hashes[0]}})

    def record_erasure(self, erasure: dict):
        """Note that this service carried out an erasure (again: harmless)."""
        self.erasures.update_one({"_id": erasure["id"]}, {"$setOnInsert": to_document(erasure)}, upsert=True,
                                 session=self.session)

    def erasure_of(self, person: str) -> dict | None:
        """The latest erasure of the person this service carried out, if any."""
        found = self.erasures.find({"person": person}).sort("requested_at", pymongo.DESCENDING).limit(1)
        return next((from_document(d) for d in found), None)

    def forget_events_about(self, field: str, values: list) -> int:
        """Delete outbox rows whose event's `field` (a path in its payload) is one of `values`."""
        if not values:
            return 0
        return self.outbox.collection.delete_many({f"payload.{field}": {"$in": values}}, session=self.session).deleted_count

    def record_audit(self, entry: dict):
        """Insert a sealed audit entry (`nszm.audit`), in the transaction of the change it records."""
        self.collection("audit").insert_one(entry, session=self.session)

    def secret(self, name: str) -> str:
        """A random secret of this service, created on first use and kept in its database."""
        return self.secret_keys(name)[-1]

    def secret_keys(self, name: str) -> list[str]:
        """The secret's keys, oldest first: those it had before rotations, then the current one."""
        secrets_collection = self.collection("secrets")
        try:
            secrets_collection.insert_one({"_id": name, "value": secrets.token_urlsafe(48), "created_at": utcnow()})
        except DuplicateKeyError:
            pass
        stored = secrets_collection.find_one({"_id": name})
        return [*stored.get("previous", []), stored["value"]]

    def rotate_secret(self, name: str, keep: int = 2):
        """A new current key; the last `keep` keys before it are still accepted."""
        kept = self.secret_keys(name)[-keep:]
        self.collection("secrets").update_one({"_id": name}, {"$set": {
            "value": secrets.token_urlsafe(48), "previous": kept, "rotated_at": utcnow()}})
        self._signer = None

    def signer(self) -> LinkSigner:
        """Signs and checks the service's mailed links with its `links` keys."""
        if self._signer is None:
            self._signer = LinkSigner(self.secret_keys("links"))
        return self._signer

    def first_delivery(self, consumer: str, event_id: str) -> bool:
        """Note that `consumer` handles this event; False if it did before (its unique `_id`)."""
        handled = self.collection("handled")
        key = f"{consumer}:{event_id}"
        if handled.find_one({"_id": key}, {"_id": 1}, session=self.session) is not None:
            return False
        handled.insert_one({"_id": key, "at": utcnow()}, session=self.session)
        return True

    def ping(self) -> bool:
        self.client.admin.command("ping")
        return True

    def atomically(self, work: Callable):
        """Run `work(session)` in a transaction, again from the start on transient conflicts.

        Retries wait a random, growing while first: transactions that collided on one hot
        document (the seats of a session) would otherwise collide again at once.
        """
        attempts = 0

        def attempt(session):
            nonlocal attempts
            if attempts:
                time.sleep(random.uniform(0, min(RETRY_BACKOFF_CAP, RETRY_BACKOFF_BASE * 2 ** attempts)))
            attempts += 1
            return work(session)

        with self.client.start_session() as session:
            for _ in range(STALE_READ_ATTEMPTS - 1):
                try:
                    return session.with_transaction(attempt)
                except ChangedSinceRead:
                    continue
            return session.with_transaction(attempt)

    def unit_of_work(self, work: Callable[[Self], Stored]) -> Stored:
        """Run `work(tx)` as one transaction, again from the start on transient conflicts: `tx` is
        this store bound to the transaction (its verbs read and write in it), and
        `tx.commit(events)` stores the events the work announces, to be published once it is
        committed (`tx.committed`)."""
        return self.atomically(lambda session: work(self.bound_to(session)))

    def bound_to(self, session: ClientSession) -> Self:
        """This store with its verbs reading and writing in `session`'s transaction."""
        bound = copy.copy(self)
        bound.session = session
        bound.committed = []
        return bound

    def commit(self, events: list[dict]):
        """Store `events` in this transaction's outbox, to be published once it is committed."""
        if self.session is None:
            raise RuntimeError("events are committed inside a unit of work only")
        if events:
            self.outbox.add(events, session=self.session)
        self.committed += events


class StoreVerbs(Protocol):
    """What every service asks of its store, beside its own domain verbs."""

    pseudonyms: Pseudonyms
    outbox: Outbox
    committed: list[dict]

    def unit_of_work(self, work: Callable[[Self], Stored]) -> Stored: ...
    def commit(self, events: list[dict]) -> None: ...
    def first_delivery(self, consumer: str, event_id: str) -> bool: ...
    def record_audit(self, entry: dict) -> None: ...
    def record_erasure(self, erasure: dict) -> None: ...
    def erasure_of(self, person: str) -> dict | None: ...
    def ping(self) -> bool: ...
    def ensure_indexes(self) -> None: ...
    def signer(self) -> LinkSigner: ...


Verbs = TypeVar("Verbs", bound=StoreVerbs)
ProvidedVerbs = TypeVar("ProvidedVerbs", bound=StoreVerbs, covariant=True)


class StoreProvider(DependencyProvider, Generic[ProvidedVerbs]):
    """Injects one store per service container; indexes are created when the container starts.

    A subclass names the store class and, as its type argument, the Protocol of verbs its
    service may use, which the store class must satisfy (mypy checks `store_class`)."""

    store_class: Callable[[pymongo.MongoClient, str, Pseudonyms], ProvidedVerbs]

    def setup(self):
        self.settings = Settings.from_env(self.container.config)
        self.client = connect(self.settings.database_uri)
        self.store = self.store_class(self.client, self.settings.mongo_db, Pseudonyms(self.settings.secret_key))

    def start(self):
        self.store.ensure_indexes()

    def stop(self):
        self.client.close()

    def get_dependency(self, worker_ctx) -> ProvidedVerbs:
        return self.store

    if TYPE_CHECKING:
        def __get__(self, service: object, service_class: type) -> ProvidedVerbs:
            """A service's `self.store`, as nameko injects it."""
