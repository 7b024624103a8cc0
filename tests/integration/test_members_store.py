"""The members store against a real SecantusDB server."""
from datetime import date, datetime, timezone

import eventlet
import pytest

from nszm.contracts.bus import MEMBER_APPLIED, MEMBER_JOINED, envelope
from nszm.contracts.errors import Conflict, NotFound
from nszm.storage import IdTaken
from services.members import domain
from tests import factories

NOW = datetime(2026, 11, 21, tzinfo=timezone.utc)


def new_member(name, **overrides):
    base = {"slug": domain.first_free_slug(name, set()), "name": name, "type": "city", "region": "Zlínský kraj",
            "ico": factories.ico(), "population": 1000, "member_since": date(2020, 1, 1), "website": None,
            "part_of": None, "contacts": [], "status": "active", "left_on": None}
    return domain.with_search_fields({**base, **overrides})


def applied(store, **overrides):
    application = domain.new_application(factories.application(**overrides), NOW, "person-c")
    event = envelope(MEMBER_APPLIED, {"application_id": application["id"], "name": application["name"],
                                      "type": application["type"], "region": application["region"],
                                      "population": application["population"], "contact_person": application["person"]})
    store.unit_of_work(lambda tx: (tx.add_application(application), tx.commit([event])))
    return application


def test_directory_sorts_in_czech_order_filters_and_pages(members_store):
    for name, type_ in [("Chrudim", "city"), ("Hodonín", "city"), ("Cheb", "city"), ("Žďár nad Sázavou", "city"),
                        ("Česká Lípa", "city"), ("MAS Brdy", "mas")]:
        members_store.add_member(new_member(name, type=type_))
    items, total = members_store.list_members(page=1, per_page=3, type="city")
    assert total == 5
    assert [m["name"] for m in items] == ["Česká Lípa", "Hodonín", "Cheb"]
    items, _ = members_store.list_members(page=2, per_page=3, type="city")
    assert [m["name"] for m in items] == ["Chrudim", "Žďár nad Sázavou"]
    assert members_store.list_members(page=1, per_page=20, q="ZDAR")[0][0]["name"] == "Žďár nad Sázavou"
    assert members_store.list_members(page=1, per_page=20, q="lípa")[1] == 1
    assert members_store.list_members(page=1, per_page=20, q=".*")[1] == 0
    assert members_store.list_members(page=1, per_page=20, region="Liberecký kraj")[1] == 0


def test_dates_and_fields_survive_the_round_trip(members_store):
    members_store.add_member(new_member("Kopřivnice", member_since=date(1994, 9, 1)))
    member = members_store.get_member("koprivnice")
    assert member["member_since"] == date(1994, 9, 1) and member["slug"] == "koprivnice"
    with pytest.raises(NotFound):
        members_store.get_member("nope")


def test_application_and_its_event_are_stored_together(members_store):
    application = applied(members_store)
    assert members_store.get_application(application["id"])["status"] == "pending"
    record = members_store.outbox.collection.find_one({"event_type": "member_applied"})
    assert members_store.outbox.pending_count() == 1
    assert members_store.outbox.claim() is None  # leased to the worker that wrote it
    assert record["payload"]["data"]["application_id"] == application["id"]


def test_concurrent_applications_with_one_ico_store_exactly_one(members_store):
    ico = factories.ico()
    outcomes = []

    def attempt(i):
        try:
            applied(members_store, ico=ico, name=f"Obec {i}")
            outcomes.append("stored")
        except Conflict:
            outcomes.append("conflict")

    pool = eventlet.GreenPool(20)
    for i in range(20):
        pool.spawn(attempt, i)
    pool.waitall()
    assert outcomes.count("stored") == 1 and outcomes.count("conflict") == 19
    assert members_store.list_applications(page=1, per_page=100)[1] == 1
    assert members_store.outbox.pending_count() == 1


def test_the_holder_of_an_ico_is_the_active_member_else_the_one_who_left(members_store):
    existing = new_member("Zlín")
    members_store.add_member(existing)
    assert members_store.member_with_ico(existing["ico"])["slug"] == "zlin"
    before = members_store.get_member("zlin")
    members_store.save_member(before, domain.leave(before, date(2025, 1, 1)))
    assert members_store.member_with_ico(existing["ico"])["status"] == "left"
    assert members_store.member_with_ico(factories.ico()) is None


def test_approval_is_all_or_nothing(members_store):
    existing = new_member("Vsetín")
    members_store.add_member(existing)
    # An application slipped in before the member existed, with the same IČO.
    application = domain.new_application(factories.application(ico=existing["ico"]), NOW, "person-c")
    members_store.applications.insert_one({**{k: v for k, v in application.items() if k != "id"},
                                           "_id": application["id"], "pending_ico": application["ico"]})
    decided, member = domain.approve(application, "vsetin-2", date.today(), NOW)
    with pytest.raises(Conflict):
        members_store.unit_of_work(lambda tx: (tx.save_decision(decided), tx.add_member(member), tx.commit([envelope(
            MEMBER_JOINED, {"slug": "vsetin-2", "name": "Vsetín", "type": "city", "region": "Zlínský kraj",
                            "population": 1, "member_since": "2026-01-01", "website": None, "part_of": None})])))
    assert members_store.get_application(application["id"])["status"] == "pending"
    assert members_store.outbox.pending_count() == 0
    with pytest.raises(NotFound):
        members_store.get_member("vsetin-2")


def test_a_taken_slug_is_reported_for_retry(members_store):
    members_store.add_member(new_member("Turnov"))
    application = applied(members_store, name="Turnov")
    decided, member = domain.approve(application, "turnov", date.today(), NOW)
    with pytest.raises(IdTaken):
        members_store.unit_of_work(lambda tx: (tx.save_decision(decided), tx.add_member(member)))
    assert members_store.get_application(application["id"])["status"] == "pending"
    assert members_store.taken_slugs("turnov") == {"turnov"}


def test_a_stale_update_conflicts(members_store):
    members_store.add_member(new_member("Semily"))
    before = members_store.get_member("semily")
    members_store.save_member(before, domain.update(before, {"population": 8500}))
    with pytest.raises(Conflict):
        members_store.save_member(before, domain.update(before, {"population": 9000}))
    assert members_store.get_member("semily")["population"] == 8500


def test_a_member_who_left_can_return_with_the_same_ico(members_store):
    members_store.add_member(new_member("Rýmařov"))
    before = members_store.get_member("rymarov")
    members_store.save_member(before, domain.leave(before, date(2025, 1, 1)))
    application = applied(members_store, ico=before["ico"], name="Rýmařov")
    returning = members_store.member_with_ico(before["ico"])
    decided, member = domain.approve(application, "rymarov-2", date.today(), NOW, returning)
    members_store.unit_of_work(lambda tx: (tx.save_decision(decided), tx.save_member(returning, member)))
    assert members_store.get_member("rymarov")["status"] == "active"


def test_the_relay_goes_past_an_event_that_fails_and_published_rows_expire(members_store):
    from nameko.testing.services import worker_factory

    from services.members.service import MembersService

    poison = envelope(MEMBER_APPLIED, {"application_id": "x", "name": "X", "type": "city", "region": "Zlínský kraj",
                                       "population": 1, "contact_person": "person-j"})
    fine = [envelope(MEMBER_JOINED, {"slug": f"m{n}", "name": "M", "type": "city", "region": "Zlínský kraj",
                                     "population": 1, "member_since": "2026-01-01", "website": None,
                                     "part_of": None}) for n in range(2)]
    for event in [poison, *fine]:
        members_store.unit_of_work(lambda tx, event=event: tx.commit([event]))
        members_store.outbox.collection.update_one({"_id": event["event_id"]}, {"$set": {"claimed_until": NOW}})
    service = worker_factory(MembersService, store=members_store)

    def dispatch(kind, payload):
        if kind == "member_applied":
            raise ValueError("cannot encode it")

    service.dispatch.side_effect = dispatch
    assert service.publish_stored_events() == 2
    assert [call.args[1]["event_id"] for call in service.dispatch.call_args_list][1:] == [e["event_id"] for e in fine]
    assert members_store.outbox.pending_count() == 1  # the poison waits, with a growing pause
    assert members_store.outbox.claim() is None
    ttl = {i["name"]: i.get("expireAfterSeconds") for i in members_store.outbox.collection.list_indexes()}
    assert ttl["published_at_1"] == 86400


def test_only_the_holder_of_an_outbox_lease_releases_it(members_store):
    event = envelope(MEMBER_JOINED, {"slug": "x", "name": "X", "type": "city", "region": "Zlínský kraj",
                                     "population": 1, "member_since": "2026-01-01", "website": None, "part_of": None})
    members_store.unit_of_work(lambda tx: tx.commit([event]))
    outbox = members_store.outbox
    outbox.collection.update_one({"_id": event["event_id"]}, {"$set": {"claimed_until": NOW}})  # the writer is late
    relayed = outbox.claim()
    assert relayed["_id"] == event["event_id"] and relayed["lease"] != outbox.WRITER
    outbox.release({"_id": event["event_id"]})  # the late writer's failure: not its lease any more
    assert outbox.collection.find_one({"_id": event["event_id"]})["claimed_until"] == relayed["claimed_until"]
    outbox.release(relayed)  # the relay's own failure: tried again after a pause
    after = outbox.collection.find_one({"_id": event["event_id"]})
    assert after["failures"] == 1 and outbox.claim() is None
