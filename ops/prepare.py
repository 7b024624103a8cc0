"""The database's start-up chores for `make run`, in a process of their own: wait until the
database at MONGO_URI answers, then load the demo data into an empty one (unless DEMO_DATA=0).
`ops.run` stays small this way: it lives as long as the platform, and these need pymongo and
every service's store.

Exit status 1 if the database does not answer within a minute.
"""
import sys

from nszm.config import Settings
from ops import embedded, say
from ops.demo import load_demo


def main() -> int:
    settings = Settings.from_env()
    if not embedded.wait_until_up(settings.database_uri):
        print(f"The database at {settings.database_uri} does not answer.", file=sys.stderr)
        return 1
    if settings.demo_data:
        loaded = load_demo(settings.database_uri, settings.mongo_db)
        say(f"demo data: {loaded} records loaded" if loaded else "demo data: the database has data already")
    return 0


if __name__ == "__main__":
    sys.exit(main())
