"""The unit tests' fakes and the real stores offer the same verbs, as each service's Protocol states
them: same names, same parameters (a real store's extra `session` is its transaction's)."""
import inspect

import pytest

from services.events.storage import EventsStore, EventsStoreVerbs
from services.practice.storage import PracticeStore, PracticeStoreVerbs
from tests.fakes import FakeEventsStore, FakePracticeStore


def verbs(protocol) -> list[str]:
    return [name for name, member in vars(protocol).items() if inspect.isfunction(member) and not name.startswith("_")]


def parameters(method) -> list[tuple[str, object]]:
    return [(p.name, p.kind) for p in inspect.signature(method).parameters.values()
            if p.name not in ("self", "session")]


@pytest.mark.parametrize("protocol, real, fake", [
    (EventsStoreVerbs, EventsStore, FakeEventsStore),
    (PracticeStoreVerbs, PracticeStore, FakePracticeStore),
])
def test_fakes_and_real_stores_offer_the_protocols_verbs(protocol, real, fake):
    assert len(verbs(protocol)) >= 15
    for verb in verbs(protocol):
        expected = [name for name, _ in parameters(getattr(protocol, verb))]
        assert [name for name, _ in parameters(getattr(real, verb))] == expected, (real.__name__, verb)
        assert [name for name, _ in parameters(getattr(fake, verb))] == expected, (fake.__name__, verb)
