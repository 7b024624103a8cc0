"""Imports for the API and the console: a CSV or XLSX file read into rows (each with its line and
its cells named by the columns' fields), handed to the service that checks or imports them, and the
report given back with each error's column as the file heads it.

CSV may be UTF-8 (with or without a byte-order mark) or Windows-1250 (what Czech Excel saves),
separated by semicolons, commas or tabs; an XLSX file's first sheet is read. The first row heads
the columns; empty rows are skipped; columns the import does not know are named in the report and
left out.
"""
import csv
import io
import re
import zipfile
from datetime import date, datetime, time

from marshmallow import Schema

from gateway.context import api, services
from gateway.errors import request_language
from nszm import czech, messages
from nszm.contracts import imports as contract
from nszm.contracts.errors import InvalidInput
from nszm.schemas import load

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
IMPORT_TIMEOUT_SECONDS = 120  # a check or import of thousands of rows, in one transaction
SUPPRESSION_LOOKUP = 200  # addresses per question to notify's suppression list


def unreadable(message: str) -> InvalidInput:
    return InvalidInput(message, {"file": [message]})


def table_of(data: bytes, media_type: str) -> list[tuple[int, list]]:
    """The file's rows, each with its line (1: the header), as lists of cells."""
    if not data:
        raise unreadable("The file is empty.")
    return _xlsx_rows(data) if media_type == XLSX else _csv_rows(data)


def _csv_rows(data: bytes) -> list[tuple[int, list]]:
    for encoding in ("utf-8-sig", "cp1250"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise unreadable("The file is neither UTF-8 nor Windows-1250 text.")
    if "\x00" in text:
        raise unreadable("The file is not text (CSV): it holds NUL characters.")
    first = text.split("\n", 1)[0]
    delimiter = max(";,\t", key=first.count)
    try:
        return [(line, cells) for line, cells in enumerate(csv.reader(io.StringIO(text, newline=""),
                                                                      delimiter=delimiter), start=1)]
    except csv.Error as error:
        raise unreadable(f"The CSV cannot be read: {error}.") from None


def _xlsx_rows(data: bytes) -> list[tuple[int, list]]:
    from openpyxl import load_workbook  # loaded on the first import

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError):
        raise unreadable("The file is not an XLSX workbook.") from None
    except Exception:  # openpyxl raises what its parsers raise on a damaged workbook
        raise unreadable("The XLSX workbook is damaged.") from None
    try:
        sheet = workbook.worksheets[0]
        return [(line, [_cell(value) for value in values])
                for line, values in enumerate(sheet.iter_rows(values_only=True), start=1)]
    except Exception:
        raise unreadable("The XLSX workbook is damaged.") from None
    finally:
        workbook.close()


def _cell(value):
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _spelled(header) -> str:
    return re.sub(r"[^a-z0-9]", "", czech.fold(str(header or "")))


def rows_of(kind: str, table: list[tuple[int, list]]) -> tuple[list[dict], dict[str, str], list[str]]:
    """(rows for the service, the header each field came from, the headers left out)."""
    lines = [(line, cells) for line, cells in table if any(_given(cell) for cell in cells)]
    if not lines:
        raise unreadable("The file has no rows.")
    (_, header), data = lines[0], lines[1:]
    known = {_spelled(alias): name for name, aliases in contract.COLUMNS[kind].items()
             for alias in (*aliases, name)}
    fields: dict[int, str] = {}
    columns: dict[str, str] = {}
    ignored = []
    for index, title in enumerate(header):
        name = known.get(_spelled(title))
        if name is None or name in columns:
            if _given(title):
                ignored.append(str(title))
            continue
        fields[index], columns[name] = name, str(title)
    missing = [name for name in contract.REQUIRED_COLUMNS[kind] if name not in columns]
    if missing:
        expected = ", ".join(contract.COLUMNS[kind][name][0] for name in missing)
        raise unreadable(f"The first row must head the columns; this one lacks: {expected}.")
    if not data:
        raise unreadable("The file has a header but no rows.")
    if len(data) > contract.MAX_IMPORT_ROWS:
        raise unreadable(f"At most {contract.MAX_IMPORT_ROWS} rows at once; split the file.")
    rows = [{"line": line, "values": {fields[index]: cell for index, cell in enumerate(cells)
                                      if index in fields and _given(cell)}} for line, cells in data]
    return rows, columns, ignored


def _given(cell) -> bool:
    return cell is not None and not (isinstance(cell, str) and not cell.strip())


def run_import(kind: str, data: bytes, media_type: str, options: dict, language: str = messages.CZECH) -> dict:
    """Check or import a file (`options`: dry_run, plan, and for subscribers their source); each
    row error's messages in `language`, with their codes."""
    rows, columns, ignored = rows_of(kind, table_of(data, media_type))
    payload = {"rows": rows, **{key: value for key, value in options.items() if value is not None}}
    rpc = services(timeout=IMPORT_TIMEOUT_SECONDS)
    report = rpc.members.import_members(payload) if kind == "members" else rpc.notify.import_subscribers(payload)
    for error in report["errors"]:
        error["column"] = columns.get(error["field"] or "")
        error["messages"], error["codes"] = messages.said(error["messages"], language)
    report["ignored_columns"] = ignored
    if kind == "members":
        report["suppressed"] = suppressed_contacts(report["changes"])
    return report


def suppressed_contacts(changes: list[dict]) -> list[dict]:
    """The imported contacts on the suppression list (they stay there), with the reason."""
    emails = sorted({email for change in changes
                     for email in change.get("contacts_added", []) + change.get("contacts_changed", [])})
    found = []
    for start in range(0, len(emails), SUPPRESSION_LOOKUP):
        found += services().notify.suppressions_of({"emails": emails[start:start + SUPPRESSION_LOOKUP]})
    return [{"email": entry["email"], "reason": entry["reason"]} for entry in found]


def _import_endpoint(kind: str, role: str, options: type[Schema], summary: str):
    """`POST /api/v1/imports/<kind>`: the file as the body, the options in the query."""
    def view(query, upload):
        data, media_type = upload
        return run_import(kind, data, media_type, load(options(), query), request_language())

    view.__name__ = f"import_{kind}"
    api.route(f"/api/v1/imports/{kind}", "POST", summary=f"Check (the default) or import {summary} from a CSV or "
              "XLSX file", tag="imports", role=role, query=options, upload=(CSV, XLSX),
              response=contract.ImportReportSchema, errors=(409,))(view)


_import_endpoint("members", "members", contract.ImportQuerySchema, "members with their contacts")
_import_endpoint("subscribers", "mailouts", contract.SubscriberImportQuerySchema, "newsletter subscribers")
