"""Signed call contexts and event bodies: what a service accepts and what it refuses."""
import time

import pytest

from nszm import signing
from nszm.signing import (
    ACTOR,
    ACTOR_ROLES,
    SIGNED_AT,
    MissingSecret,
    call_key,
    event_is_signed,
    event_key,
    event_signature,
    refusal,
    resigned,
    signed_context,
)

SECRET = "s" * 40
KEY = call_key(SECRET)


def test_a_signed_context_is_accepted_and_names_its_staff_member():
    context = signed_context(KEY, "gateway", "Jana Nováková", "t1", ["members", "admin"])
    assert refusal(KEY, context) is None
    assert context[ACTOR] == "Jana Nováková" and context[ACTOR_ROLES] == "admin,members"


@pytest.mark.parametrize("change", [
    lambda c: c.pop(signing.SIGNATURE),
    lambda c: c.update(actor="Someone Else"),
    lambda c: c.update(actor_roles="admin"),
    lambda c: c.update(actor_token="t2"),
    lambda c: c.update(caller="members"),
    lambda c: c.update(signed_at=f"{time.time() + 1:.3f}"),
    lambda c: c.update(signature="0" * 64),
    lambda c: c.update(actor=["a", "list"]),
])
def test_a_changed_or_unsigned_context_is_refused(change):
    context = signed_context(KEY, "gateway", "Jana", "t1", ["members"])
    change(context)
    assert refusal(KEY, context) is not None


def test_an_actor_added_to_a_context_signed_without_one_is_refused():
    context = signed_context(KEY, "gateway")
    context[ACTOR] = "admin"
    assert refusal(KEY, context) == "the call's signature is wrong"


def test_a_stale_context_and_one_signed_with_another_key_are_refused():
    old = signed_context(KEY, "gateway", "Jana", now=time.time() - signing.CALL_MAX_AGE_SECONDS - 5)
    assert refusal(KEY, old) == "the call's signature is stale"
    future = signed_context(KEY, "gateway", "Jana", now=time.time() + signing.CALL_MAX_AGE_SECONDS + 5)
    assert refusal(KEY, future) == "the call's signature is stale"
    other = signed_context(call_key("o" * 40), "gateway", "Jana")
    assert refusal(KEY, other) == "the call's signature is wrong"
    assert refusal(KEY, {}) == "the call is not signed"


def test_a_service_signs_afresh_for_the_same_staff_member():
    incoming = signed_context(KEY, "gateway", "Jana", "t1", ["events"], now=time.time() - 100)
    outgoing = resigned(KEY, "events", incoming)
    assert refusal(KEY, outgoing) is None
    assert (outgoing[ACTOR], outgoing["actor_token"], outgoing[ACTOR_ROLES], outgoing["caller"]) == \
        ("Jana", "t1", "events", "events")
    assert float(outgoing[SIGNED_AT]) > float(incoming[SIGNED_AT])


def test_uses_of_the_secret_have_keys_of_their_own_and_a_short_secret_is_refused():
    assert call_key(SECRET) != event_key(SECRET)
    for secret in (None, "", "short"):
        with pytest.raises(MissingSecret):
            call_key(secret)


def test_an_event_body_is_signed_and_a_changed_body_is_not():
    key = event_key(SECRET)
    body = b'{"event_type": "vote_requested"}'
    headers = {"nszm-signature": event_signature(key, body)}
    assert event_is_signed(key, body, headers)
    assert not event_is_signed(key, body + b" ", headers)
    assert not event_is_signed(key, body, {})
    assert not event_is_signed(key, body, None)
    assert not event_is_signed(event_key("x" * 40), body, headers)
