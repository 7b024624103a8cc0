"""The crowd's means — group commit and keyed locks — serve the two rushes only, and keep no key
once nobody holds or awaits it."""
import eventlet
import pytest

from nszm.rush import Rush, RushWrites
from nszm.service import PlatformService
from nszm.storage import ServiceStore
from services.events.service import EventsService
from services.members.service import MembersService
from services.notify.service import NotifyService
from services.practice.service import PracticeService


def rush_dependencies(service_class) -> list[str]:
    return [name for name in dir(service_class) if isinstance(getattr(service_class, name, None), RushWrites)]


@pytest.mark.parametrize("service_class, expected", [
    (EventsService, ["rush"]), (PracticeService, ["rush"]), (MembersService, []), (NotifyService, []),
])
def test_only_registrations_and_votes_meet_the_rush(service_class, expected):
    assert rush_dependencies(service_class) == expected


def test_the_base_classes_know_no_batches_or_turns():
    for base in (PlatformService, ServiceStore):
        assert not {"in_batches", "batches", "_turns", "one_at_a_time"} & set(dir(base)), base


def test_units_of_work_with_a_shared_key_take_turns_and_leave_nothing_behind():
    rush, inside, most = Rush(), [0], [0]

    def unit(keys):
        with rush.one_at_a_time(keys):
            inside[0] += 1
            most[0] = max(most[0], inside[0])
            eventlet.sleep(0.001)
            inside[0] -= 1

    pool = eventlet.GreenPool()
    for n in range(40):  # overlapping key sets in both orders: sorted taking means no deadlock
        pool.spawn(unit, ["seats:a", "seats:b"] if n % 2 else ["seats:b", "seats:a"])
    assert pool.waitall() is None
    assert most[0] == 1 and rush.is_idle()


def test_a_batch_gives_each_item_its_own_outcome():
    rush = Rush()

    def write(items):
        eventlet.sleep(0.01)
        return [ValueError(item) if item == 3 else item * 10 for item in items]

    def submit(item):
        try:
            return rush.together("votes:x", item, write)
        except ValueError:
            return "refused"

    assert list(eventlet.GreenPool().imap(submit, range(6))) == [0, 10, 20, "refused", 40, 50]
    assert rush.is_idle()
