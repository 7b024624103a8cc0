"""A mailout survives a SIGKILL of notify, and its database going away: everyone gets one message,
and repeats stay within the README's bound.

notify runs as its own `nameko run` process against the test vhost, a real SecantusDB and a
real aiosmtpd server; nobody tells it to resume. The bound: only messages in flight at the
fault (accepted by the SMTP server, not yet recorded as sent) may arrive twice, with the same
Message-ID: at most UNRECORDED_LIMIT (5) per fault.
"""
import os
import signal
import subprocess
import uuid
from collections import Counter

import pytest
from nameko.standalone.rpc import ServiceRpcProxy

from nszm import addresses
from nszm.entrypoints import staff_context
from nszm.storage import connect, to_document
from ops import embedded
from services.notify.mailouts.service import UNRECORDED_LIMIT
from services.notify.storage import NotifyStore
from tests.conftest import BIN, ROOT
from tests.waiting import wait_until

RECIPIENTS = 2000


def start_notify(env: dict, log) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "nameko"), "run", "--config", "deploy/nameko.yaml",
                             "services.notify.service:NotifyService"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)


def add_subscribers(store: NotifyStore, how_many: int) -> str:
    """Confirmed newsletter subscribers at one mail domain of their own; returns the domain."""
    store.ensure_indexes()
    mail_domain = f"{uuid.uuid4().hex[:8]}.example.cz"
    emails = [f"odberatel{n}@{mail_domain}" for n in range(how_many)]
    store.subscribers.insert_many([  # in one go: the stored shape of confirmed subscribers
        to_document({"id": addresses.email_key(email), "email": email, "name": f"Odběratel {n}",
                     "status": "confirmed", "token_hash": None, "mailed_at": None, "created_at": None,
                     "confirmed_at": None, "unsubscribed_at": None}) for n, email in enumerate(emails)])
    return mail_domain


@pytest.fixture
def subscribers(mongo_client, db_name) -> str:
    return add_subscribers(NotifyStore(mongo_client, db_name), RECIPIENTS)


def assert_one_message_each(smtp_sink, mail_domain: str, recipients: int, faults: int):
    messages = smtp_sink.messages_to_domain(mail_domain)
    per_id = Counter(m["Message-ID"] for m in messages)
    recipients_of = {m["Message-ID"]: m["To"].addresses[0].addr_spec for m in messages}
    assert len(per_id) == recipients and len(set(recipients_of.values())) == recipients
    repeats = sum(count - 1 for count in per_id.values())
    assert repeats <= UNRECORDED_LIMIT * faults, repeats


def test_a_killed_notify_resumes_the_mailout_and_repeats_nothing_beyond_the_bound(
        service_config, subprocess_env, smtp_sink, subscribers, tmp_path, mongo_client):
    env = {**subprocess_env, "AMQP_URI": service_config["AMQP_URI"], "MONGO_URI": service_config["MONGO_URI"],
           "MONGO_DB": service_config["MONGO_DB"], "SMTP_URL": smtp_sink.url, "MAILOUT_RATE": "0",
           "PUBLIC_URL": "https://api.example.cz"}
    log = open(tmp_path / "notify.log", "ab")
    notify = start_notify(env, log)
    try:
        with ServiceRpcProxy("notify", service_config, timeout=30, context_data=staff_context("tests")) as proxy:
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

    assert_one_message_each(smtp_sink, subscribers, RECIPIENTS, faults=1)
    counts = store.recipient_counts(mailout["id"])
    assert counts == {"sent": RECIPIENTS}


def _answers(proxy) -> bool:
    try:
        return proxy.health()["service"] == "notify"
    except Exception:
        return False


def start_database(port: int, storage) -> subprocess.Popen:
    return subprocess.Popen(embedded.command(storage, port).split(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def test_a_mailout_resumes_by_itself_after_the_database_restarts(
        service_config, subprocess_env, smtp_sink, tmp_path):
    port = embedded.free_port()
    database = start_database(port, tmp_path / "db")
    mongo_uri = embedded.uri_for(port)
    assert embedded.wait_until_up(mongo_uri)
    client = connect(mongo_uri)
    store = NotifyStore(client, "faults")
    mail_domain = add_subscribers(store, 600)
    env = {**subprocess_env, "AMQP_URI": service_config["AMQP_URI"], "MONGO_URI": mongo_uri, "MONGO_DB": "faults",
           "SMTP_URL": smtp_sink.url, "MAILOUT_RATE": "50", "PUBLIC_URL": "https://api.example.cz"}
    notify = start_notify(env, open(tmp_path / "notify.log", "ab"))
    try:
        with ServiceRpcProxy("notify", service_config, timeout=30, context_data=staff_context("tests")) as proxy:
            wait_until(lambda: _answers(proxy), timeout=30, message="notify up")
            mailout = proxy.create_mailout({"subject": "Zpravodaj", "body": "Dobrý den, {{ name }}.",
                                            "audience": {"newsletter": True}})
            proxy.send_mailout(mailout["id"])
        wait_until(lambda: smtp_sink.count(mail_domain) >= 150, timeout=60, interval=0.05, message="a quarter sent")
        os.killpg(database.pid, signal.SIGKILL)
        database.wait(timeout=10)
        database = start_database(port, tmp_path / "db")
        assert embedded.wait_until_up(mongo_uri)
        wait_until(lambda: store.get_mailout(mailout["id"])["status"] == "sent", timeout=120, interval=0.5,
                   message="the mailout finished by itself")
        assert store.recipient_counts(mailout["id"]) == {"sent": 600}
        assert_one_message_each(smtp_sink, mail_domain, 600, faults=1)
    finally:
        os.killpg(notify.pid, signal.SIGTERM)
        notify.wait(timeout=30)
        client.close()
        os.killpg(database.pid, signal.SIGTERM)
        database.wait(timeout=30)
