"""Imports of the association's existing lists (members with their contacts, newsletter
subscribers): the columns a file may have, what the services take, and the report of a check or
an import.

A file becomes rows in the gateway: each row keeps the line it had in the file, and its cells are
named by the fields below (a file may head its columns in Czech or by the field names). A service
checks every row, reports each broken one with its line, and says what the rest would change; the
same request with `dry_run` false writes exactly that, all at once or nothing.
"""
from marshmallow import Schema, fields, validate

from nszm.contracts.common import text

MAX_IMPORT_ROWS = 5000

# field: the headers a file may give it, compared without case, accents, spaces and punctuation
MEMBER_COLUMNS: dict[str, tuple[str, ...]] = {
    "ico": ("IČO", "ICO", "IČ"),
    "name": ("Název", "Člen", "Název člena", "name"),
    "type": ("Typ", "Typ člena", "type"),
    "region": ("Kraj", "region"),
    "population": ("Počet obyvatel", "Obyvatel", "Obyvatelé", "population"),
    "website": ("Web", "WWW", "Webové stránky", "website"),
    "member_since": ("Členem od", "Člen od", "member_since"),
    "contact_name": ("Jméno kontaktu", "Kontakt", "Kontaktní osoba", "Jméno", "contact_name"),
    "contact_email": ("E-mail kontaktu", "E-mail", "Email", "contact_email"),
    "contact_phone": ("Telefon kontaktu", "Telefon", "contact_phone"),
    "contact_role": ("Role kontaktu", "Role", "contact_role"),
    "contact_function": ("Funkce kontaktu", "Funkce", "contact_function"),
}
SUBSCRIBER_COLUMNS: dict[str, tuple[str, ...]] = {
    "email": ("E-mail", "Email", "Adresa", "email"),
    "name": ("Jméno", "Jméno a příjmení", "name"),
    "consent_at": ("Souhlas udělen", "Souhlas", "Datum souhlasu", "consent_at"),
}
REQUIRED_COLUMNS = {"members": ("ico",), "subscribers": ("email",)}
COLUMNS = {"members": MEMBER_COLUMNS, "subscribers": SUBSCRIBER_COLUMNS}

MEMBER_ACTIONS = ("create", "update", "unchanged")
# subscribe: the row records consent; confirm: a confirmation mail asks for it first;
# suppressed: on the suppression list, and stays there
SUBSCRIBER_ACTIONS = ("subscribe", "confirm", "unchanged", "suppressed")


class ImportRowSchema(Schema):
    line = fields.Integer(required=True, validate=validate.Range(min=1),
                          metadata={"description": "the row's line in the file (the header is line 1)"})
    values = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True), required=True,
                         metadata={"description": "the row's cells by field name"})


class ImportRequestSchema(Schema):
    rows = fields.List(fields.Nested(ImportRowSchema), required=True,
                       validate=validate.Length(min=1, max=MAX_IMPORT_ROWS))
    dry_run = fields.Boolean(load_default=True, metadata={"description": "check only (the default)"})
    plan = fields.String(validate=validate.Length(max=100), metadata={
        "description": "a check's `plan`: import only if the rows would still change exactly that"})


class SubscriberImportRequestSchema(ImportRequestSchema):
    source = text(200, required=True, metadata={
        "description": "where the list comes from, kept with each subscriber (e.g. a conference's attendance list)"})


class ImportQuerySchema(Schema):
    """The query of an import over HTTP, whose body is the file."""

    dry_run = fields.Boolean(load_default=True, metadata={"description": "check only (the default); "
                                                                         "`false` imports"})
    plan = fields.String(validate=validate.Length(max=100), metadata={
        "description": "the check's `plan`: import only if the file would still change exactly that (else 409)"})


class SubscriberImportQuerySchema(ImportQuerySchema):
    source = text(200, required=True, metadata={"description": "where the list comes from"})


class RowErrorSchema(Schema):
    line = fields.Integer(required=True)
    field = fields.String(allow_none=True, metadata={"description": "the field (column) at fault, if one is"})
    column = fields.String(allow_none=True, metadata={"description": "the column's header as the file has it"})
    messages = fields.List(fields.String(), required=True, metadata={
        "description": "in Czech, or in English with `Accept-Language: en`"})
    codes = fields.List(fields.String(), metadata={"description": "each message's stable code, in the same order"})


class FieldChangeSchema(Schema):
    field = fields.String(required=True)
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)


class ImportChangeSchema(Schema):
    key = fields.String(required=True, metadata={"description": "the member's IČO or the subscriber's address"})
    name = fields.String(allow_none=True)
    action = fields.String(required=True, validate=validate.OneOf(MEMBER_ACTIONS + SUBSCRIBER_ACTIONS))
    lines = fields.List(fields.Integer(), required=True)
    slug = fields.String(allow_none=True, metadata={"description": "the member's address in the directory"})
    fields_changed = fields.List(fields.Nested(FieldChangeSchema), load_default=list)
    contacts_added = fields.List(fields.String(), load_default=list)
    contacts_changed = fields.List(fields.String(), load_default=list)
    reason = fields.String(allow_none=True, metadata={"description": "why a subscriber is left out "
                                                                     "(the suppression list's reason)"})


class SuppressedContactSchema(Schema):
    email = fields.String(required=True)
    reason = fields.String(required=True)


class ImportReportSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(list(COLUMNS)))
    dry_run = fields.Boolean(required=True)
    imported = fields.Boolean(required=True, metadata={"description": "true once the changes are written"})
    rows = fields.Integer(required=True)
    errors = fields.List(fields.Nested(RowErrorSchema), required=True)
    changes = fields.List(fields.Nested(ImportChangeSchema), required=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                         metadata={"description": "changes by action, and `errors`: the broken rows"})
    plan = fields.String(required=True, metadata={"description": "a fingerprint of the changes, for the import"})
    ignored_columns = fields.List(fields.String(), load_default=list,
                                  metadata={"description": "columns of the file the import does not know"})
    suppressed = fields.List(fields.Nested(SuppressedContactSchema), load_default=list, metadata={
        "description": "imported contacts on the suppression list: they stay there"})
