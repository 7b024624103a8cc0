"""The audit log over HTTP: staff actions through the API and the console, attributed to the
token's holder, merged from every service and the gateway, for admins only."""
import subprocess
import sys
import uuid

from tests import factories
from tests.conftest import ROOT
from tests.http.conftest import Client
from tests.http.test_members_api import assert_problem


def named_token(platform, name: str, *roles: str) -> tuple[str, str]:
    args = [sys.executable, "-m", "gateway.tokens", "issue", "--name", name]
    for role in roles:
        args += ["--role", role]
    output = subprocess.run(args, cwd=ROOT, env=platform.env, check=True, capture_output=True, text=True).stdout
    fields = dict(line.split(": ", 1) for line in output.splitlines() if ": " in line)
    return fields["id"], fields["token"]


def test_staff_actions_are_attributed_to_the_tokens_holder(platform, public, staff):
    name = f"Jana Nováková {uuid.uuid4().hex[:6]}"
    token_id, token = named_token(platform, name, "members")
    jana = Client(platform.url, token)
    receipt = public.post("/api/v1/membership-applications", json=factories.application()).json()
    member = jana.post(f"/api/v1/membership-applications/{receipt['id']}/approve", json={}).json()
    assert_problem(jana.post(f"/api/v1/membership-applications/{receipt['id']}/approve", json={}), 409)
    assert jana.patch(f"/api/v1/members/{member['slug']}", json={"population": 4321}).status_code == 200

    assert_problem(jana.get("/api/v1/audit"), 403)
    assert_problem(public.get("/api/v1/audit"), 401)
    log = staff.get("/api/v1/audit", params={"actor": name}).json()
    assert [(e["action"], e["target"], e["status"], e["token"], e["service"]) for e in log["items"]] == [
        ("update_member", member["slug"], "done", token_id, "members"),
        ("approve_application", receipt["id"], "refused", token_id, "members"),
        ("approve_application", receipt["id"], "done", token_id, "members"),
    ]
    assert log["total"] == 3 and all(e["actor"] == name for e in log["items"])
    only = staff.get("/api/v1/audit", params={"actor": name, "action": "update_member"}).json()
    assert only["total"] == 1 and only["items"][0]["action"] == "update_member"


def test_the_gateways_own_actions_are_in_the_log(platform, staff):
    admin = Client(platform.url, named_token(platform, f"Admin {uuid.uuid4().hex[:6]}", "admin")[1])
    replayed = admin.post("/api/v1/dead-letters/replay", json={})
    assert replayed.status_code == 200
    entries = staff.get("/api/v1/audit", params={"action": "replay_dead_letters"}).json()["items"]
    assert entries[0]["actor"].startswith("Admin ") and entries[0]["status"] == "done"
