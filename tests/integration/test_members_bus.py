"""The members service over real RabbitMQ: RPC in, events out through the outbox."""
import time
from unittest.mock import patch

import pytest
from nameko.events import event_handler
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ServiceRpcProxy
from nameko.testing.services import entrypoint_waiter

from nszm.contracts.bus import MEMBER_APPLIED, MEMBER_JOINED, MEMBER_LEFT, MEMBER_UPDATED, envelope
from nszm.contracts.errors import CallRefused, Conflict, InvalidInput, StaffOnly
from nszm.entrypoints import staff_context
from nszm.signing import call_key, signed_context
from nszm.storage import ServiceStore
from services.members.service import MembersService
from tests import factories
from tests.waiting import wait_until


class Listener:
    """A subscriber as another service would write it."""

    name = "listener"

    @event_handler(MEMBER_APPLIED.source, MEMBER_APPLIED.name)
    def on_applied(self, payload):
        return payload

    @event_handler(MEMBER_JOINED.source, MEMBER_JOINED.name)
    def on_joined(self, payload):
        return payload

    @event_handler(MEMBER_UPDATED.source, MEMBER_UPDATED.name)
    def on_updated(self, payload):
        return payload

    @event_handler(MEMBER_LEFT.source, MEMBER_LEFT.name)
    def on_left(self, payload):
        return payload


@pytest.fixture
def running(runner_factory, service_config):
    runner = runner_factory(service_config, MembersService, Listener)
    runner.start()
    return runner


@pytest.fixture
def members(running, service_config):
    with ServiceRpcProxy("members", service_config, timeout=10, context_data=staff_context("tests")) as proxy:
        yield proxy


def listener(runner):
    return next(c for c in runner.containers if c.service_name == "listener")


def wait_for(runner, method):
    return entrypoint_waiter(listener(runner), method, timeout=10)


def test_a_membership_goes_from_application_to_leaving_with_every_event(running, members):
    with wait_for(running, "on_applied") as applied:
        receipt = members.apply(factories.application(name="Hrádek nad Nisou"))
    assert applied.get()["data"]["application_id"] == receipt["id"]
    assert applied.get()["schema_version"] == 2 and applied.get()["event_id"]
    assert "@" not in str(applied.get()["data"])  # the contact person only by their keyed hash

    with wait_for(running, "on_joined") as joined:
        member = members.approve_application(receipt["id"], {})
    assert joined.get()["data"]["slug"] == member["slug"] == "hradek-nad-nisou"
    assert members.get_member(member["slug"])["name"] == "Hrádek nad Nisou"

    with wait_for(running, "on_updated") as updated:
        members.update_member(member["slug"], {"population": 7800})
    assert updated.get()["data"]["population"] == 7800

    with wait_for(running, "on_left") as left:
        members.leave(member["slug"], {})
    assert left.get()["data"]["slug"] == member["slug"]
    assert members.stats()["total"] == 0


def test_staff_actions_need_an_actor_and_each_is_in_the_audit_log(members, service_config):
    receipt = members.apply(factories.application(name="Nové Město na Moravě"))
    with ServiceRpcProxy("members", service_config, timeout=10) as anonymous:
        with pytest.raises(StaffOnly):
            anonymous.approve_application(receipt["id"], {})
    assert members.get_application(receipt["id"])["status"] == "pending"  # nothing changed
    with ServiceRpcProxy("members", service_config, timeout=10, context_data=staff_context("Jana", "t1")) as jana:
        member = jana.approve_application(receipt["id"], {})
        with pytest.raises(Conflict):
            jana.approve_application(receipt["id"], {})
    members.update_member(member["slug"], {"population": 9000})

    log = members.audit_log({"per_page": 10})
    assert log["total"] == 4 and not any(e["action"] == "apply" for e in log["items"])
    assert [(e["actor"], e.get("token"), e["action"], e["target"], e["status"]) for e in log["items"]] == [
        ("tests", None, "update_member", member["slug"], "done"),
        ("Jana", "t1", "approve_application", receipt["id"], "refused"),
        ("Jana", "t1", "approve_application", receipt["id"], "done"),
        ("tests", None, "get_application", receipt["id"], "read"),  # personal data read by staff
    ]
    assert log["items"][1]["error"] == "The application is approved already."
    assert all(entry["intact"] for entry in log["items"])
    assert members.audit_log({"actor": "Jana", "action": "approve_application"})["total"] == 2


def test_a_call_without_the_platforms_fresh_signature_is_refused_before_any_work(members, service_config):
    receipt = members.apply(factories.application(name="Velké Meziříčí"))
    key = call_key(service_config["SECRET_KEY"])
    forged_actor = {**staff_context("tests"), "actor": "Jana"}
    contexts = {
        "unsigned": None,
        "another key": signed_context(call_key("x" * 40), "ops", "tests", roles=["admin"]),
        "stale": signed_context(key, "ops", "tests", roles=["admin"], now=time.time() - 600),
        "forged actor": forged_actor,
    }
    for why, context in contexts.items():
        with ServiceRpcProxy("members", service_config, timeout=10, context_data=context) as caller:
            with pytest.raises(StaffOnly, match="refused"):
                caller.get_application(receipt["id"])  # personal data: a contact's name and address
            with pytest.raises(StaffOnly):
                caller.approve_application(receipt["id"], {})
            with pytest.raises(CallRefused):
                caller.list_members({})
    assert members.get_application(receipt["id"])["status"] == "pending"
    assert members.audit_log({"action": "approve_application"})["total"] == 0


def test_errors_arrive_as_the_shared_types(members):
    with pytest.raises(InvalidInput) as error:
        members.apply(factories.application(ico="11111111"))
    assert "ico" in error.value.errors
    payload = factories.application()
    members.apply(payload)
    with pytest.raises(Conflict):
        members.apply(payload)


def test_the_relay_publishes_events_left_in_the_outbox(running, mongo_client, service_config):
    """An event whose writer could not publish it (broker down: it releases it) goes out by the timer."""
    from services.members.storage import MembersStore

    store = MembersStore(mongo_client, service_config["MONGO_DB"])
    event = envelope(MEMBER_LEFT, {"slug": "x", "name": "X", "left_on": "2026-01-01"})
    with wait_for(running, "on_left") as left:
        store.unit_of_work(lambda tx: tx.commit([event]))
        store.outbox.release({"_id": event["event_id"]})
    assert left.get()["event_id"] == event["event_id"]
    wait_until(lambda: store.outbox.pending_count() == 0, message="outbox drained")


def test_an_actions_entry_is_written_with_its_change_and_cannot_be_edited_unseen(members, mongo_client, service_config):
    member = members.approve_application(members.apply(factories.application(name="Polička"))["id"], {})
    audit = mongo_client[service_config["MONGO_DB"]]["members.audit"]
    written = ServiceStore.record_audit

    def written_then_broken(store, entry):
        written(store, entry)  # the change and its entry are in the transaction...
        raise RuntimeError("the disk is full")  # ...which then fails, and is rolled back whole

    with patch.object(ServiceStore, "record_audit", written_then_broken):
        with pytest.raises(RemoteError):
            members.update_member(member["slug"], {"population": 1})
    assert members.get_member(member["slug"])["population"] != 1
    updates = list(audit.find({"action": "update_member"}))
    assert [entry["status"] for entry in updates] == ["failed"]  # no "done" without the change
    members.update_member(member["slug"], {"population": 9100})
    assert [entry["status"] for entry in audit.find({"action": "update_member"}).sort("at", 1)] == ["failed", "done"]

    audit.update_one({"action": "update_member", "status": "done"}, {"$set": {"actor": "someone else"}})
    entries = members.audit_log({"action": "update_member"})["items"]
    assert [(entry["status"], entry["intact"]) for entry in entries] == [("done", False), ("failed", True)]
