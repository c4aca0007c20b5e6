"""The ``regentrace`` command: serve, migrate, rebuild, demo, schema.

Every command reads its settings from ``REGENTRACE_*`` variables (see the README); the database
is ``REGENTRACE_DATABASE_URL``, by default an SQLite file under ./var.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from api.cli_errors import EXIT_STATUSES, CommandError, Exit, global_options, run
from api.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI


def _settings() -> Settings:
    """The settings, or a ValidationError the error handler reports as bad settings (exit 3)."""
    return Settings()


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_migrate(_: argparse.Namespace) -> int:
    from api.wiring import migrate

    settings = _settings()
    _say(f"migrating {settings.database.describe()}")
    applied = migrate(settings.database, lambda m: _say(f"  {m}"))
    _say(f"migrate: {len(applied)} migration(s) applied; schema is current")
    return 0


def cmd_rebuild(_: argparse.Namespace) -> int:
    from api.wiring import Regentrace
    from projections.rebuild import rebuild

    settings = _settings()
    service = Regentrace(settings)
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        rate = done / max(time.perf_counter() - started, 1e-9)
        share = f"{100 * done / total:.0f}%" if total else "100%"
        _say(f"rebuild: {done:,}/{total:,} events ({share}), {rate:,.0f} events/s")

    _say(f"rebuilding projections from the ledger in {settings.database.describe()}")
    count = rebuild(service.recorder, service.app.mapper, progress)
    service.close()
    _say(f"rebuild: done, {count:,} events replayed in {time.perf_counter() - started:.2f}s")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from api.wiring import Regentrace, migrate
    from demo import network as demo

    settings = _settings()
    migrate(settings.database)
    service = Regentrace(settings)
    try:
        head = service.app.head_position()
        if head:
            if args.if_empty:
                _say(f"demo: the ledger already holds {head:,} events; not seeding")
                return 0
            _say(
                f"demo: the ledger already holds {head:,} events; the demo seeds only an empty "
                "ledger (use --if-empty to skip quietly, or point REGENTRACE_DATABASE_URL "
                "at a new database)"
            )
            return 1

        def progress(done: int, total: int, label: str) -> None:
            if done % 25 == 0 or done == total or done < 10:
                _say(f"demo: [{done}/{total}] {label}")

        count = demo.seed(service.app, progress)
        _say(f"demo: seeded {count} commands; head position {service.app.head_position()}")
        return 0
    finally:
        service.close()


def _moment(text: str | None, end_of_day: bool = False) -> datetime | None:
    """A date (a UTC day) or a date and time with its offset."""
    if text is None:
        return None
    try:
        if len(text) == 10:
            day = datetime.fromisoformat(text).replace(tzinfo=UTC)
            return day + timedelta(days=1, microseconds=-1) if end_of_day else day
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{text!r} is not a date (2026-03-01) or a time") from None
    if moment.tzinfo is None:
        raise CommandError(f"{text!r} has no UTC offset; e.g. {text}+08:00")
    return moment


def cmd_export(args: argparse.Namespace) -> int:
    from api import export
    from api.wiring import Regentrace

    service = Regentrace(_settings())
    found = export.records(
        service,
        released_from=_moment(args.released_from),
        released_to=_moment(args.released_to, end_of_day=True),
        site_id=args.site,
        as_of=_moment(args.as_of),
    )
    writer = export.write_csv if args.format == "csv" else export.write_json
    out = open(args.out, "w", encoding="utf-8", newline="") if args.out else sys.stdout  # noqa: SIM115
    try:
        count = writer(found, out, lambda n: _say(f"export: {n:,} batches written"))
    finally:
        if args.out:
            out.close()
        service.close()
    _say(
        f"export: done, {count:,} source-and-flow records" + (f" in {args.out}" if args.out else "")
    )
    return 0


def cmd_export_ledger(args: argparse.Namespace) -> int:
    from api import export
    from api.wiring import Regentrace

    service = Regentrace(_settings())
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115
    try:
        count = export.write_ledger(
            service,
            out,
            _moment(args.until, end_of_day=True),
            lambda n: _say(f"export: {n:,} events written"),
        )
    finally:
        if args.out:
            out.close()
        service.close()
    _say(f"export: done, {count:,} events; verify with tools/verify_ledger_export.py")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from api.checkpoint_cli import checkpoint_outcome
    from api.wiring import Regentrace
    from projections.audit import verify

    settings = _settings()
    service = Regentrace(settings)
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        rate = done / max(time.perf_counter() - started, 1e-9)
        _say(f"verify: {done:,}/{total:,} events, {rate:,.0f} events/s")

    result = verify(service.read, args.from_position, args.to_position, progress)
    extended = checkpoint_outcome(args, settings, service) if result.ok else None
    service.close()
    elapsed = time.perf_counter() - started
    if result.ok:
        _say(
            f"verify: OK, {result.checked_events:,} events in {elapsed:.2f}s; head position "
            f"{result.head_position}, head hash {result.head_hash}"
        )
        if extended is not None:
            _say(extended[1])
        return 0 if extended is None or extended[0] else 1
    _say(
        f"verify: FAILED at position {result.first_mismatch_position}: {result.problem} "
        f"({result.checked_events:,} events checked before it)"
    )
    return Exit.FAILED  # tampering: 1, distinct from a database that cannot be read (4)


def cmd_replay(args: argparse.Namespace) -> int:
    from pathlib import Path

    from api.wiring import Regentrace, migrate
    from projections.ledger import LedgerIndex
    from projections.replay import replay

    out = Path(args.out)
    if out.exists():
        raise CommandError(f"{out} exists; the replay writes a new file")
    settings = _settings()
    source = Regentrace(settings)
    with source.read() as sql:
        until = LedgerIndex(sql).position_at(_moment(args.until, end_of_day=True))
    target_settings = settings.model_copy(update={"database_url": f"sqlite:///{out}"})
    migrate(target_settings.database)
    target = Regentrace(target_settings)
    started = time.perf_counter()

    def progress(stage: str, done: int, total: int) -> None:
        rate = done / max(time.perf_counter() - started, 1e-9)
        _say(f"replay: {stage} {done:,}/{total:,} events, {rate:,.0f} events/s")

    try:
        count = replay(source.recorder, until, target.recorder, target.app.mapper, progress)
    finally:
        source.close()
        target.close()
    _say(
        f"replay: done, {count:,} events up to position {until} in {out} "
        f"({time.perf_counter() - started:.2f}s); open it with "
        f"REGENTRACE_DATABASE_URL=sqlite:///{out} regentrace serve"
    )
    return 0


def cmd_schema(_: argparse.Namespace) -> int:
    from api.schema import sdl

    sys.stdout.write(sdl())
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api import logs
    from api.wiring import Regentrace, migrate

    settings = _settings()
    logs.configure(json_lines=settings.json_logs)
    if args.workers < 1:
        raise CommandError("--workers must be 1 or more")
    if args.migrate or (args.migrate is None and not settings.is_production):
        migrate(settings.database, lambda m: _say(f"migrate: {m}"))
    # Reach the database before listening, so a server that cannot start says why and exits 4
    # (the same failure inside the server's startup would be a traceback).
    Regentrace(settings).close()
    host = "localhost" if args.host in ("127.0.0.1", "0.0.0.0") else args.host  # noqa: S104
    _say(f"regentrace: serving {settings.database.describe()}")
    if args.workers > 1:
        _say(f"regentrace: {args.workers} worker processes (each with its own rate limits)")
    if settings.graphiql_enabled:
        _say(f"regentrace: GraphiQL at http://{host}:{args.port}/graphql")
    else:
        _say(f"regentrace: GraphQL at http://{host}:{args.port}/graphql")
    options: dict[str, Any] = {"host": args.host, "port": args.port, "log_config": None}
    if args.workers > 1:
        # Each worker process builds its own app from the same environment.
        uvicorn.run(
            "api.cli:worker_app", factory=True, workers=args.workers, access_log=False, **options
        )
    else:
        uvicorn.run(worker_app(settings), access_log=False, **options)
    return 0


def worker_app(settings: Settings | None = None) -> FastAPI:
    """The app one serving process runs (``serve --workers N`` starts N of them)."""
    from api import logs
    from api.app import create_app

    settings = settings or _settings()
    logs.configure(json_lines=settings.json_logs)
    app = create_app(settings)
    # Everything loaded so far (modules, schema, settings) lives as long as the process: leave
    # it out of garbage collection, whose full passes over it were the tail of read latency.
    gc.collect()
    gc.freeze()
    return app


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

    serve = commands.add_parser("serve", help="serve GraphQL over HTTP")
    serve.description = (
        "Serve GraphQL at /graphql (GraphiQL in development), /healthz and /readyz. "
        "In development pending migrations are applied first; production expects "
        "`regentrace migrate` to have run."
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (8000)")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="serving processes sharing the port (1); rate limits are counted per process",
    )
    serve.add_argument(
        "--migrate",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="apply pending migrations before serving (default: in development only)",
    )
    serve.set_defaults(run=cmd_serve)

    migrate = commands.add_parser("migrate", help="create or upgrade the database tables")
    migrate.description = "Apply pending versioned SQL migrations. Idempotent: safe at every start."
    migrate.set_defaults(run=cmd_migrate)

    rebuild = commands.add_parser("rebuild", help="replay the ledger into empty projections")
    rebuild.description = (
        "Empty every projection table and replay the whole ledger into it, with progress, in "
        "one transaction. Commands sent meanwhile wait for the ledger lock and fail after "
        "the lock timeout; run it in a quiet period."
    )
    rebuild.set_defaults(run=cmd_rebuild)

    demo = commands.add_parser("demo", help="seed realistic demo data into an empty ledger")
    demo.description = "Seed a demo hub-and-spoke network (migrating first) into an empty ledger."
    demo.add_argument(
        "--if-empty", action="store_true", help="do nothing (and succeed) if the ledger has events"
    )
    demo.set_defaults(run=cmd_demo)

    export = commands.add_parser("export", help="export records for inspectors")
    export.description = "Export regulatory records for inspectors."
    exports = export.add_subparsers(dest="record", required=True, metavar="RECORD")
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
    flows.add_argument("--as-of", dest="as_of", help="as the ledger stood at that moment")
    flows.add_argument("--out", help="file to write (default: standard output)")
    flows.set_defaults(run=cmd_export)

    ledger = exports.add_parser("ledger", help="the ledger as JSON Lines, hash chain included")
    ledger.description = (
        "Export every event up to a moment with its ledger time and hash, for verification "
        "without regentrace: tools/verify_ledger_export.py, docs/ledger-chain.md."
    )
    ledger.add_argument("--until", help="last moment to include (default: everything)")
    ledger.add_argument("--out", help="file to write (default: standard output)")
    ledger.set_defaults(run=cmd_export_ledger)

    from api.epcis.cli import add_epcis_export

    add_epcis_export(exports)

    verify = commands.add_parser("verify", help="recompute the hash chain; exit 1 on tampering")
    verify.description = (
        "Recompute the SHA-256 chain over the stored events and check every aggregate's version "
        "continuity; report the first position that fails. Exit status 0 when intact, 1 if not, "
        "4 if the database cannot be read."
    )
    verify.add_argument("--from", dest="from_position", type=int, help="first position")
    verify.add_argument("--to", dest="to_position", type=int, help="last position")
    verify.set_defaults(run=cmd_verify)

    replay = commands.add_parser("replay", help="the ledger up to a moment, in its own file")
    replay.description = (
        "Write a self-contained SQLite database holding the events up to a moment, their hash "
        "chain and every projection as it stood then; serve or query it offline."
    )
    replay.add_argument("--until", help="the moment (default: now), e.g. 2026-06-30 or a time")
    replay.add_argument("--out", required=True, help="new SQLite file to write")
    replay.set_defaults(run=cmd_replay)

    _add_schema_and_keys(commands)
    return parser


def _add_schema_and_keys(commands: Any) -> None:
    from api.auth.cli import add_apikey_commands
    from api.checkpoint_cli import add_checkpoint_command, add_verify_options

    add_verify_options(commands.choices["verify"])
    add_checkpoint_command(commands)

    add_apikey_commands(commands)
    schema = commands.add_parser("schema", help="print the GraphQL schema (SDL)")
    schema.description = "Print the GraphQL schema in SDL, e.g. to check it against the contract."
    schema.set_defaults(run=cmd_schema)


def main(argv: Sequence[str] | None = None) -> int:
    """Every subcommand runs inside one error handler (api/cli_errors.py): a failure is one line
    on stderr and a documented exit status; --debug adds the traceback."""
    args = build_parser().parse_args(argv)
    return run(lambda: int(args.run(args)), debug=args.debug)


if __name__ == "__main__":
    sys.exit(main())
