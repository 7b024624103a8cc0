"""Dead letters from a terminal: events a subscription failed on every try, and replaying them.

    python -m ops.deadletters [--url URL] [--token TOKEN] COMMAND ...

    list [--queue Q]                         what waits, with each one's error
    replay [--queue Q] [--event-id ID ...]   send them back to their subscription (all, or these)

The token needs the role `admin`; see `ops.staff_api` for the rest.
"""
import json
import sys

from ops.staff_api import StaffApi, command_parser, run_command


def parser():
    main = command_parser("python -m ops.deadletters", __doc__)
    commands = main.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="the dead letters, with their errors")
    listing.add_argument("--queue")
    replay = commands.add_parser("replay", help="send dead letters back to their subscription")
    replay.add_argument("--queue")
    replay.add_argument("--event-id", action="append", dest="event_ids", help="just this event (repeatable)")
    return main


def run(args, api: StaffApi, out=sys.stdout) -> int:
    if args.command == "list":
        answer = api.call("GET", "", params={"queue": args.queue} if args.queue else None)
    else:
        body = {key: value for key, value in (("queue", args.queue), ("event_ids", args.event_ids)) if value}
        answer = api.call("POST", "/replay", json=body)
    out.write(json.dumps(answer, ensure_ascii=False, indent=2) + "\n")
    return 0


def main(argv=None) -> int:
    return run_command(parser().parse_args(argv), "/api/v1/dead-letters", run)


if __name__ == "__main__":
    sys.exit(main())
