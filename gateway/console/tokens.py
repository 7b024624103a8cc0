"""Console page for staff tokens (admin only): issue one (shown once), list them, revoke one."""
from flask import current_app, flash, redirect, request, url_for

from gateway import audit
from gateway.auth import ROLES
from gateway.console import console, needs, page


def token_store():
    return current_app.extensions["nszm"].tokens


@console.route("/tokens", methods=["GET", "POST"])
@needs("admin")
def tokens():
    issued, status = None, 200
    if request.method == "POST":
        name, roles = request.form.get("name", "").strip(), request.form.getlist("roles")
        if not name or not roles or len(name) > 200:
            flash("Zadejte jméno (nejvýš 200 znaků) a alespoň jednu roli.", "error")
            status = 422
        else:
            try:
                issued = token_store().issue(name, roles)
                audit.record("issue_token", issued[0])
                status = 201
            except ValueError:
                flash("Neznámá role.", "error")
                status = 422
    return page("tokens.html", status, tokens=token_store().list(), roles=ROLES, issued=issued)


@console.route("/tokens/<token_id>/revoke", methods=["POST"])
@needs("admin")
def revoke_token(token_id):
    if token_store().revoke(token_id):
        audit.record("revoke_token", token_id)
        flash("Token je zrušen; kdo jej používal, je odhlášen.")
    else:
        flash("Takový platný token není.", "error")
    return redirect(url_for("console.tokens"))
