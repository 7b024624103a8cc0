"""Imports from a terminal: members with their contacts, or newsletter subscribers, from a CSV or
XLSX file, through the staff API.

    python -m ops.importer [--url URL] [--token TOKEN] members FILE [--apply]
    python -m ops.importer [--url URL] [--token TOKEN] subscribers FILE --source "WHERE FROM" [--apply]
    (or: make import ARGS="...")

Without --apply the file is only checked: every broken row with its line and column, and what the
rest would change. With --apply it is checked, then imported if it would still change exactly what
the check showed. Members need a token with the role `members`, subscribers `mailouts` (or
`admin`). Exit status: 0 checked or imported (broken rows are left out and listed), 1 the platform
is unreachable, 2 refused (an unreadable file, or the data changed between the check and the import).
"""
import sys
from pathlib import Path

from ops.staff_api import StaffApi, command_parser, run_command

MEDIA_TYPES = {".csv": "text/csv", ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
SHOWN_CHANGES = 50  # changes listed one by one; the rest only counted


def parser():
    main = command_parser("python -m ops.importer", __doc__)
    kinds = main.add_subparsers(dest="kind", required=True)
    for kind, help_text in (("members", "members with their contacts (by IČO)"),
                            ("subscribers", "newsletter subscribers (by address)")):
        command = kinds.add_parser(kind, help=help_text)
        command.add_argument("file", type=Path, help="a .csv or .xlsx file; its first row heads the columns")
        command.add_argument("--apply", action="store_true", help="import (after a check)")
        if kind == "subscribers":
            command.add_argument("--source", required=True, help="where the list comes from; kept with each address")
    return main


def describe(change: dict) -> str:
    details = [f"{c['field']}: {c['before']} -> {c['after']}" for c in change.get("fields_changed", [])]
    details += [f"+ {email}" for email in change.get("contacts_added", [])]
    details += [f"~ {email}" for email in change.get("contacts_changed", [])]
    if change.get("reason"):
        details.append(change["reason"])
    lines = ",".join(map(str, change["lines"]))
    return f"  {change['action']:<10} {change['key']}  {change.get('name') or ''}  (line {lines})" + (
        f"  {'; '.join(details)}" if details else "")


def show(report: dict, out) -> None:
    for error in report["errors"]:
        column = error.get("column") or error.get("field") or "row"
        out.write(f"line {error['line']}: {column}: {' '.join(error['messages'])}\n")
    for change in [c for c in report["changes"] if c["action"] != "unchanged"][:SHOWN_CHANGES]:
        out.write(describe(change) + "\n")
    for entry in report.get("suppressed", []):
        out.write(f"  suppressed {entry['email']} ({entry['reason']}): stays on the suppression list\n")
    if report.get("ignored_columns"):
        out.write(f"columns left out: {', '.join(report['ignored_columns'])}\n")
    counts = ", ".join(f"{action} {n}" for action, n in sorted(report["counts"].items()))
    state = "imported" if report["imported"] else "checked, nothing written"
    out.write(f"{report['rows']} rows {state}: {counts}\n")


def run(args, api: StaffApi, out=sys.stdout) -> int:
    media_type = MEDIA_TYPES.get(args.file.suffix.lower())
    if media_type is None:
        sys.stderr.write(f"{args.file}: a .csv or .xlsx file is expected.\n")
        return 2
    data = args.file.read_bytes()
    options = {"source": args.source} if args.kind == "subscribers" else {}

    def post(**more):
        return api.call("POST", f"/{args.kind}", params={**options, **more}, data=data,
                        headers={"Content-Type": media_type})

    checked = post(dry_run="true")
    show(checked, out)
    if args.apply:
        show(post(dry_run="false", plan=checked["plan"]), out)
    return 0


def main(argv=None) -> int:
    return run_command(parser().parse_args(argv), "/api/v1/imports", run)


if __name__ == "__main__":
    sys.exit(main())
