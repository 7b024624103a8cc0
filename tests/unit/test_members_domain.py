"""Rules of membership: IČO, coverage statistics, application and membership transitions."""
from datetime import date, datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nszm.rules import Refused
from services.members import domain
from tests import factories

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("ico", ["70891508", "00262978", "00064581", "44992785", "27019161"])
def test_real_icos_are_valid(ico):
    assert domain.is_valid_ico(ico)


@pytest.mark.parametrize("ico", ["70891509", "00262970", "1234567", "123456789", "7089150a", "", "7089 1508"])
def test_wrong_check_digit_or_shape_is_invalid(ico):
    assert not domain.is_valid_ico(ico)


@given(st.from_regex(r"\d{7}", fullmatch=True))
def test_every_seven_digit_prefix_has_exactly_one_check_digit(prefix):
    valid = [d for d in "0123456789" if domain.is_valid_ico(prefix + d)]
    assert len(valid) == 1


def test_normalise_ico_drops_spaces():
    assert domain.normalise_ico(" 708 91 508 ") == "70891508"


def member(slug, type_, region, population, part_of=None, status="active"):
    return {"slug": slug, "name": slug, "type": type_, "region": region, "population": population,
            "part_of": part_of, "status": status}


def test_city_inside_a_member_region_is_not_counted_twice():
    members = [
        member("liberecky-kraj", "region", "Liberecký kraj", 447000),
        member("liberec", "city", "Liberecký kraj", 104800),
        member("chrudim", "city", "Pardubický kraj", 23000),
    ]
    assert domain.population_covered(members) == 447000 + 23000


def test_district_of_a_member_city_is_not_counted_twice():
    members = [
        member("hlavni-mesto-praha", "city", "Hlavní město Praha", 1357000),
        member("praha-12", "city_district", "Hlavní město Praha", 55000, part_of="hlavni-mesto-praha"),
        member("praha-99", "city_district", "Hlavní město Praha", 1000, part_of="not-a-member"),
    ]
    assert domain.population_covered(members) == 1357000 + 1000


def test_members_who_left_do_not_count():
    members = [member("liberecky-kraj", "region", "Liberecký kraj", 447000, status="left"),
               member("liberec", "city", "Liberecký kraj", 104800)]
    assert domain.population_covered(members) == 104800


def test_a_member_pointing_at_itself_still_counts():
    assert domain.population_covered([member("x", "city", "Zlínský kraj", 10, part_of="x")]) == 10


def test_statistics_count_by_type_and_region_in_czech_order():
    members = [
        member("a", "city", "Zlínský kraj", 10),
        member("b", "city", "Hlavní město Praha", 20),
        member("c", "mas", "Zlínský kraj", 30),
        member("d", "region", "Jihomoravský kraj", 40),
        member("e", "city", "Jihomoravský kraj", 50, status="left"),
    ]
    stats = domain.statistics(members)
    assert stats["total"] == 4
    assert stats["by_type"] == {"city": 2, "mas": 1, "region": 1}
    assert list(stats["by_region"]) == ["Hlavní město Praha", "Jihomoravský kraj", "Zlínský kraj"]
    assert stats["by_region"]["Zlínský kraj"] == 2
    assert stats["population_covered"] == 100


def pending_application():
    return domain.new_application(factories.application(name="Liberecký kraj", type="region"), NOW, "person-c")


def test_approving_creates_an_active_member_with_search_fields():
    decided, new_member = domain.approve(pending_application(), "liberecky-kraj", date(2026, 12, 1), NOW)
    assert decided["status"] == "approved" and decided["member"] == "liberecky-kraj"
    assert new_member["status"] == "active"
    assert new_member["member_since"] == date(2026, 12, 1)
    assert new_member["name_folded"] == "liberecky kraj"
    assert new_member["contacts"][0]["role"] == "coordinator"


def test_a_decided_application_cannot_be_decided_again():
    decided, _ = domain.approve(pending_application(), "x", date.today(), NOW)
    with pytest.raises(domain.NotPending):
        domain.approve(decided, "x", date.today(), NOW)
    with pytest.raises(domain.NotPending):
        domain.reject(decided, "late", NOW)


def test_rejecting_keeps_the_reason():
    rejected = domain.reject(pending_application(), "not a municipality", NOW)
    assert rejected["status"] == "rejected" and rejected["reason"] == "not a municipality"


def test_leaving_twice_is_refused():
    _, new_member = domain.approve(pending_application(), "x", date.today(), NOW)
    left = domain.leave(new_member, date(2027, 1, 1))
    assert left["status"] == "left" and left["left_on"] == date(2027, 1, 1)
    with pytest.raises(domain.AlreadyLeft):
        domain.leave(left, date(2027, 1, 2))


def test_update_refreshes_search_fields_and_defaults_contact_roles():
    _, new_member = domain.approve(pending_application(), "x", date.today(), NOW)
    updated = domain.update(new_member, {"name": "Čáslav", "contacts": [{"name": "Eva", "email": "eva@example.cz"}]})
    assert updated["name_folded"] == "caslav"
    assert updated["contacts"] == [{"role": "other", "name": "Eva", "email": "eva@example.cz"}]


def test_first_free_slug_skips_taken_ones():
    assert domain.first_free_slug("Praha 12", set()) == "praha-12"
    assert domain.first_free_slug("Praha 12", {"praha-12", "praha-12-2"}) == "praha-12-3"


def test_a_new_member_is_news_from_the_start_of_its_first_day_in_prague():
    item = domain.news_item({"slug": "chrudim", "name": "Chrudim", "region": "Pardubický kraj",
                             "member_since": date(2026, 11, 21)})
    assert item["title"] == "Nový člen: Chrudim" and item["path"] == "/api/v1/members/chrudim"
    assert item["published"].isoformat() == "2026-11-21T00:00:00+01:00"


def test_an_application_is_refused_while_an_active_member_holds_its_ico():
    data = factories.application(name="Zlín")
    holder = {"slug": "zlin", "name": "Zlín", "status": "active"}
    with pytest.raises(Refused):
        domain.new_application(data, NOW, "person-c", holder)
    assert domain.new_application(data, NOW, "person-c", {**holder, "status": "left"})["status"] == "pending"


def test_a_returning_member_keeps_its_old_slug():
    returning = {"slug": "zlin", "status": "left", "version": 4}
    _, member = domain.approve(pending_application(), "zlin-2", date.today(), NOW, returning)
    assert member["slug"] == "zlin" and member["status"] == "active"


def test_every_change_of_a_member_raises_its_version():
    _, member = domain.approve(pending_application(), "x", date.today(), NOW)
    assert member["version"] == 1
    updated = domain.update(member, {"population": 5})
    left = domain.leave(updated, date(2027, 1, 1))
    assert (updated["version"], left["version"]) == (2, 3)
    _, back = domain.approve(pending_application(), "y", date.today(), NOW, left)
    assert back["version"] == 4
