"""Good practice and NEJpraxe endpoints: themes, practices, competitions, votes and their confirmation."""
from gateway import limits
from gateway.context import api, forwarder, services
from gateway.pages import button_page, link_action
from nszm.contracts import practice as contract

forward = forwarder("practice", tag="practice")

forward("themes", "GET /api/v1/themes", "The 10 themes of sustainable development",
        response=contract.ThemeSchema(many=True))
forward("list_practices", "GET /api/v1/practices", "Published good practice: search and filters",
        query=contract.PracticeQuerySchema, response=contract.PracticePageSchema)
forward("get_practice", "GET /api/v1/practices/<slug>", "One published practice", response=contract.PracticeSchema)
forward("get_practice_detail", "GET /api/v1/practices/<slug>/detail", "One practice in any state", role="practice",
        response=contract.PracticeDetailSchema)
forward("create_practice", "POST /api/v1/practices", "Create a practice (a draft)", role="practice",
        body=contract.PracticeInputSchema, response=contract.PracticeDetailSchema, status=201)
forward("update_practice", "PATCH /api/v1/practices/<slug>", "Change a draft or published practice", role="practice",
        body=contract.PracticeUpdateSchema, response=contract.PracticeDetailSchema, errors=(409,))
forward("publish_practice", "POST /api/v1/practices/<slug>/publish", "Publish a draft", role="practice",
        response=contract.PracticeDetailSchema, errors=(409,))
forward("archive_practice", "POST /api/v1/practices/<slug>/archive", "Archive a published practice", role="practice",
        response=contract.PracticeDetailSchema, errors=(409,))
forward("create_competition", "POST /api/v1/competitions", "Create a NEJpraxe competition", role="practice",
        body=contract.CompetitionInputSchema, response=contract.CompetitionSchema, status=201)
forward("list_competitions", "GET /api/v1/competitions", "NEJpraxe competitions, newest first",
        query=contract.CompetitionQuerySchema, response=contract.CompetitionPageSchema, max_age=0)
forward("get_competition", "GET /api/v1/competitions/<competition_id>",
        "A competition: nominees, and votes once closed", response=contract.CompetitionSchema, max_age=0)
forward("close_voting", "POST /api/v1/competitions/<competition_id>/close", "End the voting now; results become final",
        role="practice", response=contract.CompetitionSchema, errors=(409,))


@api.route("/api/v1/competitions/<competition_id>/votes", "POST", summary="Vote; a confirmation link is mailed",
           tag="practice", body=contract.VoteInputSchema, response=contract.VoteReceiptSchema, status=202,
           errors=(409,), limits=limits.VOTES)
def vote(competition_id, body):
    return services().practice.vote(competition_id, body)


@api.route("/api/v1/votes/confirm", summary="The page behind a vote confirmation link: a button, no change",
           tag="practice", query=contract.ConfirmationSchema, media_type="text/html", cache=False)
def confirm_vote_page(query):
    return button_page("confirm_vote.html")


@api.route("/api/v1/votes/confirm", "POST", summary="Confirm a vote with the mailed token", tag="practice",
           query=contract.ConfirmationSchema, response=contract.ConfirmationResultSchema, errors=(404, 409))
def confirm_vote(query):
    return link_action(
        lambda: services().practice.confirm_vote(query.get("token") or ""), "Hlas nelze potvrdit",
        lambda result: ("Potvrzení hlasu", "Děkujeme, Váš hlas je započten." if result["status"] == "counted"
                        else "Z této adresy už je hlas v této soutěži započten; další se nepočítá."))
