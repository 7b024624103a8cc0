"""The gateway's rate limiter on a real SecantusDB: a moving window per key, shared by every
limiter (every gateway worker) on the same database, and refusals that say when to retry."""
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from unittest.mock import patch

import pytest

from gateway.limits import (
    REGISTRATIONS,
    SUBSCRIPTIONS,
    VOTES,
    RateLimiter,
    confirmation_mails,
    per_address,
    per_mailbox,
)
from nszm.contracts.errors import RateLimited

LIMITS = (per_address("5 per 10 minutes"), per_mailbox("2 per hour", "email"))


@pytest.fixture
def database():
    return f"limits{uuid.uuid4().hex[:8]}"


@pytest.fixture
def limiters(mongo_uri, database):
    return RateLimiter(mongo_uri, database), RateLimiter(mongo_uri, database)


def test_the_windows_keep_no_client_address_or_mailbox(limiters, mongo_client, database):
    limiters[0].hit("votes", LIMITS, "10.9.8.7", {"email": "Ukryta.Adresa@example.cz"})
    stored = str(list(mongo_client[database]["gateway.rate_windows"].find())).lower()
    assert stored and "10.9.8.7" not in stored and "ukryta" not in stored


def test_the_sixth_request_from_one_address_is_refused_whichever_worker_counts_it(limiters):
    one, other = limiters
    for n in range(5):
        (one if n % 2 else other).hit("votes", LIMITS, "10.0.0.1", {"email": f"v{n}@example.cz"})
    with pytest.raises(RateLimited) as refused:
        one.hit("votes", LIMITS, "10.0.0.1", {"email": "late@example.cz"})
    assert 590 <= refused.value.retry_after <= 600 and "client address" in refused.value.detail
    one.hit("votes", LIMITS, "10.0.0.2", {"email": "late@example.cz"})  # another address
    one.hit("registrations", LIMITS, "10.0.0.1", {"email": "late2@example.cz"})  # another endpoint


def test_aliases_of_one_mailbox_share_its_limit_from_any_address(limiters):
    one, _ = limiters
    one.hit("votes", LIMITS, "10.0.1.1", {"email": "Jana.Novak@gmail.com"})
    one.hit("votes", LIMITS, "10.0.1.2", {"email": "jananovak+x@googlemail.com"})
    with pytest.raises(RateLimited) as refused:
        one.hit("votes", LIMITS, "10.0.1.3", {"email": "JANANOVAK@gmail.com"})
    assert "e-mail" in refused.value.detail and refused.value.retry_after > 3500


def test_requests_go_through_when_the_counters_cannot_be_reached():
    away = RateLimiter("mongodb://127.0.0.1:9/?directConnection=true", "limits")
    for _ in range(3):
        away.hit("votes", LIMITS, "10.0.0.1", {"email": "x@example.cz"})


def test_a_request_refused_by_one_limit_is_not_counted_by_the_limits_after_it(limiters):
    one, _ = limiters
    for n in range(5):
        one.hit("votes", LIMITS, "10.0.2.1", {"email": f"w{n}@example.cz"})
    with pytest.raises(RateLimited):
        one.hit("votes", LIMITS, "10.0.2.1", {"email": "x@example.cz"})
    one.hit("votes", LIMITS, "10.0.2.2", {"email": "x@example.cz"})  # the mailbox's two are still both free
    one.hit("votes", LIMITS, "10.0.2.3", {"email": "x@example.cz"})
    with pytest.raises(RateLimited) as refused:
        one.hit("votes", LIMITS, "10.0.2.4", {"email": "x@example.cz"})
    assert "e-mail" in refused.value.detail


def test_requests_counted_at_the_same_time_go_together_and_the_limit_stays_exact(limiters):
    one, _ = limiters
    start = threading.Barrier(20)
    refused = []

    def request(n):
        start.wait()
        try:
            one.hit("votes", LIMITS, "10.0.3.1", {"email": f"t{n}@example.cz"})
        except RateLimited:
            refused.append(n)

    with patch.object(one.storage, "acquire_entries", wraps=one.storage.acquire_entries) as round_trips:
        with ThreadPoolExecutor(20) as pool:
            list(pool.map(request, range(20)))
    assert len(refused) == 15
    assert round_trips.call_count < 20


def test_in_one_round_trip_a_full_window_stops_only_its_own_request(limiters):
    one, _ = limiters
    windows = one.storage.windows
    full = [("address-full", 1, 600), ("mailbox-b", 2, 3600)]
    assert one.storage.acquire_entries([full]) == [None]
    outcomes = one.storage.acquire_entries([[("address-a", 1, 600), ("mailbox-a", 2, 3600)], full,
                                            [("address-c", 1, 600), ("mailbox-c", 2, 3600)]])
    assert outcomes == [None, 0, None]
    assert [len(windows.find_one({"_id": key})["entries"]) for key in ("mailbox-a", "mailbox-b", "mailbox-c")] == [
        1, 1, 1]  # the refused request's mailbox window was not counted; the one after it was


def test_a_window_another_worker_created_is_counted_in_place_not_created_again(limiters):
    one, other = limiters
    assert one.storage.acquire_entries([[("address-k", 1, 600)], [("mailbox-n", 2, 3600)]]) == [None, None]
    outcomes = other.storage.acquire_entries([[("address-k", 1, 600), ("mailbox-k", 2, 3600)],
                                              [("address-m", 1, 600), ("mailbox-n", 2, 3600)],
                                              [("address-o", 1, 600), ("mailbox-n", 2, 3600)]])
    assert outcomes == [0, None, 1]  # address-k was full already; mailbox-n takes one more entry, then is full
    windows = one.storage.windows
    assert windows.find_one({"_id": "mailbox-k"}) is None  # the refused request's mailbox was not counted
    assert [len(windows.find_one({"_id": key})["entries"]) for key in ("address-k", "mailbox-n", "address-m",
                                                                        "address-o")] == [1, 2, 1, 1]


def test_confirmation_mails_to_one_mailbox_are_limited_across_every_form_and_address(limiters):
    one, other = limiters
    shared = confirmation_mails("4 per day", "email")
    forms = [("votes", (per_address("100 per hour"), shared)), ("registrations", (shared,)),
             ("subscriptions", (shared,))]
    for n in range(4):
        scope, limits = forms[n % 3]
        (one if n % 2 else other).hit(scope, limits, f"10.0.5.{n}", {"email": f"Obet+{n}@Example.cz"})
    for scope, limits in forms:
        with pytest.raises(RateLimited) as refused:
            one.hit(scope, limits, "10.0.5.99", {"email": "obet@example.cz"})
        assert "confirmation mails" in refused.value.detail and refused.value.retry_after > 86000
    one.hit("votes", forms[0][1], "10.0.5.99", {"email": "someone.else@example.cz"})


def test_every_form_that_mails_a_confirmation_shares_the_daily_limit_and_a_town_hall_fits():
    for limits in (VOTES, REGISTRATIONS, SUBSCRIPTIONS):
        assert sum(limit.shared == "confirmation mails" for limit in limits) == 1


def test_a_town_hall_registers_60_colleagues_from_one_address(limiters):
    one, _ = limiters
    for n in range(60):
        one.hit("registrations", REGISTRATIONS, "10.0.6.1", {"email": f"kolega{n}@mesto.cz"})


def test_ipv6_clients_count_by_their_64_network(limiters):
    one, _ = limiters
    limits = (per_address("3 per hour"),)
    for address in ("2001:db8:aa:1::1", "2001:db8:aa:1::2", "2001:db8:aa:1:abcd:1234::1"):
        one.hit("votes", limits, address, {})
    with pytest.raises(RateLimited):
        one.hit("votes", limits, "2001:db8:aa:1:ffff::9", {})
    one.hit("votes", limits, "2001:db8:aa:2::1", {})  # another /64
    for _ in range(3):
        one.hit("votes", limits, "10.9.9.9", {})
    with pytest.raises(RateLimited):
        one.hit("votes", limits, "::ffff:10.9.9.9", {})  # an IPv4 client seen through an IPv6 socket
