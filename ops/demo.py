"""Load the demo data set into an empty database: `make demo` or `python -m ops.demo`.

Without MONGO_URI it uses the embedded server: the one `make run` is running, or a
temporary one on the same data directory.
"""
import subprocess
import sys
from datetime import date, datetime, time, timedelta, timezone

from nszm import czech
from nszm.config import Settings
from nszm.contracts.common import PRAGUE
from nszm.contracts.events import EventInputSchema
from nszm.privacy import Pseudonyms
from nszm.storage import connect
from ops import demo_data, embedded
from services.events import domain as events_domain
from services.events.storage import EventsStore
from services.members import domain as members_domain
from services.members.storage import MembersStore
from services.practice import domain as practice_domain
from services.practice.storage import PracticeStore


def _contact(index: int, slug: str) -> dict:
    first = demo_data.CONTACT_FIRST_NAMES[index % len(demo_data.CONTACT_FIRST_NAMES)]
    last = demo_data.CONTACT_SURNAMES[(index * 3) % len(demo_data.CONTACT_SURNAMES)]
    return {"role": "coordinator", "name": f"{first} {last}", "email": f"zdrave.mesto@{slug}.example.cz"}


def demo_members() -> list[dict]:
    members = []
    for index, (name, type_, region, ico, population, since, website, part_of) in enumerate(demo_data.MEMBERS):
        slug = members_domain.first_free_slug(name, set())
        members.append(
            members_domain.with_search_fields(
                {"slug": slug, "name": name, "type": type_, "region": region, "ico": ico, "population": population,
                 "member_since": date.fromisoformat(since), "website": website, "part_of": part_of,
                 "contacts": [_contact(index, slug)], "status": "active", "left_on": None}
            )
        )
    return members


def demo_applications(people: Pseudonyms) -> list[dict]:
    submitted = datetime(2026, 11, 2, 9, 30, tzinfo=timezone.utc)
    return [
        members_domain.new_application(
            {"name": name, "type": type_, "region": region, "ico": ico, "population": population,
             "contact": {"role": "coordinator", "name": contact, "email": email}},
            submitted, people.person(email),
        )
        for name, type_, region, ico, population, contact, email in demo_data.PENDING_APPLICATIONS
    ]


def demo_events(today: date) -> list[dict]:
    """The demo events as published events of the domain, their dates counted from `today`."""
    events = []
    for spec in demo_data.EVENTS:
        first_day = today + timedelta(days=spec["days"])

        def at(day: int, clock: str) -> str:
            return datetime.combine(first_day + timedelta(days=day), time.fromisoformat(clock), PRAGUE).isoformat()

        sessions = [{"title": title, "starts_at": at(day, start), "ends_at": at(day, end), "capacity": capacity,
                     "audience": audience} for day, start, end, title, capacity, audience in spec["sessions"]]
        payload = {key: value for key, value in spec.items() if key not in ("days", "sessions")}
        payload.update(sessions=sessions, starts_at=sessions[0]["starts_at"], ends_at=sessions[-1]["ends_at"])
        data = EventInputSchema().load(payload)
        event_id = events_domain.event_id_base(data["title"], data["starts_at"])
        now = datetime.now(timezone.utc)
        events.append(events_domain.publish(events_domain.new_event(data, event_id, now), now).record)
    return events


def demo_practices(now: datetime) -> list[dict]:
    """Published practices of the demo members, newest year first."""
    members = {m["slug"]: m for m in demo_members()}
    practices = []
    for index, (member, title, themes, year, summary, video) in enumerate(demo_data.PRACTICES):
        data = {"title": title, "summary": summary, "themes": themes, "year": year, "member": member,
                "body": f"{summary}\n\nPraxi popsal koordinátor Zdravého města; kontakty najdete u člena.",
                "links": [{"title": "Web člena", "url": members[member]["website"] or "https://www.zdravamesta.cz"}],
                "attachments": [], "videos": []}
        if video:
            data["videos"] = [{"title": title, "url": f"https://www.zdravamesta.cz/tv/{video}.mp4",
                               "duration": 180 + 60 * index, "thumbnail": f"https://www.zdravamesta.cz/tv/{video}.jpg"}]
        draft = practice_domain.new_practice(data, czech.slugify(title), members[member], now)
        practices.append(practice_domain.publish(draft, now - timedelta(days=3 * index)))
    return practices


def demo_competitions(practices: list[dict], now: datetime, people: Pseudonyms) -> list[tuple[dict, list[dict]]]:
    """Competitions with, for a finished one, the confirmed votes it received."""
    found = []
    for title, opens, closes, nominees, votes in demo_data.COMPETITIONS:
        chosen = [practices[i] for i in nominees]
        data = {"year": int(title.split()[-1]), "title": title, "voting_opens_at": now + timedelta(days=opens),
                "voting_closes_at": now + timedelta(days=closes), "nominees": [p["slug"] for p in chosen]}
        competition = practice_domain.new_competition(data, chosen, data["voting_opens_at"])
        ballots = []
        for practice, count in zip(chosen, votes or []):
            for n in range(count):
                voter = f"hlas-{practice['slug']}-{n}@example.cz"
                vote, _ = practice_domain.new_vote(competition, practice["slug"], voter,
                                                   data["voting_opens_at"] + timedelta(days=1), people.person(voter))
                ballots.append({**vote, "confirmed_at": vote["created_at"], "counted": True})
        found.append((competition, ballots))
    return found


def load_demo(mongo_uri: str, db_name: str) -> int:
    """Load each service's part of the data set into its store if that store is empty.

    Returns how many records were written.
    """
    client = connect(mongo_uri)
    written = 0
    try:
        members_store = MembersStore(client, db_name)
        members_store.ensure_indexes()
        if members_store.is_empty():
            for member in demo_members():
                members_store.add_member(member)
                written += 1
            for application in demo_applications(members_store.pseudonyms):
                members_store.add_application(application)
                written += 1
        practice_store = PracticeStore(client, db_name)
        practice_store.ensure_indexes()
        if practice_store.is_empty():
            now = datetime.now(timezone.utc)
            practices = demo_practices(now)
            for practice in practices:
                practice_store.add_practice(practice)
                written += 1
            for competition, ballots in demo_competitions(practices, now, practice_store.pseudonyms):
                practice_store.add_competition(competition)
                if ballots:
                    practice_store.add_votes(ballots)
                written += 1
        events_store = EventsStore(client, db_name)
        events_store.ensure_indexes()
        if events_store.is_empty():
            for event in demo_events(date.today()):
                events_store.add_event(event)
                written += 1
        return written
    finally:
        client.close()


def main() -> int:
    settings = Settings.from_env()
    uri = settings.mongo_uri or embedded.running_uri(settings.data_dir)
    if uri:
        loaded = load_demo(uri, settings.mongo_db)
    else:
        port = embedded.free_port()
        server = subprocess.Popen(embedded.command(settings.data_dir, port).split())
        try:
            uri = embedded.uri_for(port)
            if not embedded.wait_until_up(uri):
                print("the embedded database did not start", file=sys.stderr)
                return 1
            loaded = load_demo(uri, settings.mongo_db)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"{loaded} demo records loaded" if loaded else "the database has data already: nothing loaded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
