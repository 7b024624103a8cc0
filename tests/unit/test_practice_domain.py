"""Rules of good practice and of the NEJpraxe vote."""
from datetime import datetime, timedelta, timezone

import pytest

from services.practice import domain

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
MEMBER = {"slug": "chrudim", "name": "Chrudim", "type": "city", "region": "Pardubický kraj"}


def practice(title="Zdraví a pohyb ve městě", slug="zdravi", status="published"):
    data = {"title": title, "summary": "Souhrn", "body": "Text o Zdravém městě", "member": "chrudim",
            "themes": [5, 5, 2], "year": 2025, "links": [], "attachments": [], "videos": []}
    made = domain.new_practice(data, slug, MEMBER, NOW)
    return domain.publish(made, NOW) if status == "published" else made


def test_search_words_are_folded_and_queries_match_prefixes():
    words = domain.search_words("Zdraví a pohyb", "Žďár nad Sázavou")
    assert "zdravi" in words and "zdar" in words and "a" not in words
    assert domain.query_words("ZDRAVÍ zdravi, Zdrav!") == ["zdravi", "zdrav"]
    assert domain.query_words("a") == []


def test_a_new_practice_is_a_draft_with_the_members_details():
    draft = practice(status="draft")
    assert draft["status"] == "draft" and draft["themes"] == [2, 5]
    assert (draft["member_name"], draft["member_type"], draft["region"]) == ("Chrudim", "city", "Pardubický kraj")
    assert "zdravem" in draft["search_words"]


def test_the_workflow_goes_draft_published_archived():
    published = domain.publish(practice(status="draft"), NOW)
    assert published["published_at"] == NOW
    with pytest.raises(domain.Refused):
        domain.publish(published, NOW)
    archived = domain.archive(published, NOW)
    assert archived["status"] == "archived"
    with pytest.raises(domain.Refused):
        domain.archive(archived, NOW)
    with pytest.raises(domain.Refused):
        domain.archive(practice(status="draft"), NOW)


def competition(opens=-1, closes=1):
    data = {"year": 2026, "title": "NEJpraxe 2026", "voting_opens_at": NOW + timedelta(days=opens),
            "voting_closes_at": NOW + timedelta(days=closes), "nominees": ["a", "b", "a"]}
    return domain.new_competition(data, [practice(slug="a"), practice(title="Kola", slug="b")], NOW)


def test_nominees_must_be_published_practices():
    assert [n["practice"] for n in competition()["nominees"]] == ["a", "b"]
    data = {"year": 2026, "title": "X", "voting_opens_at": NOW, "voting_closes_at": NOW + timedelta(days=1),
            "nominees": ["a", "draft"]}
    with pytest.raises(domain.RuleBroken) as broken:
        domain.new_competition(data, [practice(slug="a"), practice(slug="draft", status="draft")], NOW)
    assert broken.value.field == "nominees"


@pytest.mark.parametrize("opens, closes, expected", [(1, 2, "upcoming"), (-1, 1, "open"), (-2, -1, "closed")])
def test_phase(opens, closes, expected):
    assert domain.phase(competition(opens, closes), NOW) == expected


def test_votes_only_inside_the_window_and_only_for_nominees():
    with pytest.raises(domain.Refused):
        domain.new_vote(competition(1, 2), "a", "x@example.cz", NOW, "person-x")
    with pytest.raises(domain.Refused):
        domain.new_vote(competition(-2, -1), "a", "x@example.cz", NOW, "person-x")
    with pytest.raises(domain.RuleBroken):
        domain.new_vote(competition(), "zzz", "x@example.cz", NOW, "person-x")


def test_a_vote_keeps_only_the_hash_of_its_token_and_expires_by_the_close():
    vote, token = domain.new_vote(competition(closes=1), "a", " X@Example.cz", NOW, "person-x")
    assert token not in str(vote) and vote["token_hash"] == domain.token_hash(token)
    assert vote["person"] == "person-x" and vote["counted"] is False
    assert vote["expires_at"] == NOW + timedelta(days=1)
    vote, _ = domain.new_vote(competition(closes=10), "a", "x@example.cz", NOW, "person-x")
    assert vote["expires_at"] == NOW + domain.CONFIRMATION_VALIDITY


def test_confirming_counts_once_per_address():
    contest = competition()
    vote, _ = domain.new_vote(contest, "a", "x@example.cz", NOW, "person-x")
    first = domain.confirm(vote, contest, False, NOW)
    assert first.counts_now and first.vote["counted"] and first.vote["confirmed_at"] == NOW
    again = domain.confirm(first.vote, contest, True, NOW)  # the link used twice changes nothing
    assert again.vote is first.vote and not again.changed and not again.counts_now
    second, _ = domain.new_vote(contest, "b", "x@example.cz", NOW, "person-x")
    other = domain.confirm(second, contest, True, NOW)
    assert other.vote["counted"] is False and other.changed and not other.counts_now


def test_late_or_expired_confirmations_are_refused():
    contest = competition()
    vote, _ = domain.new_vote(contest, "a", "x@example.cz", NOW, "person-x")
    with pytest.raises(domain.Refused):
        domain.confirm(vote, contest, False, NOW + timedelta(days=2))
    with pytest.raises(domain.Refused):
        domain.confirm({**vote, "expires_at": NOW - timedelta(seconds=1)}, contest, False, NOW)


def test_results_rank_nominees_and_a_tie_has_no_winner():
    contest = competition()
    ranked = domain.results(contest, {"b": 5, "a": 3})
    assert [(n["practice"], n["votes"]) for n in ranked["nominees"]] == [("b", 5), ("a", 3)]
    assert ranked["total_votes"] == 8 and ranked["winner"] == "b"
    assert domain.results(contest, {"a": 2, "b": 2})["winner"] is None
    assert domain.results(contest, {})["winner"] is None


def test_counts_stay_hidden_while_voting_is_open():
    contest = competition()
    open_view = domain.public_view(contest, NOW, {"a": 9})
    assert open_view["status"] == "open" and open_view["total_votes"] is None
    assert all("votes" not in n for n in open_view["nominees"])
    closed_view = domain.public_view(contest, NOW + timedelta(days=2), {"a": 9})
    assert closed_view["total_votes"] == 9 and closed_view["winner"] == "a"


def test_closing_early_only_while_open():
    assert domain.close_early(competition(), NOW)["voting_closes_at"] == NOW
    for opens, closes in ((1, 2), (-2, -1)):
        with pytest.raises(domain.Refused):
            domain.close_early(competition(opens, closes), NOW)


def test_news_tells_of_practices_and_of_results_once_voting_has_closed():
    item = domain.practice_news({**practice(), "published_at": NOW})
    assert (item["key"], item["title"], item["path"]) == (
        "practice:zdravi", "Dobrá praxe: Zdraví a pohyb ve městě", "/api/v1/practices/zdravi")
    contest = competition()
    assert domain.results_news(domain.public_view(contest, NOW)) is None
    closed = domain.public_view(contest, NOW + timedelta(days=2), {"a": 3, "b": 1})
    news = domain.results_news(closed)
    assert news["title"] == "Výsledky: NEJpraxe 2026" and news["summary"] == "Vítězem je Zdraví a pohyb ve městě (Chrudim)"
    tied = domain.results_news(domain.public_view(contest, NOW + timedelta(days=2), {"a": 2, "b": 2}))
    assert tied["summary"] == "Hlasování skončilo." and tied["published"] == contest["voting_closes_at"]
