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
