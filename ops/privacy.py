"""A person's data from a terminal: export it, erase it, follow the erasure.

    python -m ops.privacy [--url URL] [--token TOKEN] COMMAND ...

    export EMAIL          everything every service holds about the address (JSON)
    erase EMAIL [--wait]  erase it everywhere; --wait: until every service has (at most 60 s)
    status PERSON         how far the erasure of a person (keyed hash) has got

The token needs the role `admin`; see `ops.staff_api` for the rest.
"""
import json
import sys
import time

from ops.staff_api import StaffApi, command_parser, run_command

WAIT_SECONDS = 60.0


def parser():
    main = command_parser("python -m ops.privacy", __doc__)
    commands = main.add_subparsers(dest="command", required=True)
    commands.add_parser("export", help="everything held about an address").add_argument("email")
    erase = commands.add_parser("erase", help="erase an address's data in every service")
    erase.add_argument("email")
    erase.add_argument("--wait", action="store_true", help="until every service has erased it")
    commands.add_parser("status", help="how far an erasure has got").add_argument("person")
    return main


def run(args, api: StaffApi, out=sys.stdout) -> int:
    if args.command == "export":
        answer = api.call("POST", "/exports", json={"email": args.email})
    elif args.command == "status":
        answer = api.call("GET", f"/erasures/{args.person}")
    else:
        answer = api.call("POST", "/erasures", json={"email": args.email})
        if args.wait:
            answer = _until_complete(api, answer["person"])
    out.write(json.dumps(answer, ensure_ascii=False, indent=2) + "\n")
    return 0 if answer.get("complete", True) else 1


def _until_complete(api: StaffApi, person: str) -> dict:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        status = api.call("GET", f"/erasures/{person}")
        if status["complete"] or time.monotonic() > deadline:
            return status
        time.sleep(0.5)


def main(argv=None) -> int:
    return run_command(parser().parse_args(argv), "/api/v1/privacy", run)


if __name__ == "__main__":
    sys.exit(main())
