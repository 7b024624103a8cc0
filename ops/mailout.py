"""Mailouts from a terminal: the staff API's mailout actions, with a progress bar while sending.

    python -m ops.mailout [--url URL] [--token TOKEN] COMMAND ...   (or: make mailout ARGS="...")

    create --subject S --body-file F [--text] [--members] [--type T ...] [--region R ...]
           [--event ID [--status S ...]] [--newsletter]
    list [--status S]          show ID          recipients ID [--status S]
    preview ID --email E       test ID --email E
    send ID [--at TIME] [--no-wait]             watch ID
    pause ID                   resume ID        cancel ID

The token needs the role `mailouts` (or `admin`); see `ops.staff_api` for the rest. Exit
status: 0 done, 1 the mailout ended badly or the platform is unreachable, 2 refused.
"""
import argparse
import json
import sys
import time
from pathlib import Path

from ops.staff_api import StaffApi, command_parser, run_command

FINAL = {"sent", "cancelled", "failed"}
BAR_WIDTH = 30


def progress_line(mailout: dict) -> str:
    total = mailout["total"] or mailout["recipients"] or 0
    done = mailout["sent"] + mailout["failed"] + mailout["skipped"]
    share = done / total if total else 1.0
    filled = int(share * BAR_WIDTH)
    return (f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {share:4.0%} {done}/{total}  sent {mailout['sent']}  "
            f"failed {mailout['failed']}  skipped {mailout['skipped']}  ({mailout['status']})")


def watch(api: StaffApi, mailout_id: str, out=sys.stdout, interval: float = 0.5) -> dict:
    """Redraw the progress bar until the mailout is sent, cancelled or failed (or paused)."""
    while True:
        mailout = api.call("GET", f"/{mailout_id}")
        out.write("\r" + progress_line(mailout))
        out.flush()
        if mailout["status"] in FINAL or mailout["status"] == "paused":
            out.write("\n")
            return mailout
        time.sleep(interval)


def audience(args) -> dict:
    chosen: dict = {}
    if args.members or args.type or args.region:
        chosen["members"] = {"type": args.type, "region": args.region}
    if args.event:
        chosen["event"] = {"id": args.event, "status": args.status or ["confirmed"]}
    if args.newsletter:
        chosen["newsletter"] = True
    return chosen


def parser() -> argparse.ArgumentParser:
    main = command_parser("python -m ops.mailout", __doc__)
    commands = main.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="a draft to an audience")
    create.add_argument("--subject", required=True)
    create.add_argument("--body-file", required=True, type=Path, help="a Jinja2 template; Markdown unless --text")
    create.add_argument("--text", action="store_true", help="plain text only, no HTML part")
    create.add_argument("--members", action="store_true", help="coordinators of all active members")
    create.add_argument("--type", action="append", default=[], help="member type (repeatable)")
    create.add_argument("--region", action="append", default=[], help="region (repeatable)")
    create.add_argument("--event", help="participants of this event")
    create.add_argument("--status", action="append", default=[], help="their registration status (repeatable)")
    create.add_argument("--newsletter", action="store_true", help="confirmed newsletter subscribers")
    listing = commands.add_parser("list", help="mailouts, newest first")
    listing.add_argument("--status")
    for name in ("show", "watch", "pause", "resume", "cancel"):
        commands.add_parser(name).add_argument("id")
    recipients = commands.add_parser("recipients", help="each recipient's state")
    recipients.add_argument("id")
    recipients.add_argument("--status")
    for name in ("preview", "test"):
        command = commands.add_parser(name)
        command.add_argument("id")
        command.add_argument("--email", required=True)
    send = commands.add_parser("send", help="send now (or --at a time) and show progress")
    send.add_argument("id")
    send.add_argument("--at", help="ISO 8601 time with an offset")
    send.add_argument("--no-wait", action="store_true")
    return main


def run(args, api: StaffApi, out=sys.stdout) -> int:
    def show(value):
        out.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")

    if args.command == "create":
        created = api.call("POST", "", json={"subject": args.subject, "body": args.body_file.read_text("utf-8"),
                                             "format": "text" if args.text else "markdown",
                                             "audience": audience(args)})
        out.write(f"{created['id']}  draft for {created['recipients']} recipients\n")
    elif args.command == "list":
        for mailout in api.call("GET", "", params={"status": args.status} if args.status else {})["items"]:
            out.write(f"{mailout['id']}  {mailout['status']:<9}  {mailout['recipients']:>6}  {mailout['subject']}\n")
    elif args.command == "show":
        show(api.call("GET", f"/{args.id}"))
    elif args.command == "recipients":
        show(api.call("GET", f"/{args.id}/recipients", params={"status": args.status} if args.status else {}))
    elif args.command == "preview":
        show(api.call("GET", f"/{args.id}/preview", params={"email": args.email}))
    elif args.command == "test":
        api.call("POST", f"/{args.id}/test", json={"email": args.email})
        out.write(f"a test copy is on its way to {args.email}\n")
    elif args.command == "send":
        api.call("POST", f"/{args.id}/send", json={"at": args.at} if args.at else {})
        if args.no_wait or args.at:
            out.write(f"{args.id} will be sent{' at ' + args.at if args.at else ''}\n")
            return 0
        return 0 if watch(api, args.id, out)["status"] == "sent" else 1
    elif args.command == "watch":
        return 0 if watch(api, args.id, out)["status"] in ("sent", "paused") else 1
    else:
        out.write(progress_line(api.call("POST", f"/{args.id}/{args.command}")) + "\n")
    return 0


def main(argv=None) -> int:
    return run_command(parser().parse_args(argv), "/api/v1/mailouts", run,
                       interrupted="stopped watching; the mailout goes on")


if __name__ == "__main__":
    sys.exit(main())
