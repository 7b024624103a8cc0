"""Personal data on request (GDPR arts. 15 and 17), for admins: a person's data export gathered
from every service, erasure, and how far an erasure has got; the consent texts for websites.

Each service answers for its own records; the gateway only gathers the answers.
"""
from flask import current_app

from gateway.context import api, services
from nszm.contracts import privacy as contract
from nszm.contracts.errors import NotFound
from nszm.privacy import Pseudonyms
from nszm.schemas import load
from nszm.storage import utcnow

SOURCES = ("members", "events", "practice", "notify")
ERASER = "notify"  # erases its records and announces `person_erased` in one transaction


def person_of(email: str) -> str:
    return Pseudonyms(current_app.extensions["nszm"].settings.secret_key).person(email)


def person_export(email: str) -> dict:
    """Everything every service holds about the person with this address, in one document."""
    proxy = services()
    pending = [getattr(proxy, source).personal_data.call_async({"email": email}) for source in SOURCES]
    return {"email": email, "person": person_of(email), "generated_at": utcnow(),
            "services": [reply.result() for reply in pending]}


def erasure_status(person: str) -> dict:
    """The latest erasure of the person as each service reports it (as `ErasureStatusSchema`)."""
    proxy = services()
    pending = {source: getattr(proxy, source).erasure_status.call_async({"person": person}) for source in SOURCES}
    done = {source: reply.result() for source, reply in pending.items()}
    erased = [status for status in done.values() if status]
    latest = max((status["requested_at"] for status in erased), default=None)
    current = [status for status in erased if status["requested_at"] == latest]
    pending_sources = [source for source in SOURCES if not done[source] or done[source]["requested_at"] != latest]
    return {"person": person, "complete": bool(current) and not pending_sources, "services": current,
            "pending": pending_sources}


@api.route("/api/v1/privacy/exports", "POST", summary="Everything the platform holds about a person, by address",
           tag="privacy", role="admin", body=contract.PersonQuerySchema, response=contract.PersonExportSchema,
           cache=False)
def export_person(body):
    return contract.PersonExportSchema().dump(person_export(load(contract.PersonQuerySchema(), body)["email"]))


@api.route("/api/v1/privacy/erasures", "POST", summary="Erase a person's data in every service (answers at once; "
           "the other services follow over the bus)", tag="privacy", role="admin", body=contract.PersonQuerySchema,
           response=contract.ErasureSchema, status=202, cache=False)
def erase_person(body):
    return getattr(services(), ERASER).erase_person(load(contract.PersonQuerySchema(), body))


@api.route("/api/v1/privacy/erasures/<person>", summary="How far a person's erasure has got, service by service",
           tag="privacy", role="admin", response=contract.ErasureStatusSchema, cache=False)
def erasure(person):
    if contract.ErasureQuerySchema().validate({"person": person}):
        raise NotFound("No person has this hash: it is 64 hexadecimal digits.")
    return erasure_status(person)


@api.route("/api/v1/privacy/consent-texts", summary="The consent texts a form shows, each with the version to send "
           "back with the form", tag="privacy", response=contract.ConsentTextSchema(many=True))
def consent_texts():
    return contract.ConsentTextSchema(many=True).dump([
        {"purpose": purpose, "version": version, "text": text, "current": version == contract.current_version(purpose)}
        for purpose, versions in contract.CONSENT_TEXTS.items() for version, text in versions.items()])
