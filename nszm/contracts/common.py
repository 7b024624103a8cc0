"""Schema pieces every service's RPC contract uses: paging and strict strings."""
import copy
from datetime import date, datetime, time

from marshmallow import EXCLUDE, Schema, ValidationError, fields, missing, validate

from nszm.formatting import PRAGUE

MAX_PER_PAGE = 100


class PageQuerySchema(Schema):
    """`?page=&per_page=` of every list; unknown query parameters are ignored."""

    class Meta:
        unknown = EXCLUDE

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PER_PAGE))


CROSS_FIELD_RULES: dict[str, dict] = {}  # schema class name -> JSON Schema keywords for its OpenAPI component


def cross_field_rules(**keywords):
    """States in the OpenAPI document a rule across fields that the schema's `validates_schema`
    enforces and marshmallow cannot describe (`anyOf` of the combinations it takes)."""
    def register(schema_class):
        CROSS_FIELD_RULES[schema_class.__name__] = keywords
        return schema_class
    return register


def page_schema(item_schema: type[Schema], name: str) -> type[Schema]:
    """The `{items, total, page, per_page}` envelope around `item_schema`."""
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item_schema), required=True),
            "total": fields.Integer(required=True),
            "page": fields.Integer(required=True),
            "per_page": fields.Integer(required=True),
        },
        name=name,
    )


def all_optional(schema: type[Schema], name: str) -> type[Schema]:
    """`schema` with every field optional and no defaults: a PATCH body names only what changes."""
    optional = {}
    for key, declared in schema._declared_fields.items():
        optional[key] = copy.deepcopy(declared)
        optional[key].required, optional[key].load_default = False, missing
    return Schema.from_dict(optional, name=name)


# What `no_control_characters` and `one_line` let through, stated in OpenAPI for clients and fuzzers.
# U+FFFE and U+FFFF are not characters at all, and no XML feed may carry them.
WITHOUT_CONTROL_CHARACTERS = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]*$"
ONE_LINE = r"^[^\u0000-\u0008\u000a-\u001f\ufffe\uffff]*$"
MULTILINE_FROM = 301  # characters: shorter text (names, titles, subjects) is one line


def no_control_characters(value: str):
    if any(ord(ch) < 32 and ch not in "\n\r\t" for ch in value) or "\ufffe" in value or "\uffff" in value:
        raise ValidationError("Control characters are not allowed.")


def one_line(value: str):
    if "\n" in value or "\r" in value:
        raise ValidationError("A line break is not allowed here.")


def text(max_length: int, required: bool = False, multiline: bool | None = None, blank: bool | None = None,
         **kwargs) -> fields.String:
    """A length-bounded string field without control characters; marshmallow rejects dicts such as
    {"$gt": ""} by type. Text of up to 300 characters (names, titles, subjects: what goes into a
    mail header or a feed title) is one line unless `multiline` says otherwise. It may be empty
    (`blank`) unless it is required."""
    min_length = 0 if (not required if blank is None else blank) else 1
    multiline = max_length >= MULTILINE_FROM if multiline is None else multiline
    return fields.String(
        required=required,
        validate=[validate.Length(min=min_length, max=max_length), no_control_characters,
                  *([] if multiline else [one_line])],
        metadata={"pattern": WITHOUT_CONTROL_CHARACTERS if multiline else ONE_LINE, **kwargs.pop("metadata", {})},
        **kwargs,
    )


class JsonBoolean(fields.Boolean):
    """A JSON boolean: true or false, not 0, 1, "yes" or "on" (what the document says is what is taken)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def flag(**kwargs) -> fields.Boolean:
    return JsonBoolean(**kwargs)


def web_url(max_length: int, **kwargs) -> fields.Url:
    """An absolute http(s) or ftp URL (documented as OpenAPI's `uri` format)."""
    return fields.Url(validate=validate.Length(max=max_length),
                      metadata={"format": "uri", **kwargs.pop("metadata", {})}, **kwargs)


class Moment(fields.AwareDateTime):
    """An ISO 8601 time with an offset; a bare date means its midnight in Prague (for filters)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and len(value) == 10:
            try:
                return datetime.combine(date.fromisoformat(value), time(0), PRAGUE)
            except ValueError:
                pass
        return super()._deserialize(value, attr, data, **kwargs)


def aware(**kwargs) -> fields.AwareDateTime:
    """A time that must carry its offset, as the contract requires."""
    return fields.AwareDateTime(format="iso", **kwargs)


class VideoSchema(Schema):
    title = text(200, required=True)
    url = web_url(500, required=True)
    duration = fields.Integer(strict=True, validate=validate.Range(min=1, max=24 * 3600),
                              metadata={"description": "seconds"})
    thumbnail = web_url(500)


class EmailAddress(fields.Email):
    """An e-mail address; surrounding white space, as people paste it, is dropped."""

    def __init__(self, **kwargs):
        kwargs.setdefault("validate", validate.Length(max=254))
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value.strip() if isinstance(value, str) else value, attr, data, **kwargs)


NEWS_PER_SERVICE = 20


class NewsItemSchema(Schema):
    """One piece of news a service tells about itself, in Czech, for the news feed."""

    key = fields.String(required=True, metadata={"description": "stable, e.g. 'member:chrudim'"})
    title = fields.String(required=True)
    summary = fields.String(required=True)
    path = fields.String(required=True, metadata={"description": "the API path of what it is about"})
    published = aware(required=True)
    category = fields.String(required=True)
