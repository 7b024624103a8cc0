"""A mailout's delivery log as CSV, for the API and the console: every recipient's state in Czech,
with the reason a recipient was skipped and what a bounce said."""
from flask import Response

from gateway import audit
from gateway.console import labels
from gateway.context import every_item, services
from gateway.tables import csv_response
from nszm.contracts.notify import SUPPRESSION_REASONS

COLUMNS = ("e-mail", "jméno", "organizace", "stav", "stav (kód)", "důvod přeskočení", "pokusů", "odesláno", "chyba",
           "vráceno", "kód vrácení", "hlášení serveru")


def row(r: dict) -> tuple:
    bounce = r.get("bounce") or {}
    return (r["email"], r.get("name"), r.get("organization"), labels.status(r["status"]), r["status"],
            SUPPRESSION_REASONS.get(r.get("skip_reason") or "", r.get("skip_reason")), r["attempts"],
            labels.when(r["sent_at"]) if r.get("sent_at") else "", r.get("last_error"),
            labels.when(bounce["at"]) if bounce else "", bounce.get("status"), bounce.get("diagnostic"))


def export(mailout_id: str) -> Response:
    """The whole log (audited: it names every recipient)."""
    rows = every_item(lambda query: services().notify.list_recipients(mailout_id, query))  # unknown: 404
    audit.record("export_delivery_log", mailout_id)
    return csv_response(COLUMNS, map(row, rows), f"dorucovani-{mailout_id}.csv")
