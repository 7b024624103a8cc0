"""The certificate of attendance as a PDF (fpdf2, with a font that has every Czech letter)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import fontpkg_noto_sans

from nszm import formatting
from nszm.contracts.events import EVENT_TYPES

if TYPE_CHECKING:
    from fpdf import FPDF

FONT = Path(fontpkg_noto_sans.__file__).parent / "files" / "NotoSans[wdth,wght].ttf"
GREEN = (46, 125, 50)
FOOTER_EARLIEST, FOOTER_LATEST = 176, 186  # mm from the top of a landscape A4 (210 mm)


def document(title: str, orientation: str) -> FPDF:
    """An A4 PDF of the association with the Czech font (`Noto`), its first page begun."""
    from fpdf import FPDF  # a third of the gateway's memory, for pages few ask for: loaded on first use

    pdf = FPDF(orientation=orientation, format="A4")
    pdf.set_title(title)
    pdf.set_author("Národní síť Zdravých měst ČR")
    pdf.add_font("Noto", "", str(FONT))
    pdf.add_page()
    return pdf


def certificate_pdf(certificate: dict, verify_url: str) -> bytes:
    pdf = document(f"Osvědčení {certificate['certificate_id']}", "landscape")
    pdf.set_draw_color(46, 125, 50)
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, 277, 190)

    def line(text: str, size: int, height: float, colour=(29, 43, 31)):
        pdf.set_font("Noto", size=size)
        pdf.set_text_color(*colour)
        pdf.multi_cell(0, height, text, align="C", new_x="LMARGIN", new_y="NEXT")

    pdf.set_y(24)
    line("Národní síť Zdravých měst České republiky", 14, 8, (46, 125, 50))
    pdf.ln(6)
    line("OSVĚDČENÍ O ÚČASTI", 30, 14)
    pdf.ln(6)
    line(certificate["name"], 26, 13)
    line(certificate["organization"], 13, 8, (85, 85, 85))
    pdf.ln(6)
    line("se zúčastnil(a) vzdělávací akce", 13, 8)
    line(certificate["event_title"], 18, 10)
    kind = EVENT_TYPES.get(certificate["event_type"], certificate["event_type"])
    place = f", {certificate['venue']}" if certificate.get("venue") else ""
    line(f"{kind}, {formatting.days(certificate['starts_at'], certificate['ends_at'])}{place}", 12, 8)
    line(f"v rozsahu {formatting.hours(certificate['hours'])} hodin", 12, 8)
    if certificate.get("accreditation"):
        line(f"Akreditovaný vzdělávací program, akreditace {certificate['accreditation']}", 11, 7, (85, 85, 85))
    pdf.ln(3)
    sessions_table(pdf, certificate["sessions"])
    pdf.set_auto_page_break(False)  # the footer stays on the page the table ends on, if it fits
    if pdf.get_y() > FOOTER_LATEST:
        pdf.add_page()
    pdf.set_y(max(pdf.get_y() + 2, FOOTER_EARLIEST))
    issued = formatting.day(certificate["issued_at"])
    line(f"Číslo osvědčení: {certificate['certificate_id']}   ·   ověřovací kód: {certificate['verification_code']}"
         f"   ·   vydáno {issued}", 10, 6, (85, 85, 85))
    line(f"Ověření: {verify_url}", 10, 6, (85, 85, 85))
    return bytes(pdf.output())


def headings_style():
    from fpdf.fonts import FontFace

    return FontFace(color=GREEN)


def sessions_table(pdf, sessions: list[dict]):
    """The sessions attended: when, what, how many hours."""
    pdf.set_font("Noto", size=9)
    pdf.set_text_color(29, 43, 31)
    pdf.set_draw_color(200, 200, 200)  # thin grey rules, not the frame's green border
    pdf.set_line_width(0.2)
    with pdf.table(col_widths=(45, 150, 25), width=220, text_align=("LEFT", "LEFT", "RIGHT"),
                   line_height=4.6, padding=0.6, borders_layout="HORIZONTAL_LINES", headings_style=headings_style()) as table:
        table.row(("Kdy", "Část programu", "Hodin"))
        for session in sessions:
            starts, ends = session["starts_at"], session["ends_at"]
            table.row((f"{formatting.day(starts)} {formatting.clock(starts)}–{formatting.clock(ends)}",
                       session["title"], formatting.hours(session["hours"])))
