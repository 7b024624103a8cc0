"""Dead letters for admins: the events a subscription failed on every try, and replaying them."""
from gateway import audit
from gateway.context import api, settings
from nszm import deadletters
from nszm.contracts import bus as contract
from nszm.schemas import load
from nszm.topology import Topology


@api.route("/api/v1/dead-letters", summary="Events a subscription's handler failed on every try", tag="bus",
           role="admin", query=contract.DeadLetterQuerySchema, response=contract.DeadLetterSchema(many=True))
def list_dead_letters(query):
    query = load(contract.DeadLetterQuerySchema(), query)
    return contract.DeadLetterSchema(many=True).dump(
        deadletters.list_dead_letters(Topology(settings()), query.get("queue")))


@api.route("/api/v1/dead-letters/replay", "POST", summary="Send dead letters back to their subscription, "
           "with a fresh count of tries", tag="bus", role="admin", body=contract.ReplaySchema,
           body_required=False, response=contract.ReplayResultSchema)
def replay_dead_letters(body):
    body = load(contract.ReplaySchema(), body)
    replayed = deadletters.replay_dead_letters(Topology(settings()), body.get("queue"), body.get("event_ids"))
    audit.record("replay_dead_letters", body.get("queue"))
    return contract.ReplayResultSchema().dump({"replayed": replayed})
