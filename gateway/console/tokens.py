"""Console page for staff tokens (admin only): issue one (shown once), list them, revoke one."""
from datetime import timedelta

from flask import current_app, flash, redirect, request, url_for

from gateway import audit
from gateway.auth import ROLES
from gateway.console import console, needs, render_page
from nszm.storage import utcnow


def token_store():
    return current_app.extensions["nszm"].tokens


@console.route("/tokens", methods=["GET", "POST"])
@needs("admin")
def tokens():
    issued, status = None, 200
    if request.method == "POST":
        name, roles = request.form.get("name", "").strip(), request.form.getlist("roles")
        days = request.form.get("days", "").strip()
        if not name or not roles or len(name) > 200 or (days and not (days.isdigit() and 1 <= int(days) <= 3650)):
            flash("Zadejte jméno (nejvýš 200 znaků), alespoň jednu roli a platnost 1 až 3650 dní (nebo nic).",
                  "error")
            status = 422
        else:
            try:
                expires_at = utcnow() + timedelta(days=int(days)) if days else None
                issued = token_store().issue(name, roles, expires_at)
                audit.record("issue_token", issued[0])
                status = 201
            except ValueError:
                flash("Neznámá role.", "error")
                status = 422
    return render_page("tokens.html", status, tokens=token_store().list(), roles=ROLES, issued=issued, now=utcnow())


@console.route("/tokens/<token_id>/revoke", methods=["POST"])
@needs("admin")
def revoke_token(token_id):
    if token_store().revoke(token_id):
        current_app.extensions["nszm"].sessions.end_for_token(token_id)
        audit.record("revoke_token", token_id)
        flash("Token je zrušen; kdo jej používal, je odhlášen.")
    else:
        flash("Takový platný token není.", "error")
    return redirect(url_for("console.tokens"))
