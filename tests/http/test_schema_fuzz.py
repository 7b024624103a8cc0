"""No input is a 5xx: schemathesis generates requests for every endpoint of the OpenAPI document.

Bodies and query parameters are generated from the schemas the gateway declares, valid ones
and invalid ones. What a schema cannot say is filled in before sending, so that valid bodies
get past validation into the services: path parameters and signed tokens name real things
made for this module (a member, a pending application, a registration with its link token, a
certificate, a practice, an open competition with a mailed vote link, a mail), references in
bodies name them too, and times are put in order. Approve, reject, leave, check-in, cancel,
publish, close and the token confirmations thus run on real records, and the last test checks
that generated bodies were accepted by every endpoint that creates or changes something.
"""
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlparse

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import negative_data_rejection
from schemathesis.core import NOT_SET
from schemathesis.core.parameters import ParameterLocation

from gateway.app import api
from tests import factories
from tests.http import test_events_api as events_api
from tests.http import test_practice_api as practice_api
from tests.http.conftest import STAFF_TOKEN, Client, client_from_new_address
from tests.http.test_members_api import join
from tests.waiting import wait_until

SCHEMA = schemathesis.openapi.from_dict(api.openapi("http://gateway.test"))
# gunicorn refuses a generated address over its request-line limit (414): a refusal too
REJECTIONS = SCHEMA.config.checks.negative_data_rejection
REJECTIONS.expected_statuses = [*REJECTIONS.expected_statuses, "414"]
EXAMPLES_PER_OPERATION = 30
schemathesis.openapi.format("ico", st.integers(10**6, 10**7 - 1).map(lambda n: factories.ico(f"{n:07d}")))



@schemathesis.serializer("message/rfc822")
def message_as_it_came_back(ctx, value) -> bytes:
    """A body of `message/rfc822` (a bounce as a mail server pipes it on), sent as its UTF-8 bytes."""
    return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else str(value).encode("utf-8")


@SCHEMA.auth()
class StaffToken:
    """Every generated request carries the staff token, as schemathesis' own auth: its checks then
    know the credentials are real, and probe the endpoints without them and with forged ones."""

    def get(self, case, context):
        return STAFF_TOKEN

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


def not_really_negative(case) -> list:
    """Every default check runs, except one on a case schemathesis calls negative though nothing
    in it is (its fallback when an operation has nothing to negate, e.g. an optional body whose
    fields are all optional; a missing Authorization that the auth provider puts back; a negated
    optional body that the case then leaves out; a body taken as it is, which bytes cannot make
    anything but a string): the negative-data check would then demand a refusal of valid data."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_negative:
        return []
    negated = [location for location, component in meta.components.items() if component.mode.is_negative
               and location != ParameterLocation.HEADER  # the only header is Authorization, which StaffToken sets
               and not (location == ParameterLocation.BODY and case.body is NOT_SET)  # an optional body left out
               and not (location == ParameterLocation.BODY and case.media_type == "message/rfc822")]
    return [] if negated else [negative_data_rejection]


ACCEPTED: Counter = Counter()  # operation -> generated requests answered 2xx


@dataclass
class World:
    member: str
    leaving_member: str
    application: str
    event: str
    registration: str
    registration_token: str
    certificate: str
    practice: str
    rival: str
    draft: str
    competition: str
    vote_token: str
    mail: str

    def path_values(self, path: str) -> dict[str, str]:
        """Real ids; what leaves or is archived is a thing of its own, so the nominees stay valid."""
        if path.startswith("/api/v1/practices"):
            slug = self.draft if path.endswith(("/publish", "/archive")) else self.practice
        else:
            slug = self.leaving_member if path.endswith("/leave") else self.member
        return {"event_id": self.event, "registration_id": self.registration, "application_id": self.application,
                "certificate_id": self.certificate, "competition_id": self.competition, "mail_id": self.mail,
                "slug": slug}

    def token_for(self, path: str) -> str:
        return self.vote_token if path.startswith("/api/v1/votes") else self.registration_token


def link_token(url: str) -> str:
    return parse_qs(urlparse(url).query)["token"][0]


@pytest.fixture(scope="module")
def world(platform, smtp_sink) -> World:
    staff, public = Client(platform.url, STAFF_TOKEN), client_from_new_address(platform.url)
    member = join(staff, public)
    application = public.post("/api/v1/membership-applications", json=factories.application()).json()["id"]
    event = events_api.published(staff, capacities=(30, 30))
    email = events_api.address("fuzz")
    registration = events_api.register(public, event, email, sessions=("s1", "s2")).json()
    attended = events_api.register(public, event, events_api.address("fuzz")).json()
    checked = staff.post(f"/api/v1/registrations/{attended['id']}/check-in").json()
    practice, rival = (practice_api.published(staff, {"slug": member["slug"]}) for _ in range(2))
    draft = staff.post("/api/v1/practices", json=practice_api.practice_payload(member["slug"])).json()
    contest = practice_api.competition(staff, [practice["slug"], rival["slug"]])
    voter = f"fuzz-{factories.unique_word()}@example.cz"
    assert public.post(f"/api/v1/competitions/{contest['id']}/votes",
                       json={"practice": practice["slug"], "email": voter}).status_code == 202
    [vote_mail] = wait_until(lambda: smtp_sink.messages(to=voter), timeout=30, message="the vote mail")
    mail = wait_until(lambda: staff.get("/api/v1/mails", params={"to": email}).json()["items"], timeout=30)[0]
    return World(member=member["slug"], leaving_member=join(staff, public)["slug"], application=application,
                 event=event["id"], draft=draft["slug"],
                 registration=registration["id"], registration_token=link_token(registration["cancel_url"]),
                 certificate=checked["certificate_id"], practice=practice["slug"], rival=rival["slug"],
                 competition=contest["id"],
                 vote_token=practice_api.token_of(vote_mail), mail=mail["id"])


def in_order(body: dict, start: str, end: str, at: datetime, hours: int):
    if isinstance(body.get(start), str) and isinstance(body.get(end), str):
        body[start], body[end] = at.isoformat(), (at + timedelta(hours=hours)).isoformat()


def filled_in(operation: str, body, world: World):
    """A generated body with what no schema can state: real references, times in order."""
    if not isinstance(body, dict):
        return body
    body = dict(body)
    soon = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=40)
    if operation == "POST /api/v1/events":
        in_order(body, "starts_at", "ends_at", soon, 72)  # room for 50 one-hour sessions
        if isinstance(body.get("sessions"), list):
            body["sessions"] = [in_order(s, "starts_at", "ends_at", soon + timedelta(hours=n), 1) or s
                                for n, s in enumerate(body["sessions"]) if isinstance(s, dict)]
            body.pop("cancellation_deadline", None)
        if isinstance(body.get("questions"), list):  # a question of one session names one of the event's
            body["questions"] = [{**q, "session": "s1"} if isinstance(q, dict) and isinstance(q.get("session"), str)
                                 else q for q in body["questions"]]
    elif operation in ("POST /api/v1/events/{event_id}/registrations",
                       "PUT /api/v1/registrations/{registration_id}/self/sessions",
                       "POST /api/v1/registrations/{registration_id}/manage",
                       "PATCH /api/v1/registrations/{registration_id}/self"):
        if isinstance(body.get("sessions"), list):
            body["sessions"] = ["s1", "s2"][:max(1, len(body["sessions"]))]
        if isinstance(body.get("answers"), dict):
            body["answers"] = {}  # the fuzzed event asks no questions of its own
    elif operation in ("POST /api/v1/practices", "PATCH /api/v1/practices/{slug}") and isinstance(
            body.get("member"), str):
        body["member"] = world.member
    elif operation == "POST /api/v1/webhooks" and str(body.get("url")).startswith(("http://", "https://")):
        body["url"] = "http://127.0.0.1:9/fuzz"  # a host that resolves (generated names mostly do not)
    elif operation == "POST /api/v1/membership-applications" and re.fullmatch(r"[0-9]{8}", str(body.get("ico"))):
        body["ico"] = factories.ico()  # eight digits, and a check digit no schema states
    elif operation in ("POST /api/v1/mailouts", "PUT /api/v1/mailouts/{mailout_id}",
                       "POST /api/v1/mailouts/audience-count"):
        audience = body.get("audience") if operation != "POST /api/v1/mailouts/audience-count" else body
        event = audience.get("event") if isinstance(audience, dict) else None
        if isinstance(event, dict) and isinstance(event.get("id"), str):
            event["id"] = world.event
    elif operation == "POST /api/v1/competitions":
        in_order(body, "voting_opens_at", "voting_closes_at", soon, 24 * 14)
        if isinstance(body.get("nominees"), list):
            body["nominees"] = [world.practice, world.rival]
    elif operation == "POST /api/v1/competitions/{competition_id}/votes" and isinstance(body.get("practice"), str):
        body["practice"] = world.practice
    return body


@SCHEMA.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_is_a_5xx(case, platform, world):
    operation = f"{case.method} {case.path}"
    if case.path_parameters:
        real = world.path_values(case.path)
        case.path_parameters = {name: real.get(name, value) for name, value in case.path_parameters.items()}
    if case.query is not None and "token" in case.query:
        case.query = {**case.query, "token": world.token_for(case.path)}
    case.body = filled_in(operation, case.body, world)
    response = case.call_and_validate(base_url=platform.url, excluded_checks=not_really_negative(case))
    assert response.status_code < 500
    ACCEPTED[operation] += response.status_code < 300


def test_every_declared_operation_is_fuzzed():
    operations = {f"{op.method.upper()} {op.path}" for op in (result.ok() for result in SCHEMA.get_all_operations())}
    declared = {f"{e.method} {e.openapi_path}" for e in api.endpoints}
    assert operations == declared and len(operations) >= 50


WRITES_WITH_BODIES = ["POST /api/v1/events", "POST /api/v1/events/{event_id}/registrations",
                      "POST /api/v1/membership-applications", "PATCH /api/v1/members/{slug}",
                      "POST /api/v1/practices", "POST /api/v1/competitions"]


def test_generated_bodies_got_past_validation():
    """Runs after the fuzzing above: each endpoint that creates or changes took generated bodies."""
    assert {operation: ACCEPTED[operation] for operation in WRITES_WITH_BODIES if ACCEPTED[operation] < 3} == {}
