"""Outages without a restart: the SMTP server down for 60 s and, within that, RabbitMQ stopped for
20 s while registrations stream in. Once they are back, nothing accepted is lost or doubled, and
no process had to be restarted.

RabbitMQ here is a node of the test's own (its own port), so stopping it disturbs nothing else;
the SMTP server is a sink of the test's own, stopped and started on the same port.
"""
import time

import pytest
import requests

from ops import embedded
from tests.conftest import SmtpSink, start_smtp_sink
from tests.http.supervised import QUICK_SECONDS, assert_nothing_lost_or_doubled, registrations, supervised_platform
from tests.rabbit_node import RabbitNode
from tests.waiting import keep_for, wait_until

RABBITMQ_OUTAGE_SECONDS = 20
SMTP_OUTAGE_SECONDS = 60
BROKER_AWAY_ANSWER_SECONDS = 5  # while RabbitMQ is away, every request is answered within this


@pytest.fixture(scope="module")
def rabbit():
    node = RabbitNode()
    node.start()
    yield node
    node.stop()


@pytest.fixture(scope="module")
def sink(tmp_path_factory):
    port, directory = embedded.free_port(), tmp_path_factory.mktemp("outage-smtp")
    sink = SmtpSink(port, directory)
    sink.server = start_smtp_sink(port, directory)
    yield sink
    sink.server.terminate()
    sink.server.wait(timeout=10)


@pytest.fixture(scope="module")
def platform(tmp_path_factory, subprocess_env, rabbit, sink):
    with supervised_platform(tmp_path_factory.mktemp("outages"), subprocess_env, rabbit.amqp_uri,
                             sink.url) as running:
        yield running


def answers_quickly(url: str):
    started = time.monotonic()
    status = requests.get(url + "/readyz", timeout=QUICK_SECONDS).status_code
    assert status in (200, 503) and time.monotonic() - started < QUICK_SECONDS


def test_rabbitmq_away_20_seconds_within_an_smtp_outage_of_60_loses_doubles_and_restarts_nothing(
        platform, rabbit, sink):
    """The SMTP server goes down; 15 s later RabbitMQ stops for 20 s; the SMTP server is back
    after 60 s. Meanwhile registrations go on: 503s while RabbitMQ is away, quickly."""
    before = platform.pids()
    with registrations(platform, 300, seats=40, senders=4, pause=0.6) as stream:  # 45 s at least
        wait_until(lambda: len(stream.answers) >= 40, timeout=120, message="registrations under way")
        smtp_down_at = time.monotonic()
        stop_sink(sink)
        try:
            keep_for(15)
            rabbit.stop_app()
            away_since = time.monotonic()
            try:
                wait_until(lambda: requests.get(platform.url + "/readyz", timeout=QUICK_SECONDS).status_code == 503,
                           timeout=QUICK_SECONDS, message="the gateway tells RabbitMQ is away")
                keep_for(RABBITMQ_OUTAGE_SECONDS, lambda: answers_quickly(platform.url))
            finally:
                away_until = time.monotonic()
                rabbit.start_app()
            keep_for(SMTP_OUTAGE_SECONDS - (time.monotonic() - smtp_down_at))
        finally:
            sink.server = start_smtp_sink(sink.port, sink.directory)
    assert any(code == 503 for code, *_ in stream.answers), "no request met the RabbitMQ outage"
    during = stream.answered_during(away_since, away_until)
    assert len(during) >= 10 and all(code in (201, 503) and seconds < BROKER_AWAY_ANSWER_SECONDS
                                     for code, seconds in during), sorted(during, key=lambda a: -a[1])[:5]
    accepted = assert_nothing_lost_or_doubled(stream, sink, mail_timeout=300)
    assert len(accepted) >= 150
    assert platform.pids() == before, "a process had to be restarted"


def stop_sink(sink: SmtpSink):
    sink.server.terminate()
    sink.server.wait(timeout=10)
