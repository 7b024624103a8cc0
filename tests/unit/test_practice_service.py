"""The practice service's entrypoints with a fake store: moderation, search, the vote and its defences."""
from datetime import timedelta
from unittest.mock import patch
from urllib.parse import parse_qs, urlparse

import pytest
from nameko.testing.services import worker_factory

from nszm.contracts import bus
from nszm.contracts.errors import Conflict, InvalidInput, NotFound
from nszm.rush import Rush
from services.practice import domain
from services.practice.service import PracticeService
from tests.fakes import FakePracticeStore
from tests.unit.test_practice_domain import MEMBER, NOW


@pytest.fixture
def store():
    return FakePracticeStore()


@pytest.fixture
def clock():
    with patch("services.practice.service.utcnow", return_value=NOW) as mocked:
        yield mocked


@pytest.fixture
def service(store, clock):
    worker = worker_factory(PracticeService, store=store, rush=Rush(), config={"PUBLIC_URL": "https://api.example.cz"})
    worker.members.get_member.return_value = MEMBER
    return worker


def practice_input(**overrides):
    payload = {"title": "Zdraví a pohyb ve městě", "summary": "Souhrn", "body": "Text", "member": "chrudim",
               "themes": [5], "year": 2025}
    payload.update(overrides)
    return payload


def published(service, **overrides):
    created = service.create_practice(practice_input(**overrides))
    return service.publish_practice(created["slug"])


def published_types(service):
    return [call.args[0] for call in service.dispatch.call_args_list]


def test_create_publish_and_archive(service):
    created = service.create_practice(practice_input())
    assert created["status"] == "draft" and created["member_name"] == "Chrudim"
    with pytest.raises(NotFound):
        service.get_practice(created["slug"])
    service.publish_practice(created["slug"])
    assert published_types(service) == ["practice_published"]
    assert service.get_practice(created["slug"])["title"] == "Zdraví a pohyb ve městě"
    with pytest.raises(Conflict):
        service.publish_practice(created["slug"])
    assert service.archive_practice(created["slug"])["status"] == "archived"
    assert service.list_practices({})["total"] == 0


def test_an_unknown_member_or_theme_is_named(service):
    service.members.get_member.side_effect = NotFound("x")
    with pytest.raises(InvalidInput) as error:
        service.create_practice(practice_input())
    assert "member" in error.value.errors
    with pytest.raises(InvalidInput) as error:
        service.create_practice(practice_input(themes=[11]))
    assert "themes.0" in error.value.errors


def test_search_ignores_diacritics_and_filters_combine(service):
    published(service)
    published(service, title="Sdílená kola", themes=[4], year=2024)
    assert [p["title"] for p in service.list_practices({"q": "zdravi"})["items"]] == ["Zdraví a pohyb ve městě"]
    assert service.list_practices({"q": "kola", "theme": "4", "year": "2024"})["total"] == 1
    assert service.list_practices({"q": "kola", "theme": "5"})["total"] == 0
    with pytest.raises(InvalidInput):
        service.list_practices({"theme": "11"})


def test_member_updates_reach_the_practices_once_and_a_late_one_changes_nothing(service, store):
    slug = published(service)["slug"]
    full = {**MEMBER, "population": 23000, "member_since": "1994-09-01", "website": None, "part_of": None}
    newer = bus.envelope(bus.MEMBER_UPDATED, {**full, "name": "Město Chrudim", "version": 3})
    older = bus.envelope(bus.MEMBER_UPDATED, {**full, "name": "Chrudim (staré)", "version": 2})
    service.on_member_updated(newer)
    assert store.practices[slug]["member_name"] == "Město Chrudim"
    service.on_member_updated(older)  # arrived late: stale
    assert store.practices[slug]["member_name"] == "Město Chrudim"
    store.practices[slug]["member_name"] = "changed here"
    service.on_member_updated(newer)  # delivered again: handled once already
    assert store.practices[slug]["member_name"] == "changed here"


def open_competition(service, store):
    a, b = published(service)["slug"], published(service, title="Kola")["slug"]
    with patch("services.practice.service.utcnow", return_value=NOW - timedelta(days=1)):
        competition = service.create_competition({
            "year": 2026, "title": "NEJpraxe 2026", "voting_opens_at": (NOW - timedelta(hours=1)).isoformat(),
            "voting_closes_at": (NOW + timedelta(days=7)).isoformat(), "nominees": [a, b]})
    return competition, a, b


def mailed_token(service):
    event = service.dispatch.call_args.args[1]
    assert service.dispatch.call_args.args[0] == "vote_requested"
    return parse_qs(urlparse(event["data"]["confirm_url"]).query)["token"][0]


def test_a_vote_counts_once_confirmed_and_only_once(service, store):
    competition, a, _ = open_competition(service, store)
    assert service.get_competition(competition["id"])["status"] == "open"
    receipt = service.vote(competition["id"], {"practice": a, "email": "x@example.cz"})
    assert receipt == {"status": "confirmation_sent"}
    token = mailed_token(service)
    assert store.counts(competition["id"]) == {}
    assert service.confirm_vote(token) == {"status": "counted", "practice": a}
    confirmed = service.dispatch.call_args.args[1]["data"]
    assert confirmed == {"competition_id": competition["id"], "practice": a}  # never who voted
    assert service.confirm_vote(token)["status"] == "already_counted"
    assert store.counts(competition["id"]) == {a: 1}


def test_repeating_a_vote_looks_the_same_and_counts_once(service, store):
    competition, a, b = open_competition(service, store)
    first = service.vote(competition["id"], {"practice": a, "email": "x@example.cz"})
    first_token = mailed_token(service)
    second = service.vote(competition["id"], {"practice": b, "email": "X@example.cz"})
    second_token = mailed_token(service)
    assert first == second
    service.confirm_vote(first_token)
    assert service.confirm_vote(second_token)["status"] == "already_counted"
    assert store.counts(competition["id"]) == {a: 1}


def test_aliases_of_one_mailbox_count_once(service, store):
    competition, a, b = open_competition(service, store)
    tokens = []
    for n, alias in enumerate(["jana.novak@gmail.com", "JanaNovak+nejpraxe@googlemail.com", "j.a.n.a.novak@gmail.com"]):
        service.vote(competition["id"], {"practice": (a, b)[n % 2], "email": alias})
        tokens.append(mailed_token(service))
    assert [service.confirm_vote(t)["status"] for t in tokens] == ["counted", "already_counted", "already_counted"]
    service.vote(competition["id"], {"practice": b, "email": "jana+x@example.cz"})
    assert service.confirm_vote(mailed_token(service))["status"] == "counted"  # another mailbox
    assert store.counts(competition["id"]) == {a: 1, b: 1}


def test_bad_votes_and_tokens(service, store):
    competition, a, _ = open_competition(service, store)
    with pytest.raises(InvalidInput):
        service.vote(competition["id"], {"practice": "nope", "email": "x@example.cz"})
    with pytest.raises(InvalidInput):
        service.vote(competition["id"], {"practice": a, "email": "not-an-email"})
    with pytest.raises(NotFound):
        service.vote("no-competition", {"practice": a, "email": "x@example.cz"})
    for token in ("forged", "", None, {"$ne": ""}):
        with pytest.raises(NotFound):
            service.confirm_vote(token)


def test_results_appear_when_voting_closes_and_are_announced_once(service, store, clock):
    competition, a, _ = open_competition(service, store)
    service.vote(competition["id"], {"practice": a, "email": "x@example.cz"})
    service.confirm_vote(mailed_token(service))
    closed = service.close_voting(competition["id"])
    assert closed["status"] == "closed" and closed["winner"] == a and closed["total_votes"] == 1
    with pytest.raises(Conflict):
        service.close_voting(competition["id"])
    with pytest.raises(Conflict):
        service.vote(competition["id"], {"practice": a, "email": "y@example.cz"})
    clock.return_value = NOW + domain.RESULTS_GRACE + timedelta(seconds=1)
    service.announce_results()
    service.announce_results()
    assert published_types(service).count("competition_closed") == 1


def test_staff_edit_a_practice_until_it_is_archived(service, store):
    slug = service.create_practice(practice_input())["slug"]
    edited = service.update_practice(slug, {"title": "Pohyb pro všechny", "themes": [7, 5, 7]})
    assert (edited["title"], edited["themes"], edited["summary"]) == ("Pohyb pro všechny", [5, 7], "Souhrn")
    assert "vsechny" in store.practices[slug]["search_words"]
    service.publish_practice(slug)
    assert service.update_practice(slug, {"body": "Nový text"})["status"] == "published"
    assert published_types(service) == ["practice_published"]
    for bad in ({}, {"themes": [11]}, {"title": ""}):
        with pytest.raises(InvalidInput):
            service.update_practice(slug, bad)
    service.members.get_member.side_effect = NotFound("x")
    with pytest.raises(InvalidInput) as error:
        service.update_practice(slug, {"member": "nikde"})
    assert "member" in error.value.errors
    service.archive_practice(slug)
    with pytest.raises(Conflict):
        service.update_practice(slug, {"title": "Pozdě"})
    with pytest.raises(NotFound):
        service.update_practice("neni", {"title": "Nic"})


def test_staff_list_every_state_and_search_it(service):
    draft = service.create_practice(practice_input(title="Komunitní zahrady"))["slug"]
    published(service)
    assert service.list_practice_details({})["total"] == 2
    assert [p["slug"] for p in service.list_practice_details({"status": "draft"})["items"]] == [draft]
    assert service.list_practice_details({"q": "zahrady"})["items"][0]["status"] == "draft"
    with pytest.raises(InvalidInput):
        service.list_practice_details({"status": "deleted"})
