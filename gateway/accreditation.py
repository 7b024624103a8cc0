"""The accreditation pack of an event, the records the ministry asks for: who attended each
session (a workbook, a sheet per session), a printable sign-in sheet with a signature column,
and the register of certificates issued."""
import io
import re
from datetime import datetime
from itertools import chain, count

from flask import Response

from gateway.context import every_item
from nszm import formatting
from nszm.contracts.errors import NotFound

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET_NAME_LENGTH = 31  # what spreadsheet programs allow
BLANK_SIGN_IN_ROWS = 5  # for people who come without registering
ATTENDANCE_COLUMNS = ("č.", "jméno", "organizace", "e-mail", "místo", "příchod", "odchod", "hodin")
REGISTER_COLUMNS = ("číslo osvědčení", "jméno", "organizace", "hodin", "vydáno")


def _local(moment) -> datetime | None:
    """A time as a spreadsheet cell holds it: Prague time, without a zone."""
    return formatting.local(moment).replace(tzinfo=None) if moment else None


Sheet = tuple[str, tuple[str, ...], list[list]]  # name, header, rows


def _workbook(sheets: list[Sheet]) -> bytes:
    """A workbook of (name, header, rows) sheets; text is always text, never a formula (names
    come from the public), and times show as Czech dates."""
    from openpyxl import Workbook  # loaded on the first download
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    taken: set[str] = set()
    for name, header, rows in sheets:
        sheet = book.create_sheet(_sheet_name(name, taken))
        sheet.append(header)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append(row)
        for line in sheet.iter_rows(min_row=2):
            for cell in line:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type = "s"
                elif isinstance(cell.value, datetime):
                    cell.number_format = "d. m. yyyy h:mm"
        for letter, width in zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", _widths(header, rows)):
            sheet.column_dimensions[letter].width = width
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet_name(name: str, taken: set[str]) -> str:
    """The name as a sheet may be named (short, without []:*?/\\), and unlike the names `taken`."""
    base = " ".join(re.sub(r"[\[\]:*?/\\]", " ", name).split()) or "list"
    suffixes = chain([""], (f" ({n})" for n in count(2)))
    unique = next(candidate for candidate in (base[:SHEET_NAME_LENGTH - len(suffix)].rstrip() + suffix
                                              for suffix in suffixes) if candidate not in taken)
    taken.add(unique)
    return unique


def _widths(header: tuple[str, ...], rows: list[list]) -> list[float]:
    def shown(value) -> int:
        return 16 if isinstance(value, datetime) else len(str(value or ""))

    return [min(max([len(title), *(shown(row[n]) for row in rows)]) + 2, 60) for n, title in enumerate(header)]


def attendance_workbook(event: dict, people: dict[str, list[dict]]) -> bytes:
    """A sheet per session: everyone holding a seat in it or having attended, with their arrival,
    departure and the session's hours if they came (`people`: a session's attendees, by its id)."""
    sheets: list[Sheet] = []
    questions = formatting.exported_questions(event)
    header = (*ATTENDANCE_COLUMNS, *(question["label"] for question in questions))
    for session in event["sessions"]:
        rows: list[list] = []
        for person in people[session["id"]]:
            if person["seat"] != "confirmed" and not person["checked_in_at"]:
                continue
            rows.append([len(rows) + 1, person["name"], person["organization"], person["email"],
                         "potvrzeno" if person["seat"] == "confirmed" else person["seat"],
                         _local(person["checked_in_at"]), _local(person["checked_out_at"]),
                         session["hours"] if person["checked_in_at"] else 0,
                         *(formatting.answer(person["answers"].get(q["id"])) for q in questions)])
        sheets.append((f"{session['id']} {session['title']}", header, rows))
    return _workbook(sheets)


def register_workbook(entries: list[dict]) -> bytes:
    """The register of certificates issued: number, name, organisation, hours, date."""
    return _workbook([("osvědčení", REGISTER_COLUMNS, [
        [entry["certificate_id"], entry["name"], entry["organization"], entry["hours"], _local(entry["issued_at"])]
        for entry in entries])])


def sign_in_sheet(event: dict, session: dict, people: list[dict]) -> bytes:
    """The printable sign-in sheet of a session: everyone with a seat, in Czech order of names,
    a column to sign in, and blank rows for those who come unannounced."""
    from gateway.certificates import GREEN, document

    pdf = document(f"Prezenční listina – {event['title']} – {session['title']}", "portrait")
    pdf.set_text_color(29, 43, 31)

    def line(text: str, size: int, height: float):
        pdf.set_font("Noto", size=size)
        pdf.multi_cell(0, height, text, new_x="LMARGIN", new_y="NEXT")

    line("PREZENČNÍ LISTINA", 16, 9)
    line(event["title"], 13, 7)
    place = formatting.place(event.get("venue")) or ("online" if event.get("online") else "")
    line(f"{session['title']} · {formatting.day(session['starts_at'])} {formatting.clock(session['starts_at'])}–"
         f"{formatting.clock(session['ends_at'])}" + (f" · {place}" if place else ""), 10, 6)
    if event.get("accreditation"):
        line(f"Akreditace {event['accreditation']} · {formatting.hours(session['hours'])} hodin", 10, 6)
    pdf.ln(3)
    seated = [person for person in people if person["seat"] == "confirmed"]
    pdf.set_font("Noto", size=10)
    from fpdf.fonts import FontFace

    with pdf.table(col_widths=(10, 55, 60, 65), text_align=("RIGHT", "LEFT", "LEFT", "LEFT"), line_height=9,
                   headings_style=FontFace(color=GREEN), repeat_headings=1) as table:
        table.row(("č.", "Jméno a příjmení", "Organizace", "Podpis"))
        for number, person in enumerate(seated, 1):
            table.row((str(number), person["name"], person["organization"], ""))
        for number in range(len(seated) + 1, len(seated) + BLANK_SIGN_IN_ROWS + 1):
            table.row((str(number), "", "", ""))
    pdf.ln(8)
    pdf.set_font("Noto", size=10)
    pdf.multi_cell(0, 6, "Lektor / garant: ______________________________   Podpis: ____________________",
                   new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def session_of(event: dict, session_id: str) -> dict:
    session = next((s for s in event["sessions"] if s["id"] == session_id), None)
    if session is None:
        raise NotFound(f"No session '{session_id}' in event '{event['id']}'.")
    return session


def session_people(events, event: dict) -> dict[str, list[dict]]:
    """Each session's attendees, by session id, from the events service (`events`: its proxy)."""
    return {session["id"]: every_item(lambda query, session_id=session["id"]: events.session_attendees(
        event["id"], session_id, query)) for session in event["sessions"]}


def download(content: bytes, filename: str) -> Response:
    kind = XLSX if filename.endswith(".xlsx") else "application/pdf"
    response = Response(content, mimetype=kind)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
