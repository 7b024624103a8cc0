"""The members service's entrypoints with a fake store: validation, events, decisions."""
from datetime import date, datetime, timezone

import pytest
from nameko.testing.services import worker_factory
from pymongo.errors import AutoReconnect

from nszm.contracts.errors import Conflict, InvalidInput, NotFound
from services.members import domain
from services.members.service import MembersService
from tests import factories
from tests.fakes import FakeMembersStore

NOW = datetime(2026, 11, 21, tzinfo=timezone.utc)


def existing_member(name="Chrudim", slug="chrudim", **overrides):
    base = {"slug": slug, "name": name, "type": "city", "region": "Pardubický kraj", "ico": factories.ico(),
            "population": 23000, "member_since": date(1994, 9, 1), "website": None, "part_of": None,
            "contacts": [], "status": "active", "left_on": None, "version": 1}
    return domain.with_search_fields({**base, **overrides})


@pytest.fixture
def store():
    return FakeMembersStore()


@pytest.fixture
def service(store):
    return worker_factory(MembersService, store=store)


def published_types(service):
    return [call.args[0] for call in service.dispatch.call_args_list]


def test_apply_stores_a_pending_application_and_publishes_member_applied(service, store):
    receipt = service.apply(factories.application(ico="708 91 508"))
    assert receipt["status"] == "pending"
    assert store.applications[receipt["id"]]["ico"] == "70891508"
    assert published_types(service) == ["member_applied"]
    event = service.dispatch.call_args.args[1]
    assert {"event_id", "occurred_at", "schema_version", "data"} <= set(event)
    assert event["data"]["application_id"] == receipt["id"]


@pytest.mark.parametrize(
    "field, value",
    [("ico", "70891509"), ("ico", "1234"), ("type", "town"), ("region", "Bavorsko"), ("population", "many"),
     ("population", 0), ("name", {"$gt": ""}), ("name", ""), ("contact", {"name": "J"})],
)
def test_apply_names_the_invalid_field(service, store, field, value):
    with pytest.raises(InvalidInput) as error:
        service.apply(factories.application(**{field: value}))
    assert any(key == field or key.startswith(field + ".") for key in error.value.errors)
    assert store.applications == {} and store.outbox.pending == []


def test_apply_refuses_a_non_object(service):
    with pytest.raises(InvalidInput):
        service.apply(["not", "an", "object"])


def test_apply_twice_with_one_ico_conflicts(service):
    payload = factories.application()
    service.apply(payload)
    with pytest.raises(Conflict):
        service.apply({**payload, "name": "Jiný název"})


def test_approve_creates_the_member_and_publishes_member_joined(service, store):
    receipt = service.apply(factories.application(name="Hrádek nad Nisou"))
    member = service.approve_application(receipt["id"], {"member_since": "2027-01-01"})
    assert member["slug"] == "hradek-nad-nisou" and member["member_since"] == "2027-01-01"
    assert store.applications[receipt["id"]]["status"] == "approved"
    assert published_types(service) == ["member_applied", "member_joined"]


def test_approve_takes_the_next_slug_when_the_first_is_taken_meanwhile(service, store):
    receipt = service.apply(factories.application(name="Hrádek nad Nisou"))
    store.slugs_taken_by_others.add("hradek-nad-nisou")
    member = service.approve_application(receipt["id"], None)
    assert member["slug"] == "hradek-nad-nisou-2"


def test_a_returning_member_keeps_its_slug(service, store):
    old = existing_member(name="Hrádek nad Nisou", slug="hradek", status="left", left_on=date(2020, 1, 1))
    store.members[old["slug"]] = old
    receipt = service.apply(factories.application(name="Hrádek nad Nisou", ico=old["ico"]))
    assert service.approve_application(receipt["id"])["slug"] == "hradek"


def test_deciding_twice_conflicts_and_unknown_is_not_found(service):
    receipt = service.apply(factories.application())
    service.reject_application(receipt["id"], {"reason": "duplicate"})
    with pytest.raises(Conflict):
        service.approve_application(receipt["id"])
    with pytest.raises(Conflict):
        service.reject_application(receipt["id"], {"reason": "again"})
    with pytest.raises(NotFound):
        service.approve_application("nope")


def test_reject_needs_a_reason(service):
    receipt = service.apply(factories.application())
    with pytest.raises(InvalidInput) as error:
        service.reject_application(receipt["id"], {})
    assert "reason" in error.value.errors


def test_list_members_is_in_czech_order_and_paged(service, store):
    for name in ("Chrudim", "Hodonín", "Cheb", "Brno"):
        member = existing_member(name=name, slug=name.lower())
        store.members[member["slug"]] = member
    page = service.list_members({"per_page": "3"})
    assert [m["name"] for m in page["items"]] == ["Brno", "Hodonín", "Cheb"]
    assert page["total"] == 4 and page["page"] == 1 and page["per_page"] == 3
    assert "ico" not in page["items"][0] and "contacts" not in page["items"][0]


@pytest.mark.parametrize("query", [{"type": "town"}, {"per_page": 1000}, {"page": 0}, {"q": {"$ne": 1}}])
def test_list_members_rejects_bad_filters(service, query):
    with pytest.raises(InvalidInput):
        service.list_members(query)


def test_update_publishes_member_updated(service, store):
    store.members["chrudim"] = existing_member()
    updated = service.update_member("chrudim", {"population": 23500})
    assert updated["population"] == 23500
    assert published_types(service) == ["member_updated"]


def test_a_change_of_contacts_is_a_versioned_event_of_its_own(service, store):
    store.members["chrudim"] = existing_member(contacts=[
        {"role": "coordinator", "name": "Jana Nová", "email": "jana@chrudim.cz"}])
    contacts = [{"role": "coordinator", "name": "Petr Malý", "email": "petr@chrudim.cz"},
                {"role": "politician", "function": "místostarosta", "name": "Karel Veselý", "email": "karel@chrudim.cz"}]
    updated = service.update_member("chrudim", {"contacts": contacts})
    assert updated["version"] == 2 and updated["contacts"][1]["function"] == "místostarosta"
    assert published_types(service) == ["member_updated", "member_contacts_changed"]
    [changed] = [call.args[1] for call in service.dispatch.call_args_list if call.args[0] == "member_contacts_changed"]
    assert changed["data"]["version"] == 2 and changed["data"]["contacts"] == [
        {"role": "coordinator", "function": None, "person": store.pseudonyms.person("petr@chrudim.cz")},
        {"role": "politician", "function": "místostarosta", "person": store.pseudonyms.person("karel@chrudim.cz")}]
    assert "petr@chrudim.cz" not in str(changed)
    service.update_member("chrudim", {"population": 23600})
    assert published_types(service)[-1] == "member_updated"  # the contacts did not change


def test_a_mailout_audience_chooses_contact_roles(service, store):
    store.members["chrudim"] = existing_member(contacts=[
        {"role": "coordinator", "name": "Jana", "email": "jana@chrudim.cz"},
        {"role": "politician", "function": "starosta", "name": "Karel", "email": "karel@chrudim.cz"},
        {"role": "other", "name": "Eva", "email": "eva@chrudim.cz"}])
    assert [c["email"] for c in service.mailing_contacts({})] == ["jana@chrudim.cz"]
    both = service.mailing_contacts({"roles": ["coordinator", "politician"]})
    assert [c["email"] for c in both] == ["jana@chrudim.cz", "karel@chrudim.cz"]
    with pytest.raises(InvalidInput):
        service.mailing_contacts({"roles": ["starosta"]})


def test_update_needs_a_field(service, store):
    store.members["chrudim"] = existing_member()
    with pytest.raises(InvalidInput):
        service.update_member("chrudim", {})


def test_leave_publishes_member_left_and_twice_conflicts(service, store):
    store.members["chrudim"] = existing_member()
    left = service.leave("chrudim", {"left_on": "2027-01-31"})
    assert left["status"] == "left" and left["left_on"] == "2027-01-31"
    assert published_types(service) == ["member_left"]
    with pytest.raises(Conflict):
        service.leave("chrudim")


def test_stats_and_unknown_member(service, store):
    store.members["chrudim"] = existing_member()
    assert service.stats()["population_covered"] == 23000
    with pytest.raises(NotFound):
        service.get_member("nope")


def test_relay_publishes_what_the_outbox_holds(service, store):
    service.apply(factories.application())
    service.dispatch.reset_mock()
    store.outbox.pending, store.outbox.published = store.outbox.published, []
    assert service.publish_stored_events() == 1
    assert published_types(service) == ["member_applied"] and store.outbox.pending == []


def test_a_failed_publish_stays_in_the_outbox(service, store):
    service.dispatch.side_effect = ConnectionError("broker down")
    service.apply(factories.application())
    assert store.outbox.pending_count() == 1


def test_a_change_stored_and_published_is_answered_even_if_the_outbox_cannot_be_told(service, store):
    def database_away(event_ids):
        raise AutoReconnect("connection lost")

    store.outbox.mark_published = database_away
    assert service.apply(factories.application())["status"] == "pending"
    assert published_types(service) == ["member_applied"]
    assert store.outbox.pending_count() == 1  # the relay publishes it again; consumers de-duplicate


def test_an_ico_of_an_active_member_cannot_apply_but_one_who_left_may(service, store):
    store.members["chrudim"] = existing_member()
    with pytest.raises(Conflict):
        service.apply(factories.application(ico=store.members["chrudim"]["ico"]))
    assert store.applications == {} and store.outbox.pending == []
    service.leave("chrudim", {"left_on": "2027-01-31"})
    assert service.apply(factories.application(ico=store.members["chrudim"]["ico"]))["status"] == "pending"
