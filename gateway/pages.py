"""The small Czech pages behind links sent by mail: a button on GET, the action's outcome on POST;
and the accessibility statement every page links to."""
from datetime import date
from email.utils import parseaddr
from typing import Callable

from flask import Response, current_app, render_template, request

from gateway.api import json_response, wants_html
from nszm import formatting
from nszm.contracts.errors import Conflict, NotFound

STATEMENT_PATH = "/pristupnost"
STATEMENT_PREPARED = date(2026, 12, 4)  # the day the statement was last reviewed (law 99/2019 Sb.)


def page(template: str, status: int = 200, **values) -> Response:
    return Response(render_template(template, **values), status=status, mimetype="text/html")


def button_page(template: str) -> Response:
    """What a GET of a mailed link shows: a form that POSTs to the same URL; nothing changes yet."""
    return page(template, action=request.full_path)


def link_action(action: Callable[[], dict], refused_title: str, outcome: Callable[[dict], tuple[str, str]]):
    """Run a mailed link's action; a browser gets a page (also for a refusal), anyone else JSON."""
    try:
        result = action()
    except (Conflict, NotFound) as refusal:
        if not wants_html():
            raise
        status = 409 if isinstance(refusal, Conflict) else 404
        return page("cancelled.html", status, title=refused_title, message=refusal.detail)
    if wants_html():
        title, message = outcome(result)
        return page("cancelled.html", title=title, message=message)
    return json_response(result)


def accessibility_statement() -> Response:
    """The accessibility statement under law 99/2019 Sb.: scope, compliance, what is not accessible,
    how the pages are tested, whom to write, and the supervising authority."""
    settings = current_app.extensions["nszm"].settings
    response = page("pristupnost.html", public_url=settings.public_url, contact=parseaddr(settings.mail_from)[1],
                    prepared=formatting.day(STATEMENT_PREPARED))
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    return response


PROBLEM_TYPES = {  # the `type` of an API's problem: its page's title and what it means
    "validation-error": ("Neplatné údaje", "Požadavek obsahuje neplatné nebo chybějící údaje. Opravte pole, která "
                         "jmenuje `errors`, a pošlete požadavek znovu."),
    "not-found": ("Nenalezeno", "Hledaná věc (člen, akce, registrace, odkaz) neexistuje, nebo odkaz není platný."),
    "conflict": ("Nelze provést v tomto stavu", "Požadavek je v pořádku, ale neodpovídá současnému stavu: například "
                 "lhůta už uplynula, akce je plná, nebo to už někdo udělal. `code` jmenuje pravidlo."),
    "rate-limited": ("Příliš mnoho požadavků", "Z této adresy nebo pro tuto schránku přišlo příliš mnoho požadavků. "
                     "Zkuste to znovu po době, kterou udává hlavička Retry-After."),
    "unauthorized": ("Chybí platný token", "Akce je jen pro pracovníky kanceláře: pošlete platný token "
                     "v hlavičce Authorization: Bearer."),
    "forbidden": ("Přístup odepřen", "Token nemá roli, kterou tato akce potřebuje."),
    "service-unavailable": ("Služba není dostupná", "Část platformy je na chvíli nedostupná. Zkuste to prosím "
                            "za okamžik znovu; nic z požadavku se neuložilo napůl."),
    "method-not-allowed": ("Metoda není povolena", "Tato adresa tuto metodu HTTP nepřijímá; hlavička Allow "
                           "jmenuje ty, které přijímá."),
    "payload-too-large": ("Požadavek je příliš velký", "Tělo požadavku je větší, než server přijímá."),
    "unsupported-media-type": ("Nepodporovaný typ obsahu", "Tělo požadavku má jiný typ (Content-Type), než "
                               "adresa přijímá, obvykle application/json."),
    "bad-request": ("Chybný požadavek", "Požadavek nelze přečíst, například JSON není platný."),
    "internal-error": ("Vnitřní chyba", "Na straně platformy se něco pokazilo; chyba je zaznamenána."),
    "http-error": ("Chyba HTTP", "Požadavek skončil chybou HTTP, kterou udává `status`."),
}


def problem_type(kind: str) -> Response:
    """The page a problem's `type` leads to: what that kind of error means."""
    if kind not in PROBLEM_TYPES:
        return page("cancelled.html", 404, title="Nenalezeno", message="Takový typ chyby neznáme.")
    title, explanation = PROBLEM_TYPES[kind]
    response = page("problem_type.html", kind=kind, title=title, explanation=explanation)
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    return response
