"""Console pages for membership: applications (approve, reject) and members (edit, leave)."""
from flask import flash, redirect, request, url_for

from gateway.console import act, console, listing_query, needs, render_page
from gateway.context import services
from nszm.contracts.errors import InvalidInput
from nszm.contracts.members import APPLICATION_STATUSES, CONTACT_ROLES, MEMBER_TYPES, REGIONS
from nszm.contracts.notify import SUPPRESSION_REASONS


@console.route("/applications")
@needs("members")
def applications():
    query = listing_query("status")
    if "status" not in request.args:
        query["status"] = "pending"
    return render_page("applications.html", listing=services().members.list_applications(query),
                statuses=APPLICATION_STATUSES, current=query.get("status"), types=MEMBER_TYPES)


@console.route("/applications/<application_id>")
@needs("members")
def application(application_id):
    return render_page("application.html", application=services().members.get_application(application_id),
                types=MEMBER_TYPES)


@console.route("/applications/<application_id>/approve", methods=["POST"])
@needs("members")
def approve(application_id):
    since = request.form.get("member_since")
    return act(lambda: services().members.approve_application(application_id, {"member_since": since} if since
                                                                else {}),
               "Přihláška je schválena; člen je v adresáři.",
               url_for("console.application", application_id=application_id))


@console.route("/applications/<application_id>/reject", methods=["POST"])
@needs("members")
def reject(application_id):
    return act(lambda: services().members.reject_application(application_id,
                                                               {"reason": request.form.get("reason", "")}),
               "Přihláška je zamítnuta.", url_for("console.application", application_id=application_id))


@console.route("/members")
@needs("members")
def members():
    query = listing_query("q", "type", "region")
    return render_page("members.html", listing=services().members.list_members(query), q=request.args.get("q", ""),
                types=MEMBER_TYPES, regions=REGIONS)


def contacts_from(form) -> list[dict]:
    names = form.getlist("contact_name")
    functions = form.getlist("contact_function") + [""] * len(names)
    rows = zip(form.getlist("contact_role"), functions, names, form.getlist("contact_email"),
               form.getlist("contact_phone"))
    return [{"role": role, "name": name, "email": email, **({"function": function} if function else {}),
             **({"phone": phone} if phone else {})}
            for role, function, name, email, phone in rows if name or email]


def suppressed_contacts(member: dict) -> dict[str, dict]:
    """The member's contact addresses on the suppression list (a bounce, say), by lower-cased address."""
    emails = [contact["email"] for contact in member.get("contacts", [])]
    if not emails:
        return {}
    return {entry["email"].strip().lower(): entry for entry in services().notify.suppressions_of({"emails": emails})}


@console.route("/members/<slug>", methods=["GET", "POST"])
@needs("members")
def member(slug):
    rpc = services().members
    errors = {}
    if request.method == "POST":
        form = request.form
        changes: dict[str, object] = {"name": form.get("name", ""), "website": form.get("website") or None,
                   "part_of": form.get("part_of") or None, "contacts": contacts_from(form)}
        if form.get("population", "").strip().isdigit():
            changes["population"] = int(form["population"])
        else:
            errors["population"] = ["Zadejte počet obyvatel číslem."]
        if not errors:
            try:
                rpc.update_member(slug, changes)
                flash("Změny jsou uloženy.")
                return redirect(url_for("console.member", slug=slug))
            except InvalidInput as invalid:
                errors = invalid.errors
    shown = rpc.get_member_detail(slug)
    return render_page("member.html", 422 if errors else 200, member=shown, errors=errors,
                       form=request.form if errors else None, types=MEMBER_TYPES, contact_roles=CONTACT_ROLES,
                       suppressed=suppressed_contacts(shown), reasons=SUPPRESSION_REASONS)


@console.route("/members/<slug>/leave", methods=["POST"])
@needs("members")
def leave(slug):
    options = {key: request.form[key] for key in ("left_on", "reason") if request.form.get(key)}
    return act(lambda: services().members.leave(slug, options), "Vystoupení člena je zapsáno.",
               url_for("console.member", slug=slug))
