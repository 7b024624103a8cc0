"""Issue, list and revoke staff tokens: `python -m gateway.tokens issue --name Jana --role members`.

The token itself is printed once at issue time; only its SHA-256 hash is stored.
"""
import argparse
import sys
from datetime import timedelta

from gateway.auth import ROLES, TokenStore
from nszm.config import Settings
from nszm.storage import connect, utcnow
from ops import embedded


def token_store(settings: Settings) -> TokenStore:
    uri = settings.mongo_uri or embedded.running_uri(settings.data_dir)
    if uri is None:
        sys.exit("No database: set MONGO_URI, or start the platform with `make run` first.")
    store = TokenStore(connect(uri)[settings.mongo_db]["gateway.staff_tokens"])
    store.ensure_indexes()
    return store


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.tokens", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    issue = commands.add_parser("issue", help="issue a new token")
    issue.add_argument("--name", required=True, help="who the token is for")
    issue.add_argument("--role", action="append", required=True, choices=ROLES, help="repeat for several roles")
    issue.add_argument("--expires-in-days", type=int, help="valid for this many days (default: until revoked)")
    revoke = commands.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("token_id")
    commands.add_parser("list", help="list tokens (never the tokens themselves)")
    args = parser.parse_args(argv)

    store = token_store(Settings.from_env())
    if args.command == "issue":
        expires_at = utcnow() + timedelta(days=args.expires_in_days) if args.expires_in_days else None
        try:
            token_id, token = store.issue(args.name, args.role, expires_at)
        except ValueError as error:
            parser.error(str(error))
        print(f"id: {token_id}\ntoken: {token}\n(store it now: it is not shown again)")
    elif args.command == "revoke":
        if not store.revoke(args.token_id):
            print(f"no active token {args.token_id}", file=sys.stderr)
            return 1
        print(f"revoked {args.token_id}")
    else:
        for record in store.list():
            state = f"revoked {record['revoked_at']:%Y-%m-%d}" if record["revoked_at"] else "active"
            if not record["revoked_at"] and record.get("expires_at"):
                state += f" until {record['expires_at']:%Y-%m-%d}"
            print(f"{record['_id']}  {record['name']}  {','.join(record['roles'])}  {state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
