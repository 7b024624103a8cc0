"""Importing newsletter subscribers, through the notify service with a fake store: consent
recorded or asked for by mail, the suppression list kept, duplicates merged, broken rows reported."""
from datetime import date, timedelta

import pytest
from nameko.testing.services import worker_factory

from nszm.batches import Batches
from nszm.contracts.errors import InvalidInput
from nszm.storage import utcnow
from services.notify.newsletter.domain import IMPORT_CONFIRMATION
from services.notify.service import NotifyService
from services.notify.suppression import domain as suppression
from tests.fakes import FakeMailer, FakeMailoutStore

SOURCE = "Prezenční listina Letní školy 2025"


@pytest.fixture
def store():
    return FakeMailoutStore(subscribers=[
        {"id": "jana@chrudim.cz", "email": "jana@chrudim.cz", "name": "Jana", "status": "confirmed"}])


@pytest.fixture
def service(store):
    return worker_factory(NotifyService, store=store, asked_together=Batches(), mailer=FakeMailer(),
                          config={"PUBLIC_URL": "https://api.example.cz"})


def imported(service, *cells, dry_run=False, **more):
    rows = [{"line": 2 + n, "values": values} for n, values in enumerate(cells)]
    return service.import_subscribers({"rows": rows, "source": SOURCE, "dry_run": dry_run, **more})


def actions(report):
    return {change["key"]: change["action"] for change in report["changes"]}


def test_a_dry_run_says_what_each_address_would_get_and_writes_nothing(service, store):
    report = imported(service, {"email": "eva@example.cz"}, {"email": "jana@chrudim.cz"}, dry_run=True)
    assert actions(report) == {"eva@example.cz": "confirm", "jana@chrudim.cz": "unchanged"}
    assert set(store.subscribers) == {"jana@chrudim.cz"} and store.mails == {}


def test_an_address_without_recorded_consent_is_asked_by_mail_and_not_subscribed(service, store):
    report = imported(service, {"email": "Eva@Example.cz", "name": "Eva Dlouhá"})
    assert actions(report) == {"Eva@Example.cz": "confirm"}
    subscriber = store.subscribers["eva@example.cz"]
    assert subscriber["status"] == "pending" and subscriber["source"]["name"] == SOURCE
    assert "eva@example.cz" not in [s["email"].lower() for s in store.confirmed_subscribers()]
    [mail] = store.mails.values()
    assert mail["kind"] == IMPORT_CONFIRMATION and mail["to"] == "Eva@Example.cz" and mail["bounce_token"]
    assert SOURCE in mail["text"] and "https://api.example.cz/api/v1/newsletter/confirm?token=" in mail["text"]
    assert service.dispatch.call_args_list == []


def test_confirming_the_mailed_link_subscribes_with_the_consent_given_then(service, store):
    imported(service, {"email": "eva@example.cz"})
    [mail] = store.mails.values()
    token = mail["text"].split("confirm?token=")[1].split()[0]
    service.confirm_subscription(token)
    subscriber = store.subscribers["eva@example.cz"]
    assert subscriber["status"] == "confirmed" and subscriber["consent"]["form"] == IMPORT_CONFIRMATION
    assert subscriber["source"]["name"] == SOURCE


def test_a_row_with_recorded_consent_subscribes_at_once(service, store):
    report = imported(service, {"email": "petr@kromeriz.cz", "consent_at": "3. 5. 2024"})
    assert actions(report) == {"petr@kromeriz.cz": "subscribe"}
    subscriber = store.subscribers["petr@kromeriz.cz"]
    assert subscriber["status"] == "confirmed" and subscriber["consent"]["given_at"].date() == date(2024, 5, 3)
    assert subscriber["consent"]["form"] == f"import: {SOURCE}"
    assert store.mails == {}
    assert [call.args[0] for call in service.dispatch.call_args_list] == ["newsletter_subscribed"]


def test_suppressed_addresses_stay_suppressed_and_get_nothing(service, store):
    for email, reason in (("odhlasen@example.cz", suppression.UNSUBSCRIBED), ("vraci@example.cz", suppression.BOUNCED)):
        store.put_suppression(store.pseudonyms.person(email), {"reason": reason, "at": utcnow()})
    report = imported(service, {"email": "odhlasen@example.cz", "consent_at": "2024-01-01"},
                      {"email": "vraci@example.cz"})
    assert actions(report) == {"odhlasen@example.cz": "suppressed", "vraci@example.cz": "suppressed"}
    assert [change["reason"] for change in report["changes"]] == ["unsubscribed", "bounced"]
    assert set(store.subscribers) == {"jana@chrudim.cz"} and store.mails == {} and len(store.suppressions) == 2


def test_rows_of_one_address_make_one_change_and_broken_rows_are_reported(service, store):
    tomorrow = (utcnow() + timedelta(days=2)).date().isoformat()
    report = imported(service, {"email": "eva@example.cz"}, {"email": "nikdo"}, {"email": "EVA@example.cz "},
                      {"email": "ota@example.cz", "consent_at": tomorrow}, {"email": "ema@example.cz", "age": 3},
                      {"name": "Bez adresy"})
    [change] = report["changes"]
    assert (change["key"], change["action"], change["lines"]) == ("eva@example.cz", "confirm", [2, 4])
    assert [(error["line"], error["field"]) for error in report["errors"]] == [
        (3, "email"), (5, "consent_at"), (6, "age"), (7, "email")]
    assert report["counts"] == {"confirm": 1, "errors": 4} and len(store.mails) == 1


def test_a_pending_address_asked_lately_is_not_asked_again(service, store):
    imported(service, {"email": "eva@example.cz"})
    again = imported(service, {"email": "eva@example.cz"})
    assert actions(again) == {"eva@example.cz": "unchanged"} and len(store.mails) == 1


def test_an_import_of_subscribers_names_its_source(service):
    with pytest.raises(InvalidInput) as refused:
        service.import_subscribers({"rows": [{"line": 2, "values": {"email": "eva@example.cz"}}]})
    assert "source" in refused.value.errors
