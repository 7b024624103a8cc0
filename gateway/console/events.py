"""Console pages for events: create with sessions, publish, registrations with check-in and cancel, CSV."""
from typing import Any

from flask import abort, redirect, request, url_for

from gateway import audit
from gateway.console import act, console, listing_query, needs, query_of_this_page, render_page
from gateway.console.labels import from_local_input, status, when
from gateway.context import every_item, services
from gateway.tables import csv_response
from nszm import formatting
from nszm.contracts.errors import InvalidInput
from nszm.contracts.events import AUDIENCES, EVENT_TYPES, QUESTION_TYPES, REGISTRATION_STATUSES

SESSION_ROWS = 4
QUESTION_ROWS = 4


@console.route("/events")
@needs("events")
def events():
    query = listing_query("status")
    return render_page("events.html", listing=services().events.list_event_details(query), types=EVENT_TYPES,
                current=query.get("status"))


def event_from(form) -> dict:
    """The event input the form describes; times typed in Prague time; empty session rows left out."""
    rows = zip(form.getlist("session_title"), form.getlist("session_starts_at"), form.getlist("session_ends_at"),
               form.getlist("session_capacity"), form.getlist("session_audience"))
    sessions = [{"title": title, "starts_at": from_local_input(starts), "ends_at": from_local_input(ends),
                 "capacity": int(capacity) if capacity.strip().isdigit() else capacity, "audience": audience}
                for title, starts, ends, capacity, audience in rows if title or starts or ends]
    online = bool(form.get("online"))
    event = {"title": form.get("title", ""), "type": form.get("type", ""), "description": form.get("description", ""),
             "starts_at": from_local_input(form.get("starts_at")), "ends_at": from_local_input(form.get("ends_at")),
             "online": online, "accredited": bool(form.get("accredited")), "sessions": sessions,
             "venue": {key: form[f"venue_{key}"] for key in ("name", "address", "city")
                       if form.get(f"venue_{key}")} or None,
             "join_url": form.get("join_url") or None}
    if form.get("accreditation"):
        event["accreditation"] = form["accreditation"]
    days = form.get("reminder_days", "").strip()
    if days:
        event["reminder_days"] = int(days) if days.isdigit() else days
    percent = form.get("min_attendance_percent", "").strip()
    if percent:
        event["min_attendance_share"] = int(percent) / 100 if percent.isdigit() else percent
    asked = zip(form.getlist("question_label"), form.getlist("question_type"), form.getlist("question_options"),
                form.getlist("question_required"), form.getlist("question_in_exports"),
                form.getlist("question_session"))
    event["questions"] = [
        {"label": label, "type": kind, "options": [line.strip() for line in options.splitlines() if line.strip()],
         "required": bool(required), "in_exports": bool(exported), "session": session or None}
        for label, kind, options, required, exported, session in asked if label.strip()]
    if form.get("cancellation_deadline"):
        event["cancellation_deadline"] = from_local_input(form["cancellation_deadline"])
    return event


@console.route("/events/new", methods=["GET", "POST"])
@needs("events")
def new_event():
    choices: dict[str, Any] = {"types": EVENT_TYPES, "audiences": AUDIENCES, "rows": SESSION_ROWS,
                               "question_rows": QUESTION_ROWS, "question_types": QUESTION_TYPES}
    if request.method == "GET":
        return render_page("event_form.html", form={}, errors={}, **choices)
    try:
        created = services().events.create_event(event_from(request.form))
    except InvalidInput as invalid:
        return render_page("event_form.html", 422, form=request.form, errors=invalid.errors, **choices)
    return redirect(url_for("console.event", event_id=created["id"]))


@console.route("/events/<event_id>")
@needs("events")
def event(event_id):
    rpc = services().events
    shown = rpc.get_event_detail(event_id)
    query = listing_query("status")
    return render_page("event.html", event=shown, registrations=rpc.list_registrations(event_id, query),
                       types=EVENT_TYPES, audiences=AUDIENCES, statuses=REGISTRATION_STATUSES,
                       current=query.get("status"), question_types=QUESTION_TYPES)


@console.route("/events/<event_id>/publish", methods=["POST"])
@needs("events")
def publish_event(event_id):
    return act(lambda: services().events.publish_event(event_id), "Akce je zveřejněna.",
               url_for("console.event", event_id=event_id))


@console.route("/events/<event_id>/registrations/<registration_id>/<action>", methods=["POST"])
@needs("events")
def registration_action(event_id, registration_id, action):
    rpc = services().events
    calls = {"check-in": (lambda: rpc.check_in(registration_id, {}), "Účast je zapsána."),
             "cancel": (lambda: rpc.cancel_registration_as_staff(registration_id), "Registrace je zrušena.")}
    if action not in calls:
        abort(404)
    call, done = calls[action]
    return act(call, done, url_for("console.event", event_id=event_id, **query_of_this_page()))


CSV_COLUMNS = ("jméno", "e-mail", "organizace", "telefon", "stav", "části", "registrace", "účast", "hodin",
               "osvědčení", "poznámka")


@console.route("/events/<event_id>/registrations.csv")
@needs("events")
def registrations_csv(event_id):
    rpc = services().events
    questions = formatting.exported_questions(rpc.get_event_detail(event_id))
    rows = every_item(lambda query: rpc.list_registrations(event_id, query))
    audit.record("export_registrations", event_id)

    def row(r: dict) -> tuple:
        seats = ", ".join(f"{seat['id']}: {status(seat['status'])}"
                          + (f" ({seat['waitlist_position']}.)" if seat.get("waitlist_position") else "")
                          for seat in r["sessions"])
        return (r["name"], r["email"], r["organization"], r.get("phone"), status(r["status"]), seats,
                when(r["created_at"]), when(r["checked_in_at"]) if r.get("checked_in_at") else "", r.get("hours"),
                r.get("certificate_id"), r.get("note"),
                *(formatting.answer(r.get("answers", {}).get(q["id"])) for q in questions))

    return csv_response([*CSV_COLUMNS, *(question["label"] for question in questions)], map(row, rows),
                        f"registrace-{event_id}.csv")
