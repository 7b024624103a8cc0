"""The unit tests' fakes and the real stores offer the same verbs, as each service's Protocol states
them (mypy checks the real stores; this checks the fakes); and every verb an entrypoint calls
inside a unit of work reads and writes in the transaction its store is bound to."""
import inspect
import re
from pathlib import Path

import pytest

from services.events.storage import EventsStore, EventsStoreVerbs
from services.members.storage import MembersStore, MembersStoreVerbs
from services.notify.mail.storage import MailStoreVerbs
from services.notify.mailouts.storage import DeliveryLogStoreVerbs, MailoutStoreVerbs, RecipientStoreVerbs
from services.notify.newsletter.storage import NewsletterStoreVerbs
from services.notify.storage import NotifyStore, NotifyStoreVerbs
from services.notify.suppression.storage import SuppressionStoreVerbs
from services.notify.webhooks.storage import WebhookStoreVerbs
from services.practice.storage import PracticeStore, PracticeStoreVerbs
from tests.fakes import FakeEventsStore, FakeMembersStore, FakePracticeStore, FakeWebhookStore

ROOT = Path(__file__).resolve().parents[2]
NOTIFY_PARTS = (MailStoreVerbs, MailoutStoreVerbs, RecipientStoreVerbs, DeliveryLogStoreVerbs, NewsletterStoreVerbs,
                SuppressionStoreVerbs, WebhookStoreVerbs, NotifyStoreVerbs)


def verbs(protocol) -> list[str]:
    return [name for name, member in vars(protocol).items() if inspect.isfunction(member) and not name.startswith("_")]


def parameters(method) -> list[tuple[str, object]]:
    return [(p.name, p.kind) for p in inspect.signature(method).parameters.values() if p.name != "self"]


@pytest.mark.parametrize("protocol, real, fake", [
    (EventsStoreVerbs, EventsStore, FakeEventsStore),
    (MembersStoreVerbs, MembersStore, FakeMembersStore),
    (PracticeStoreVerbs, PracticeStore, FakePracticeStore),
    *[(part, NotifyStore, FakeWebhookStore) for part in NOTIFY_PARTS],
])
def test_fakes_and_real_stores_offer_the_protocols_verbs(protocol, real, fake):
    assert verbs(protocol)
    for verb in verbs(protocol):
        expected = [name for name, _ in parameters(getattr(protocol, verb))]
        assert [name for name, _ in parameters(getattr(real, verb))] == expected, (real.__name__, verb)
        assert [name for name, _ in parameters(getattr(fake, verb))] == expected, (fake.__name__, verb)


@pytest.mark.parametrize("part", NOTIFY_PARTS)
def test_each_of_notifys_jobs_asks_at_most_fifteen_verbs_of_the_store(part):
    assert 1 <= len(verbs(part)) <= 15, part.__name__


@pytest.mark.parametrize("service, real", [
    ("events", EventsStore), ("members", MembersStore), ("notify", NotifyStore), ("practice", PracticeStore),
])
def test_every_verb_a_unit_of_work_uses_joins_its_transaction(service, real):
    source = "".join(path.read_text() for path in (ROOT / "services" / service).rglob("service.py"))
    used = set(re.findall(r"\btx\.([a-z_]+)\(", source)) - {"commit"}
    assert used, service
    for verb in sorted(used):
        assert "session=self.session" in inspect.getsource(getattr(real, verb)), (real.__name__, verb)
