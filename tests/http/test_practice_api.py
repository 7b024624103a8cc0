"""Good practice, the NEJpraxe vote and its defences, over HTTP."""
import random
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlparse

import eventlet
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import factories
from tests.http.conftest import STAFF_TOKEN, Client, client_from_new_address
from tests.http.test_members_api import assert_problem, join
from tests.waiting import wait_until


def practice_payload(member: str, **overrides) -> dict:
    payload = {"title": f"Zdraví a pohyb {factories.unique_word()}", "summary": "Město podporuje pohyb všech generací.",
               "body": "Podrobný popis praxe.", "member": member, "themes": [5, 7], "year": 2025,
               "links": [{"title": "Web", "url": "https://www.example.cz"}],
               "videos": [{"title": "Video o praxi", "url": f"https://tv.example.cz/{uuid.uuid4().hex}.mp4",
                           "duration": 240, "thumbnail": "https://tv.example.cz/nahled.jpg"}]}
    payload.update(overrides)
    return payload


@pytest.fixture(scope="module")
def member(platform):
    staff, public = Client(platform.url, STAFF_TOKEN), client_from_new_address(platform.url)
    return join(staff, public, region="Kraj Vysočina", type="city")


def published(staff: Client, member: dict, **overrides) -> dict:
    created = staff.post("/api/v1/practices", json=practice_payload(member["slug"], **overrides))
    assert created.status_code == 201, created.text
    done = staff.post(f"/api/v1/practices/{created.json()['slug']}/publish")
    assert done.status_code == 200, done.text
    return done.json()


def competition(staff: Client, nominees: list[str], opens: timedelta = timedelta(minutes=-1),
                closes: timedelta = timedelta(hours=1)) -> dict:
    now = datetime.now(timezone.utc)
    created = staff.post("/api/v1/competitions", json={
        "year": 2026, "title": f"NEJpraxe {factories.unique_word()}", "voting_opens_at": (now + opens).isoformat(),
        "voting_closes_at": (now + closes).isoformat(), "nominees": nominees})
    assert created.status_code == 201, created.text
    return created.json()


def token_of(message) -> str:
    body = message.get_body(("plain",)).get_content()
    link = next(word for word in body.split() if "/api/v1/votes/confirm?token=" in word)
    return parse_qs(urlparse(link).query)["token"][0]


def test_1000_concurrent_votes_count_each_confirmed_address_once(platform, staff, public, member, smtp_sink):
    """Repeat voters change their choice; for each address the vote confirmed first is the one counted."""
    practices = [published(staff, member) for _ in range(3)]
    nominees = [p["slug"] for p in practices]
    contest = competition(staff, nominees)
    domain_name = f"{uuid.uuid4().hex[:8]}.example.cz"
    voters = [(f"volic{n}@{domain_name}", nominees[n % 3]) for n in range(600)]
    rng = random.Random(7)
    changed_minds = [(address, nominees[(nominees.index(first) + rng.choice((1, 2))) % 3])
                     for address, first in rng.choices(voters, k=400)]  # the same address, another nominee
    ballots = voters + changed_minds
    rng.shuffle(ballots)
    clients = [client_from_new_address(platform.url) for _ in range(200)]  # five votes each, under the limit
    statuses = []

    def cast(index, ballot):
        address, nominee = ballot
        try:
            response = clients[index % len(clients)].post(f"/api/v1/competitions/{contest['id']}/votes",
                                                          json={"practice": nominee, "email": address})
            statuses.append(response.status_code)
        except Exception as error:  # counted, so that a failure shows in the assertion below
            statuses.append(repr(error))

    pool = eventlet.GreenPool(100)
    for index, ballot in enumerate(ballots):
        pool.spawn(cast, index, ballot)
    pool.waitall()
    assert statuses.count(202) == 1000, {code: statuses.count(code) for code in set(statuses)}

    wait_until(lambda: smtp_sink.count(domain_name) >= 1000, timeout=180, interval=0.5, message="1000 mails")
    titles = {p["title"]: p["slug"] for p in practices}
    links: dict[str, list[tuple[str, str]]] = {}  # address -> [(token, nominee the mail asks to confirm)]
    for message in smtp_sink.messages_to_domain(domain_name):
        body = message.get_body(("plain",)).get_content()
        [nominee] = [slug for title, slug in titles.items() if title in body]
        links.setdefault(message["To"].addresses[0].addr_spec, []).append((token_of(message), nominee))
    assert sorted((a, n) for a, mails in links.items() for _, n in mails) == sorted(ballots)
    assert len({token for mails in links.values() for token, _ in mails}) == 1000

    never_confirmed = {address for address, _ in voters[:50]}
    first = {address: rng.choice(mails) for address, mails in links.items() if address not in never_confirmed}
    later = [token for address, mails in links.items() if address in first
             for token, _ in mails if token != first[address][0]]
    first_choice = dict(voters)
    assert len(later) > 250 and sum(first_choice[a] != nominee for a, (_, nominee) in first.items()) > 100

    confirmer = Client(platform.url)
    confirmer.session.headers["Connection"] = "close"

    def confirm_all(tokens) -> list:
        results = []

        def confirm(token):
            try:
                response = confirmer.post("/api/v1/votes/confirm", params={"token": token})
                results.append((response.status_code, response.json().get("status")))
            except Exception as error:
                results.append((repr(error), None))

        for token in tokens:
            pool.spawn(confirm, token)
        pool.waitall()
        return results

    counted = confirm_all([token for token, _ in first.values()])
    assert counted == [(200, "counted")] * len(first) == [(200, "counted")] * 550
    again = confirm_all(later + [token for token, _ in list(first.values())[:100]])  # and 100 links used twice
    assert again == [(200, "already_counted")] * len(again)

    still_open = public.get(f"/api/v1/competitions/{contest['id']}").json()
    assert still_open["status"] == "open" and still_open["total_votes"] is None
    assert all("votes" not in nominee for nominee in still_open["nominees"])

    closed = staff.post(f"/api/v1/competitions/{contest['id']}/close")
    assert closed.status_code == 200, closed.text
    final = public.get(f"/api/v1/competitions/{contest['id']}").json()
    expected = {slug: sum(1 for _, nominee in first.values() if nominee == slug) for slug in nominees}
    assert {n["practice"]: n["votes"] for n in final["nominees"]} == expected
    assert final["total_votes"] == 550 and final["status"] == "closed"


def test_votes_outside_the_window_are_409(staff, member):
    nominees = [published(staff, member)["slug"] for _ in range(2)]
    upcoming = competition(staff, nominees, opens=timedelta(days=1), closes=timedelta(days=2))
    finished = competition(staff, nominees, opens=timedelta(days=-2), closes=timedelta(days=-1))
    voter = client_from_new_address(staff.base_url)
    for contest in (upcoming, finished):
        assert_problem(voter.post(f"/api/v1/competitions/{contest['id']}/votes",
                                  json={"practice": nominees[0], "email": factories.unique_word() + "@example.cz"}), 409)
    assert voter.get(f"/api/v1/competitions/{upcoming['id']}").json()["status"] == "upcoming"


def mailed_token(smtp_sink, address: str) -> str:
    wait_until(lambda: smtp_sink.messages(to=address), message="confirmation mail")
    return token_of(smtp_sink.messages(to=address)[-1])


def test_an_unconfirmed_vote_never_counts_and_a_link_counts_once(staff, member, smtp_sink):
    nominees = [published(staff, member)["slug"] for _ in range(2)]
    contest = competition(staff, nominees)
    voter = client_from_new_address(staff.base_url)
    confirmed, ignored = f"ano-{uuid.uuid4().hex[:6]}@example.cz", f"ne-{uuid.uuid4().hex[:6]}@example.cz"
    for address in (confirmed, ignored):
        response = voter.post(f"/api/v1/competitions/{contest['id']}/votes",
                              json={"practice": nominees[0], "email": address})
        assert response.status_code == 202 and response.json() == {"status": "confirmation_sent"}
    token = mailed_token(smtp_sink, confirmed)
    mailed_token(smtp_sink, ignored)
    page = voter.get("/api/v1/votes/confirm", params={"token": token}, headers={"Accept": "text/html"})
    assert page.status_code == 200 and "Potvrdit hlas" in page.text
    first = voter.post("/api/v1/votes/confirm", params={"token": token}, headers={"Accept": "text/html"})
    assert first.status_code == 200 and "započten" in first.text
    assert voter.post("/api/v1/votes/confirm", params={"token": token}).json()["status"] == "already_counted"
    final = staff.post(f"/api/v1/competitions/{contest['id']}/close").json()
    assert {n["practice"]: n["votes"] for n in final["nominees"]} == {nominees[0]: 1, nominees[1]: 0}


def test_a_public_vote_is_defended(staff, member):
    nominees = [published(staff, member)["slug"] for _ in range(2)]
    contest = competition(staff, nominees)
    url = f"/api/v1/competitions/{contest['id']}/votes"
    voter = client_from_new_address(staff.base_url)
    same = [voter.post(url, json={"practice": nominees[0], "email": "opakovany@example.cz"}) for _ in range(3)]
    assert {(r.status_code, r.text) for r in same} == {(202, '{"status":"confirmation_sent"}')}  # nothing to learn
    for n in range(100 - 3):  # a town hall behind one address: 100 votes in 10 minutes are fine
        assert voter.post(url, json={"practice": nominees[0], "email": f"v{n}@example.cz"}).status_code == 202
    limited = voter.post(url, json={"practice": nominees[0], "email": "dalsi@example.cz"})
    assert_problem(limited, 429)
    assert 0 < int(limited.headers["Retry-After"]) <= 600
    assert client_from_new_address(staff.base_url).post(
        url, json={"practice": nominees[0], "email": "dalsi@example.cz"}).status_code == 202
    assert_problem(voter.post("/api/v1/votes/confirm", params={"token": "uhodnuty"}), 404)
    assert_problem(voter.post("/api/v1/votes/confirm"), 404)
    assert voter.get("/api/v1/competitions/" + contest["id"] + "/votes").status_code == 405


def test_vote_errors(staff, member):
    nominees = [published(staff, member)["slug"] for _ in range(2)]
    contest = competition(staff, nominees)
    voter = client_from_new_address(staff.base_url)
    url = f"/api/v1/competitions/{contest['id']}/votes"
    assert_problem(voter.post(url, json={"practice": "jina-praxe", "email": factories.unique_word() + "@example.cz"}), 422, "practice")
    assert_problem(voter.post(url, json={"practice": nominees[0], "email": "neni-adresa"}), 422, "email")
    assert_problem(voter.post(url, json={"practice": {"$ne": ""}, "email": factories.unique_word() + "@example.cz"}), 422, "practice")
    assert_problem(voter.post("/api/v1/competitions/nic/votes", json={"practice": nominees[0],
                                                                      "email": factories.unique_word() + "@example.cz"}), 404)


def test_search_for_zdravi_finds_zdravi_and_filters_combine(staff, public, member):
    word = factories.unique_word()
    health = published(staff, member, title=f"Zdraví pro všechny {word}", themes=[5], year=2024)
    mobility = published(staff, member, title=f"Doprava a mobilita {word}", themes=[4], year=2024)
    found = public.get("/api/v1/practices", params={"q": f"zdravi {word}"}).json()
    assert [p["slug"] for p in found["items"]] == [health["slug"]]
    item = found["items"][0]
    assert set(item) >= {"slug", "title", "summary", "member", "themes", "year", "published_at", "videos"}
    assert item["videos"][0]["url"].startswith("https://tv.example.cz/")
    combined = {"q": word, "theme": 5, "year": 2024, "member": member["slug"], "member_type": "city",
                "region": "Kraj Vysočina"}
    assert [p["slug"] for p in public.get("/api/v1/practices", params=combined).json()["items"]] == [health["slug"]]
    assert public.get("/api/v1/practices", params={**combined, "region": "Zlínský kraj"}).json()["total"] == 0
    by_theme = public.get("/api/v1/practices", params={**combined, "theme": 4}).json()
    assert [p["slug"] for p in by_theme["items"]] == [mobility["slug"]]
    for params, field in [({"theme": 11}, "theme"), ({"year": "loni"}, "year"), ({"member_type": "town"},
                                                                                 "member_type")]:
        assert_problem(public.get("/api/v1/practices", params=params), 422, field)


def test_themes_and_the_practice_workflow(staff, public, member):
    themes = public.get("/api/v1/themes").json()
    assert [t["id"] for t in themes] == list(range(1, 11)) and themes[4]["name"] == "Zdraví"
    draft = staff.post("/api/v1/practices", json=practice_payload(member["slug"])).json()
    assert draft["status"] == "draft"
    assert_problem(public.get(f"/api/v1/practices/{draft['slug']}"), 404)
    assert staff.get(f"/api/v1/practices/{draft['slug']}/detail").json()["status"] == "draft"
    assert_problem(staff.post(f"/api/v1/practices/{draft['slug']}/archive"), 409)
    staff.post(f"/api/v1/practices/{draft['slug']}/publish")
    assert_problem(staff.post(f"/api/v1/practices/{draft['slug']}/publish"), 409)
    assert public.get(f"/api/v1/practices/{draft['slug']}").status_code == 200
    changed = staff.patch(f"/api/v1/practices/{draft['slug']}", json={"summary": "Nové shrnutí", "themes": [2]})
    assert (changed.json()["summary"], changed.json()["themes"], changed.json()["links"]) == (
        "Nové shrnutí", [2], draft["links"])
    assert public.get(f"/api/v1/practices/{draft['slug']}").json()["summary"] == "Nové shrnutí"
    assert_problem(staff.patch(f"/api/v1/practices/{draft['slug']}", json={}), 422, "_schema")
    assert_problem(staff.patch(f"/api/v1/practices/{draft['slug']}", json={"year": "loni"}), 422, "year")
    assert_problem(staff.patch(f"/api/v1/practices/{draft['slug']}", json={"member": "nikdo"}), 422, "member")
    assert_problem(staff.patch("/api/v1/practices/nic", json={"title": "Nic"}), 404)
    assert staff.post(f"/api/v1/practices/{draft['slug']}/archive").json()["status"] == "archived"
    assert_problem(staff.patch(f"/api/v1/practices/{draft['slug']}", json={"title": "Pozdě"}), 409)
    assert_problem(public.get(f"/api/v1/practices/{draft['slug']}"), 404)
    assert_problem(staff.post("/api/v1/practices/nic/publish"), 404)


def test_practice_and_competition_input_errors(staff, member):
    for change, field in [({"themes": [0]}, "themes.0"), ({"themes": []}, "themes"), ({"member": "nikdo"}, "member"),
                          ({"year": 1900}, "year"), ({"title": ""}, "title"),
                          ({"videos": [{"title": "x", "url": "neni-url"}]}, "videos.0.url")]:
        assert_problem(staff.post("/api/v1/practices", json={**practice_payload(member["slug"]), **change}), 422, field)
    draft = staff.post("/api/v1/practices", json=practice_payload(member["slug"])).json()
    live = published(staff, member)
    now = datetime.now(timezone.utc)
    base = {"year": 2026, "title": "NEJpraxe", "voting_opens_at": now.isoformat(),
            "voting_closes_at": (now + timedelta(days=1)).isoformat(), "nominees": [live["slug"], draft["slug"]]}
    assert_problem(staff.post("/api/v1/competitions", json=base), 422, "nominees")
    assert_problem(staff.post("/api/v1/competitions", json={**base, "voting_closes_at": now.isoformat()}), 422,
                   "voting_closes_at")
    assert_problem(staff.get("/api/v1/competitions/nic"), 404)
    assert_problem(staff.post("/api/v1/competitions/nic/close"), 404)





json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)
NO_5XX = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@NO_5XX
@given(body=st.fixed_dictionaries({}, optional={key: json_values for key in (
    "title", "summary", "body", "member", "themes", "year", "links", "attachments", "videos")}) | json_values)
def test_no_practice_body_is_a_5xx(staff, body):
    assert staff.post("/api/v1/practices", json=body).status_code < 500


@NO_5XX
@given(params=st.dictionaries(st.sampled_from(["theme", "member", "member_type", "region", "year", "q", "page"]),
                              st.text(max_size=20), max_size=5))
def test_no_practice_query_is_a_5xx(public, params):
    assert public.get("/api/v1/practices", params=params).status_code < 500


def test_more_practice_and_competition_error_paths(staff, member, smtp_sink):
    assert_problem(staff.get("/api/v1/practices/nic/detail"), 404)
    assert_problem(staff.post("/api/v1/practices/nic/archive"), 404)
    assert_problem(staff.get("/api/v1/competitions", params={"year": "letos"}), 422, "year")
    nominees = [published(staff, member)["slug"] for _ in range(2)]
    upcoming = competition(staff, nominees, opens=timedelta(days=1), closes=timedelta(days=2))
    assert_problem(staff.post(f"/api/v1/competitions/{upcoming['id']}/close"), 409)
    contest = competition(staff, nominees)
    address = f"pozde-{uuid.uuid4().hex[:6]}@example.cz"
    voter = client_from_new_address(staff.base_url)
    voter.post(f"/api/v1/competitions/{contest['id']}/votes", json={"practice": nominees[1], "email": address})
    token = mailed_token(smtp_sink, address)
    assert staff.post(f"/api/v1/competitions/{contest['id']}/close").status_code == 200
    assert_problem(staff.post(f"/api/v1/competitions/{contest['id']}/close"), 409)
    assert_problem(voter.post("/api/v1/votes/confirm", params={"token": token}), 409)  # too late: never counts
    final = voter.get(f"/api/v1/competitions/{contest['id']}").json()
    assert final["total_votes"] == 0 and final["winner"] is None


@pytest.fixture(scope="module")
def open_contest(platform, member):
    staff = Client(platform.url, STAFF_TOKEN)
    return competition(staff, [published(staff, member)["slug"] for _ in range(2)])


@NO_5XX
@given(body=st.fixed_dictionaries({}, optional={"practice": json_values, "email": json_values}) | json_values)
def test_no_vote_body_is_a_5xx(platform, open_contest, body):
    voter = client_from_new_address(platform.url)
    response = voter.post(f"/api/v1/competitions/{open_contest['id']}/votes", json=body)
    assert response.status_code < 500, response.text
