"""The QR code a participant shows at the door: their registration's id, which the door's
scanner types back. Drawn as a PNG for mail and as inline SVG for the participant's page."""
from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import segno


def _qr(registration_id: str) -> segno.QRCode:
    import segno  # loaded by the first code drawn: a process that draws none stays smaller

    # A fixed mask skips trying all eight (four fifths of the time a code takes); any mask reads.
    return segno.make(registration_id, error="m", mask=0, micro=False)


def png_base64(registration_id: str) -> str:
    out = io.BytesIO()
    _qr(registration_id).save(out, kind="png", scale=6, border=4)
    return base64.b64encode(out.getvalue()).decode("ascii")


def svg_inline(registration_id: str) -> str:
    return _qr(registration_id).svg_inline(scale=5, title="QR kód pro prezenci")
