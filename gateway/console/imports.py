"""Console page for imports: upload a CSV or XLSX file of members or subscribers, read the check
(each broken row, what the rest would change), then import exactly that. The checked file comes
back with the import form, so nothing is kept between the two steps."""
import base64
import binascii

from flask import abort, flash, request

from gateway import imports as files
from gateway.console import UPLOADS, console, flash_refusal, may, needs, render_page
from nszm.contracts import imports as contract
from nszm.contracts.errors import Conflict, InvalidInput
from nszm.contracts.members import MEMBER_TYPES
from nszm.contracts.notify import SUPPRESSION_REASONS

KINDS = {"members": ("Členové s kontakty", "members"), "subscribers": ("Odběratelé zpravodaje", "mailouts")}
MEDIA_TYPES = {".csv": files.CSV, ".xlsx": files.XLSX}
ACTIONS = {"create": "nový člen", "update": "změna", "unchanged": "beze změny",
           "subscribe": "přihlášen (souhlas doložen)", "confirm": "dostane žádost o potvrzení",
           "suppressed": "blokovaná adresa – zůstane blokovaná"}
FIELDS = {"ico": "IČO", "name": "název", "type": "typ", "region": "kraj", "population": "počet obyvatel",
          "website": "web", "member_since": "členem od", "email": "e-mail", "consent_at": "souhlas udělen",
          "contact_name": "jméno kontaktu", "contact_email": "e-mail kontaktu", "contact_phone": "telefon kontaktu",
          "contact_role": "role kontaktu", "contact_function": "funkce kontaktu"}


def details(change: dict) -> str:
    """A change in words: each field from → to, contacts added and changed, why an address is left out."""
    said = [f"{FIELDS.get(f['field'], f['field'])}: {'–' if f['before'] is None else f['before']} → {f['after']}"
            for f in change.get("fields_changed", [])]
    if change.get("contacts_added"):
        said.append("nové kontakty: " + ", ".join(change["contacts_added"]))
    if change.get("contacts_changed"):
        said.append("upravené kontakty: " + ", ".join(change["contacts_changed"]))
    if change.get("reason"):
        said.append(SUPPRESSION_REASONS.get(change["reason"], change["reason"]))
    return "; ".join(said) or "–"


def _page(status: int = 200, **values):
    kinds = {kind: title for kind, (title, role) in KINDS.items() if may(role)}
    return render_page("imports.html", status, kinds=kinds, columns=contract.COLUMNS, actions=ACTIONS,
                       fields=FIELDS, reasons=SUPPRESSION_REASONS, details=details, member_types=list(MEMBER_TYPES.values()), **values)


def _kind() -> str:
    kind = request.form.get("kind", "")
    if kind not in KINDS:
        abort(400, "Vyberte, co importujete.")
    if not may(KINDS[kind][1]):
        abort(403)
    return kind


def _options(kind: str, dry_run: bool, plan: str | None = None) -> dict:
    options: dict = {"dry_run": dry_run, "plan": plan}
    if kind == "subscribers":
        options["source"] = request.form.get("source", "").strip()
    return options


@console.route("/imports")
@needs(("members", "mailouts"))
def imports():
    return _page()


@console.route("/imports/check", methods=["POST"])
@needs(("members", "mailouts"))
def import_check():
    kind = _kind()
    upload = request.files.get("file")
    name = (upload.filename or "") if upload else ""
    media_type = MEDIA_TYPES.get(name[name.rfind("."):].lower()) if "." in name else None
    if upload is None or media_type is None:
        flash("Vyberte soubor CSV nebo XLSX.", "error")
        return _page(422, kind=kind, source=request.form.get("source", ""))
    data = upload.read()
    return _run(kind, data, media_type, name, _options(kind, dry_run=True))


@console.route("/imports/apply", methods=["POST"])
@needs(("members", "mailouts"))
def import_apply():
    kind = _kind()
    try:
        data = base64.b64decode(request.form.get("file", ""), validate=True)
    except (binascii.Error, ValueError):
        abort(400, "Soubor se nepodařilo přenést; nahrajte ho znovu.")
    media_type = request.form.get("media_type", "")
    if media_type not in MEDIA_TYPES.values():
        abort(400, "Neznámý typ souboru; nahrajte ho znovu.")
    return _run(kind, data, media_type, request.form.get("filename", ""),
                _options(kind, dry_run=False, plan=request.form.get("plan") or None))


def _run(kind: str, data: bytes, media_type: str, name: str, options: dict):
    try:
        report = files.run_import(kind, data, media_type, options)
    except (Conflict, InvalidInput) as refused:
        flash_refusal(refused)
        return _page(409 if isinstance(refused, Conflict) else 422, kind=kind, source=options.get("source", ""))
    if report["imported"]:
        flash("Import je hotový.")
    return _page(kind=kind, source=options.get("source", ""), report=report, filename=name, media_type=media_type,
                 file=base64.b64encode(data).decode("ascii"),
                 to_change=sum(n for action, n in report["counts"].items() if action not in ("unchanged", "errors",
                                                                                          "suppressed")))


UPLOADS.update({"console.import_check", "console.import_apply"})
