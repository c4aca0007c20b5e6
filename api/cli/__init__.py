"""The ``regentrace`` command: one module per family of subcommands, composed here.

- serve.py: ``serve``
- ledger.py: ``migrate``, ``rebuild``, ``demo``, ``replay``, ``schema``
- audit.py: ``verify``, ``export ledger``, ``checkpoint``
- records.py: ``export source-and-flow``
- epcis.py: ``export epcis``
- keys.py: ``apikey``
- backlog.py: ``import`` (a backlog of commands sent to a server in batches)
- errors.py: the one error handler and the exit statuses; common.py: what they all share.

This module imports the subcommand modules, they import common.py and errors.py, and none
imports back up (import-linter checks it). Every command reads its settings from
``REGENTRACE_*`` variables (see the README); the database is ``REGENTRACE_DATABASE_URL``, by
default an SQLite file under ./var.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from api.cli import audit, backlog, epcis, keys, ledger, records, serve
from api.cli.errors import EXIT_STATUSES, global_options, run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="regentrace",
        description="Regulatory traceability ledger for decentralised manufacture of "
        "regenerative medicines. Settings come from REGENTRACE_* variables; the database is "
        "REGENTRACE_DATABASE_URL (default sqlite:///./var/regentrace.sqlite3).",
        epilog=EXIT_STATUSES,
        parents=[global_options()],
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # The order here is the order `regentrace --help` lists them in.
    serve.add_serve(commands)
    ledger.add_migrate(commands)
    ledger.add_rebuild(commands)
    ledger.add_demo(commands)
    _add_exports(commands)
    audit.add_verify(commands)
    ledger.add_replay(commands)
    backlog.add_import(commands)
    audit.add_checkpoint_command(commands)
    keys.add_apikey_commands(commands)
    ledger.add_schema(commands)
    return parser


def _add_exports(commands: Any) -> None:
    export = commands.add_parser("export", help="export records for inspectors")
    export.description = "Export regulatory records for inspectors."
    exports = export.add_subparsers(dest="record", required=True, metavar="RECORD")
    records.add_source_and_flow_export(exports)
    audit.add_ledger_export(exports)
    epcis.add_epcis_export(exports)


def main(argv: Sequence[str] | None = None) -> int:
    """Every subcommand runs inside one error handler (api/cli/errors.py): a failure is one line
    on stderr and a documented exit status; --debug adds the traceback."""
    args = build_parser().parse_args(argv)
    return run(lambda: int(args.run(args)), debug=args.debug)
