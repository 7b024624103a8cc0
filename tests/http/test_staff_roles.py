"""Who may call each staff endpoint, for every route the OpenAPI document declares as secured.

The routes and their roles are read from the `security` and `x-staff-role` declarations of
the gateway's OpenAPI document, never from a hand-written list: a new staff route is covered
the day it is declared. The right role (and `admin`) is let through; every other role is 403.
"""
import re

import pytest

from gateway.app import api
from gateway.auth import ROLES
from tests.http.conftest import Client, issue_token
from tests.http.test_members_api import assert_problem

PLACEHOLDER = "zz-unknown"
DOCUMENT = api.openapi("http://gateway.test")
STAFF_OPERATIONS = sorted(
    (method.upper(), path, operation["x-staff-role"])
    for path, operations in DOCUMENT["paths"].items()
    for method, operation in operations.items()
    if operation.get("security")
)


@pytest.fixture(scope="module")
def tokens(platform) -> dict[str, str]:
    return {role: issue_token(platform, role)[1] for role in ROLES}


def call(platform, token, method, path):
    url = re.sub(r"\{[a-z_]+\}", PLACEHOLDER, path)
    return Client(platform.url, token).request(method, url, json={}, headers={"Accept": "application/json"})


def test_the_served_document_declares_the_same_staff_routes(public):
    served = public.get("/openapi.json").json()
    declared = sorted((method.upper(), path, operation.get("x-staff-role"))
                      for path, operations in served["paths"].items() for method, operation in operations.items()
                      if operation.get("security"))
    assert declared == STAFF_OPERATIONS
    assert len(STAFF_OPERATIONS) >= 20 and all(role in ROLES for _, _, role in STAFF_OPERATIONS)


@pytest.mark.parametrize("method, path, role", STAFF_OPERATIONS, ids=[f"{m} {p}" for m, p, _ in STAFF_OPERATIONS])
def test_only_the_declared_role_and_admin_are_let_through(platform, tokens, method, path, role):
    anonymous = call(platform, None, method, path)
    assert_problem(anonymous, 401)
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert_problem(call(platform, "nszm_forged", method, path), 401)
    for holder, token in tokens.items():
        response = call(platform, token, method, path)
        if holder in (role, "admin"):
            assert response.status_code not in (401, 403) and response.status_code < 500, (holder, response.text)
        else:
            assert_problem(response, 403)
