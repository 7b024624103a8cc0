"""The members store: members and applications in MongoDB, each change with its events."""
import re
from datetime import date, datetime
from typing import Protocol

from pymongo import ASCENDING, DESCENDING
from pymongo.errors import BulkWriteError, DuplicateKeyError

from nszm import czech
from nszm.contracts.errors import Conflict
from nszm.storage import (
    IdTaken,
    ServiceStore,
    StoreProvider,
    StoreVerbs,
    find_in,
    found,
    from_document,
    paged,
    taken_ids,
    to_document,
)

DATE_FIELDS = ("member_since", "left_on")


def _to_document(member: dict) -> dict:
    document = to_document(member, "slug")
    for key in DATE_FIELDS:
        if isinstance(document.get(key), date):
            document[key] = document[key].isoformat()
    # Only active members hold their IČO in the unique index, so a member who left may rejoin.
    document["active_ico"] = member["ico"] if member["status"] == "active" else None
    if document["active_ico"] is None:
        del document["active_ico"]
    return document


def _to_member(document: dict) -> dict:
    member = from_document(document, "slug", ("active_ico", "people"))
    for key in DATE_FIELDS:
        if isinstance(member.get(key), str):
            member[key] = date.fromisoformat(member[key])
    return member


def _to_application(document: dict) -> dict:
    return from_document(document, "id", ("pending_ico",))


def _application_document(application: dict) -> dict:
    document = to_document(application)
    if application["status"] == "pending":
        document["pending_ico"] = application["ico"]
    return document


class MembersStoreVerbs(StoreVerbs, Protocol):
    """What the members service asks of its store (the real one and the unit tests' fake); inside a
    unit of work the same verbs run in its transaction."""

    def list_members(self, *, page: int, per_page: int, type=None, region=None, q=None, sort="name"
                     ) -> tuple[list[dict], int]: ...
    def get_member(self, slug: str, include_left: bool = False) -> dict: ...
    def active_members(self) -> list[dict]: ...
    def coordinator_of(self, email: str) -> dict | None: ...
    def taken_slugs(self, base: str) -> set[str]: ...
    def member_with_ico(self, ico: str) -> dict | None: ...
    def add_member(self, member: dict) -> None: ...
    def save_member(self, before: dict, after: dict) -> None: ...
    def add_application(self, application: dict) -> None: ...
    def get_application(self, application_id: str) -> dict: ...
    def list_applications(self, *, page: int, per_page: int, status=None) -> tuple[list[dict], int]: ...
    def save_decision(self, decided: dict) -> None: ...
    def applications_of_person(self, person: str) -> list[dict]: ...
    def members_with_person(self, person: str) -> list[dict]: ...
    def save_applications(self, applications: list[dict]) -> None: ...
    def rejected_before(self, moment: datetime, limit: int) -> list[dict]: ...
    def members_with_icos(self, icos: set[str]) -> dict[str, dict]: ...
    def all_slugs(self) -> set[str]: ...
    def add_members(self, members: list[dict]) -> None: ...


class MembersStore(ServiceStore):
    service = "members"

    def __init__(self, client, db_name, pseudonyms=None):
        super().__init__(client, db_name, pseudonyms)
        self.members = self.collection("members")
        self.applications = self.collection("applications")

    def ensure_indexes(self):
        super().ensure_indexes()
        self.members.create_index("active_ico", unique=True, sparse=True)
        self.members.create_index("ico")
        self.members.create_index([("status", ASCENDING), ("name_sort", ASCENDING)])
        self.members.create_index([("status", ASCENDING), ("type", ASCENDING), ("region", ASCENDING)])
        self.applications.create_index("pending_ico", unique=True, sparse=True)
        self.applications.create_index([("status", ASCENDING), ("submitted_at", ASCENDING)])
        self.applications.create_index([("status", ASCENDING), ("decided_at", ASCENDING)])
        self.applications.create_index("person")
        self.members.create_index("people")
        self.backfill_people(self.applications, lambda document: [document.get("contact", {}).get("email")])
        self.backfill_people(self.members, lambda document: [c.get("email") for c in document.get("contacts", [])],
                             field="people", many=True)

    def _member_document(self, member: dict) -> dict:
        """A member as stored: with its contacts' keyed hashes, to find a person among them."""
        return {**_to_document(member),
                "people": [self.pseudonyms.person(c["email"]) for c in member.get("contacts", [])]}

    # -- the directory --------------------------------------------------------------

    def list_members(self, *, page: int, per_page: int, type=None, region=None, q=None, sort="name"):
        query: dict = {"status": "active"}
        if type:
            query["type"] = type
        if region:
            query["region"] = region
        if q and czech.fold(q):
            query["name_folded"] = {"$regex": czech.search_pattern(q)}
        order = ([("name_sort", ASCENDING)] if sort == "name"
                 else [("member_since", DESCENDING), ("joined_at", DESCENDING), ("_id", ASCENDING)])
        return paged(self.members, query, order, page, per_page, _to_member)

    def get_member(self, slug: str, include_left: bool = False) -> dict:
        query = {"_id": slug} if include_left else {"_id": slug, "status": "active"}
        return _to_member(found(self.members.find_one(query, session=self.session), f"No member '{slug}'."))

    def active_members(self) -> list[dict]:
        return [_to_member(d) for d in self.members.find({"status": "active"})]

    def coordinator_of(self, email: str) -> dict | None:
        """The active member whose Healthy City coordinator has this e-mail address."""
        address = re.compile(f"^{re.escape(email.strip())}$", re.IGNORECASE)
        document = self.members.find_one(
            {"status": "active", "contacts": {"$elemMatch": {"role": "coordinator", "email": address}}})
        return _to_member(document) if document else None

    def is_empty(self) -> bool:
        return self.members.estimated_document_count() == 0 and self.applications.estimated_document_count() == 0

    def taken_slugs(self, base: str) -> set[str]:
        return taken_ids(self.members, base)

    def member_with_ico(self, ico: str) -> dict | None:
        """The member (active, else one who left) registered under this IČO, or None."""
        found = self.members.find({"ico": ico}, session=self.session).sort("status", ASCENDING).limit(1)
        return next((_to_member(d) for d in found), None)

    def add_member(self, member: dict):
        """Insert a new member; IdTaken when another writer holds its slug already."""
        try:
            self.members.insert_one(self._member_document({"version": 1, **member}), session=self.session)
        except DuplicateKeyError as error:
            if "_id" in (error.details or {}).get("keyPattern", {}):
                raise IdTaken(member["slug"]) from None
            raise Conflict(f"A member with IČO {member['ico']} exists already.") from None

    def save_member(self, before: dict, after: dict):
        """Replace a member if nobody changed it meanwhile (compare-and-set on its version)."""
        result = self.members.replace_one({"_id": before["slug"], "version": before.get("version", 0)},
                                          self._member_document(after), session=self.session)
        if result.matched_count != 1:
            raise Conflict("The member was changed by someone else; reload and try again.")

    def members_with_icos(self, icos: set[str]) -> dict[str, dict]:
        """The member of each IČO that one holds (the active one, else one who left)."""
        found: dict[str, dict] = {}
        for document in find_in(self.members, "ico", sorted(icos), session=self.session):
            member = _to_member(document)
            if member["ico"] not in found or member["status"] == "active":
                found[member["ico"]] = member
        return found

    def all_slugs(self) -> set[str]:
        return {document["_id"] for document in self.members.find({}, {"_id": 1}, session=self.session)}

    def add_members(self, members: list[dict]):
        """Insert new members at once; Conflict when another writer took a slug or an IČO meanwhile."""
        if not members:
            return
        try:
            self.members.insert_many([self._member_document(member) for member in members], session=self.session)
        except (DuplicateKeyError, BulkWriteError):
            raise Conflict("Another change added a member meanwhile; check the import again.") from None

    # -- applications ---------------------------------------------------------------

    def add_application(self, application: dict):
        try:
            self.applications.insert_one(_application_document(application), session=self.session)
        except DuplicateKeyError:
            raise Conflict(f"An application with IČO {application['ico']} is pending already.") from None

    def get_application(self, application_id: str) -> dict:
        return _to_application(found(self.applications.find_one({"_id": application_id}, session=self.session),
                                     f"No application '{application_id}'."))

    def list_applications(self, *, page: int, per_page: int, status=None):
        query = {"status": status} if status else {}
        return paged(self.applications, query, [("submitted_at", ASCENDING)], page, per_page, _to_application)

    def save_decision(self, decided: dict):
        """Store a decided application if it was still pending (compare-and-set on its status)."""
        result = self.applications.replace_one(
            {"_id": decided["id"], "status": "pending"}, _application_document(decided), session=self.session
        )
        if result.matched_count != 1:
            raise Conflict("The application was decided already.")


    # -- personal data --------------------------------------------------------------------

    def applications_of_person(self, person: str) -> list[dict]:
        return [_to_application(d) for d in self.applications.find({"person": person}, session=self.session)
                .sort("submitted_at", ASCENDING)]

    def members_with_person(self, person: str) -> list[dict]:
        """Members (active or not) with the person among their contacts."""
        return [_to_member(d) for d in self.members.find({"people": person}, session=self.session)]

    def save_applications(self, applications: list[dict]):
        for application in applications:
            self.applications.replace_one({"_id": application["id"]}, _application_document(application),
                                          session=self.session)

    def rejected_before(self, moment: datetime, limit: int) -> list[dict]:
        """Up to `limit` applications rejected before `moment` that still name their contact person."""
        return [_to_application(d) for d in self.applications.find(
            {"status": "rejected", "decided_at": {"$lt": moment}, "contact_erased_at": {"$exists": False}}
        ).limit(limit)]


class MembersStoreProvider(StoreProvider[MembersStoreVerbs]):
    store_class = MembersStore
