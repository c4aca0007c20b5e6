"""``regentrace export epcis``: the EPCIS 2.0 document of a batch, a shipment, a recall or a
window of business time, for partners' EPCIS repositories and for inspectors."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api.cli.common import load_settings, moment, say
from api.cli.errors import CommandError, Exit


def add_epcis_export(exports: Any) -> None:
    """Register ``epcis`` under ``regentrace export``."""
    epcis = exports.add_parser(
        "epcis", help="GS1 EPCIS 2.0 JSON-LD document of a batch, shipment, recall or window"
    )
    epcis.description = (
        "Export the chain as a GS1 EPCIS 2.0 EPCISDocument (JSON-LD, CBV 2.0 vocabulary; the "
        "mapping is in docs/epcis.md). Times are UTC days (2026-03-01) or times with offset."
    )
    scope = epcis.add_mutually_exclusive_group(required=True)
    scope.add_argument("--batch", help="a batch: its donation, lots, manufacture, QC, flow, use")
    scope.add_argument("--shipment", help="every batch a shipment carried")
    scope.add_argument("--recall", help="every batch in a recall's trace")
    scope.add_argument("--from", dest="window_from", help="events whose business time is from")
    epcis.add_argument("--to", dest="window_to", help="... up to this moment (with --from)")
    epcis.add_argument("--as-of", dest="as_of", help="as the ledger stood at that moment")
    epcis.add_argument(
        "--validate",
        metavar="SCHEMA",
        help="check the document against a local copy of GS1's EPCIS JSON Schema first; "
        "write nothing and exit 1 if it does not validate",
    )
    epcis.add_argument("--out", help="file to write (default: standard output)")
    epcis.set_defaults(run=cmd_export_epcis)


def cmd_export_epcis(args: argparse.Namespace) -> int:
    if (args.window_from is None) != (args.window_to is None):
        raise CommandError("a window needs both --from and --to")
    document = _document(args)
    if args.validate and not _valid(Path(args.validate), document):
        return 1
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    count = len(document["epcisBody"]["eventList"])
    say(f"export: done, {count:,} EPCIS events" + (f" in {args.out}" if args.out else ""))
    return 0


def _document(args: argparse.Namespace) -> dict[str, Any]:
    from api.wiring import Regentrace
    from domain.shared import DomainError
    from projections.epcis_document import EpcisScope, epcis_document
    from projections.ledger import LedgerIndex

    service = Regentrace(load_settings())
    try:
        scope = EpcisScope.of(
            batch_id=args.batch,
            shipment_id=args.shipment,
            recall_id=args.recall,
            window_from=moment(args.window_from),
            window_to=moment(args.window_to, end_of_day=True),
        )
        with service.read() as sql:
            position = LedgerIndex(sql).position_at(moment(args.as_of))
            # The operator's export: every event of the scope.
            return epcis_document(sql, position, scope, datetime.now(UTC), reach=None)
    except DomainError as error:
        raise CommandError(error.message, Exit.FAILED) from None
    finally:
        service.close()


def _valid(schema: Path, document: Any) -> bool:
    from api.epcis.validation import problems, validator

    found = problems(validator(schema), document)
    for problem in found[:20]:
        say(f"export: invalid EPCIS: {problem}")
    if found:
        say(f"export: {len(found)} schema violation(s); nothing written")
    return not found
