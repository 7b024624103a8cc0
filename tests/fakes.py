"""Hand-written in-memory fakes of the platform's own store classes, for unit tests."""
from nszm import czech
from nszm.contracts.errors import Conflict, NotFound
from services.members.storage import SlugTaken


class FakeOutbox:
    def __init__(self):
        self.pending: list[dict] = []
        self.published: list[dict] = []

    def add(self, event):
        self.pending.append(event)

    def claim(self, event_id=None):
        event = next((e for e in self.pending if event_id in (None, e["event_id"])), None)
        return {"_id": event["event_id"], "event_type": event["event_type"], "payload": event} if event else None

    def mark_published(self, event_id):
        event = next(e for e in self.pending if e["event_id"] == event_id)
        self.pending.remove(event)
        self.published.append(event)

    def release(self, event_id):
        pass

    def pending_count(self):
        return len(self.pending)


class FakeMembersStore:
    """Keeps members and applications in dicts; raises what the real store raises."""

    def __init__(self, members=(), applications=()):
        self.members = {m["slug"]: dict(m) for m in members}
        self.applications = {a["id"]: dict(a) for a in applications}
        self.outbox = FakeOutbox()
        self.slugs_taken_by_others: set[str] = set()

    def ping(self):
        return True

    def _record(self, events):
        for event in events:
            self.outbox.add(event)

    def list_members(self, *, page, per_page, type=None, region=None, q=None):
        found = [m for m in self.members.values() if m["status"] == "active"
                 and (not type or m["type"] == type) and (not region or m["region"] == region)
                 and (not q or czech.fold(q) in m["name_folded"])]
        found.sort(key=lambda m: m["name_sort"])
        return found[(page - 1) * per_page: page * per_page], len(found)

    def get_member(self, slug, include_left=False):
        member = self.members.get(slug)
        if member is None or (member["status"] != "active" and not include_left):
            raise NotFound(slug)
        return dict(member)

    def coordinator_of(self, email):
        return next((m for m in self.members.values() if m["status"] == "active" and any(
            c["role"] == "coordinator" and c["email"].lower() == email.strip().lower() for c in m["contacts"])), None)

    def active_members(self):
        return [m for m in self.members.values() if m["status"] == "active"]

    def taken_slugs(self, name):
        return {slug for slug in self.members if slug.startswith(czech.slugify(name))}

    def returning_member(self, ico):
        return next((m for m in self.members.values() if m["ico"] == ico and m["status"] == "left"), None)

    def add_application(self, application, events):
        if any(a["ico"] == application["ico"] and a["status"] == "pending" for a in self.applications.values()):
            raise Conflict("pending already")
        self.applications[application["id"]] = dict(application)
        self._record(events)

    def get_application(self, application_id):
        if application_id not in self.applications:
            raise NotFound(application_id)
        return dict(self.applications[application_id])

    def list_applications(self, *, page, per_page, status=None):
        found = [a for a in self.applications.values() if not status or a["status"] == status]
        return found[(page - 1) * per_page: page * per_page], len(found)

    def approve_application(self, decided, member, events, returning=False):
        if member["slug"] in self.slugs_taken_by_others:
            self.slugs_taken_by_others.discard(member["slug"])
            self.members[member["slug"]] = {**member, "name": "someone else"}
            raise SlugTaken(member["slug"])
        self.applications[decided["id"]] = dict(decided)
        self.members[member["slug"]] = dict(member)
        self._record(events)

    def reject_application(self, decided):
        self.applications[decided["id"]] = dict(decided)

    def save_member(self, before, after, events):
        self.members[after["slug"]] = dict(after)
        self._record(events)
