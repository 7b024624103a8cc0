"""The accreditation pack's files: the attendance workbook, the sign-in sheet, the register."""
import io
from datetime import datetime, timedelta, timezone

from openpyxl import load_workbook
from pypdf import PdfReader

from gateway import accreditation

START = datetime(2027, 3, 1, 8, 0, tzinfo=timezone.utc)  # 9:00 in Prague


def session(number: int, title: str) -> dict:
    return {"id": f"s{number}", "title": title, "starts_at": START + timedelta(days=number - 1),
            "ends_at": START + timedelta(days=number - 1, hours=6), "hours": 6.0}


EVENT = {"id": "2027-03-skola", "title": "Jarní škola", "online": False, "accreditation": "AK/PV-1/2027",
         "venue": {"name": "Radnice", "city": "Kroměříž"},
         "sessions": [session(1, "Den 1: zdraví a udržitelnost"), session(2, "Den 1: zdraví a udržitelnost")]}


def attendee(name: str, seat: str = "confirmed", came: datetime | None = None, left: datetime | None = None) -> dict:
    return {"registration_id": name, "name": name, "organization": "Obec Lhota", "email": f"{len(name)}@example.cz",
            "seat": seat, "checked_in_at": came, "checked_out_at": left, "answers": {}}


def test_the_workbook_has_a_sheet_per_session_with_who_came_and_for_how_long():
    came = START + timedelta(minutes=5)
    people = {"s1": [attendee("Ivo Čermák", came=came, left=came + timedelta(hours=6)), attendee("Jan Horák"),
                     attendee("Eva Malá", seat="waitlisted")],
              "s2": [attendee("=HYPERLINK(\"http://x\")", came=came + timedelta(days=1))]}
    book = load_workbook(io.BytesIO(accreditation.attendance_workbook(EVENT, people)))
    assert book.sheetnames == ["s1 Den 1 zdraví a udržitelnost", "s2 Den 1 zdraví a udržitelnost"]
    first, second = (list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets)
    assert first[0] == accreditation.ATTENDANCE_COLUMNS
    assert [row[1] for row in first[1:]] == ["Ivo Čermák", "Jan Horák"]  # the waiting person holds no seat
    assert first[1][5] == datetime(2027, 3, 1, 9, 5) and first[1][6] == datetime(2027, 3, 1, 15, 5)
    assert (first[1][7], first[2][5], first[2][7]) == (6, None, 0)
    assert second[1][1] == "=HYPERLINK(\"http://x\")" and book.worksheets[1]["B2"].data_type == "s"


def test_sheet_names_fit_and_stay_apart():
    taken: set[str] = set()
    names = [accreditation._sheet_name("s1 " + "Dlouhý název části programu: a/b", taken) for _ in range(2)]
    assert names[0] != names[1] and all(len(name) <= 31 and "/" not in name and ":" not in name for name in names)


def test_the_sign_in_sheet_lists_the_seated_in_order_with_a_signature_column():
    people = [attendee("Ivo Čermák"), attendee("Jan Horák"), attendee("Eva Malá", seat="waitlisted")]
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(
        accreditation.sign_in_sheet(EVENT, EVENT["sessions"][0], people))).pages)
    assert "PREZENČNÍ LISTINA" in text and "Jarní škola" in text and "AK/PV-1/2027" in text
    assert "Podpis" in text and "1. 3. 2027 9:00–15:00" in text
    assert text.index("Ivo Čermák") < text.index("Jan Horák") and "Eva Malá" not in text


def test_the_register_lists_number_name_hours_and_date():
    entry = {"certificate_id": "NSZM-2027-000004", "name": "Ivo Čermák", "organization": "Obec Lhota", "hours": 12.0,
             "issued_at": START}
    [sheet] = load_workbook(io.BytesIO(accreditation.register_workbook([entry]))).worksheets
    assert list(sheet.iter_rows(values_only=True)) == [
        accreditation.REGISTER_COLUMNS, ("NSZM-2027-000004", "Ivo Čermák", "Obec Lhota", 12, datetime(2027, 3, 1, 9))]


def test_answers_meant_for_exports_get_a_column_and_the_others_none():
    questions = [{"id": "q1", "label": "Oběd", "type": "consent", "in_exports": True},
                 {"id": "q2", "label": "Zdraví", "type": "short_text", "in_exports": False},
                 {"id": "q3", "label": "Témata", "type": "multiple_choice", "in_exports": True}]
    person = {**attendee("Ivo Čermák"), "answers": {"q1": True, "q2": "astma", "q3": ["doprava", "klima"]}}
    book = load_workbook(io.BytesIO(accreditation.attendance_workbook(
        {**EVENT, "questions": questions}, {"s1": [person], "s2": []})))
    header, row = book.worksheets[0].iter_rows(values_only=True)
    assert header[-2:] == ("Oběd", "Témata") and row[-2:] == ("ano", "doprava, klima") and "astma" not in row
