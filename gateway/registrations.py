"""The participant's own page behind the mailed link: the registration, its QR code for the door,
edits, a change of sessions, leaving a waiting list; and the same as JSON for the websites."""
from flask import request
from markupsafe import Markup

from gateway.api import wants_html
from gateway.context import api, services
from gateway.pages import page
from nszm import formatting, tickets
from nszm.contracts import events as contract
from nszm.contracts.errors import Conflict, InvalidInput, NotFound
from nszm.schemas import load

PAGE = "/api/v1/registrations/<registration_id>/manage"
# why a change was refused (the rule's code), in Czech
REFUSALS = {
    "registration_cancelled": "Registrace je zrušená.",
    "event_started": "Akce už začala; registraci teď změní jen pořadatelé.",
    "event_over": "Akce skončila; registraci už změní jen pořadatelé.",
    "cancellation_closed": "Místa už online uvolnit nelze; napište prosím pořadatelům.",
    "attended": "Této části programu jste se už zúčastnili.",
    "certified_name": "Osvědčení je vydané na toto jméno; změnu zařídí pořadatelé.",
    "erased": "Údaje této registrace byly vymazány.",
    "not_waiting": "Na čekací listině této části programu nejste.",
}


def answers_from(form, questions: list[dict], sessions: list[str]) -> dict:
    """The answers a form sends to the questions asked with `sessions`, as the registration keeps
    them; unanswered questions left out (an unticked consent is a no)."""
    answers: dict = {}
    for question in questions:
        if question.get("session") and question["session"] not in sessions:
            continue
        name = f"answer_{question['id']}"
        if question["type"] == "multiple_choice":
            chosen = form.getlist(name)
            if chosen:
                answers[question["id"]] = chosen
        elif question["type"] == "consent":
            answers[question["id"]] = form.get(name) == "1"
        elif form.get(name, "").strip():
            answers[question["id"]] = form[name].strip()
    return answers


def _render(registration_id: str, token: str, status: int = 200, notice: str | None = None,
            problem: str | None = None, errors: dict | None = None):
    events = services().events
    registration = events.registration_by_link(registration_id, token)
    event = events.get_event(registration["event_id"])
    held = {seat["id"]: seat for seat in registration["sessions"] if seat["status"] != "cancelled"}
    confirmed = any(seat["status"] == "confirmed" for seat in held.values())
    return page("manage.html", status, registration=registration, event=event, held=held, notice=notice,
                clock=formatting.clock, place=formatting.place,
                problem=problem, errors=errors or {}, action=request.full_path.rstrip("?"), token=token,
                ticket=Markup(tickets.svg_inline(registration["id"])) if confirmed else None)


def _link_broken():
    """A browser gets a Czech page; any other client the problem."""
    if not wants_html():
        raise NotFound("No registration for this link.")
    return page("cancelled.html", 404, title="Odkaz nefunguje",
                message="Odkaz je neúplný nebo neplatný. Použijte prosím celý odkaz z e-mailu.")


@api.route(PAGE, summary="The participant's own page: the registration, its QR code, edits, sessions",
           tag="events", query=contract.LinkTokenSchema, media_type="text/html", errors=(404,), cache=False)
def manage_page(registration_id, query):
    try:
        return _render(registration_id, query.get("token") or "")
    except NotFound:
        return _link_broken()


@api.route(PAGE, "POST", summary="What the participant's page sends (a form): `action` edit or sessions, "
           "or leave:<session id>", tag="events", query=contract.LinkTokenSchema, form=contract.ManageFormSchema,
           media_type="text/html", errors=(404, 409), cache=False)
def manage_action(registration_id, query):
    token, form, events = query.get("token") or "", request.form, services().events
    try:
        ticked = {"sessions": form.getlist("sessions")} if "sessions" in form else {}
        sent = load(contract.ManageFormSchema(), {**form.to_dict(), **ticked})
        action = sent["action"]
        current = events.registration_by_link(registration_id, token)
        questions = events.get_event(current["event_id"]).get("questions") or []
        held = [seat["id"] for seat in current["sessions"] if seat["status"] != "cancelled"]
        if action == "edit":
            events.edit_registration(registration_id, token, {
                **{key: sent[key] for key in ("name", "organization", "phone") if key in sent},
                "answers": answers_from(form, questions, held)})
            notice = "Údaje jsou uložené."
        elif action == "sessions":
            wanted = sent.get("sessions", [])
            # the sessions' own questions are on this form; the others keep their answers
            general = {q["id"] for q in questions if not q.get("session")}
            kept = {key: value for key, value in current.get("answers", {}).items() if key in general}
            asked = [q for q in questions if q.get("session")]
            events.change_sessions(registration_id, token, {
                "sessions": wanted, "answers": {**kept, **answers_from(form, asked, wanted)}})
            notice = "Části programu jsou změněné. Potvrzení vám přijde e-mailem."
        else:
            events.leave_waiting_list(registration_id, token, action.split(":", 1)[1])
            notice = "Z čekací listiny jste odhlášeni."
    except NotFound:
        return _link_broken()
    except Conflict as refused:
        if not wants_html():
            raise
        return _render(registration_id, token, 409, problem=REFUSALS.get(refused.code or "", refused.detail))
    except InvalidInput as invalid:
        if not wants_html():
            raise
        return _render(registration_id, token, 422, problem="Zkontrolujte prosím vyznačené údaje.",
                       errors=invalid.errors)
    return _render(registration_id, token, notice=notice)


@api.route("/api/v1/registrations/<registration_id>/self", summary="The registration as its person sees it "
           "(with the link's token)", tag="events", query=contract.LinkTokenSchema,
           response=contract.RegistrationSchema, cache=False)
def registration_by_link(registration_id, query):
    return services().events.registration_by_link(registration_id, query.get("token"))


@api.route("/api/v1/registrations/<registration_id>/self", "PATCH", summary="The person changes their name, "
           "organisation, phone or answers (with the link's token)", tag="events", query=contract.LinkTokenSchema,
           body=contract.RegistrationEditSchema, response=contract.RegistrationSchema, errors=(409,), cache=False)
def edit_registration(registration_id, query, body):
    return services().events.edit_registration(registration_id, query.get("token"), body)


@api.route("/api/v1/registrations/<registration_id>/self/sessions", "PUT", summary="The person's sessions from "
           "now on: seats taken and given up exactly, a seat given up goes to the first waiting (with the link's "
           "token)", tag="events", query=contract.LinkTokenSchema, body=contract.SessionChangeSchema,
           response=contract.RegistrationSchema, errors=(409,), cache=False)
def change_sessions(registration_id, query, body):
    return services().events.change_sessions(registration_id, query.get("token"), body)

