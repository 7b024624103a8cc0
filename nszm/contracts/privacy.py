"""The privacy contract: looking a person up, their data export, erasure, and recorded consent.

Each service answers for its own records (`PersonDataSchema`: named sections of records); the
gateway only gathers them into one document. Consent texts are versioned here: a website shows
the text of a version and sends the version with the form, and the platform records when, from
which form and for which version the consent was given.
"""
from marshmallow import Schema, fields, validate

from nszm.contracts.common import EmailAddress, aware, text

# purpose -> {version: the text the person agreed to}; the last version is the current one
CONSENT_TEXTS = {
    "registration": {
        "2026-12": "Souhlasím se zpracováním jména, e-mailu, organizace a odpovědí pro účely registrace na akci "
                   "Národní sítě Zdravých měst ČR, evidence docházky a vydání osvědčení.",
    },
    "newsletter": {
        "2026-12": "Souhlasím se zasíláním zpravodaje Národní sítě Zdravých měst ČR na uvedený e-mail. "
                   "Souhlas mohu kdykoli odvolat odkazem v každém zpravodaji.",
    },
}
DEFAULT_FORM = "api"  # the form a consent came from when the request does not name one


def current_version(purpose: str) -> str:
    return list(CONSENT_TEXTS[purpose])[-1]


def consent_input(purpose: str) -> type[Schema]:
    """What a form sends about the consent it showed; omitted: the current text, form `api`."""
    return Schema.from_dict({
        "text_version": fields.String(validate=validate.OneOf(list(CONSENT_TEXTS[purpose])),
                                      metadata={"description": "the version of the consent text the form showed "
                                                               "(GET /api/v1/privacy/consent-texts)"}),
        "form": text(200, metadata={"description": "which form, e.g. `zdravamesta.cz/akce`"}),
    }, name=f"{purpose.capitalize()}ConsentInput")


class ConsentSchema(Schema):
    """A recorded consent: when, from which form, which text."""

    purpose = fields.String(required=True)
    given_at = aware(required=True)
    form = fields.String(required=True)
    text_version = fields.String(required=True)


class ConsentTextSchema(Schema):
    purpose = fields.String(required=True)
    version = fields.String(required=True)
    text = fields.String(required=True)
    current = fields.Boolean(required=True)


class PersonQuerySchema(Schema):
    email = EmailAddress(required=True, metadata={
        "description": "the person's address; its aliases (case, `+tag`, Gmail's dots) are the same person"})


class PersonDataSchema(Schema):
    """What one service holds about a person: its sections, each a list of records."""

    service = fields.String(required=True)
    sections = fields.Dict(keys=fields.String(), values=fields.List(fields.Dict()), required=True)


class PersonExportSchema(Schema):
    email = fields.String(required=True)
    person = fields.String(required=True, metadata={"description": "the keyed hash bus events name the person by"})
    generated_at = aware(required=True)
    services = fields.List(fields.Nested(PersonDataSchema), required=True)


class ErasureSchema(Schema):
    """An erasure as one service reports it."""

    id = fields.String(required=True)
    person = fields.String(required=True)
    requested_at = aware(required=True)
    erased_at = aware(allow_none=True)
    service = fields.String(required=True)


class ErasureStatusSchema(Schema):
    person = fields.String(required=True)
    complete = fields.Boolean(required=True, metadata={"description": "every service has erased the person"})
    services = fields.List(fields.Nested(ErasureSchema), required=True,
                           metadata={"description": "the services that have erased the person, and when"})
    pending = fields.List(fields.String(), required=True, metadata={"description": "services still to erase"})


class ErasureQuerySchema(Schema):
    person = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"))
