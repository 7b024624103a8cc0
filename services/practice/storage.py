"""The practice store: practices with their search words, competitions and votes."""
import re
from datetime import datetime
from typing import Protocol, Sequence, cast

from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError

from nszm.contracts.errors import NotFound
from nszm.records import Vote
from nszm.storage import (
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


class CountedMeanwhile(Exception):
    """A vote of the same address was counted by a concurrent confirmation."""


def _to_vote(document: dict) -> Vote:
    return cast(Vote, from_document(document, hidden=("counted_key",)))


def _vote_document(vote: Vote) -> dict:
    document = to_document(vote)
    if vote["counted"]:
        # One counted vote per address and competition, enforced by a unique index.
        document["counted_key"] = f"{vote['competition_id']}:{vote['person']}"
    return document


class PracticeStoreVerbs(StoreVerbs, Protocol):
    """What the practice service asks of its store (the real one and the unit tests' fake); inside a
    unit of work the same verbs run in its transaction."""

    def taken_slugs(self, base: str) -> set[str]: ...
    def add_practice(self, practice: dict) -> None: ...
    def get_practice(self, slug: str, published_only: bool = True) -> dict: ...
    def practices_by_slug(self, slugs: list[str]) -> list[dict]: ...
    def list_practices(self, *, page: int, per_page: int, words: Sequence[str] = (), theme=None, member=None,
                       member_type=None, region=None, year=None, status: str | None = "published"
                       ) -> tuple[list[dict], int]: ...
    def save_practice(self, before: dict, after: dict) -> None: ...
    def refresh_member(self, member: dict) -> int: ...
    def add_competition(self, competition: dict) -> None: ...
    def get_competition(self, competition_id: str) -> dict: ...
    def list_competitions(self, *, page: int, per_page: int, year=None) -> tuple[list[dict], int]: ...
    def counts(self, competition_id: str) -> dict[str, int]: ...
    def due_for_closing(self, now: datetime) -> list[dict]: ...
    def end_voting(self, competition: dict) -> bool: ...
    def close_competition(self, competition_id: str, results: dict, now: datetime) -> bool: ...
    def add_votes(self, votes: list[Vote]) -> None: ...
    def vote_by_token(self, token_hash: str) -> Vote: ...
    def counted_vote_exists(self, competition_id: str, person: str) -> bool: ...
    def save_vote(self, vote: Vote) -> None: ...
    def votes_of_person(self, person: str) -> list[Vote]: ...
    def save_votes(self, votes: list[Vote]) -> None: ...
    def votes_to_pseudonymise(self, limit: int) -> list[Vote]: ...
    def forget_events_about(self, field: str, values: list) -> int: ...


class PracticeStore(ServiceStore):
    service = "practice"

    def __init__(self, client, db_name, pseudonyms=None):
        super().__init__(client, db_name, pseudonyms)
        self.practices = self.collection("practices")
        self.competitions = self.collection("competitions")
        self.votes = self.collection("votes")

    def ensure_indexes(self):
        super().ensure_indexes()
        self.practices.create_index([("status", ASCENDING), ("published_at", DESCENDING)])
        self.practices.create_index("search_words")
        self.practices.create_index([("status", ASCENDING), ("themes", ASCENDING)])
        self.practices.create_index("member")
        self.competitions.create_index([("closed_at", ASCENDING), ("voting_closes_at", ASCENDING)])
        self.votes.create_index("token_hash", unique=True)
        self.votes.create_index("counted_key", unique=True, sparse=True)
        self.votes.create_index([("competition_id", ASCENDING), ("counted", ASCENDING)])
        self.votes.create_index("person")
        self.votes.create_index([("pseudonymised_at", ASCENDING), ("competition_id", ASCENDING)], sparse=True)
        self._key_votes_by_person()

    def _key_votes_by_person(self):
        """Votes stored under their folded address (`email_key`) move to the person's keyed hash."""
        for document in self.votes.find({"person": {"$exists": False}}):
            kept = {key: value for key, value in from_document(document).items()
                    if key not in ("email_key", "counted_key")}
            vote = cast(Vote, {**kept, "person": self.pseudonyms.person(document["email"])})
            self.votes.replace_one({"_id": document["_id"]}, _vote_document(vote))

    def is_empty(self) -> bool:
        return self.practices.estimated_document_count() == 0

    # -- practices --------------------------------------------------------------------

    def taken_slugs(self, base: str) -> set[str]:
        return taken_ids(self.practices, base)

    def add_practice(self, practice: dict):
        try:
            self.practices.insert_one(to_document(practice, "slug"))
        except DuplicateKeyError:
            raise IdTaken(practice["slug"]) from None

    def get_practice(self, slug: str, published_only: bool = True) -> dict:
        query = {"_id": slug, "status": "published"} if published_only else {"_id": slug}
        return found(from_document(self.practices.find_one(query, session=self.session), "slug"), f"No practice '{slug}'.")

    def practices_by_slug(self, slugs: list[str]) -> list[dict]:
        return [from_document(d, "slug") for d in self.practices.find({"_id": {"$in": slugs}})]

    def list_practices(self, *, page: int, per_page: int, words: Sequence[str] = (), theme=None, member=None,
                       member_type=None, region=None, year=None, status: str | None = "published"):
        conditions: list[dict] = [{"status": status}] if status else []
        conditions += [{"search_words": {"$regex": f"^{re.escape(word)}"}} for word in words]
        for field, value in (("themes", theme), ("member", member), ("member_type", member_type),
                             ("region", region), ("year", year)):
            if value is not None:
                conditions.append({field: value})
        query = {"$and": conditions} if conditions else {}
        return paged(self.practices, query, [("published_at", DESCENDING), ("_id", ASCENDING)], page, per_page,
                     lambda d: from_document(d, "slug"))

    def save_practice(self, before: dict, after: dict):
        """Replace a practice if its status is still what the change was decided on."""
        result = self.practices.replace_one({"_id": before["slug"], "status": before["status"]},
                                            to_document(after, "slug"), session=self.session)
        if result.matched_count != 1:
            raise NotFound(f"The practice '{before['slug']}' changed meanwhile; reload it.")

    def refresh_member(self, member: dict) -> int:
        """Copy a member's name, type and region into its practices, unless they hold a newer version."""
        version = member.get("version", 0)
        result = self.practices.update_many(
            {"member": member["slug"], "$or": [{"member_version": {"$lt": version}},
                                               {"member_version": {"$exists": False}}]},
            {"$set": {"member_name": member["name"], "member_type": member["type"], "region": member["region"],
                      "member_version": version}}, session=self.session)
        return result.modified_count

    # -- competitions -------------------------------------------------------------------

    def add_competition(self, competition: dict):
        self.competitions.insert_one(to_document(competition))

    def get_competition(self, competition_id: str) -> dict:
        return found(from_document(self.competitions.find_one({"_id": competition_id}, session=self.session)),
                     f"No competition '{competition_id}'.")

    def list_competitions(self, *, page: int, per_page: int, year=None):
        query = {"year": year} if year else {}
        return paged(self.competitions, query, [("voting_opens_at", DESCENDING)], page, per_page)

    def counts(self, competition_id: str) -> dict[str, int]:
        rows = self.votes.aggregate([
            {"$match": {"competition_id": competition_id, "counted": True}},
            {"$group": {"_id": "$practice", "votes": {"$sum": 1}}},
        ])
        return {row["_id"]: row["votes"] for row in rows}

    def due_for_closing(self, now: datetime) -> list[dict]:
        return [from_document(d) for d in self.competitions.find(
            {"closed_at": None, "voting_closes_at": {"$lte": now}})]

    def end_voting(self, competition: dict) -> bool:
        """Move the end of voting to `competition['voting_closes_at']` if voting is still open."""
        result = self.competitions.update_one(
            {"_id": competition["id"], "voting_closes_at": {"$gt": competition["voting_closes_at"]}},
            {"$set": {"voting_closes_at": competition["voting_closes_at"]}})
        return result.modified_count == 1

    def close_competition(self, competition_id: str, results: dict, now: datetime) -> bool:
        """Record the announced results once; False when they were announced already."""
        result = self.competitions.update_one({"_id": competition_id, "closed_at": None},
                                              {"$set": {"closed_at": now, "results": results}}, session=self.session)
        return result.modified_count == 1

    # -- votes --------------------------------------------------------------------------

    def add_votes(self, votes: list[Vote]):
        self.votes.insert_many([_vote_document(vote) for vote in votes], session=self.session)

    def vote_by_token(self, token_hash: str) -> Vote:
        return _to_vote(found(self.votes.find_one({"token_hash": token_hash}, session=self.session),
                              "This confirmation link is not valid."))

    def counted_vote_exists(self, competition_id: str, person: str) -> bool:
        return self.votes.find_one({"counted_key": f"{competition_id}:{person}"}, {"_id": 1},
                                   session=self.session) is not None

    def save_vote(self, vote: Vote):
        """Store a changed vote; CountedMeanwhile if another vote of its address was counted meanwhile."""
        try:
            self.votes.replace_one({"_id": vote["id"]}, _vote_document(vote), session=self.session)
        except DuplicateKeyError:
            raise CountedMeanwhile(vote["id"]) from None


    # -- personal data --------------------------------------------------------------------

    def votes_of_person(self, person: str) -> list[Vote]:
        return [_to_vote(d) for d in self.votes.find({"person": person}, session=self.session)
                .sort("created_at", ASCENDING)]

    def save_votes(self, votes: list[Vote]):
        for vote in votes:
            self.votes.replace_one({"_id": vote["id"]}, _vote_document(vote), session=self.session)

    def votes_to_pseudonymise(self, limit: int) -> list[Vote]:
        """Up to `limit` votes that still hold their address in competitions whose results are out."""
        closed = [d["_id"] for d in self.competitions.find({"closed_at": {"$ne": None}}, {"_id": 1})]
        return [_to_vote(d) for d in self.votes.find(
            {"competition_id": {"$in": closed}, "pseudonymised_at": {"$exists": False}}).limit(limit)]


class PracticeStoreProvider(StoreProvider[PracticeStoreVerbs]):
    store_class = PracticeStore
