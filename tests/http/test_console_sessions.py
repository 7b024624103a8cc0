"""Console sessions kept on the server: the cookie is a random id the database does not hold; a
session ends at sign-out, when idle or old, and with its token (revoked or expired); failed
sign-ins from one address lock it out."""
import re
import subprocess
import sys
from datetime import timedelta

import pymongo
import requests

from nszm.storage import utcnow
from ops.loopback import SourceAddressAdapter, loopback_address
from tests.conftest import ROOT
from tests.http.conftest import STAFF_TOKEN, issue_token
from tests.http.test_console import signed_in

COOKIE = "nszm_console"


def database(platform):
    return pymongo.MongoClient(platform.env["MONGO_URI"])[platform.env["MONGO_DB"]]


def sessions(platform):
    return database(platform)["gateway.console_sessions"]


def works(platform, browser: requests.Session) -> bool:
    return browser.get(platform.url + "/staff/", allow_redirects=False).status_code == 200


def test_the_cookie_is_a_random_id_that_the_database_holds_only_hashed(platform):
    browser, _ = signed_in(platform)
    cookie = browser.cookies[COOKIE]
    assert len(cookie) >= 40 and "." not in cookie  # no signed payload, just an id
    stored = list(sessions(platform).find({"token_id": "bootstrap"}))
    assert stored and all(cookie not in str(record) for record in stored)
    assert all(STAFF_TOKEN not in str(record) for record in stored)
    forged = requests.Session()
    for record in stored:  # what a database reader sees does not open a session
        forged.cookies.set(COOKIE, record["_id"], path="/staff")
        assert not works(platform, forged)
    assert works(platform, browser)


def test_signing_out_ends_the_session_on_the_server(platform):
    browser, csrf = signed_in(platform)
    copied = requests.Session()
    copied.cookies.set(COOKIE, browser.cookies[COOKIE], path="/staff")
    assert works(platform, copied)
    browser.post(platform.url + "/staff/logout", data={"csrf": csrf})
    assert not works(platform, copied)  # a copy of the cookie taken before is worth nothing


def test_an_idle_or_old_session_ends(platform):
    idle, _ = signed_in(platform)
    old, _ = signed_in(platform)
    now = utcnow()
    by_cookie = {record["values"]["csrf"]: record["_id"] for record in sessions(platform).find()}
    assert works(platform, idle) and works(platform, old)
    idle_id = by_cookie[re.search(r'name="csrf" value="([^"]+)"', idle.get(platform.url + "/staff/").text).group(1)]
    old_id = by_cookie[re.search(r'name="csrf" value="([^"]+)"', old.get(platform.url + "/staff/").text).group(1)]
    # Time moved forward: 31 minutes without a request; 12 hours and a minute since sign-in.
    sessions(platform).update_one({"_id": idle_id}, {"$set": {"seen_at": now - timedelta(minutes=31)}})
    sessions(platform).update_one({"_id": old_id}, {"$set": {"expires_at": now - timedelta(minutes=1)}})
    assert not works(platform, idle) and not works(platform, old)


def test_a_revoked_or_expired_token_ends_its_sessions(platform):
    token_id, token = issue_token(platform, "events")
    first, _ = signed_in(platform, token)
    second, _ = signed_in(platform, token)
    subprocess.run([sys.executable, "-m", "gateway.tokens", "revoke", token_id], cwd=ROOT, env=platform.env,
                   check=True, capture_output=True)
    assert not works(platform, first) and not works(platform, second)

    output = subprocess.run([sys.executable, "-m", "gateway.tokens", "issue", "--name", "Dočasná", "--role", "events",
                             "--expires-in-days", "1"], cwd=ROOT, env=platform.env, check=True, capture_output=True,
                            text=True).stdout
    fields = dict(line.split(": ", 1) for line in output.splitlines() if ": " in line)
    browser, _ = signed_in(platform, fields["token"])
    api = requests.get(platform.url + "/api/v1/events/x/registrations",
                       headers={"Authorization": f"Bearer {fields['token']}"})
    assert api.status_code == 404  # the token is good: the event is unknown
    database(platform)["gateway.staff_tokens"].update_one(
        {"_id": fields["id"]}, {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}})  # its day is over
    assert not works(platform, browser)
    admin, _ = signed_in(platform)
    listed = admin.get(platform.url + "/staff/tokens").text
    assert re.search(rf"{fields['id']}</td>(?:(?!</tr>).)*vypršel", listed, re.S)  # within its own row
    assert requests.get(platform.url + "/api/v1/events/x/registrations",
                        headers={"Authorization": f"Bearer {fields['token']}"}).status_code == 401


def test_repeated_failed_sign_ins_lock_the_address_out(platform):
    attacker = requests.Session()
    attacker.mount("http://", SourceAddressAdapter(loopback_address(9000)))
    for attempt in range(10):
        answer = attacker.post(platform.url + "/staff/login", data={"token": f"nszm_guess{attempt}"})
        assert answer.status_code == 401
    locked = attacker.post(platform.url + "/staff/login", data={"token": STAFF_TOKEN})
    assert locked.status_code == 429 and "Příliš mnoho" in locked.text and COOKIE not in attacker.cookies
    assert works(platform, signed_in(platform)[0])  # from another address, staff still sign in


def test_a_mangled_csrf_value_or_stray_query_arguments_are_a_400_not_a_500(platform):
    browser, csrf = signed_in(platform)
    for sent in ("čeština-místo-tokenu", "\u2603" * 40, csrf + "é"):
        answer = browser.post(platform.url + "/staff/mailouts/new", data={"subject": "x", "csrf": sent})
        assert answer.status_code == 400, (sent, answer.status_code)
    for path in ("/staff/members?page=abc", "/staff/members?page=-1&per_page=x", "/staff/events?page=%FF",
                 "/staff/applications?status=%00", "/staff/mail?page=1e9"):
        answer = browser.get(platform.url + path)
        assert answer.status_code in (200, 400), (path, answer.status_code)
    answer = browser.post(platform.url + "/staff/logout?next=%FF&x=1", data={"csrf": csrf})
    assert answer.status_code == 200 and answer.url.endswith("/staff/login")
