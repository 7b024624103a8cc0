"""Load the demo data set into an empty database: `make demo` or `python -m ops.demo`.

Without MONGO_URI it uses the embedded server: the one `make run` is running, or a
temporary one on the same data directory.
"""
import subprocess
import sys
from datetime import date, datetime, timezone

from nszm.config import Settings
from nszm.storage import connect
from ops import demo_data, embedded
from services.members import domain as members_domain
from services.members.storage import MembersStore


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


def demo_applications() -> list[dict]:
    submitted = datetime(2026, 11, 2, 9, 30, tzinfo=timezone.utc)
    return [
        members_domain.new_application(
            {"name": name, "type": type_, "region": region, "ico": ico, "population": population,
             "contact": {"role": "coordinator", "name": contact, "email": email}},
            submitted,
        )
        for name, type_, region, ico, population, contact, email in demo_data.PENDING_APPLICATIONS
    ]


def load_demo(mongo_uri: str, db_name: str) -> int:
    """Load the data set if the members store is empty; returns how many records were written."""
    client = connect(mongo_uri)
    try:
        store = MembersStore(client, db_name)
        store.ensure_indexes()
        if not store.is_empty():
            return 0
        members, applications = demo_members(), demo_applications()
        for member in members:
            store.add_member(member)
        for application in applications:
            store.add_application(application, events=[])
        return len(members) + len(applications)
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
    print(f"{loaded} demo records loaded" if loaded else "the database is not empty: nothing loaded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
