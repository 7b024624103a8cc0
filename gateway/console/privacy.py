"""Console page for a person's data (admin only): look them up by address, read or download what
every service holds, erase it, and follow the erasure from service to service."""
import json

from flask import Response, flash, redirect, request, url_for

from gateway import privacy
from gateway.console import console, flash_refusal, needs, render_page
from gateway.context import services
from nszm.contracts import privacy as contract
from nszm.contracts.errors import Conflict, InvalidInput, NotFound
from nszm.schemas import load

SECTION_TITLES = {"member_contacts": "Kontakty členů", "applications": "Přihlášky do sítě",
                  "registrations": "Registrace na akce", "votes": "Hlasy v NEJpraxi", "mails": "Odeslané e-maily",
                  "mailouts": "Hromadné e-maily", "subscriptions": "Odběr zpravodaje",
                  "suppression": "Blokace pošty", "bounces": "Vrácené e-maily a stížnosti"}


def _email() -> str:
    return load(contract.PersonQuerySchema(), {"email": request.form.get("email", "")})["email"]


@console.route("/privacy", methods=["GET", "POST"])
@needs("admin")
def privacy_lookup():
    if request.method == "GET":
        return render_page("privacy.html")
    try:
        export = contract.PersonExportSchema().dump(privacy.person_export(_email()))
    except InvalidInput as refused:
        flash_refusal(refused)
        return render_page("privacy.html", 422)
    return render_page("privacy.html", export=export, titles=SECTION_TITLES,
                found=any(records for part in export["services"] for records in part["sections"].values()))


@console.route("/privacy/export.json", methods=["POST"])
@needs("admin")
def privacy_download():
    export = contract.PersonExportSchema().dump(privacy.person_export(_email()))
    return Response(json.dumps(export, ensure_ascii=False, indent=2), mimetype="application/json",
                    headers={"Content-Disposition": 'attachment; filename="osobni-udaje.json"'})


@console.route("/privacy/erase", methods=["POST"])
@needs("admin")
def privacy_erase():
    if request.form.get("confirm") != "yes":
        flash("Výmaz potvrďte zaškrtnutím políčka.", "error")
        return render_page("privacy.html", 422)
    try:
        erasure = services().notify.erase_person({"email": _email()})
    except (Conflict, InvalidInput) as refused:
        flash_refusal(refused)
        return render_page("privacy.html", 422)
    flash("Údaje jsou vymazány ve službě e-mailů; ostatní služby je vymažou vzápětí.")
    return redirect(url_for("console.privacy_erasure", person=erasure["person"]))


@console.route("/privacy/erasures/<person>")
@needs("admin")
def privacy_erasure(person):
    if contract.ErasureQuerySchema().validate({"person": person}):
        raise NotFound("No person has this hash.")
    status = privacy.erasure_status(person)
    return render_page("privacy_erasure.html", erasure=status)
