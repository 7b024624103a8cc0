"""Console pages for attendance: the door of a session (a scanner, the keyboard or a phone's camera)
and the accreditation pack's downloads."""
from flask import request, url_for

from gateway import accreditation
from gateway import events as events_api
from gateway.console import console, needs, render_page
from gateway.context import every_item, services
from nszm.contracts.errors import Conflict, InvalidInput, NotFound

# what a scan did, as the door shows it: (tone of the result box, Czech words)
SCAN_RESULTS = {
    "checked_in": ("ok", "Příchod zapsán"),
    "checked_out": ("ok", "Odchod zapsán"),
    "already_checked_in": ("repeat", "Už zapsán(a) – nic se nemění"),
    "already_checked_out": ("repeat", "Odchod už zapsán – nic se nemění"),
}
# why a scan was refused (the rule's code), in Czech
REFUSALS = {
    "registration_cancelled": "Registrace je zrušená.",
    "not_registered_for_session": "Na tuto část programu není přihlášen(a).",
    "waitlisted": "Na tuto část programu jen čeká na místo – místo nemá.",
    "seat_given_up": "Místo v této části programu uvolnil(a).",
    "other_event": "Registrace je na jinou akci.",
    "not_checked_in": "Příchod na tuto část programu nebyl zapsán.",
}
MODES = {"in": "příchod", "out": "odchod"}


@console.route("/events/<event_id>/door/<session_id>", methods=["GET", "POST"])
@needs("events")
def door(event_id, session_id):
    """Scan after scan: the code field keeps the focus, the result shows big, green or red."""
    rpc = services().events
    event = rpc.get_event_detail(event_id)
    session = accreditation.session_of(event, session_id)
    mode = request.values.get("mode", "in")
    mode = mode if mode in MODES else "in"
    result, status = None, 200
    if request.method == "POST":
        result, status = _scan(rpc, event_id, session_id, mode, request.form.get("code", ""))
    query = request.args.get("q", "").strip()
    found = rpc.session_attendees(event_id, session_id, {"q": query, "per_page": 20}) if query else None
    return render_page("door.html", status, event=event, session=session, mode=mode, modes=MODES, result=result,
                       query=query, found=found, present=_presence(rpc, event_id, session_id),
                       action=url_for("console.door", event_id=event_id, session_id=session_id, mode=mode))


def _scan(rpc, event_id: str, session_id: str, mode: str, code: str) -> tuple[dict, int]:
    scan = rpc.check_in_at_session if mode == "in" else rpc.check_out_at_session
    try:
        done = scan(event_id, session_id, {"code": code})
    except NotFound:
        return {"tone": "refused", "title": "Neznámý kód", "reason": "Takovou registraci neznáme."}, 404
    except InvalidInput:
        return {"tone": "refused", "title": "Prázdný kód", "reason": "Načtěte kód nebo napište číslo registrace."}, 422
    except Conflict as refused:
        return {"tone": "refused", "title": "Nelze zapsat",
                "reason": REFUSALS.get(refused.code or "", refused.detail)}, 409
    tone, title = SCAN_RESULTS[done["outcome"]]
    person = done["registration"]
    return {"tone": tone, "title": title, "name": person["name"], "organization": person["organization"]}, 200


def _presence(rpc, event_id: str, session_id: str) -> dict:
    """How many of the people holding a seat in the session came, and how many are in now."""
    seated = [p for p in every_item(lambda query: rpc.session_attendees(event_id, session_id, query))
              if p["seat"] == "confirmed"]
    return {"seated": len(seated), "came": sum(1 for p in seated if p["checked_in_at"]),
            "in": sum(1 for p in seated if p["checked_in_at"] and not p["checked_out_at"])}


@console.route("/events/<event_id>/attendance.xlsx")
@needs("events")
def attendance_workbook(event_id):
    return events_api.attendance_workbook(event_id)


@console.route("/events/<event_id>/sessions/<session_id>/sign-in-sheet.pdf")
@needs("events")
def sign_in_sheet(event_id, session_id):
    return events_api.sign_in_sheet(event_id, session_id)


@console.route("/events/<event_id>/certificates.xlsx")
@needs("events")
def certificate_register(event_id):
    return events_api.certificate_register_workbook(event_id)
