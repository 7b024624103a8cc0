"""Problems as websites get them: Czech by default, English on request, a code for every field
message, and a page behind every problem type."""
import requests

from tests import factories
from tests.http.conftest import Client
from tests.http.test_members_api import assert_problem


def test_invalid_input_is_czech_with_a_code_for_each_message(public):
    answer = public.post("/api/v1/membership-applications",
                         json=factories.application(contact={"name": "", "email": "jana@"}, population=0, extra=1))
    assert answer.status_code == 422 and answer.headers["Content-Language"] == "cs"
    problem = answer.json()
    assert problem["title"] == "Neplatné údaje" and problem["detail"] == "Údaje nejsou platné."
    assert problem["errors"]["contact.email"] == ["Neplatná e-mailová adresa."]
    assert problem["codes"]["contact.email"] == ["invalid_email"]
    assert problem["codes"]["population"] == ["out_of_range"] and problem["codes"]["extra"] == ["unknown_field"]
    assert set(problem["codes"]) == set(problem["errors"])
    assert all(len(problem["codes"][field]) == len(problem["errors"][field]) for field in problem["errors"])


def test_english_when_the_client_asks_for_it(public):
    answer = public.post("/api/v1/membership-applications", headers={"Accept-Language": "en-GB,en;q=0.9"},
                         json=factories.application(contact={"name": "Jana", "email": "jana@"}))
    problem = answer.json()
    assert answer.headers["Content-Language"] == "en" and "Accept-Language" in answer.headers["Vary"]
    assert problem["title"] == "Invalid input" and problem["errors"]["contact.email"] == ["Not a valid email address."]
    assert problem["codes"]["contact.email"] == ["invalid_email"]


def test_staff_errors_are_czech_too(platform):
    problem = Client(platform.url).get("/api/v1/membership-applications").json()
    assert problem["status"] == 401 and problem["detail"].startswith("Je potřeba token pracovníka")


def test_every_problem_type_leads_to_a_page_that_explains_it(platform, public):
    problem = public.post("/api/v1/membership-applications", json={}).json()
    page = requests.get(problem["type"], timeout=10)
    assert page.status_code == 200 and "Neplatné údaje" in page.text and 'lang="cs"' in page.text
    for kind in ("not-found", "conflict", "rate-limited", "unauthorized", "forbidden", "service-unavailable",
                 "bad-request", "unsupported-media-type", "payload-too-large", "method-not-allowed", "internal-error"):
        assert requests.get(f"{platform.url}/problems/{kind}", timeout=10).status_code == 200, kind
    assert requests.get(f"{platform.url}/problems/neco-jineho", timeout=10).status_code == 404


def test_a_query_parameter_given_twice_is_refused_not_read_as_its_first_value(public):
    answer = public.get("/api/v1/members", params=[("page", "1"), ("page", "2")])
    problem = assert_problem(answer, 422, "page")
    assert problem["errors"]["page"] == ["Tento parametr uveďte jen jednou."]
    assert problem["codes"]["page"] == ["repeated_parameter"]
    assert public.get("/api/v1/members", params={"page": "1"}).status_code == 200
