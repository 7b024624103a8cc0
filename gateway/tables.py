"""Tables staff download: CSV that spreadsheet programs open as UTF-8 and never run as formulas."""
import csv
import io

from flask import Response


def cell(value) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (names come from the public)."""
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_response(header: tuple[str, ...] | list[str], rows, filename: str) -> Response:
    """A CSV download: a byte-order mark (so that spreadsheet programs read UTF-8), semicolons."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";")
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell(value) for value in row])
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
