"""The bus's AsyncAPI document is valid AsyncAPI 2.6.0 and says how to subscribe over AMQP."""
import json
from pathlib import Path

from jsonschema import Draft7Validator

from gateway.asyncapi import asyncapi_document
from nszm.contracts.bus import ALL_EVENTS, NOTIFY_MAILS, PUBLIC_EVENTS, VOTE_REQUESTED

SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "asyncapi-2.6.0.json"


def test_the_document_is_valid_asyncapi_2_6_with_amqp_bindings_for_every_event():
    document = asyncapi_document("amqp://rabbitmq.example.cz:5672/")
    errors = sorted(Draft7Validator(json.loads(SCHEMA.read_text())).iter_errors(document), key=str)
    assert errors == []
    assert len(document["channels"]) == len(PUBLIC_EVENTS) == len(ALL_EVENTS) - 1
    assert not any("vote_requested" in name for name in document["channels"])  # internal: not for subscribers
    assert VOTE_REQUESTED.exchange == "practice.internal"
    for spec in PUBLIC_EVENTS:
        channel = document["channels"][f"{spec.source}.events/{spec.name}"]
        assert channel["bindings"]["amqp"]["exchange"]["name"] == f"{spec.source}.events"
        assert channel["subscribe"]["bindings"]["amqp"]["ack"] is True
        assert "durable queue of your own" in channel["description"]
    confirmed = document["channels"]["events.events/registration_confirmed"]["description"]
    assert f"`{NOTIFY_MAILS.queue}`" in confirmed


def test_an_invalid_document_would_be_caught():
    validator = Draft7Validator(json.loads(SCHEMA.read_text()))
    document = asyncapi_document("amqp://rabbitmq.example.cz:5672/")
    document["channels"]["events.events/registration_confirmed"]["subscribe"]["message"]["contentType"] = 5
    assert list(validator.iter_errors(document))
    document = asyncapi_document("amqp://rabbitmq.example.cz:5672/")
    del document["servers"]["rabbitmq"]["protocol"]
    assert list(validator.iter_errors(document))


def test_every_personal_field_is_marked_and_no_event_carries_an_address_a_name_or_a_link():
    schemas = asyncapi_document("amqp://rabbitmq.example.cz:5672/")["components"]["schemas"]
    personal = {(name, field) for name, schema in schemas.items()
                for field, prop in schema.get("properties", {}).items() if prop.get("x-personal")}
    assert {("RegistrationRefData", "person"), ("AttendanceData", "certificate_id"),
            ("NewsletterSubscriberData", "person"), ("PersonErasedData", "person"),
            ("MemberAppliedData", "contact_person")} <= personal
    fields = {field for schema in schemas.values() for field in schema.get("properties", {})}
    assert not fields & {"email", "cancel_url", "certificate_url", "join_url", "confirm_url", "contact", "phone"}
    assert "notify.events/person_erased" in asyncapi_document("amqp://x/")["channels"]
