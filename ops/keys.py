"""Rotate the keys that sign mailed links (cancel and certificate links, unsubscribe links).

    python -m ops.keys rotate [--keep 2]

Each service that mails links gets a new signing key; links signed with its last `--keep` keys
keep working, older ones stop. Running services take the new key when they restart; until then
they sign with the key before it, which stays accepted.
"""
import argparse
import sys

from nszm.config import Settings
from nszm.storage import connect
from services.events.storage import EventsStore
from services.notify.storage import NotifyStore

LINK_SIGNERS = (EventsStore, NotifyStore)


def rotate(settings: Settings, keep: int) -> list[str]:
    client = connect(settings.database_uri)
    try:
        for store_class in LINK_SIGNERS:
            store_class(client, settings.mongo_db).rotate_secret("links", keep=keep)
        return [store_class.service for store_class in LINK_SIGNERS]
    finally:
        client.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.keys", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    rotating = commands.add_parser("rotate", help="a new link-signing key for every service that mails links")
    rotating.add_argument("--keep", type=int, default=2, help="how many earlier keys stay accepted (default 2)")
    args = parser.parse_args(argv)
    for service in rotate(Settings.from_env(), max(0, args.keep)):
        print(f"{service}: new link key; the last {args.keep} before it still accepted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
