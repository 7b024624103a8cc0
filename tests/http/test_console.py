"""The staff console over HTTP: sign-in, the session cookie, CSRF, roles, and a mailout sent from it."""
import re
import uuid

import requests

from tests.http import test_events_api as events_api
from tests.http.conftest import STAFF_TOKEN, issue_token
from tests.waiting import wait_until


def signed_in(platform, token=STAFF_TOKEN) -> tuple[requests.Session, str]:
    browser = requests.Session()
    answer = browser.post(platform.url + "/staff/login", data={"token": token})
    assert answer.status_code == 200 and answer.url.endswith("/staff/"), answer.text
    return browser, re.search(r'name="csrf" value="([^"]+)"', answer.text).group(1)


def test_sign_in_sets_a_strict_http_only_cookie_and_refuses_bad_tokens(platform):
    assert requests.get(platform.url + "/staff/", allow_redirects=False).headers["Location"].startswith(
        "/staff/login")
    refused = requests.post(platform.url + "/staff/login", data={"token": "nszm_uhodnuty"})
    assert refused.status_code == 401 and "není platný" in refused.text
    answer = requests.post(platform.url + "/staff/login", data={"token": STAFF_TOKEN}, allow_redirects=False)
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/staff" in cookie
    assert STAFF_TOKEN not in cookie
    page = requests.get(platform.url + "/staff/", cookies=answer.cookies)
    assert "Přehled" in page.text and page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]  # the console's own, not the pages'


def test_forms_without_the_session_csrf_token_are_refused(platform):
    browser, csrf = signed_in(platform)
    assert browser.post(platform.url + "/staff/mailouts/new", data={"subject": "x"}).status_code == 400
    assert browser.post(platform.url + "/staff/mailouts/new",
                        data={"subject": "x", "csrf": "podvrzeny"}).status_code == 400
    assert browser.post(platform.url + "/staff/logout", data={"csrf": csrf}).url.endswith("/staff/login")
    assert browser.get(platform.url + "/staff/mailouts", allow_redirects=False).status_code == 302


def test_pages_follow_the_token_roles_and_revocation(platform):
    token_id, events_only = issue_token(platform, "events")
    browser, _ = signed_in(platform, events_only)
    assert "Hromadné e-maily" not in browser.get(platform.url + "/staff/").text
    assert browser.get(platform.url + "/staff/mailouts").status_code == 403
    import subprocess
    import sys

    from tests.conftest import ROOT
    subprocess.run([sys.executable, "-m", "gateway.tokens", "revoke", token_id], cwd=ROOT, env=platform.env,
                   check=True, capture_output=True)
    assert browser.get(platform.url + "/staff/", allow_redirects=False).status_code == 302


def test_compose_count_send_and_watch_progress_from_the_console(platform, staff, public, smtp_sink):
    domain = f"{uuid.uuid4().hex[:8]}.example.cz"
    event = events_api.published(staff)
    for n in range(3):
        events_api.register(public, event, f"host{n}@{domain}")
    browser, csrf = signed_in(platform)
    form = browser.get(platform.url + "/staff/mailouts/new").text
    assert event["title"] in form
    count = browser.post(platform.url + "/staff/mailouts/count", data={"event": event["id"]},
                         headers={"X-CSRF-Token": csrf})
    assert count.json() == {"recipients": 3, "held": 0}
    broken = browser.post(platform.url + "/staff/mailouts/new", data={
        "csrf": csrf, "subject": "Pozvánka", "body": "{{ ''.__class__ }}", "event": event["id"]})
    assert broken.status_code == 422 and "body:" in broken.text
    created = browser.post(platform.url + "/staff/mailouts/new", data={
        "csrf": csrf, "subject": "Pozvánka", "body": "Dobrý den, {{ name }}.", "format": "markdown",
        "event": event["id"], "status": ["confirmed"]})
    assert created.status_code == 200 and "/staff/mailouts/" in created.url
    mailout_id = created.url.rsplit("/", 1)[-1]
    preview = browser.get(created.url, params={"email": f"host1@{domain}"})
    assert "Dobrý den, Jana Nováková." in preview.text
    browser.post(f"{created.url}/send", data={"csrf": csrf})
    final = wait_until(lambda: (m := browser.get(f"{created.url}/progress").json())["status"] == "sent" and m,
                       timeout=60, interval=0.3, message="sent from the console")
    assert (final["sent"], final["total"]) == (3, 3) and final["id"] == mailout_id
    again = browser.post(f"{created.url}/send", data={"csrf": csrf})
    assert "odeslat ho lze jen jednou" in again.text
    assert len([m for m in smtp_sink.messages_to_domain(domain) if m["List-Unsubscribe"]]) == 3
    page = browser.get(created.url, params={"status": "sent"})
    assert page.text.count(f"@{domain}</td>") == 3 and 'id="recipients"' in page.text
