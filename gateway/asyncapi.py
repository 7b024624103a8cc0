"""The AsyncAPI document of the bus, generated from the shared event contracts."""
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from nszm.contracts.bus import PUBLIC_EVENTS, EnvelopeSchema, EventSpec, subscriptions_of

AMQP_BINDING_VERSION = "0.2.0"
HOW_TO_SUBSCRIBE = (
    "To subscribe, declare a durable queue of your own, named after your service and purpose (for "
    "example `crm.registrations`; never a name starting with a platform service's name), and bind it "
    "to the exchange with the event type as routing key. Acknowledge a message after handling it; "
    "de-duplicate on `event_id`. `nszm.subscriber` (pika) does all of this.")


def _message(spec: EventSpec) -> dict:
    envelope_ref = {"$ref": "#/components/schemas/Envelope"}
    data_ref = {"$ref": f"#/components/schemas/{_data_name(spec)}"}
    return {
        "name": spec.name,
        "summary": spec.summary,
        "contentType": "application/json",
        "bindings": {"amqp": {"contentEncoding": "utf-8", "messageType": spec.name,
                              "bindingVersion": AMQP_BINDING_VERSION}},
        "payload": {"allOf": [envelope_ref, {"type": "object", "properties": {
            "event_type": {"type": "string", "enum": [spec.name]},
            "schema_version": {"type": "integer", "enum": [spec.schema_version]},
            "data": data_ref}}]},
    }


def _channel(spec: EventSpec) -> dict:
    platform_queues = [s.queue for s in subscriptions_of(spec)]
    return {
        "description": f"Topic exchange `{spec.exchange}`, routing key `{spec.name}`. {HOW_TO_SUBSCRIBE}"
                       + (f" The platform's own queues: {', '.join(f'`{q}`' for q in platform_queues)}."
                          if platform_queues else ""),
        "subscribe": {
            "operationId": f"on_{spec.name}",
            "message": _message(spec),
            "bindings": {"amqp": {"ack": True, "bindingVersion": AMQP_BINDING_VERSION}},
        },
        "bindings": {"amqp": {"is": "routingKey", "bindingVersion": AMQP_BINDING_VERSION, "exchange": {
            "name": spec.exchange, "type": "topic", "durable": True, "autoDelete": False, "vhost": "/"}}},
    }


def _data_name(spec: EventSpec) -> str:
    return spec.data_schema.__name__.removesuffix("Schema")


def asyncapi_document(amqp_uri_hint: str) -> dict:
    schemas = APISpec(title="bus", version="1", openapi_version="3.0.3", plugins=[MarshmallowPlugin()])
    schemas.components.schema("Envelope", schema=EnvelopeSchema)
    for data_schema in dict.fromkeys(spec.data_schema for spec in PUBLIC_EVENTS):
        schemas.components.schema(data_schema.__name__.removesuffix("Schema"), schema=data_schema)
    channels = {f"{spec.exchange}/{spec.name}": _channel(spec) for spec in PUBLIC_EVENTS}
    return {
        "asyncapi": "2.6.0",
        "info": {
            "title": "NSZM ČR platform bus",
            "version": "1.0.0",
            "description": "Events the services publish on RabbitMQ. Every payload is an envelope with "
                           "`event_id` (unique: de-duplicate on it), `occurred_at` (UTC), `schema_version` "
                           "and `data`. An event is published after its change is stored (transactional outbox). "
                           "Subscribers connect as a RabbitMQ user of their own that may read these exchanges "
                           "and its own queues, and publish nothing to the platform (`python -m ops.rabbit "
                           "subscriber`). No event carries an address, a name or a link that acts for someone: "
                           "a person is named by `person`, a keyed hash of their address, and the fields marked "
                           "`x-personal` are personal (pseudonymous) data. `person_erased` asks every subscriber to "
                           "erase what it holds about a `person`; a subscriber that needs a registered person's "
                           "name and address asks `GET /api/v1/registrations/{id}` with a staff token of role "
                           "`events`.",
        },
        "servers": {"rabbitmq": {"url": amqp_uri_hint, "protocol": "amqp", "protocolVersion": "0.9.1"}},
        "defaultContentType": "application/json",
        "channels": channels,
        "components": {"schemas": schemas.to_dict()["components"]["schemas"]},
    }
