"""The practice store against a real SecantusDB, and the service reacting to member events."""
from datetime import timedelta
from unittest.mock import patch

import eventlet
import pytest
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter, worker_factory

from nszm.contracts import bus
from nszm.contracts.errors import InvalidInput, NotFound
from nszm.rush import Rush
from services.practice import domain
from services.practice.service import PracticeService
from services.practice.storage import PracticeStore
from tests.unit.test_practice_domain import MEMBER, NOW


@pytest.fixture
def store(mongo_client, db_name):
    practice_store = PracticeStore(mongo_client, db_name)
    practice_store.ensure_indexes()
    return practice_store


def add(store, title, slug, themes=(5,), year=2025, member=MEMBER):
    data = {"title": title, "summary": "Souhrn praxe", "body": "Popis", "member": member["slug"],
            "themes": list(themes), "year": year, "links": [], "attachments": [], "videos": []}
    practice = domain.publish(domain.new_practice(data, slug, member, NOW), NOW)
    store.add_practice(practice)
    return practice


def search(store, q="", **filters):
    items, total = store.list_practices(page=1, per_page=50, words=domain.query_words(q), **filters)
    return sorted(p["slug"] for p in items)


def test_search_ignores_case_and_diacritics_and_filters_combine(store):
    add(store, "Zdraví a pohyb ve městě", "zdravi")
    add(store, "Zdravé stárnutí", "starnuti", themes=(9,), year=2024)
    add(store, "Sdílená kola", "kola", themes=(4, 2), member={**MEMBER, "slug": "liberec", "region": "Liberecký kraj"})
    assert search(store, "zdravi") == ["zdravi"]
    assert search(store, "ZDRAV") == ["starnuti", "zdravi"]
    assert search(store, "zdrav starnuti") == ["starnuti"]
    assert search(store, "zdrav", theme=5, year=2025) == ["zdravi"]
    assert search(store, region="Liberecký kraj", theme=4) == ["kola"]
    assert search(store, "kola", region="Pardubický kraj") == []
    assert search(store, ".* zdravi") == ["zdravi"]  # punctuation is no pattern: it is ignored


def vote_competition(store, practices):
    data = {"year": 2026, "title": "NEJpraxe 2026", "voting_opens_at": NOW - timedelta(days=1),
            "voting_closes_at": NOW + timedelta(days=30), "nominees": [p["slug"] for p in practices]}
    competition = domain.new_competition(data, practices, NOW)
    store.add_competition(competition)
    return competition


def test_votes_cast_at_the_same_time_share_transactions_and_each_asks_for_its_mail(store):
    practices = [add(store, "Zdraví", "a"), add(store, "Kola", "b")]
    competition = vote_competition(store, practices)
    service = worker_factory(PracticeService, store=store, rush=Rush(), config={"PUBLIC_URL": "https://api.example.cz"})
    voters = [f"volic{n}@example.cz" for n in range(30)]

    def vote(email):
        practice = "not-a-nominee" if email == "volic7@example.cz" else practices[0]["slug"]
        try:
            return service.vote(competition["id"], {"practice": practice, "email": email})
        except InvalidInput as refused:
            return refused

    with patch("services.practice.service.utcnow", return_value=NOW), \
            patch.object(store, "atomically", wraps=store.atomically) as transactions, \
            patch.object(store, "get_competition", wraps=store.get_competition) as reads:
        receipts = list(eventlet.GreenPool(30).imap(vote, voters))
    assert isinstance(receipts.pop(7), InvalidInput)  # its neighbours in the batch are stored all the same
    assert receipts == [{"status": "confirmation_sent"}] * 29
    assert transactions.call_count < 15
    assert reads.call_count == transactions.call_count  # one read of the competition per batch, not per vote
    voters.remove("volic7@example.cz")
    requested = [call.args[1] for call in service.dispatch.call_args_list if call.args[0] == "vote_requested"]
    assert sorted(event["data"]["email"] for event in requested) == sorted(voters)
    assert store.votes.count_documents({"competition_id": competition["id"]}) == 29
    assert store.outbox.pending_count() == 0


def test_votes_for_unknown_competitions_leave_nothing_in_memory(store):
    rush = Rush()
    service = worker_factory(PracticeService, store=store, rush=rush, config={"PUBLIC_URL": "https://api.example.cz"})

    def vote(n):
        try:
            service.vote(f"nonexistent-{n}", {"practice": "a", "email": f"volic{n}@example.cz"})
        except NotFound:
            return "not found"

    assert list(eventlet.GreenPool(20).imap(vote, range(200))) == ["not found"] * 200
    assert rush.is_idle()


def test_concurrent_confirmations_from_one_address_count_once(store):
    practices = [add(store, "Zdraví", "a"), add(store, "Kola", "b")]
    competition = vote_competition(store, practices)
    tokens = []
    for n in range(12):
        vote, token = domain.new_vote(competition, practices[n % 2]["slug"], "Jana@example.cz", NOW,
                                      store.pseudonyms.person("Jana@example.cz"))
        store.add_votes([vote])
        tokens.append(token)
    service = worker_factory(PracticeService, store=store, rush=Rush(), config={"PUBLIC_URL": "https://api.example.cz"})
    results = []
    with patch("services.practice.service.utcnow", return_value=NOW):
        pool = eventlet.GreenPool(12)
        for token in tokens:
            pool.spawn(lambda token=token: results.append(service.confirm_vote(token)["status"]))
        pool.waitall()
    assert sorted(results) == ["already_counted"] * 11 + ["counted"]
    assert sum(store.counts(competition["id"]).values()) == 1
    assert [call.args[0] for call in service.dispatch.call_args_list] == ["vote_confirmed"]


def test_results_are_announced_once(store):
    practices = [add(store, "Zdraví", "a"), add(store, "Kola", "b")]
    competition = vote_competition(store, practices)
    assert store.close_competition(competition["id"], {"winner": None}, NOW) is True
    assert store.close_competition(competition["id"], {"winner": None}, NOW) is False
    assert store.due_for_closing(NOW + timedelta(days=60)) == []


def test_a_member_update_on_the_bus_reaches_its_practices(container_factory, service_config, mongo_client):
    container = container_factory(PracticeService, {**service_config, "PUBLIC_URL": "http://x"})
    container.start()
    store = PracticeStore(mongo_client, service_config["MONGO_DB"])
    add(store, "Zdraví", "a")
    renamed = {**MEMBER, "name": "Statutární město Chrudim", "population": 23000, "member_since": "1994-09-01",
               "website": None, "part_of": None}
    event = bus.envelope(bus.MEMBER_UPDATED, renamed)
    with entrypoint_waiter(container, "on_member_updated", timeout=10,
                           callback=lambda worker_ctx, *_: worker_ctx.args[0]["event_id"] == event["event_id"]):
        event_dispatcher(service_config)(bus.MEMBER_UPDATED.source, bus.MEMBER_UPDATED.name, event)
    assert store.get_practice("a")["member_name"] == "Statutární město Chrudim"
