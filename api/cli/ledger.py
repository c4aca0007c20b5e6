"""``regentrace migrate``, ``rebuild``, ``demo``, ``replay`` and ``schema``: the ledger's
tables, its projections rebuilt, demo data, a copy up to a moment (in a new SQLite file or a new
PostgreSQL database), and the GraphQL schema."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

from api.cli.common import load_settings, moment, say
from api.cli.errors import CommandError, Exit

if TYPE_CHECKING:
    from api.settings import Database


def add_migrate(commands: Any) -> None:
    migrate = commands.add_parser("migrate", help="create or upgrade the database tables")
    migrate.description = "Apply pending versioned SQL migrations. Idempotent: safe at every start."
    migrate.set_defaults(run=cmd_migrate)


def add_rebuild(commands: Any) -> None:
    rebuild = commands.add_parser("rebuild", help="replay the ledger into empty projections")
    rebuild.description = (
        "Empty every projection table and replay the whole ledger into it, with progress, in "
        "one transaction. Commands sent meanwhile wait for the ledger lock and fail after "
        "the lock timeout; run it in a quiet period."
    )
    rebuild.set_defaults(run=cmd_rebuild)


def add_demo(commands: Any) -> None:
    demo = commands.add_parser("demo", help="seed realistic demo data into an empty ledger")
    demo.description = "Seed a demo hub-and-spoke network (migrating first) into an empty ledger."
    demo.add_argument(
        "--if-empty", action="store_true", help="do nothing (and succeed) if the ledger has events"
    )
    demo.set_defaults(run=cmd_demo)


def add_replay(commands: Any) -> None:
    replay = commands.add_parser(
        "replay",
        help="the ledger up to a moment, in its own file or a new PostgreSQL database",
    )
    replay.description = (
        "Copy the events up to a moment, their hash chain, the command ids kept with them and "
        "the signed checkpoints taken up to it, and build every projection as it stood then, in "
        "one transaction: with --out, into a new self-contained "
        "SQLite file to serve or query offline; with --into, into a new, empty PostgreSQL "
        "database, which moves a ledger from SQLite to PostgreSQL (stop the service first, "
        "then serve the copy with REGENTRACE_DATABASE_URL set to it). The source is "
        "REGENTRACE_DATABASE_URL."
    )
    replay.epilog = (
        "Examples: regentrace replay --until 2026-06-30 --out ledger-2026-06-30.sqlite3; "
        "createdb -h db.internal regentrace && regentrace replay --into "
        "postgresql://owner@db.internal:5432/regentrace"
    )
    replay.add_argument(
        "--until",
        help="the moment (default: now), e.g. 2026-06-30 or a time; only with --out (--into "
        "moves the whole ledger)",
    )
    target = replay.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", metavar="FILE", help="new SQLite file to write (must not exist)")
    target.add_argument(
        "--into",
        metavar="URL",
        help="an existing PostgreSQL database holding no events, e.g. "
        "postgresql://USER:PASSWORD@HOST:5432/DBNAME (created with createdb; its tables are "
        "migrated first if needed); run it as the database's owner",
    )
    replay.set_defaults(run=cmd_replay)


def add_schema(commands: Any) -> None:
    schema = commands.add_parser("schema", help="print the GraphQL schema (SDL)")
    schema.description = "Print the GraphQL schema in SDL, e.g. to check it against the contract."
    schema.set_defaults(run=cmd_schema)


def cmd_migrate(_: argparse.Namespace) -> int:
    from api.wiring import migrate

    settings = load_settings()
    say(f"migrating {settings.database.describe()}")
    applied = migrate(settings.database, lambda m: say(f"  {m}"))
    say(f"migrate: {len(applied)} migration(s) applied; schema is current")
    return 0


def cmd_rebuild(_: argparse.Namespace) -> int:
    from api.wiring import Regentrace
    from projections.rebuild import rebuild

    settings = load_settings()
    service = Regentrace(settings)
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        rate = done / max(time.perf_counter() - started, 1e-9)
        share = f"{100 * done / total:.0f}%" if total else "100%"
        say(f"rebuild: {done:,}/{total:,} events ({share}), {rate:,.0f} events/s")

    say(f"rebuilding projections from the ledger in {settings.database.describe()}")
    count = rebuild(service.recorder, service.app.mapper, progress)
    service.close()
    say(f"rebuild: done, {count:,} events replayed in {time.perf_counter() - started:.2f}s")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from api.wiring import Regentrace, migrate
    from demo import network as demo

    settings = load_settings()
    migrate(settings.database)
    service = Regentrace(settings)
    try:
        head = service.app.head_position()
        if head:
            if args.if_empty:
                say(f"demo: the ledger already holds {head:,} events; not seeding")
                return 0
            say(
                f"demo: the ledger already holds {head:,} events; the demo seeds only an empty "
                "ledger (use --if-empty to skip quietly, or point REGENTRACE_DATABASE_URL "
                "at a new database)"
            )
            return 1

        def progress(done: int, total: int, label: str) -> None:
            if done % 25 == 0 or done == total or done < 10:
                say(f"demo: [{done}/{total}] {label}")

        count = demo.seed(service.app, progress)
        say(f"demo: seeded {count} commands; head position {service.app.head_position()}")
        return 0
    finally:
        service.close()


def cmd_replay(args: argparse.Namespace) -> int:
    from pathlib import Path

    from api.settings import redact_url
    from api.wiring import Regentrace, migrate
    from projections.ledger import LedgerIndex
    from projections.replay import replay

    if args.into is not None and args.until is not None:
        raise CommandError(
            "--into moves the whole ledger into PostgreSQL, to go on recording there, and takes "
            "no --until: a ledger cut short at a moment would lose every event recorded after "
            "it; nothing was copied. Drop --until, or for the ledger as it stood at a moment "
            "use --out FILE"
        )
    if args.into is not None:
        where = replay_target(args.into).describe()
        target_url = args.into
        then = (
            f"with REGENTRACE_DATABASE_URL={redact_url(args.into)}, check it (regentrace "
            "verify), then serve it (regentrace serve)"
        )
    else:
        out = Path(args.out)
        if out.exists():
            raise CommandError(f"{out} exists; the replay writes a new file")
        where, target_url = str(out), f"sqlite:///{out}"
        then = f"open it with REGENTRACE_DATABASE_URL=sqlite:///{out} regentrace serve"
    settings = load_settings()
    source = Regentrace(settings)
    with source.read() as sql:
        until = LedgerIndex(sql).position_at(moment(args.until, end_of_day=True))
    # The copy answers on its own: no standby of the source's serves it.
    target_settings = settings.model_copy(update={"database_url": target_url, "read_replicas": ""})
    migrate(target_settings.database)
    target = Regentrace(target_settings)
    started = time.perf_counter()

    def progress(stage: str, done: int, total: int) -> None:
        rate = done / max(time.perf_counter() - started, 1e-9)
        say(f"replay: {stage} {done:,}/{total:,} events, {rate:,.0f} events/s")

    try:
        count = replay(source.recorder, until, target.recorder, target.app.mapper, progress)
    finally:
        source.close()
        target.close()
    say(
        f"replay: done, {count:,} events up to position {until} in {where} "
        f"({time.perf_counter() - started:.2f}s); {then}"
    )
    return 0


def replay_target(url: str) -> Database:
    """The PostgreSQL database ``--into`` names, reachable and holding no events; refused with
    what to do otherwise. Nothing in it is changed."""
    import psycopg

    from api.settings import parse_database_url, redact_url

    try:
        db = parse_database_url(url)
    except ValueError as error:
        raise CommandError(f"--into: {error}") from None
    if db.dialect != "postgresql":
        raise CommandError(
            f"--into takes a PostgreSQL URL, not {redact_url(url)!r}; for a new SQLite file "
            "use --out PATH"
        )
    try:
        with psycopg.connect(db.conninfo, connect_timeout=5, autocommit=True) as conn:
            found = conn.execute("SELECT to_regclass('stored_events') IS NOT NULL").fetchone()
            head = None
            if found and found[0]:
                row = conn.execute("SELECT MAX(notification_id) FROM stored_events").fetchone()
                head = row[0] if row else None
    except psycopg.OperationalError as error:
        reason = " ".join(str(error).removeprefix("connection failed: ").split())
        raise CommandError(
            f"cannot use the replay target, {db.describe()}: {reason}. Create the database "
            f"first (e.g. createdb -h {db.host} -p {db.port} -U {db.user} {db.dbname}), "
            "check the user and password in --into, and that the server is running",
            Exit.DATABASE,
        ) from None
    if head is not None:
        raise CommandError(
            f"the replay target, {db.describe()}, already holds events (up to position "
            f"{head:,}); nothing was copied. Give --into a new, empty database (createdb), "
            "or drop and create this one if it is a copy you mean to redo"
        )
    return db


def cmd_schema(_: argparse.Namespace) -> int:
    from api.schema import sdl

    sys.stdout.write(sdl())
    return 0
