"""What both imports share: reading a spreadsheet's cells as a schema's fields, each broken row as
an error with its line, and the report with a fingerprint of what an import would change."""
import hashlib
import json
import re
from collections import Counter
from datetime import date

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load

from nszm.contracts.imports import ImportChangeSchema
from nszm.rules import Refused
from nszm.schemas import flatten_messages

CZECH_DATE = re.compile(r"^\s*(\d{1,2})\.\s*(\d{1,2})\.\s*(\d{4})\s*$")


class CellDate(fields.Date):
    """A date as a spreadsheet holds it: ISO (2024-03-01, also with a time), or Czech (1. 3. 2024)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            czech = CZECH_DATE.match(value)
            if czech:
                day, month, year = map(int, czech.groups())
                try:
                    return date(year, month, day)
                except ValueError:
                    raise self.make_error("invalid") from None
            if len(value) > 10 and value[10] in "T ":
                value = value[:10]
        return super()._deserialize(value, attr, data, **kwargs)


class CellInteger(fields.Integer):
    """A whole number as people type it in a sheet: `12 345`, or `12345.0` from a number cell."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = re.sub(r"[\s\u00a0]", "", value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return super()._deserialize(value, attr, data, **kwargs)


class ImportRowBase(Schema):
    """A row's cells: text trimmed, empty cells as not given, a column the import does not know refused."""

    class Meta:
        unknown = RAISE

    @pre_load
    def drop_empty_cells(self, data, **kwargs):
        if not isinstance(data, dict):
            return data
        cells = {key: value.strip() if isinstance(value, str) else value for key, value in data.items()}
        return {key: value for key, value in cells.items() if value not in (None, "")}


def row_error(line: int, field: str | None, messages) -> dict:
    return {"line": line, "field": None if field in (None, "_schema") else field,
            "messages": [str(m) for m in (messages if isinstance(messages, list) else [messages])]}


def errors_of(line: int, invalid: ValidationError) -> list[dict]:
    """A row's schema errors, one per field."""
    return [row_error(line, field, found) for field, found in sorted(flatten_messages(invalid.messages).items())]


def loaded_rows(schema: Schema, rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """(the rows the schema takes, each with its `line`; the errors of the others)."""
    taken, errors = [], []
    for row in rows:
        try:
            taken.append({**schema.load(row["values"]), "line": row["line"]})
        except ValidationError as invalid:
            errors += errors_of(row["line"], invalid)
    return taken, errors


def fingerprint(changes: list[dict]) -> str:
    """What an import would change, as a short hash: an import given a check's fingerprint goes
    ahead only if it would still change exactly that."""
    shown = ImportChangeSchema(many=True).dump(changes)
    text = json.dumps(shown, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def check_plan(checked: str | None, planned: str):
    """An import given a check's fingerprint goes ahead only if it would change exactly that."""
    if checked and checked != planned:
        raise Refused("The import would no longer change what was checked (the data or the file changed "
                      "meanwhile); check it again.", code="import_plan_changed")


def report(kind: str, rows: int, errors: list[dict], changes: list[dict], dry_run: bool) -> dict:
    """A check's report (`dry_run`), or an import's: it is written when the report is given."""
    counts = dict(Counter(change["action"] for change in changes))
    counts["errors"] = len({error["line"] for error in errors})
    return {"kind": kind, "dry_run": dry_run, "imported": not dry_run, "rows": rows,
            "errors": sorted(errors, key=lambda error: (error["line"], error["field"] or "")),
            "changes": changes, "counts": counts, "plan": fingerprint(changes)}
