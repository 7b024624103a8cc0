"""Loading RPC payloads with marshmallow: every failure becomes InvalidInput naming the fields."""
import functools

from marshmallow import Schema, ValidationError

from nszm.contracts.errors import InvalidInput


def flatten_messages(messages, prefix: str = "") -> dict[str, list[str]]:
    """{'contact': {'email': ['…']}} -> {'contact.email': ['…']}"""
    if isinstance(messages, dict):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            if key == "_schema":
                name = prefix or "_schema"
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            for field, field_messages in flatten_messages(value, name).items():
                flat.setdefault(field, []).extend(field_messages)
        return flat
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {prefix or "_schema": list(messages)}
    return {prefix or "_schema": [str(messages)]}


def load(schema: Schema, data, partial: bool = False):
    if not isinstance(data, dict):
        raise InvalidInput("Expected a JSON object.", {"_schema": ["Expected a JSON object."]})
    try:
        return schema.load(data, partial=partial)
    except ValidationError as error:
        raise InvalidInput("The input is not valid.", flatten_messages(error.messages)) from None


@functools.cache
def cached_schema(schema_class: type[Schema], many: bool = False) -> Schema:
    """One instance of `schema_class` per process, for the hot paths: a schema keeps nothing
    between calls, and building one copies every declared field (nested ones included): a seventh
    of the events service's CPU in a registration, were it built each time."""
    return schema_class(many=many)
