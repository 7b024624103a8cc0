"""Console pages for mailouts: compose with a live recipient count, preview, test, send, watch, pause."""
from flask import abort, jsonify, redirect, request, url_for

from gateway import delivery_log
from gateway.console import act, console, listing_query, needs, render_page
from gateway.console.labels import STATUSES, from_local_input
from gateway.context import services
from nszm.contracts.errors import InvalidInput, NotFound
from nszm.contracts.members import CONTACT_ROLES, MEMBER_TYPES, REGIONS
from nszm.contracts.notify import PARTICIPANT_STATUSES, RECIPIENT_STATUSES, SUPPRESSION_REASONS


def audience_from(form) -> dict:
    chosen: dict = {}
    if form.get("members"):
        chosen["members"] = {"type": form.getlist("type"), "region": form.getlist("region"),
                             "roles": form.getlist("role") or ["coordinator"]}
    if form.get("event"):
        chosen["event"] = {"id": form["event"], "status": form.getlist("status") or ["confirmed"]}
    if form.get("newsletter"):
        chosen["newsletter"] = True
    return chosen


@console.route("/mailouts")
@needs("mailouts")
def mailouts():
    return render_page("mailouts.html", listing=services().notify.list_mailouts({"per_page": 50}))


@console.route("/mailouts/new", methods=["GET", "POST"])
@needs("mailouts")
def new_mailout():
    form = request.form
    choices = {"types": MEMBER_TYPES, "regions": REGIONS, "statuses": PARTICIPANT_STATUSES, "contact_roles": CONTACT_ROLES,
               "events": services().events.list_event_details({"per_page": 100})["items"]}
    if request.method == "GET":
        return render_page("mailout_form.html", form={}, errors={}, **choices)
    payload = {"subject": form.get("subject", ""), "body": form.get("body", ""),
               "format": form.get("format", "markdown"), "audience": audience_from(form)}
    try:
        created = services().notify.create_mailout(payload)
    except InvalidInput as invalid:
        return render_page("mailout_form.html", 422, form=form, errors=invalid.errors, **choices)
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
    shown = services().notify.get_mailout(mailout_id)
    email = request.args.get("email", "")
    preview = None
    if email:
        try:
            preview = services().notify.preview(mailout_id, {"email": email})
        except (NotFound, InvalidInput) as missing:
            preview = {"error": getattr(missing, "detail", str(missing))}
    recipients = None
    if shown["status"] != "draft":
        recipients = services().notify.list_recipients(mailout_id, listing_query("status"))
    return render_page("mailout.html", mailout=shown, preview=preview, email=email, labels=STATUSES, recipients=recipients,
                       statuses=RECIPIENT_STATUSES, current=request.args.get("status"), reasons=SUPPRESSION_REASONS)


@console.route("/mailouts/<mailout_id>/recipients.csv")
@needs("mailouts")
def delivery_log_csv(mailout_id):
    return delivery_log.export(mailout_id)


@console.route("/mailouts/<mailout_id>/progress")
@needs("mailouts")
def progress(mailout_id):
    return jsonify(services().notify.get_mailout(mailout_id))


@console.route("/mailouts/<mailout_id>/<action>", methods=["POST"])
@needs("mailouts")
def mailout_action(mailout_id, action):
    notify = services().notify
    at = from_local_input(request.form.get("at"))
    calls = {"send": (lambda: notify.send_mailout(mailout_id, {"at": at} if at else {}), "Odesílání začalo."),
             "pause": (lambda: notify.pause_mailout(mailout_id), "Odesílání je pozastaveno."),
             "resume": (lambda: notify.resume_mailout(mailout_id), "Odesílání pokračuje."),
             "cancel": (lambda: notify.cancel_mailout(mailout_id), "Hromadný e-mail je zrušen."),
             "retry-failed": (lambda: notify.retry_failed(mailout_id), "Neúspěšné zprávy se posílají znovu."),
             "test": (lambda: notify.test_send(mailout_id, {"email": request.form.get("email", "")}),
                      "Testovací e-mail je na cestě.")}
    if action not in calls:
        abort(404)
    call, done = calls[action]
    return act(call, done, url_for("console.mailout", mailout_id=mailout_id))
