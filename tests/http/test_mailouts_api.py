"""Mailouts, the newsletter and unsubscribing over HTTP, delivered to a real SMTP server."""
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import urlparse

import pytest
import requests

from tests import bounce_samples, factories
from tests.http import test_events_api as events_api
from tests.http.conftest import Client, issue_token
from tests.http.test_members_api import assert_problem, join
from tests.waiting import wait_until

BODY = """Dobrý den, {{ name }},

zveme **{{ organization }}** na jarní Školu Zdravých měst.

Odhlásit se můžete zde: {{ unsubscribe_url }}
"""


def mail_domain() -> str:
    return f"{uuid.uuid4().hex[:8]}.example.cz"


def registered_event(staff, public, addresses, capacity=50) -> dict:
    event = events_api.published(staff, capacities=(capacity,))
    for address in addresses:
        assert events_api.register(public, event, address).status_code == 201
    return event


def mailout(staff, audience, body=BODY, **fields) -> dict:
    created = staff.post("/api/v1/mailouts", json={"subject": "Pozvánka pro {{ organization }}", "body": body,
                                                   "audience": audience, **fields})
    assert created.status_code == 201, created.text
    return created.json()


def sent(staff, mailout_id, timeout=60) -> dict:
    return wait_until(lambda: (m := staff.get(f"/api/v1/mailouts/{mailout_id}").json())["status"] == "sent" and m,
                      timeout=timeout, interval=0.2, message="the mailout sent")


def test_a_mailout_reaches_each_participant_once_with_one_click_unsubscribe(staff, public, smtp_sink):
    domain = mail_domain()
    people = [f"ucastnik{n}@{domain}" for n in range(6)]
    event = registered_event(staff, public, people)
    draft = mailout(staff, {"event": {"id": event["id"], "status": ["confirmed"]}})
    assert (draft["status"], draft["recipients"], draft["sent"]) == ("draft", 6, 0)

    assert staff.post(f"/api/v1/mailouts/{draft['id']}/send").status_code == 202
    assert_problem(staff.post(f"/api/v1/mailouts/{draft['id']}/send"), 409)
    done = sent(staff, draft["id"])
    assert (done["total"], done["sent"], done["failed"], done["skipped"], done["queued"]) == (6, 6, 0, 0, 0)

    bulk = [m for m in smtp_sink.messages_to_domain(domain) if m["List-Unsubscribe"]]
    assert sorted(m["To"].addresses[0].addr_spec for m in bulk) == sorted(people)
    assert len({m["Message-ID"] for m in bulk}) == 6
    message = bulk[0]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Subject"] == "Pozvánka pro Město Chrudim"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Dobrý den, Jana Nováková," in text and "<strong>Město Chrudim</strong>" in html
    unsubscribe_url = message["List-Unsubscribe"].strip("<>")
    assert unsubscribe_url in text and urlparse(unsubscribe_url).path == "/api/v1/unsubscribe"

    page = requests.get(unsubscribe_url, timeout=10)  # what a mail scanner does: nothing changes
    assert page.status_code == 200 and "Odhlásit se" in page.text
    one_click = requests.post(unsubscribe_url, timeout=10)  # RFC 8058: a bare POST
    assert one_click.status_code == 200 and one_click.json() == {"status": "unsubscribed"}
    gone = message["To"].addresses[0].addr_spec

    again = mailout(staff, {"event": {"id": event["id"]}})
    assert again["recipients"] == 5
    staff.post(f"/api/v1/mailouts/{again['id']}/send")
    second = sent(staff, again["id"])
    assert (second["sent"], second["skipped"]) == (5, 1)
    to_gone = [m for m in smtp_sink.messages(to=gone) if m["List-Unsubscribe"]]
    assert len(to_gone) == 1  # only the mailout before unsubscribing
    skipped = staff.get(f"/api/v1/mailouts/{again['id']}/recipients", params={"status": "skipped"}).json()
    assert [r["email"] for r in skipped["items"]] == [gone]

    later = events_api.published(staff)  # transactional mail still reaches the address
    assert events_api.register(public, later, gone).status_code == 201
    wait_until(lambda: any(m["Subject"].startswith("Potvrzení registrace") for m in smtp_sink.messages(to=gone)),
               message="the registration mail after unsubscribing")


def test_members_and_newsletter_audiences_are_a_union_by_address(staff, public, smtp_sink, platform):
    domain = mail_domain()
    region = "Karlovarský kraj"
    coordinators = [join(staff, public, type="mas", region=region,
                         contact={"name": f"Koordinátor {n}", "email": f"koordinator{n}@{domain}"})
                    for n in range(3)]
    subscriber = f"Koordinator0@{domain}"  # the same mailbox as a coordinator, other case
    assert public.post("/api/v1/newsletter/subscriptions", json={"email": subscriber}).status_code == 202
    [confirmation] = wait_until(lambda: smtp_sink.messages(to=subscriber.lower()), message="the confirmation")
    link = next(w for w in confirmation.get_body(("plain",)).get_content().split() if "/newsletter/confirm" in w)
    assert "Potvrdit odběr" in requests.get(link, timeout=10).text
    assert requests.post(link, timeout=10).json() == {"status": "subscribed"}
    assert_problem(requests.post(link, timeout=10), 404)  # single use
    assert public.post("/api/v1/newsletter/subscriptions", json={"email": subscriber}).status_code == 202

    audience = {"members": {"type": ["mas"], "region": [region]}, "newsletter": True}
    count = staff.post("/api/v1/mailouts/audience-count", json=audience).json()
    draft = mailout(staff, audience)
    assert draft["recipients"] == count["recipients"] >= 3
    preview = staff.get(f"/api/v1/mailouts/{draft['id']}/preview",
                        params={"email": f"koordinator1@{domain}"}).json()
    assert preview["subject"] == f"Pozvánka pro {coordinators[1]['name']}"
    assert "Koordinátor 1" in preview["text"] and preview["headers"]["List-Unsubscribe-Post"]
    assert_problem(staff.get(f"/api/v1/mailouts/{draft['id']}/preview", params={"email": "nikdo@example.cz"}), 404)

    staff.post(f"/api/v1/mailouts/{draft['id']}/send")
    sent(staff, draft["id"])
    bulk = [m for m in smtp_sink.messages_to_domain(domain) if m["List-Unsubscribe"]]
    assert sorted(m["To"].addresses[0].addr_spec.lower() for m in bulk) == [
        f"koordinator{n}@{domain}" for n in range(3)]
    assert len(smtp_sink.messages(to=subscriber.lower())) == 2  # one confirmation, one mailout: never two copies


def test_test_send_schedule_pause_resume_and_cancel(staff, public, smtp_sink):
    domain = mail_domain()
    event = registered_event(staff, public, [f"host{n}@{domain}" for n in range(3)])
    draft = mailout(staff, {"event": {"id": event["id"]}})
    staff_address = f"redakce@{domain}"
    tested = staff.post(f"/api/v1/mailouts/{draft['id']}/test", json={"email": staff_address})
    assert tested.status_code == 202, tested.text
    [copy] = wait_until(lambda: smtp_sink.messages(to=staff_address), message="the test copy")
    assert copy["Subject"].startswith("[TEST] Pozvánka pro")

    at = datetime.now(timezone.utc) + timedelta(hours=1)
    scheduled = staff.post(f"/api/v1/mailouts/{draft['id']}/send", json={"at": at.isoformat()})
    assert scheduled.status_code == 202 and scheduled.json()["status"] == "scheduled"
    assert staff.post(f"/api/v1/mailouts/{draft['id']}/pause").json()["status"] == "paused"
    assert_problem(staff.post(f"/api/v1/mailouts/{draft['id']}/pause"), 409)
    assert staff.post(f"/api/v1/mailouts/{draft['id']}/resume").json()["status"] == "scheduled"
    assert staff.post(f"/api/v1/mailouts/{draft['id']}/cancel").json()["status"] == "cancelled"
    assert_problem(staff.post(f"/api/v1/mailouts/{draft['id']}/resume"), 409)
    assert_problem(staff.post(f"/api/v1/mailouts/{draft['id']}/send"), 409)
    bulk = [m for m in smtp_sink.messages_to_domain(domain) if m["List-Unsubscribe"]]
    assert [m["To"].addresses[0].addr_spec for m in bulk] == [staff_address]  # the cancelled one sent nothing

    soon = mailout(staff, {"event": {"id": event["id"]}})
    at = datetime.now(timezone.utc) + timedelta(seconds=2)
    assert staff.post(f"/api/v1/mailouts/{soon['id']}/send", json={"at": at.isoformat()}).json()["status"] == \
        "scheduled"
    assert sent(staff, soon["id"])["sent"] == 3
    listed = staff.get("/api/v1/mailouts", params={"status": "cancelled"}).json()
    assert draft["id"] in [m["id"] for m in listed["items"]]


@pytest.mark.parametrize("body, code, czech, english", [
    ("Dobrý den, {{ name }", "template_error", "Chyba šablony na řádku 1", "Template error on line 1"),
    ("{{ ''.__class__ }}", "template_not_allowed", "„Getattr“ není povoleno", "'Getattr' is not allowed"),
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "template_not_allowed", "není povoleno", "is not allowed"),
    ("Dobrý den, {{ jmeno }}", "unknown_placeholder", "Neznámá zástupná značka „jmeno“", "Unknown placeholder"),
    ("{% for x in range(100000) %}{% for y in range(100000) %}x{% endfor %}{% endfor %}", "template_not_allowed",
     "„For“ není povoleno", "'For' is not allowed"),
])
def test_a_broken_or_unsafe_template_is_a_422_naming_body(staff, body, code, czech, english):
    draft = {"subject": "Pozvánka", "body": body, "audience": {"newsletter": True}}
    problem = assert_problem(staff.post("/api/v1/mailouts", json=draft), 422, "body")
    assert czech in problem["errors"]["body"][0] and problem["codes"]["body"] == [code]
    in_english = staff.post("/api/v1/mailouts", json=draft, headers={"Accept-Language": "en"}).json()
    assert english in in_english["errors"]["body"][0] and in_english["codes"]["body"] == [code]


def test_mailout_input_errors(staff, public):
    valid = {"subject": "Pozvánka", "body": "Dobrý den", "audience": {"members": {}}}
    assert_problem(staff.post("/api/v1/mailouts", json={**valid, "audience": {}}), 422, "audience")
    assert_problem(staff.post("/api/v1/mailouts", json={**valid, "audience": {"newsletter": False}}), 422,
                   "audience")
    nobody = registered_event(staff, public, [])
    assert_problem(staff.post("/api/v1/mailouts", json={**valid, "audience": {"event": {"id": nobody["id"]}}}),
                   409)  # valid, but nobody is registered yet
    assert_problem(staff.post("/api/v1/mailouts", json={**valid, "audience": {"event": {"id": "zadna"}}}),
                   422, "audience.event.id")
    assert_problem(staff.post("/api/v1/mailouts", json={**valid, "subject": "{{ name"}), 422, "subject")
    assert_problem(staff.post("/api/v1/mailouts", json={**valid, "audience": {"members": {"region": ["Morava"]}}}),
                   422, "audience.members.region.0")
    assert_problem(staff.post("/api/v1/mailouts", json={**valid, "format": "html"}), 422, "format")
    for method, path in [("GET", ""), ("PUT", ""), ("GET", "/recipients"), ("GET", "/preview?email=a@b.cz"),
                         ("POST", "/test"), ("POST", "/send"), ("POST", "/pause"), ("POST", "/resume"),
                         ("POST", "/cancel")]:
        body = {"/test": {"email": "a@example.cz"}, "": valid}.get(path, {})
        assert_problem(staff.request(method, f"/api/v1/mailouts/nenalezeno{path}", json=body), 404)
    join(staff, public)
    draft = mailout(staff, {"members": {}})
    changed = staff.put(f"/api/v1/mailouts/{draft['id']}", json={**valid, "subject": "Nový předmět"})
    assert changed.status_code == 200 and changed.json()["subject"] == "Nový předmět"
    staff.post(f"/api/v1/mailouts/{draft['id']}/cancel")
    assert_problem(staff.put(f"/api/v1/mailouts/{draft['id']}", json=valid), 409)


def test_newsletter_and_unsubscribe_errors(public, platform):
    assert_problem(public.post("/api/v1/newsletter/subscriptions", json={"email": "neni-adresa"}), 422, "email")
    assert_problem(public.post("/api/v1/newsletter/subscriptions", json={}), 422, "email")
    assert_problem(public.post("/api/v1/newsletter/confirm", params={"token": "uhodnuty"}), 404)
    assert_problem(public.post("/api/v1/unsubscribe", params={"token": "uhodnuty"}), 404)
    assert_problem(public.post("/api/v1/unsubscribe"), 404)
    refused = Client(platform.url).post("/api/v1/unsubscribe", params={"token": "x"}, headers={"Accept": "text/html"})
    assert refused.status_code == 404 and "Odhlášení se nepodařilo" in refused.text
    for address in ("nova@example.cz", factories.unique_word() + "@example.cz"):
        answer = public.post("/api/v1/newsletter/subscriptions", json={"email": address, "name": "Nová"})
        assert (answer.status_code, answer.json()) == (202, {"status": "confirmation_sent"})


def test_a_permanent_refusal_fails_that_recipient_and_holds_the_address(staff, public, smtp_sink):
    domain = mail_domain()
    region = "Zlínský kraj"
    refused = f"nikdo+reject@{domain}"
    join(staff, public, type="microregion", region=region, contact={"name": "Nikdo", "email": refused})
    join(staff, public, type="microregion", region=region, contact={"name": "Někdo", "email": f"nekdo@{domain}"})
    audience = {"members": {"type": ["microregion"], "region": [region]}}
    first = mailout(staff, audience)
    staff.post(f"/api/v1/mailouts/{first['id']}/send")
    done = sent(staff, first["id"])
    assert done["failed"] == 1 and done["sent"] == done["total"] - 1
    [failure] = staff.get(f"/api/v1/mailouts/{first['id']}/recipients", params={"status": "failed"}).json()["items"]
    assert failure["email"] == refused and "550" in failure["last_error"] and failure["attempts"] == 1
    assert staff.post("/api/v1/mailouts/audience-count", json=audience).json()["held"] >= 1
    second = mailout(staff, audience)
    staff.post(f"/api/v1/mailouts/{second['id']}/send")
    assert sent(staff, second["id"])["skipped"] >= 1
    skipped = staff.get(f"/api/v1/mailouts/{second['id']}/recipients", params={"status": "skipped"}).json()
    assert refused in [r["email"] for r in skipped["items"]]


def test_bounces_come_by_webhook_fill_the_suppression_list_and_staff_see_search_and_lift_it(
        platform, staff, public, smtp_sink):
    domain = mail_domain()
    region = "Olomoucký kraj"
    dead, alive = f"zruseno@{domain}", f"ziva@{domain}"
    slug = join(staff, public, type="city", region=region, contact={"name": "Zrušená", "email": dead})["slug"]
    join(staff, public, type="city", region=region, contact={"name": "Živá", "email": alive})
    audience = {"members": {"type": ["city"], "region": [region]}}
    first = mailout(staff, audience)
    staff.post(f"/api/v1/mailouts/{first['id']}/send")
    sent(staff, first["id"])
    [message] = smtp_sink.messages(dead)
    token = message["X-Bounce-Token"]
    assert message["Return-Path"] == f"<bounces+{token}@zdravamesta.cz>"

    _, hook_token = issue_token(platform, "bounces")
    raw = bounce_samples.sample("postfix-user-unknown", token, dead, message["Message-ID"])
    assert_problem(Client(platform.url).post("/api/v1/bounces/message", data=raw,
                                             headers={"Content-Type": "message/rfc822"}), 401)
    assert_problem(Client(platform.url, hook_token).post("/api/v1/bounces/message", data=raw,
                                                         headers={"Content-Type": "text/plain"}), 415)
    as_basic = requests.post(f"{platform.url}/api/v1/bounces/message", data=raw, auth=("poskytovatel", hook_token),
                             headers={"Content-Type": "message/rfc822"}, timeout=10)
    assert (as_basic.status_code, as_basic.json()) == (200, {"outcome": "recorded"})
    hook = Client(platform.url, hook_token)
    assert hook.post("/api/v1/bounces/message", data=raw, headers={"Content-Type": "message/rfc822"}).json() == {
        "outcome": "duplicate"}
    assert hook.post("/api/v1/bounces", json={"message": bounce_samples.sample("vacation-reply").decode()}).json() == {
        "outcome": "ignored"}
    assert_problem(hook.post("/api/v1/bounces", json={"type": "bounce"}), 422, "email")
    assert_problem(hook.get("/api/v1/suppressions"), 403)  # the webhook's token does nothing else

    listed = staff.get("/api/v1/suppressions", params={"q": domain}).json()
    assert [(s["email"], s["reason"]) for s in listed["items"]] == [(dead, "bounced")]
    assert "User unknown" in listed["items"][0]["detail"]
    log = staff.get(f"/api/v1/mailouts/{first['id']}/recipients", params={"status": "bounced"}).json()["items"]
    assert [(r["email"], r["bounce"]["status"]) for r in log] == [(dead, "5.1.1")]
    assert staff.get(f"/api/v1/mailouts/{first['id']}").json()["bounced"] == 1
    csv = staff.get(f"/api/v1/mailouts/{first['id']}/recipients.csv")
    assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv")
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("e-mail;jméno;organizace;stav")
    assert any(line.startswith(f"{dead};") and ";bounced;" in line and "5.1.1" in line for line in lines)

    second = mailout(staff, audience)
    staff.post(f"/api/v1/mailouts/{second['id']}/send")
    done = sent(staff, second["id"])
    assert done["skipped"] == 1 and len(smtp_sink.messages(dead)) == 1
    [skipped] = staff.get(f"/api/v1/mailouts/{second['id']}/recipients", params={"status": "skipped"}).json()["items"]
    assert (skipped["email"], skipped["skip_reason"]) == (dead, "bounced")

    lifted = staff.post("/api/v1/suppressions/lift", json={"email": dead})
    assert lifted.status_code == 200 and lifted.json()["lifted"]
    assert_problem(staff.post("/api/v1/suppressions/lift", json={"email": dead}), 409)
    assert staff.get("/api/v1/suppressions", params={"q": domain}).json()["total"] == 0
    audited = staff.get("/api/v1/audit", params={"action": "lift_suppression"}).json()["items"][:2]
    assert [entry["status"] for entry in audited] == ["refused", "done"]  # newest first
    member_page = staff.get(f"/api/v1/members/{slug}/detail").json()
    assert member_page["contacts"][0]["email"] == dead


def mailout_to_two(staff, public, member_type: str, region: str, special: tuple[str, str]):
    """Two new members of one type and region, one with a mailbox the SMTP sink treats specially
    (`special`: the contact's name and the address's local part); their addresses and a draft
    mailout to both."""
    domain = mail_domain()
    name, local_part = special
    odd, fine = f"{local_part}@{domain}", f"ok@{domain}"
    join(staff, public, type=member_type, region=region, contact={"name": "Ok", "email": fine})
    join(staff, public, type=member_type, region=region, contact={"name": name, "email": odd})
    return odd, fine, mailout(staff, {"members": {"type": [member_type], "region": [region]}})


def test_a_failed_recipient_sent_again_gets_the_message_and_nobody_else_gets_a_second(staff, public, smtp_sink):
    full, fine, first = mailout_to_two(staff, public, "microregion", "Zlínský kraj", ("Plná", "plna+full-once"))
    staff.post(f"/api/v1/mailouts/{first['id']}/send")
    done = sent(staff, first["id"])
    assert done["failed"] == 1  # the mailbox was full: failed, not suppressed
    [failed] = staff.get(f"/api/v1/mailouts/{first['id']}/recipients", params={"status": "failed"}).json()["items"]
    assert failed["email"] == full and "552" in failed["last_error"]
    assert staff.get("/api/v1/suppressions", params={"q": full}).json()["total"] == 0
    assert smtp_sink.messages(full) == []

    assert staff.post(f"/api/v1/mailouts/{first['id']}/retry-failed").status_code == 202
    again = sent(staff, first["id"])
    assert (again["sent"], again["failed"], again["skipped"]) == (done["sent"] + 1, 0, done["skipped"])
    [arrived] = smtp_sink.messages(full)
    assert arrived["Subject"].startswith("Pozvánka pro") and arrived["List-Unsubscribe"]
    assert len(smtp_sink.messages(fine)) == 1  # the others are not sent again


def test_only_the_failed_recipients_are_sent_again(staff, public, smtp_sink):
    region = "Karlovarský kraj"
    fixed, fine, first = mailout_to_two(staff, public, "mas", region, ("Opraveno", "opraveno+refuse-once"))
    assert assert_problem(staff.post(f"/api/v1/mailouts/{first['id']}/retry-failed"), 409)["code"] == "not_sent"
    staff.post(f"/api/v1/mailouts/{first['id']}/send")
    done = sent(staff, first["id"])
    assert done["failed"] == 1 and done["sent"] == done["total"] - 1  # refused for good (550): failed, suppressed
    assert staff.get("/api/v1/suppressions", params={"q": fixed}).json()["items"][0]["reason"] == "bounced"

    assert staff.post(f"/api/v1/mailouts/{first['id']}/retry-failed").status_code == 202
    again = sent(staff, first["id"])
    assert (again["sent"], again["failed"], again["skipped"]) == (done["sent"], 0, done["skipped"] + 1)
    assert_problem(staff.post(f"/api/v1/mailouts/{first['id']}/retry-failed"), 409)

    second = mailout(staff, {"members": {"type": ["mas"], "region": [region]}})
    staff.post("/api/v1/suppressions/lift", json={"email": fixed})  # the owner fixed the mailbox
    staff.post(f"/api/v1/mailouts/{second['id']}/send")
    finished = sent(staff, second["id"])
    assert finished["sent"] == finished["total"]
    assert len(smtp_sink.messages(fine)) == 2 and len(smtp_sink.messages(fixed)) == 1
