"""A 2,000-recipient mailout survives a SIGKILL of notify: everyone gets one message, repeats stay in bound.

notify runs as its own `nameko run` process against the test vhost, a real SecantusDB and a
real aiosmtpd server; it is killed while sending and started again, and the mailout resumes
by itself. The README's bound: only messages in flight at the kill (accepted by the SMTP
server, not yet recorded as sent) may arrive twice, with the same Message-ID: at most
UNRECORDED_LIMIT (5) per killed notify process.
"""
import os
import signal
import subprocess
import uuid
from collections import Counter

import pytest
from nameko.standalone.rpc import ServiceRpcProxy

from nszm import addresses
from services.notify.service import UNRECORDED_LIMIT
from services.notify.storage import NotifyStore
from tests.conftest import BIN, ROOT
from tests.waiting import wait_until

RECIPIENTS = 2000
REPEATS_PER_KILL = UNRECORDED_LIMIT


def start_notify(env: dict, log) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "nameko"), "run", "--config", "deploy/nameko.yaml",
                             "services.notify.service:NotifyService"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)


@pytest.fixture
def subscribers(mongo_client, db_name) -> str:
    """RECIPIENTS confirmed newsletter subscribers at one mail domain of their own."""
    store = NotifyStore(mongo_client, db_name)
    store.ensure_indexes()
    mail_domain = f"{uuid.uuid4().hex[:8]}.example.cz"
    for n in range(RECIPIENTS):
        email = f"odberatel{n}@{mail_domain}"
        store.save_subscriber({"id": addresses.email_key(email), "email": email, "name": f"Odběratel {n}",
                               "status": "confirmed", "token_hash": None, "mailed_at": None,
                               "created_at": None, "confirmed_at": None,
                               "unsubscribed_at": None})
    return mail_domain


def test_a_killed_notify_resumes_the_mailout_and_repeats_nothing_beyond_the_bound(
        service_config, subprocess_env, smtp_sink, subscribers, tmp_path, mongo_client):
    env = {**subprocess_env, "AMQP_URI": service_config["AMQP_URI"], "MONGO_URI": service_config["MONGO_URI"],
           "MONGO_DB": service_config["MONGO_DB"], "SMTP_URL": smtp_sink.url, "MAILOUT_RATE": "0",
           "PUBLIC_URL": "https://api.example.cz"}
    log = open(tmp_path / "notify.log", "ab")
    notify = start_notify(env, log)
    try:
        with ServiceRpcProxy("notify", service_config, timeout=30) as proxy:
            wait_until(lambda: _answers(proxy), timeout=30, message="notify up")
            mailout = proxy.create_mailout({"subject": "Zpravodaj", "body": "Dobrý den, {{ name }}.",
                                            "audience": {"newsletter": True}})
            assert mailout["recipients"] == RECIPIENTS
            proxy.send_mailout(mailout["id"])
        wait_until(lambda: smtp_sink.count(subscribers) >= RECIPIENTS // 3, timeout=120, interval=0.05,
                   message="a third sent")
        os.killpg(notify.pid, signal.SIGKILL)
        notify.wait(timeout=10)
        at_kill = smtp_sink.count(subscribers)
        assert at_kill < RECIPIENTS, "the mailout finished before the kill; nothing was tested"

        notify = start_notify(env, log)  # nobody asks it to resume: it finds the mailout by itself
        store = NotifyStore(mongo_client, service_config["MONGO_DB"])
        wait_until(lambda: store.get_mailout(mailout["id"])["status"] == "sent", timeout=180, interval=0.5,
                   message="the mailout finished after the restart")
    finally:
        os.killpg(notify.pid, signal.SIGTERM)
        notify.wait(timeout=30)

    messages = smtp_sink.messages_to_domain(subscribers)
    per_id = Counter(m["Message-ID"] for m in messages)
    recipients_of = {m["Message-ID"]: m["To"].addresses[0].addr_spec for m in messages}
    assert len(per_id) == RECIPIENTS and len(set(recipients_of.values())) == RECIPIENTS
    repeats = sum(count - 1 for count in per_id.values())
    assert repeats <= REPEATS_PER_KILL, (repeats, at_kill)
    counts = store.recipient_counts(mailout["id"])
    assert counts == {"sent": RECIPIENTS}


def _answers(proxy) -> bool:
    try:
        return proxy.health()["service"] == "notify"
    except Exception:
        return False
