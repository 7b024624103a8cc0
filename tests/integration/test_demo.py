"""The demo data set: valid, loaded once into an empty database, shown in Czech order."""
from datetime import date, datetime, timedelta, timezone

from nszm import czech
from nszm.privacy import Pseudonyms
from ops import demo, demo_data
from services.events.storage import EventsStore
from services.members import domain
from services.practice import domain as practice_domain

DEMO_RECORDS = (len(demo_data.MEMBERS) + len(demo_data.PENDING_APPLICATIONS) + len(demo_data.EVENTS)
                + len(demo_data.PRACTICES) + len(demo_data.COMPETITIONS))


def test_every_demo_ico_is_valid_and_unique():
    icos = [row[3] for row in demo_data.MEMBERS] + [row[3] for row in demo_data.PENDING_APPLICATIONS]
    assert all(domain.is_valid_ico(ico) for ico in icos)
    assert len(set(icos)) == len(icos)


def test_demo_covers_every_member_type_and_several_regions():
    members = demo.demo_members()
    assert {m["type"] for m in members} == set(domain_types())
    assert len({m["region"] for m in members}) >= 8
    assert any(m["name"] == "Liberecký kraj" for m in members)


def domain_types():
    from nszm.contracts.members import MEMBER_TYPES

    return MEMBER_TYPES


def test_demo_events_are_upcoming_and_include_a_three_day_school():
    events = demo.demo_events(date.today())
    assert all(e["starts_at"] > datetime.now(timezone.utc) and e["status"] == "published" for e in events)
    school = next(e for e in events if e["type"] == "school")
    assert len(school["sessions"]) == 3 and school["ends_at"] - school["starts_at"] > timedelta(days=2)
    assert school["accredited"] and {s["audience"] for s in school["sessions"]} == {"everyone", "coordinators"}
    assert any(e["online"] for e in events)


def test_demo_practices_cover_every_theme_and_some_have_videos():
    now = datetime.now(timezone.utc)
    practices = demo.demo_practices(now)
    assert {theme for p in practices for theme in p["themes"]} == set(range(1, 11))
    assert sum(1 for p in practices if p["videos"]) >= 3
    members = {m["slug"] for m in demo.demo_members()}
    assert all(p["member"] in members and p["status"] == "published" for p in practices)
    competitions = demo.demo_competitions(practices, now, Pseudonyms.from_env())
    phases = {practice_domain.phase(c, now) for c, _ in competitions}
    assert phases == {"open", "closed"}
    finished, ballots = next((c, b) for c, b in competitions if practice_domain.phase(c, now) == "closed")
    assert len({v["person"] for v in ballots}) == len(ballots)


def test_loads_into_an_empty_database_only(mongo_uri, mongo_client, members_store, db_name):
    loaded = demo.load_demo(mongo_uri, db_name)
    assert loaded == DEMO_RECORDS
    assert demo.load_demo(mongo_uri, db_name) == 0
    items, total = members_store.list_members(page=1, per_page=100)
    assert total == len(demo_data.MEMBERS)
    names = [m["name"] for m in items]
    assert names == sorted(names, key=czech.sort_key)
    assert names.index("Hradec Králové") < names.index("Chrudim")
    assert members_store.list_applications(page=1, per_page=10, status="pending")[1] == 2
    upcoming, count = EventsStore(mongo_client, db_name).list_events(page=1, per_page=20,
                                                                     from_=datetime.now(timezone.utc))
    assert count == len(demo_data.EVENTS)
    assert [e["starts_at"] for e in upcoming] == sorted(e["starts_at"] for e in upcoming)
