"""`system df` and `check`."""

from __future__ import annotations

import argparse
import sys

from dockyard.cli.common import engine_for


def cmd_df(args: argparse.Namespace) -> int:
    from dockyard.cli.table import render_table
    from dockyard.humanize import human_size

    usage = engine_for(args).disk_usage()
    rows = []
    for label, key in (("Images", "images"), ("Containers", "containers")):
        part = usage[key]
        size = part["size"]
        reclaimable = part["reclaimable"]
        percent = int(reclaimable * 100 / size) if size else 0
        rows.append(
            {
                "Type": label,
                "TotalCount": str(part["total"]),
                "Active": str(part["active"]),
                "Size": human_size(size, 4),
                "Reclaimable": f"{human_size(reclaimable, 4)} ({percent}%)",
            }
        )
    for label in ("Local Volumes", "Build Cache"):
        rows.append(
            {"Type": label, "TotalCount": "0", "Active": "0", "Size": "0B", "Reclaimable": "0B"}
        )
    fmt = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
    headers = {
        "Type": "TYPE",
        "TotalCount": "TOTAL",
        "Active": "ACTIVE",
        "Size": "SIZE",
        "Reclaimable": "RECLAIMABLE",
    }
    sys.stdout.write(render_table(args.format or fmt, rows, headers))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    report = engine_for(args).check(repair=args.repair)
    for problem in report.problems:
        fixed = " (repaired)" if problem in report.repaired else ""
        sys.stdout.write(f"{problem}{fixed}\n")
    if not report.problems:
        sys.stdout.write("store is consistent\n")
        return 0
    if report.consistent:
        sys.stdout.write("store repaired\n")
        return 0
    sys.stderr.write(
        f"Error: {len(report.problems) - len(report.repaired)} problem(s) remain;"
        " run check --repair\n"
    )
    return 1


def register(subparsers: argparse._SubParsersAction) -> None:
    system = subparsers.add_parser("system", help="manage dockyard")
    system_sub = system.add_subparsers(dest="system_command", metavar="COMMAND")
    df = system_sub.add_parser("df", help="show disk usage")
    df.add_argument("--format")
    df.add_argument("-v", "--verbose", action="store_true")
    df.set_defaults(handler=cmd_df)
    check = subparsers.add_parser("check", help="verify the store (and repair it)")
    check.add_argument("--repair", action="store_true", help="remove what interruptions left")
    check.set_defaults(handler=cmd_check)
