"""``regentrace export source-and-flow``: Taiwan's source-and-flow records (來源及流向資料) for
inspectors, as CSV or JSON."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from api.cli.common import load_settings, moment, say


def add_source_and_flow_export(exports: Any) -> None:
    """Register ``source-and-flow`` under ``regentrace export``."""
    flows = exports.add_parser(
        "source-and-flow",
        help="Taiwan source-and-flow records (來源及流向資料), one row per batch and recipient",
    )
    flows.description = (
        "Export source-and-flow records with the fields of the 2025 Taiwanese rules, headers in "
        "Traditional Chinese and English. Dates are UTC days (2026-03-01) or times with offset."
    )
    flows.add_argument("--format", choices=("csv", "json"), default="csv", help="csv (default)")
    flows.add_argument("--from", dest="released_from", help="batches released on or after")
    flows.add_argument("--to", dest="released_to", help="batches released on or before")
    flows.add_argument("--site", help="batches a site was involved in (any role)")
    flows.add_argument(
        "--licence", help="batches made under one licence or conditional-approval number"
    )
    flows.add_argument(
        "--by-licence",
        action="store_true",
        help="group the records by licence number (then those without one)",
    )
    flows.add_argument("--as-of", dest="as_of", help="as the ledger stood at that moment")
    flows.add_argument("--out", help="file to write (default: standard output)")
    flows.set_defaults(run=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    from api import export
    from api.wiring import Regentrace

    service = Regentrace(load_settings())
    found = export.records(
        service,
        released_from=moment(args.released_from),
        released_to=moment(args.released_to, end_of_day=True),
        site_id=args.site,
        as_of=moment(args.as_of),
        licence_number=args.licence,
        by_licence=args.by_licence,
    )
    writer = export.write_csv if args.format == "csv" else export.write_json
    out = open(args.out, "w", encoding="utf-8", newline="") if args.out else sys.stdout  # noqa: SIM115
    try:
        count = writer(found, out, lambda n: say(f"export: {n:,} batches written"))
    finally:
        if args.out:
            out.close()
        service.close()
    say(
        f"export: done, {count:,} source-and-flow records" + (f" in {args.out}" if args.out else "")
    )
    return 0
