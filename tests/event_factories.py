"""Builders of events and registrations in the shapes the contract and the domain use, and the
events service as a worker on a given store at a fixed time."""
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from unittest.mock import patch

from nameko.testing.services import worker_factory

from nszm.rush import Rush
from services.events import domain
from services.events.service import EventsService

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)


def event_payload(days_ahead: int = 30, capacities=(50,), audiences=None, **overrides) -> dict:
    """An event input as staff send it: one day per session, starting `days_ahead` days from now."""
    start = (NOW + timedelta(days=days_ahead)).replace(hour=8, minute=0, second=0, microsecond=0)
    audiences = audiences or ["everyone"] * len(capacities)
    sessions = [
        {"title": f"Den {n + 1}", "starts_at": (start + timedelta(days=n)).isoformat(),
         "ends_at": (start + timedelta(days=n, hours=7)).isoformat(), "capacity": capacity, "audience": audience}
        for n, (capacity, audience) in enumerate(zip(capacities, audiences))
    ]
    payload = {
        "title": "Jarní Škola Zdravých měst", "type": "school", "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(days=len(capacities) - 1, hours=7)).isoformat(),
        "venue": {"name": "Krajský úřad Libereckého kraje", "city": "Liberec"}, "accredited": True,
        "accreditation": "AK/PV-123/2027", "sessions": sessions,
    }
    payload.update(overrides)
    return payload


def loaded_event(payload: dict | None = None, event_id: str = "2026-12-skola", published: bool = True) -> dict:
    """An event as the domain sees it (times parsed), with its seat counters."""
    from services.events.schemas import EventInputSchema

    data = EventInputSchema().load(payload or event_payload())
    event = domain.new_event(data, event_id, NOW)
    for session in event["sessions"]:
        session.update(seats_left=session["capacity"], waiting=0)
    return domain.publish(event, NOW).record if published else event


def registration_input(email: str = "jana.novakova@example.cz", sessions=("s1",), **overrides) -> dict:
    payload = {"name": "Jana Nováková", "email": email, "organization": "Město Chrudim", "sessions": list(sessions)}
    payload.update(overrides)
    return payload


@contextmanager
def events_worker(store):
    """The events service on `store` (real or fake) at NOW; nobody is a coordinator of a member."""
    worker = worker_factory(EventsService, store=store, rush=Rush(), config={"PUBLIC_URL": "https://api.example.cz"})
    worker.members.coordinator_of.return_value = None
    with patch("services.events.service.utcnow", return_value=NOW):
        yield worker
