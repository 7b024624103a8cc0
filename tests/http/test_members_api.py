"""Every members endpoint over HTTP, with its error paths."""
import subprocess
import sys

import pytest

from tests import factories
from tests.conftest import ROOT
from tests.http.conftest import Client, issue_token

PROBLEM = "application/problem+json"


def join(staff: Client, public: Client, **overrides) -> dict:
    """A new member through the public application and staff approval."""
    receipt = public.post("/api/v1/membership-applications", json=factories.application(**overrides))
    assert receipt.status_code == 201, receipt.text
    approved = staff.post(f"/api/v1/membership-applications/{receipt.json()['id']}/approve")
    assert approved.status_code == 200, approved.text
    return approved.json()


def assert_problem(response, status: int, field: str | None = None):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"] and "detail" in body
    if field is not None:
        assert field in body["errors"], body
    return body


# -- the public directory -----------------------------------------------------------


def test_directory_is_in_czech_order_and_filters_combine(staff, public):
    word = factories.unique_word()
    for name, type_, region in [("Chrudim", "city", "Pardubický kraj"), ("Hodonín", "city", "Jihomoravský kraj"),
                                ("Cheb", "city", "Karlovarský kraj"), ("Česká Lípa", "city", "Liberecký kraj"),
                                ("Brdy", "mas", "Středočeský kraj")]:
        join(staff, public, name=f"{word} {name}", type=type_, region=region)
    listing = public.get("/api/v1/members", params={"q": word.upper()})
    assert listing.status_code == 200
    body = listing.json()
    assert [m["name"].split(" ", 1)[1] for m in body["items"]] == ["Brdy", "Česká Lípa", "Hodonín", "Cheb", "Chrudim"]
    assert body["total"] == 5 and body["page"] == 1 and body["per_page"] == 20
    item = body["items"][0]
    assert set(item) >= {"slug", "name", "type", "region", "population", "member_since", "website"}
    assert "contacts" not in item and "ico" not in item

    cities = public.get("/api/v1/members", params={"q": word, "type": "city", "region": "Liberecký kraj"}).json()
    assert [m["name"] for m in cities["items"]] == [f"{word} Česká Lípa"]
    page_two = public.get("/api/v1/members", params={"q": word, "per_page": 2, "page": 2}).json()
    assert [m["name"].split(" ", 1)[1] for m in page_two["items"]] == ["Hodonín", "Cheb"]


def test_search_ignores_diacritics_and_case(staff, public):
    word = factories.unique_word()
    join(staff, public, name=f"Žďár nad Sázavou {word}", region="Kraj Vysočina")
    found = public.get("/api/v1/members", params={"q": f"ZDAR NAD sazavou {word}"}).json()
    assert found["total"] == 1


@pytest.mark.parametrize("params, field", [
    ({"type": "town"}, "type"), ({"region": "Bavorsko"}, "region"), ({"per_page": "0"}, "per_page"),
    ({"per_page": "1000"}, "per_page"), ({"page": "abc"}, "page"), ({"q": "x" * 300}, "q"),
])
def test_directory_rejects_bad_filters(public, params, field):
    assert_problem(public.get("/api/v1/members", params=params), 422, field)


def test_unknown_query_parameters_are_ignored(public):
    assert public.get("/api/v1/members", params={"_": "12345"}).status_code == 200


def test_one_member_and_an_unknown_one(staff, public):
    member = join(staff, public)
    shown = public.get(f"/api/v1/members/{member['slug']}")
    assert shown.status_code == 200 and shown.json()["name"] == member["name"]
    assert "contacts" not in shown.json()
    assert_problem(public.get("/api/v1/members/no-such-member"), 404)


def test_stats_count_the_new_member(staff, public):
    before = public.get("/api/v1/members/stats").json()
    join(staff, public, type="mas", region="Zlínský kraj", population=5000)
    after = public.get("/api/v1/members/stats").json()
    assert after["total"] == before["total"] + 1
    assert after["by_type"].get("mas", 0) == before["by_type"].get("mas", 0) + 1
    assert after["by_region"]["Zlínský kraj"] == before["by_region"].get("Zlínský kraj", 0) + 1
    assert after["population_covered"] == before["population_covered"] + 5000


def test_code_lists(public):
    assert len(public.get("/api/v1/regions").json()) == 14
    assert {t["code"] for t in public.get("/api/v1/member-types").json()} == {
        "city", "city_district", "municipality", "region", "microregion", "mas"}


# -- applications -------------------------------------------------------------------


def test_application_is_pending_until_approved(staff, public):
    payload = factories.application()
    receipt = public.post("/api/v1/membership-applications", json=payload)
    assert receipt.status_code == 201
    assert receipt.json()["status"] == "pending" and receipt.json()["id"]
    shown = staff.get(f"/api/v1/membership-applications/{receipt.json()['id']}").json()
    assert shown["status"] == "pending" and shown["contact"]["email"] == payload["contact"]["email"]
    assert public.get("/api/v1/members", params={"q": payload["name"]}).json()["total"] == 0


@pytest.mark.parametrize("field, value", [
    ("ico", "70891509"), ("ico", "123"), ("ico", 70891508), ("type", "town"), ("region", "Bavorsko"),
    ("population", -5), ("population", "12000"), ("name", ""), ("name", {"$gt": ""}), ("ico", {"$ne": None}),
    ("website", "not a url"),
])
def test_an_invalid_field_is_named(public, field, value):
    assert_problem(public.post("/api/v1/membership-applications", json=factories.application(**{field: value})),
                   422, field)


@pytest.mark.parametrize("contact, field", [
    ({"name": "Jana", "email": "not-an-email"}, "contact.email"),
    ({"email": "jana@example.cz"}, "contact.name"),
    ({"name": "Jana", "email": {"$gt": ""}}, "contact.email"),
    ("Jana", "contact"),
])
def test_an_invalid_contact_is_named(public, contact, field):
    assert_problem(public.post("/api/v1/membership-applications", json=factories.application(contact=contact)),
                   422, field)


def test_missing_fields_and_unknown_fields_are_named(public):
    body = assert_problem(public.post("/api/v1/membership-applications", json={"name": "X", "role": "admin"}), 422)
    assert {"type", "region", "ico", "population", "contact", "role"} <= set(body["errors"])


def test_a_duplicate_ico_is_409(staff, public):
    payload = factories.application()
    assert public.post("/api/v1/membership-applications", json=payload).status_code == 201
    assert_problem(public.post("/api/v1/membership-applications", json={**payload, "name": "Jiné"}), 409)
    member = join(staff, public)
    detail = staff.get(f"/api/v1/members/{member['slug']}/detail").json()
    duplicate = factories.application(ico=detail["ico"])
    assert_problem(public.post("/api/v1/membership-applications", json=duplicate), 409)


def test_malformed_bodies_are_4xx(public):
    url = "/api/v1/membership-applications"
    assert_problem(public.post(url, data="{not json", headers={"Content-Type": "application/json"}), 400)
    assert_problem(public.post(url, data="name=x", headers={"Content-Type": "application/x-www-form-urlencoded"}), 415)
    assert_problem(public.post(url, json=["a", "list"]), 422, "_schema")
    assert_problem(public.post(url, json="a string"), 422)
    assert_problem(public.post(url, data=b"", headers={"Content-Type": "application/json"}), 400)
    huge = factories.application(name="x" * (300 * 1024))
    assert_problem(public.post(url, json=huge), 413)
    assert_problem(public.post(url, data=b"\xff\xfe", headers={"Content-Type": "application/json"}), 400)


def test_staff_see_and_filter_applications(staff, public):
    receipt = public.post("/api/v1/membership-applications", json=factories.application()).json()
    pending = staff.get("/api/v1/membership-applications", params={"status": "pending", "per_page": 100}).json()
    assert receipt["id"] in {a["id"] for a in pending["items"]}
    assert all(a["status"] == "pending" for a in pending["items"])
    assert_problem(staff.get("/api/v1/membership-applications", params={"status": "maybe"}), 422, "status")
    assert_problem(staff.get("/api/v1/membership-applications/unknown"), 404)


def test_approval_publishes_the_member_once(staff, public):
    receipt = public.post("/api/v1/membership-applications", json=factories.application(name="Hrádek nad Nisou")).json()
    approved = staff.post(f"/api/v1/membership-applications/{receipt['id']}/approve",
                          json={"member_since": "2027-01-01"})
    assert approved.status_code == 200
    member = approved.json()
    assert member["slug"].startswith("hradek-nad-nisou") and member["member_since"] == "2027-01-01"
    assert public.get(f"/api/v1/members/{member['slug']}").status_code == 200
    assert_problem(staff.post(f"/api/v1/membership-applications/{receipt['id']}/approve"), 409)
    assert_problem(staff.post(f"/api/v1/membership-applications/{receipt['id']}/reject", json={"reason": "x"}), 409)
    assert_problem(staff.post("/api/v1/membership-applications/unknown/approve"), 404)
    assert_problem(staff.post(f"/api/v1/membership-applications/{receipt['id']}/approve",
                              json={"member_since": "yesterday"}), 422, "member_since")


def test_rejection_needs_a_reason(staff, public):
    receipt = public.post("/api/v1/membership-applications", json=factories.application()).json()
    url = f"/api/v1/membership-applications/{receipt['id']}/reject"
    assert_problem(staff.post(url, json={}), 422, "reason")
    rejected = staff.post(url, json={"reason": "Obec už je členem přes svazek."})
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"


# -- staff changes to members ---------------------------------------------------------


def test_staff_update_a_member(staff, public):
    member = join(staff, public)
    url = f"/api/v1/members/{member['slug']}"
    changed = staff.patch(url, json={"population": 13000, "website": "https://www.example.cz",
                                     "contacts": [{"role": "politician", "name": "Petr Král", "email": "kral@example.cz"}]})
    assert changed.status_code == 200 and changed.json()["population"] == 13000
    assert public.get(url).json()["website"] == "https://www.example.cz"
    assert staff.get(url + "/detail").json()["contacts"][0]["name"] == "Petr Král"
    assert_problem(staff.patch(url, json={}), 422, "_schema")
    assert_problem(staff.patch(url, json={"population": "lots"}), 422, "population")
    assert_problem(staff.patch(url, json={"slug": "hijack"}), 422, "slug")
    assert_problem(staff.patch("/api/v1/members/unknown", json={"population": 1}), 404)


def test_a_member_leaves_once(staff, public):
    member = join(staff, public)
    url = f"/api/v1/members/{member['slug']}"
    left = staff.post(url + "/leave", json={"left_on": "2027-06-30", "reason": "rozhodnutí zastupitelstva"})
    assert left.status_code == 200 and left.json()["status"] == "left"
    assert_problem(public.get(url), 404)
    assert_problem(staff.post(url + "/leave"), 409)
    assert staff.get(url + "/detail").json()["left_on"] == "2027-06-30"
    assert_problem(staff.post("/api/v1/members/unknown/leave"), 404)


# -- who may do what ------------------------------------------------------------------



def assert_needs_role(platform, method: str, path: str, other_role: str):
    """401 without a (valid) bearer token, 403 with a token that has only `other_role`."""
    headers = {"Accept": "application/json"}
    anonymous = Client(platform.url).request(method, path, json={}, headers=headers)
    assert_problem(anonymous, 401)
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert_problem(Client(platform.url, "nszm_forged").request(method, path, json={}, headers=headers), 401)
    basic = {**headers, "Authorization": "Basic Zm9vOmJhcg=="}
    assert_problem(Client(platform.url).request(method, path, json={}, headers=basic), 401)
    _, other = issue_token(platform, other_role)
    assert_problem(Client(platform.url, other).request(method, path, json={}, headers=headers), 403)



def test_issued_tokens_work_until_revoked(platform, public):
    token_id, token = issue_token(platform, "members")
    client = Client(platform.url, token)
    assert client.get("/api/v1/membership-applications").status_code == 200
    revoked = subprocess.run([sys.executable, "-m", "gateway.tokens", "revoke", token_id], cwd=ROOT,
                             env=platform.env, capture_output=True, text=True)
    assert revoked.returncode == 0, revoked.stderr
    assert_problem(client.get("/api/v1/membership-applications"), 401)
    listed = subprocess.run([sys.executable, "-m", "gateway.tokens", "list"], cwd=ROOT, env=platform.env,
                            capture_output=True, text=True, check=True).stdout
    assert token_id in listed and token not in listed
