"""Console pages for good practice (create, edit, publish, archive) and NEJpraxe (create, close, results)."""
from flask import abort, flash, redirect, request, url_for

from gateway.console import act, console, flash_refusal, listing_query, needs, render_page
from gateway.console.labels import from_local_input
from gateway.context import every_item, services
from nszm.contracts.errors import Conflict, InvalidInput
from nszm.contracts.practice import PRACTICE_STATUSES, THEMES


def practice_from(form) -> dict:
    year = form.get("year", "").strip()
    return {"title": form.get("title", ""), "summary": form.get("summary", ""), "body": form.get("body", ""),
            "member": form.get("member", ""), "year": int(year) if year.isdigit() else year,
            "themes": [int(theme) if theme.isdigit() else theme for theme in form.getlist("themes")]}


def member_choices() -> list[dict]:
    return every_item(services().members.list_members)


@console.route("/practices")
@needs("practice")
def practices():
    query = listing_query("status", "q")
    return render_page("practices.html", listing=services().practice.list_practice_details(query),
                statuses=PRACTICE_STATUSES, current=query.get("status"), q=request.args.get("q", ""))


@console.route("/practices/new", methods=["GET", "POST"])
@needs("practice")
def new_practice():
    errors = {}
    if request.method == "POST":
        try:
            created = services().practice.create_practice(practice_from(request.form))
            flash("Praxe je uložena jako koncept.")
            return redirect(url_for("console.practice", slug=created["slug"]))
        except InvalidInput as invalid:
            errors = invalid.errors
    return render_page("practice_form.html", 422 if errors else 200, practice=None, form=request.form, errors=errors,
                themes=THEMES, members=member_choices())


@console.route("/practices/<slug>", methods=["GET", "POST"])
@needs("practice")
def practice(slug):
    rpc = services().practice
    errors = {}
    if request.method == "POST":
        try:
            rpc.update_practice(slug, practice_from(request.form))
            flash("Změny jsou uloženy.")
            return redirect(url_for("console.practice", slug=slug))
        except InvalidInput as invalid:
            errors = invalid.errors
        except Conflict as refused:
            flash_refusal(refused)
            return redirect(url_for("console.practice", slug=slug))
    shown = rpc.get_practice_detail(slug)
    return render_page("practice_form.html", 422 if errors else 200, practice=shown, errors=errors, themes=THEMES,
                form=request.form if errors else shown, members=member_choices())


@console.route("/practices/<slug>/<action>", methods=["POST"])
@needs("practice")
def practice_action(slug, action):
    rpc = services().practice
    calls = {"publish": (rpc.publish_practice, "Praxe je zveřejněna."),
             "archive": (rpc.archive_practice, "Praxe je archivována.")}
    if action not in calls:
        abort(404)
    call, done = calls[action]
    return act(lambda: call(slug), done, url_for("console.practice", slug=slug))


@console.route("/competitions")
@needs("practice")
def competitions():
    return render_page("competitions.html", listing=services().practice.list_competitions(listing_query()))


@console.route("/competitions/new", methods=["GET", "POST"])
@needs("practice")
def new_competition():
    rpc = services().practice
    errors = {}
    form = request.form
    if request.method == "POST":
        year = form.get("year", "").strip()
        payload = {"title": form.get("title", ""), "year": int(year) if year.isdigit() else year,
                   "voting_opens_at": from_local_input(form.get("voting_opens_at")),
                   "voting_closes_at": from_local_input(form.get("voting_closes_at")),
                   "nominees": form.getlist("nominees")}
        try:
            created = rpc.create_competition(payload)
            flash("Soutěž je založena.")
            return redirect(url_for("console.competition", competition_id=created["id"]))
        except InvalidInput as invalid:
            errors = invalid.errors
    published = every_item(rpc.list_practice_details, {"status": "published"})
    return render_page("competition_form.html", 422 if errors else 200, form=form, errors=errors, practices=published)


@console.route("/competitions/<competition_id>")
@needs("practice")
def competition(competition_id):
    return render_page("competition.html", competition=services().practice.get_competition(competition_id))


@console.route("/competitions/<competition_id>/close", methods=["POST"])
@needs("practice")
def close_competition(competition_id):
    return act(lambda: services().practice.close_voting(competition_id), "Hlasování je ukončeno.",
               url_for("console.competition", competition_id=competition_id))
