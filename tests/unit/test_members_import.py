"""Importing members with their contacts, through the service's entrypoint with a fake store: row
checks, de-duplication by IČO and address, the dry run, the plan's fingerprint, the events."""
import pytest
from nameko.testing.services import worker_factory

from nszm.contracts.errors import Conflict, InvalidInput
from services.members.service import MembersService
from tests import factories
from tests.fakes import FakeMembersStore
from tests.unit.test_members_service import existing_member


@pytest.fixture
def store():
    return FakeMembersStore()


@pytest.fixture
def service(store):
    return worker_factory(MembersService, store=store)


def rows(*cells: dict, first_line: int = 2) -> list[dict]:
    return [{"line": first_line + n, "values": values} for n, values in enumerate(cells)]


def new_member(ico: str, **overrides) -> dict:
    return {"ico": ico, "name": "Kopřivnice", "type": "město", "region": "Moravskoslezský",
            "population": "22 000", "contact_name": "Jana Nová", "contact_email": "jana@koprivnice.cz",
            "contact_role": "koordinátorka", **overrides}


def published_types(service):
    return [call.args[0] for call in service.dispatch.call_args_list]


def test_a_dry_run_reports_what_would_change_and_writes_nothing(service, store):
    report = service.import_members({"rows": rows(new_member(factories.ico()))})
    assert report["dry_run"] is True and report["imported"] is False
    assert report["counts"] == {"create": 1, "errors": 0}
    change = report["changes"][0]
    assert change["action"] == "create" and change["slug"] == "koprivnice" and change["lines"] == [2]
    assert change["contacts_added"] == ["jana@koprivnice.cz"]
    assert store.members == {} and store.outbox.pending == []


def test_an_import_creates_members_with_contacts_read_from_czech_cells(service, store):
    ico = factories.ico()
    report = service.import_members({"rows": rows(new_member(ico), new_member(ico, contact_name="Petr Starosta",
                                                                              contact_email="starosta@koprivnice.cz",
                                                                              contact_role="politik",
                                                                              contact_function="starosta")),
                                     "dry_run": False})
    assert report["imported"] is True and report["counts"]["create"] == 1
    member = store.members["koprivnice"]
    assert (member["type"], member["region"], member["population"]) == ("city", "Moravskoslezský kraj", 22000)
    assert [(c["role"], c["email"], c.get("function")) for c in member["contacts"]] == [
        ("coordinator", "jana@koprivnice.cz", None), ("politician", "starosta@koprivnice.cz", "starosta")]
    assert published_types(service) == ["member_joined"]


def test_a_known_ico_updates_its_member_and_merges_contacts_by_address(service, store):
    holder = existing_member(contacts=[{"role": "coordinator", "name": "Jana", "email": "jana@chrudim.cz"}])
    store.members[holder["slug"]] = holder
    report = service.import_members({"rows": rows(
        {"ico": holder["ico"], "population": 24000, "contact_name": "Jana Malá", "contact_email": "JANA@chrudim.cz "},
        {"ico": holder["ico"], "contact_name": "Petr", "contact_email": "petr@chrudim.cz", "contact_role": "politik"},
    ), "dry_run": False})
    change = report["changes"][0]
    assert change["action"] == "update" and change["lines"] == [2, 3]
    assert change["fields_changed"] == [{"field": "population", "before": 23000, "after": 24000}]
    assert change["contacts_added"] == ["petr@chrudim.cz"] and change["contacts_changed"] == ["JANA@chrudim.cz"]
    member = store.members["chrudim"]
    assert [(c["name"], c["role"]) for c in member["contacts"]] == [("Jana Malá", "coordinator"),
                                                                   ("Petr", "politician")]
    assert member["version"] == 2
    assert published_types(service) == ["member_updated", "member_contacts_changed"]


def test_importing_the_same_list_again_changes_nothing(service, store):
    payload = {"rows": rows(new_member(factories.ico())), "dry_run": False}
    service.import_members(payload)
    again = service.import_members(payload)
    assert again["counts"] == {"unchanged": 1, "errors": 0}
    assert len(store.members) == 1 and published_types(service) == ["member_joined"]


def test_each_broken_row_is_reported_with_its_line_and_the_rest_imported(service, store):
    good, left = factories.ico(), existing_member(slug="as", name="Aš", status="left")
    store.members["as"] = left
    report = service.import_members({"rows": rows(
        new_member(good),
        new_member("12345678"),                                   # check digit
        new_member(factories.ico(), type="vesnice"),              # unknown type
        new_member(factories.ico(), contact_email="jana@"),       # address
        new_member(good, name="Kopřivnice II"),                   # contradicts line 2
        {"ico": factories.ico(), "name": "Nové Město"},           # new, but no type, region, population
        {"ico": left["ico"], "population": 100},                  # a former member
        new_member(factories.ico(), nickname="x"),                # a column the import does not know
    ), "dry_run": False})
    broken = sorted({error["line"] for error in report["errors"]})
    assert broken == [3, 4, 5, 6, 7, 8, 9] and report["counts"]["errors"] == 7
    fields = {(error["line"], error["field"]) for error in report["errors"]}
    assert {(3, "ico"), (4, "type"), (5, "contact_email"), (6, "name"), (7, "type"), (8, "ico"),
            (9, "nickname")} <= fields
    assert [member["ico"] for member in store.members.values() if member["status"] == "active"] == [good]


def test_an_ico_typed_into_a_number_cell_gets_its_leading_zeros_back(service, store):
    ico = factories.ico("0023140")
    report = service.import_members({"rows": rows(new_member(int(ico)))})
    assert report["errors"] == [] and report["changes"][0]["key"] == ico


def test_an_import_goes_ahead_only_if_it_would_change_what_was_checked(service, store):
    holder = existing_member()
    store.members[holder["slug"]] = holder
    payload = {"rows": rows({"ico": holder["ico"], "population": 30000})}
    checked = service.import_members(payload)
    store.members["chrudim"] = {**holder, "population": 26000, "version": 2}  # someone changed it meanwhile
    with pytest.raises(Conflict):
        service.import_members({**payload, "dry_run": False, "plan": checked["plan"]})
    assert store.members["chrudim"]["population"] == 26000
    again = service.import_members(payload)
    done = service.import_members({**payload, "dry_run": False, "plan": again["plan"]})
    assert done["imported"] and store.members["chrudim"]["population"] == 30000


def test_new_members_with_one_name_get_free_slugs(service, store):
    store.members["koprivnice"] = existing_member(slug="koprivnice", name="Kopřivnice")
    report = service.import_members({"rows": rows(new_member(factories.ico()), new_member(factories.ico())),
                                     "dry_run": False})
    assert [change["slug"] for change in report["changes"]] == ["koprivnice-2", "koprivnice-3"]


def test_an_import_needs_rows(service):
    with pytest.raises(InvalidInput):
        service.import_members({"rows": []})
