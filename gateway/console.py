"""The staff console: Czech pages at /staff/ over the same services as the API.

Staff sign in with their token; the session cookie (HttpOnly, SameSite=Strict, Secure behind
https) keeps only the token's hash, checked again on every request, so a revoked token signs
its sessions out. Every form carries the session's CSRF token. Pages and actions follow the
token's roles. The console composes service calls; it holds no rules of its own.
"""
import hmac
from functools import wraps

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from gateway.context import services
from nszm.contracts.errors import Conflict, InvalidInput, NotFound
from nszm.contracts.members import MEMBER_TYPES, REGIONS
from nszm.contracts.notify import PARTICIPANT_STATUSES
from nszm.storage import ServiceStore
from nszm.tokens import new_token, token_hash

console = Blueprint("console", __name__, url_prefix="/staff", template_folder="templates", static_folder="static")

SECTIONS = [  # (endpoint, Czech title, role that may open it)
    ("console.overview", "Přehled", None),
    ("console.mailouts", "Hromadné e-maily", "mailouts"),
]


def roles() -> set[str]:
    hashed = session.get("token")
    found = current_app.extensions["nszm"].tokens.roles_for_hash(hashed) if hashed else None
    return found or set()


def may(role: str | None) -> bool:
    held = roles()
    return bool(held) and (role is None or role in held or "admin" in held)


def needs(role: str | None):
    def decorate(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            if not roles():
                session.clear()
                return redirect(url_for("console.sign_in", next=request.path))
            if not may(role):
                abort(403)
            return view(*args, **kwargs)

        return guarded

    return decorate


class ConsoleSecrets(ServiceStore):
    service = "gateway"


class ConsoleSessions(SecureCookieSessionInterface):
    """Signed cookie sessions for the console only; every gateway worker signs with one key, kept in
    the database and read on the first console request (the API never touches it)."""

    def get_signing_serializer(self, app):
        if not request.path.startswith("/staff"):
            return None
        if not app.secret_key:
            context = app.extensions["nszm"]
            app.secret_key = ConsoleSecrets(context.mongo, context.settings.mongo_db).secret("console-sessions")
        return super().get_signing_serializer(app)


@console.before_request
def check_csrf():
    if request.method == "POST" and request.endpoint != "console.sign_in":
        sent = request.form.get("csrf") or request.headers.get("X-CSRF-Token") or ""
        if not hmac.compare_digest(sent, session.get("csrf", "")) or not sent:
            abort(400, "The form has expired; reload the page and try again.")


@console.after_request
def security_headers(response):
    response.headers["Content-Security-Policy"] = ("default-src 'self'; script-src 'self'; style-src 'self'; "
                                                   "frame-ancestors 'none'; form-action 'self'")
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


@console.app_context_processor
def layout_values():
    if not request.path.startswith("/staff"):
        return {}
    return {"sections": [(endpoint, title) for endpoint, title, role in SECTIONS if may(role)],
            "csrf": session.get("csrf", ""), "signed_in": bool(session.get("token"))}


def page(template: str, status: int = 200, **values):
    return render_template(f"console/{template}", **values), status


@console.route("/login", methods=["GET", "POST"])
def sign_in():
    if request.method == "GET":
        return page("login.html")
    token = request.form.get("token", "").strip()
    if not token or current_app.extensions["nszm"].tokens.roles_for(token) is None:
        return page("login.html", 401, error="Token není platný nebo byl zrušen.")
    session.clear()
    session["token"], session["csrf"] = token_hash(token), new_token()
    target = request.args.get("next", "")
    return redirect(target if target.startswith("/staff/") else url_for("console.overview"))


@console.route("/logout", methods=["POST"])
def sign_out():
    session.clear()
    return redirect(url_for("console.sign_in"))


@console.route("/")
@needs(None)
def overview():
    mailouts = services().notify.list_mailouts({"per_page": 5}) if may("mailouts") else None
    return page("overview.html", roles=sorted(roles()), mailouts=mailouts)


# -- mailouts ----------------------------------------------------------------------------------

def audience_from(form) -> dict:
    chosen: dict = {}
    if form.get("members"):
        chosen["members"] = {"type": form.getlist("type"), "region": form.getlist("region")}
    if form.get("event"):
        chosen["event"] = {"id": form["event"], "status": form.getlist("status") or ["confirmed"]}
    if form.get("newsletter"):
        chosen["newsletter"] = True
    return chosen


@console.route("/mailouts")
@needs("mailouts")
def mailouts():
    return page("mailouts.html", listing=services().notify.list_mailouts({"per_page": 50}))


@console.route("/mailouts/new", methods=["GET", "POST"])
@needs("mailouts")
def new_mailout():
    form = request.form
    choices = {"types": MEMBER_TYPES, "regions": REGIONS, "statuses": PARTICIPANT_STATUSES,
               "events": services().events.list_events({"per_page": 100})["items"]}
    if request.method == "GET":
        return page("mailout_form.html", form={}, errors={}, **choices)
    payload = {"subject": form.get("subject", ""), "body": form.get("body", ""),
               "format": form.get("format", "markdown"), "audience": audience_from(form)}
    try:
        created = services().notify.create_mailout(payload)
    except InvalidInput as invalid:
        return page("mailout_form.html", 422, form=form, errors=invalid.errors, **choices)
    return redirect(url_for("console.mailout", mailout_id=created["id"]))


@console.route("/mailouts/count", methods=["POST"])
@needs("mailouts")
def audience_count():
    try:
        return jsonify(services().notify.audience_count(audience_from(request.form)))
    except InvalidInput as invalid:
        return jsonify({"errors": invalid.errors}), 422


@console.route("/mailouts/<mailout_id>")
@needs("mailouts")
def mailout(mailout_id):
    try:
        shown = services().notify.get_mailout(mailout_id)
    except NotFound:
        abort(404)
    email = request.args.get("email", "")
    preview = None
    if email:
        try:
            preview = services().notify.preview(mailout_id, {"email": email})
        except (NotFound, InvalidInput) as missing:
            preview = {"error": getattr(missing, "detail", str(missing))}
    return page("mailout.html", mailout=shown, preview=preview, email=email, notice=request.args.get("notice"))


@console.route("/mailouts/<mailout_id>/progress")
@needs("mailouts")
def progress(mailout_id):
    try:
        return jsonify(services().notify.get_mailout(mailout_id))
    except NotFound:
        abort(404)


@console.route("/mailouts/<mailout_id>/<action>", methods=["POST"])
@needs("mailouts")
def mailout_action(mailout_id, action):
    notify = services().notify
    calls = {"send": lambda: notify.send_mailout(mailout_id, {"at": request.form["at"]} if request.form.get("at")
                                                 else {}),
             "pause": lambda: notify.pause_mailout(mailout_id), "resume": lambda: notify.resume_mailout(mailout_id),
             "cancel": lambda: notify.cancel_mailout(mailout_id),
             "test": lambda: notify.test_send(mailout_id, {"email": request.form.get("email", "")})}
    if action not in calls:
        abort(404)
    try:
        calls[action]()
        notice = "Testovací e-mail je na cestě." if action == "test" else None
    except NotFound:
        abort(404)
    except (Conflict, InvalidInput) as refused:
        notice = refused.detail
    return redirect(url_for("console.mailout", mailout_id=mailout_id, notice=notice))
