"""Good practice and NEJpraxe endpoints: themes, practices, competitions, votes and their confirmation."""
from flask import request

from gateway.context import api, services
from gateway.pages import button_page, link_action
from nszm.contracts import practice as contract


@api.route("/api/v1/themes", summary="The 10 themes of sustainable development", tag="practice",
           response=contract.ThemeSchema(many=True))
def themes():
    return services().practice.themes()


@api.route("/api/v1/practices", summary="Published good practice: search and filters", tag="practice",
           query=contract.PracticeQuerySchema, response=contract.PracticePageSchema)
def list_practices(query):
    return services().practice.list_practices(query)


@api.route("/api/v1/practices/<slug>", summary="One published practice", tag="practice",
           response=contract.PracticeSchema)
def get_practice(slug):
    return services().practice.get_practice(slug)


@api.route("/api/v1/practices/<slug>/detail", summary="One practice in any state", tag="practice",
           role="practice", response=contract.PracticeDetailSchema)
def get_practice_detail(slug):
    return services().practice.get_practice_detail(slug)


@api.route("/api/v1/practices", "POST", summary="Create a practice (a draft)", tag="practice", role="practice",
           body=contract.PracticeInputSchema, response=contract.PracticeDetailSchema, status=201)
def create_practice(body):
    return services().practice.create_practice(body)


@api.route("/api/v1/practices/<slug>", "PATCH", summary="Change a draft or published practice", tag="practice",
           role="practice", body=contract.PracticeUpdateSchema, response=contract.PracticeDetailSchema,
           errors=(409,))
def update_practice(slug, body):
    return services().practice.update_practice(slug, body)


@api.route("/api/v1/practices/<slug>/publish", "POST", summary="Publish a draft", tag="practice", role="practice",
           response=contract.PracticeDetailSchema, errors=(409,))
def publish_practice(slug):
    return services().practice.publish_practice(slug)


@api.route("/api/v1/practices/<slug>/archive", "POST", summary="Archive a published practice", tag="practice",
           role="practice", response=contract.PracticeDetailSchema, errors=(409,))
def archive_practice(slug):
    return services().practice.archive_practice(slug)


@api.route("/api/v1/competitions", "POST", summary="Create a NEJpraxe competition", tag="practice",
           role="practice", body=contract.CompetitionInputSchema, response=contract.CompetitionSchema, status=201)
def create_competition(body):
    return services().practice.create_competition(body)


@api.route("/api/v1/competitions", summary="NEJpraxe competitions, newest first", tag="practice",
           query=contract.CompetitionQuerySchema, response=contract.CompetitionPageSchema, max_age=0)
def list_competitions(query):
    return services().practice.list_competitions(query)


@api.route("/api/v1/competitions/<competition_id>", summary="A competition: nominees, and votes once closed",
           tag="practice", response=contract.CompetitionSchema, max_age=0)
def get_competition(competition_id):
    return services().practice.get_competition(competition_id)


@api.route("/api/v1/competitions/<competition_id>/close", "POST", summary="End the voting now; results become final",
           tag="practice", role="practice", response=contract.CompetitionSchema, errors=(409,))
def close_voting(competition_id):
    return services().practice.close_voting(competition_id)


@api.route("/api/v1/competitions/<competition_id>/votes", "POST", summary="Vote; a confirmation link is mailed",
           tag="practice", body=contract.VoteInputSchema, response=contract.VoteReceiptSchema, status=202,
           errors=(409, 429))
def vote(competition_id, body):
    return services().practice.vote(competition_id, body, request.remote_addr or "unknown")


@api.route("/api/v1/votes/confirm", summary="The page behind a vote confirmation link: a button, no change",
           tag="practice", query=contract.ConfirmationSchema, media_type="text/html", cache=False)
def confirm_vote_page(query):
    return button_page("confirm_vote.html")


@api.route("/api/v1/votes/confirm", "POST", summary="Confirm a vote with the mailed token", tag="practice",
           query=contract.ConfirmationSchema, response=contract.ConfirmationResultSchema, errors=(409,))
def confirm_vote(query):
    return link_action(
        lambda: services().practice.confirm_vote(query.get("token") or ""), "Hlas nelze potvrdit",
        lambda result: ("Potvrzení hlasu", "Děkujeme, Váš hlas je započten." if result["status"] == "counted"
                        else "Z této adresy už je hlas v této soutěži započten; další se nepočítá."))
