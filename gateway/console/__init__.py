"""The staff console: Czech pages at /staff/ over the same services as the API.

Staff sign in with their token; the session is kept on the server (`gateway.sessions`: the
cookie, HttpOnly, SameSite=Strict, Secure behind https, holds a random id), and its token is
checked again on every request, so a revoked or expired token signs its sessions out. Repeated
failed sign-ins from one client address lock it out for a while. Every form carries the
session's CSRF token. Pages and actions follow the
token's roles. The console composes service calls; it holds no rules of its own.
"""
import hmac
from functools import wraps
from typing import Any, Callable

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException

from gateway import limits
from gateway.api import MAX_UPLOAD_BYTES
from gateway.auth import Staff, acting_staff, permits
from gateway.console import labels
from gateway.context import services
from gateway.sessions import console_session
from nszm import formatting, messages
from nszm.contracts.errors import Conflict, InvalidInput, NotFound, RateLimited
from nszm.tokens import new_token

MAX_FORM_WITH_FILE_BYTES = 2 * MAX_UPLOAD_BYTES  # the file, or the checked file again as base64

console = Blueprint("console", __name__, url_prefix="/staff", template_folder="../templates",
                    static_folder="../static")

SECTIONS = [  # (endpoint, Czech title, role that may open it)
    ("console.overview", "Přehled", None),
    ("console.applications", "Přihlášky", "members"),
    ("console.members", "Členové", "members"),
    ("console.events", "Akce", "events"),
    ("console.practices", "Dobrá praxe", "practice"),
    ("console.competitions", "NEJpraxe", "practice"),
    ("console.mailouts", "Hromadné e-maily", "mailouts"),
    ("console.mail_queue", "Fronta e-mailů", "mailouts"),
    ("console.suppressions", "Blokované adresy", "mailouts"),
    ("console.imports", "Import", ("members", "mailouts")),
    ("console.tokens", "Tokeny", "admin"),
    ("console.privacy_lookup", "Osobní údaje", "admin"),
]


def signed_in() -> Staff | None:
    """The staff member of this request's session, read once per request."""
    if "staff" not in g:
        token_id = session.get("token_id") if session else None
        g.staff = current_app.extensions["nszm"].tokens.staff_for_id(token_id) if token_id else None
    return g.staff


def may(role: str | tuple[str, ...] | None) -> bool:
    """Whether the signed-in staff member has the role (or, given several, one of them)."""
    roles = role if isinstance(role, tuple) else (role,)
    return any(permits(signed_in(), one) for one in roles)


def needs(role: str | tuple[str, ...] | None):
    def decorate(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            if signed_in() is None:
                session.clear()
                return redirect(url_for("console.sign_in", next=request.path))
            if not may(role):
                abort(403)
            return view(*args, **kwargs)

        return guarded

    return decorate


UPLOADS: set[str] = set()  # endpoints whose forms carry a file: a larger body than other requests


@console.before_request
def allow_uploads():
    if request.endpoint in UPLOADS:
        request.max_content_length = request.max_form_memory_size = MAX_FORM_WITH_FILE_BYTES


@console.before_request
def check_csrf():
    if request.method == "POST" and request.endpoint != "console.sign_in":
        sent = request.form.get("csrf") or request.headers.get("X-CSRF-Token") or ""
        expected = session.get("csrf", "") if session else ""
        if not sent or not hmac.compare_digest(sent.encode("utf-8", "replace"), expected.encode("utf-8")):
            abort(400, "Formulář vypršel; načtěte stránku znovu a zkuste to ještě jednou.")


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
            "csrf": session.get("csrf", ""), "signed_in": bool(session.get("token_id"))}


console.add_app_template_filter(labels.status, "status")
console.add_app_template_filter(labels.when, "when")
console.add_app_template_filter(labels.field, "field")
console.add_app_template_filter(lambda service: labels.SERVICES.get(service, service), "service")
console.add_app_template_filter(labels.value, "value")
console.add_app_template_filter(formatting.answer, "answer")
console.add_app_template_filter(lambda role: labels.ROLES.get(role, role), "role")


@console.errorhandler(HTTPException)
def error_page(error: HTTPException):
    return render_page("error.html", error.code or 500, error=error)


@console.errorhandler(NotFound)
def not_found_page(error: NotFound):
    return render_page("error.html", 404, error=error)


@console.errorhandler(InvalidInput)
def bad_request_page(error: InvalidInput):
    """A page or an action asked with arguments the services refuse (a mangled address, say)."""
    return render_page("error.html", 400, error=error, invalid=True)


def render_page(template: str, status: int = 200, **values):
    return render_template(f"console/{template}", **values), status


def czech(message: str) -> str:
    return messages.explained(message)[1] if message else message


def flash_refusal(error: Conflict | InvalidInput):
    """Show a service's refusal in one line, with each field it names."""
    fields = "; ".join(f"{field}: {' '.join(czech(str(message)) for message in found)}"
                       for field, found in (getattr(error, "errors", None) or {}).items())
    reason = " – ".join(part for part in (czech(error.detail or ""), fields) if part) or "Akci nelze provést."
    flash(f"Nelze provést: {reason}", "error")


def act(call: Callable[[], object], done: str, back: str):
    """Run a form's action: a notice on success, the refusal's reason otherwise; then back to `back`."""
    try:
        call()
        flash(done)
    except (Conflict, InvalidInput) as refused:
        flash_refusal(refused)
    return redirect(back)


def query_of_this_page() -> dict[str, Any]:
    """This page's query parameters, for a link back to it as it was."""
    return request.args.to_dict()


def listing_query(*keys: str) -> dict:
    """The page number and the named filters of a list page, as given."""
    query = {key: request.args[key] for key in keys if request.args.get(key)}
    return {**query, "page": request.args.get("page", "1"), "per_page": 50}


@console.route("/login", methods=["GET", "POST"])
def sign_in():
    if request.method == "GET":
        return render_page("login.html")
    context = current_app.extensions["nszm"]
    address = request.remote_addr or "unknown"
    if context.limiter.exhausted("console.sign_in", limits.SIGN_IN_FAILURES, address):
        return render_page("login.html", 429, error=LOCKED_OUT)
    token = request.form.get("token", "").strip()
    staff = context.tokens.staff_for(token) if token else None
    if staff is None:
        try:
            context.limiter.hit("console.sign_in", limits.SIGN_IN_FAILURES, address, {})
        except RateLimited:
            return render_page("login.html", 429, error=LOCKED_OUT)
        return render_page("login.html", 401, error="Token není platný, vypršel nebo byl zrušen.")
    session.clear()
    console_session().renew()
    session["token_id"], session["csrf"] = staff.token_id, new_token()
    target = request.args.get("next", "")
    return redirect(target if target.startswith("/staff/") else url_for("console.overview"))


LOCKED_OUT = "Příliš mnoho neúspěšných přihlášení z této adresy; zkuste to znovu za 15 minut."


@console.route("/logout", methods=["POST"])
def sign_out():
    session.clear()
    return redirect(url_for("console.sign_in"))


@console.route("/")
@needs(None)
def overview():
    rpc = services()
    counts = {}
    if may("members"):
        counts["applications"] = rpc.members.list_applications({"status": "pending", "per_page": 1})["total"]
    if may("events"):
        counts["events"] = rpc.events.list_events({"per_page": 1})["total"]
    if may("practice"):
        counts["drafts"] = rpc.practice.list_practice_details({"status": "draft", "per_page": 1})["total"]
    if may("mailouts"):
        counts["failed_mail"] = rpc.notify.list_mails({"status": "failed", "per_page": 1})["total"]
    recent = rpc.notify.list_mailouts({"per_page": 5}) if may("mailouts") else None
    return render_page("overview.html", roles=sorted(acting_staff().roles), counts=counts, mailouts=recent)


from gateway.console import attendance, events, imports, mail, mailouts, members, practice, privacy, tokens  # noqa: E402,F401  (their pages)


