"""The embedded server keeps index definitions in memory (ops/secantusd.py): every write and every
query must still see the indexes as they are now, whoever changed them and however (created,
dropped, changed, inside a transaction, with writers running at the same time)."""
import threading
import uuid
from pathlib import Path

import pymongo
import pytest
from pymongo.errors import DuplicateKeyError, OperationFailure

from nszm.storage import connect
from ops.secantusd import CACHED_CATALOG_RELEASE

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def database(mongo_uri):
    client = connect(mongo_uri)
    database = client[f"catalog_{uuid.uuid4().hex[:8]}"]
    yield database
    client.drop_database(database.name)
    client.close()


def test_the_pinned_release_is_the_one_the_cache_was_written_for():
    pins = (ROOT / "requirements.txt").read_text().lower()
    assert f"secantusdb=={CACHED_CATALOG_RELEASE}".lower() in pins


def test_an_index_created_or_dropped_after_queries_is_enforced_or_not_at_once(database):
    people = database.people
    people.insert_one({"email": "a@example.cz"})
    assert people.find_one({"email": "a@example.cz"})  # the definitions (none yet) are now in memory

    people.create_index("email", unique=True)
    with pytest.raises(DuplicateKeyError):
        people.insert_one({"email": "a@example.cz"})

    people.drop_index("email_1")
    people.insert_one({"email": "a@example.cz"})
    assert people.count_documents({"email": "a@example.cz"}) == 2


def test_a_changed_index_option_applies_at_once(database):
    people = database.people
    people.create_index("email", name="email", unique=True, partialFilterExpression={"active": True})
    people.insert_many([{"email": "a@example.cz", "active": False}, {"email": "a@example.cz", "active": False}])
    people.insert_one({"email": "a@example.cz", "active": True})
    with pytest.raises(DuplicateKeyError):
        people.insert_one({"email": "a@example.cz", "active": True})

    people.drop_indexes()
    people.insert_one({"email": "a@example.cz", "active": True})
    assert people.count_documents({"email": "a@example.cz", "active": True}) == 2


def test_a_collection_dropped_or_renamed_takes_its_indexes_along(database):
    database.old.create_index("code", unique=True)
    database.old.insert_one({"code": 1})
    database.old.rename("new")
    with pytest.raises(DuplicateKeyError):
        database.new.insert_one({"code": 1})
    database.old.insert_many([{"code": 1}, {"code": 1}])  # the old name has no index now

    database.new.drop()
    database.new.insert_many([{"code": 1}, {"code": 1}])
    assert database.new.count_documents({"code": 1}) == 2


def test_an_index_created_inside_a_transaction_is_seen_by_it_and_gone_with_its_abort(database):
    client = database.client
    people = database.people
    people.insert_one({"email": "a@example.cz"})
    assert people.find_one({"email": "a@example.cz"})
    with client.start_session() as session:
        session.start_transaction()
        people.create_index("email", unique=True, session=session)
        with pytest.raises((DuplicateKeyError, OperationFailure)):
            people.insert_one({"email": "a@example.cz"}, session=session)
        session.abort_transaction()

    assert "email_1" not in people.index_information()
    people.insert_one({"email": "a@example.cz"})
    assert people.count_documents({"email": "a@example.cz"}) == 2


def test_every_document_written_while_an_index_is_built_is_found_through_it(database, mongo_uri):
    """Writers that cached the definitions before the index existed must write its entries once
    it does: a document missing from the index would not be found by a query that uses it."""
    items = database.items
    items.insert_one({"n": -1, "writer": -1})
    writers, per_writer = 4, 150
    index_created = threading.Event()

    def write(writer: int):
        client = connect(mongo_uri)
        for n in range(per_writer):
            client[database.name].items.insert_one({"n": n, "writer": writer})
            client[database.name].items.find_one({"writer": writer, "n": n})
            if n == per_writer // 3:
                index_created.wait(timeout=30)
        client.close()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    items.create_index([("writer", pymongo.ASCENDING), ("n", pymongo.ASCENDING)], name="by_writer")
    index_created.set()
    for thread in threads:
        thread.join(timeout=120)

    assert items.count_documents({}) == writers * per_writer + 1
    for writer in range(writers):
        found = {doc["n"] for doc in items.find({"writer": writer}).hint("by_writer")}
        assert found == set(range(per_writer)), f"writer {writer}: {per_writer - len(found)} not in the index"


def test_a_collections_changed_options_apply_at_once(database):
    people = database.people
    people.insert_one({"email": "a@example.cz"})
    people.update_one({"email": "a@example.cz"}, {"$set": {"n": 1}})  # the options (none) are now in memory

    database.command("collMod", "people", validator={"email": {"$type": "string"}})
    with pytest.raises(OperationFailure):
        people.insert_one({"email": 7})
    with pytest.raises(OperationFailure):
        people.update_one({"email": "a@example.cz"}, {"$set": {"email": 7}})

    database.command("collMod", "people", validator={})
    people.insert_one({"email": 7})
    assert people.count_documents({}) == 2


def test_a_collection_recreated_or_renamed_has_its_own_options(database):
    database.create_collection("strict", validator={"code": {"$type": "int"}})
    with pytest.raises(OperationFailure):
        database.strict.insert_one({"code": "x"})
    database.strict.rename("renamed")
    database.strict.insert_one({"code": "x"})  # the old name is a new collection, without a validator

    database.renamed.drop()
    database.create_collection("renamed", validator={"code": {"$type": "string"}})
    database.renamed.insert_one({"code": "x"})
    with pytest.raises(OperationFailure):
        database.renamed.insert_one({"code": 1})


def test_a_collection_created_inside_a_transaction_is_seen_by_it_and_gone_with_its_abort(database):
    client = database.client
    database.other.insert_one({"n": 1})
    with client.start_session() as session:
        session.start_transaction()
        database.fresh.insert_one({"n": 1}, session=session)
        assert database.fresh.find_one({"n": 1}, session=session)
        session.abort_transaction()

    assert "fresh" not in database.list_collection_names()
    database.create_collection("fresh", validator={"n": {"$type": "string"}})
    with pytest.raises(OperationFailure):
        database.fresh.insert_one({"n": 1})
