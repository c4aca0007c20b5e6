"""Offline replay for inspectors: the ledger up to a moment, in a file of its own; or the whole
ledger moved into a new, empty database (from SQLite to PostgreSQL).

The events up to the position that stood at that moment are copied with their ledger rows (so
the chain verifies in the copy), the command ids kept with them (ADR 7) and the signed
checkpoints taken up to that position, and every projection is built from them there: the copy
holds each view exactly as it stood at that moment, and answers without regentrace's server.

The copy and the views are written in one transaction of the target, whichever way they are
built: a failure anywhere leaves the target without events, and the replay can be run again. For
a large ledger the rebuild's worker processes (projections/rebuild.py) project the same events,
read from the source, while this process copies them; a small one is copied, then projected in
this process from the rows just copied, before the transaction commits.

Into PostgreSQL, the rows go in with ``COPY`` and their explicit notification ids; the sequences
behind generated ids are then moved past the copied rows, so the next command appends at the
position after the last one copied.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from functools import partial
from typing import Any

from eventsourcing.persistence import Mapper

from projections import commands
from projections.audit import RECORDED_AT
from projections.read_ahead import read_ahead
from projections.rebuild import Workers, project_here, use_workers
from projections.sql import Dialect, Sql
from projections.store import LedgerRecorder

BATCH = 5000
# The tables the copy writes (the rebuild writes the views).
COPIED_TABLES = ("stored_events", "ledger", "commands", "checkpoints")
COMMANDS_BATCH = 50_000  # positions per read of the commands kept with the events (ADR 7)
EVENT_COLUMNS = ("notification_id", "originator_id", "originator_version", "topic", "state")
LEDGER_COLUMNS = (
    "position",
    "originator_id",
    "originator_version",
    "aggregate_type",
    "event_type",
    "actor",
    "actor_role",
    "recorded_at",
    "hash",
)
# Events that have a ledger row, with it, in storage form (recorded_at as the chain's text).
COPY = (
    "SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, e.state,"
    " l.position, l.originator_id, l.originator_version, l.aggregate_type, l.event_type,"
    " l.actor, l.actor_role, {recorded_at}, l.hash"
    " FROM ledger l JOIN stored_events e ON e.notification_id = l.position"
    " WHERE l.position > ? AND l.position <= ? ORDER BY l.position"
)

COPY_COMMANDS = (
    f"SELECT {', '.join(commands.COLUMNS)} FROM commands"
    " WHERE position > ? AND position <= ? ORDER BY position"
)
# The signed checkpoints (migration 0008) whose position the copy holds, with their ids.
CHECKPOINT_COLUMNS = (
    "checkpoint_id",
    "position",
    "head_hash",
    "signed_at",
    "key_id",
    "public_key",
    "signature",
)
COPY_CHECKPOINTS = (
    f"SELECT {', '.join(CHECKPOINT_COLUMNS)} FROM checkpoints"
    " WHERE position <= ? ORDER BY checkpoint_id"
)


def replay(
    source: LedgerRecorder,
    until_position: int,
    target: LedgerRecorder,
    mapper: Mapper[Any],
    progress: Callable[[str, int, int], None] = lambda _s, _d, _t: None,
    workers: int | None = None,
) -> int:
    """Copy events 1..``until_position`` and their chain from ``source`` into ``target`` (an
    empty ledger, on either database) and build its views; answer how many events were copied.
    ``workers`` as for ``rebuild``."""
    with source.read() as sql:
        count = int(
            sql.scalar("SELECT COUNT(*) FROM ledger WHERE position <= ?", (until_position,))
        )
        source_file = _sqlite_file(sql) if sql.dialect is Dialect.SQLITE else None
    if not use_workers(count, workers):
        # The views projected from the rows just copied, in the same transaction.
        with target.write_in_bulk() as out:
            copied = _copy(source, source_file, out, until_position, progress)
            projected = project_here(
                out, mapper, until_position, copied, lambda d, t: progress("rebuild", d, t)
            )
            advance_sequences(out, COPIED_TABLES)
            progress("rebuild", projected, copied)
        return copied
    # One transaction for the copy and the views (the target is new, nothing else writes it).
    with (
        target.write_in_bulk() as out,
        Workers(
            source.source(), mapper, until_position, count, lambda d, t: progress("rebuild", d, t)
        ) as projecting,
    ):
        if out.dialect is Dialect.POSTGRES:
            # The transaction waits while the workers finish projecting, which must not look
            # like an abandoned session to the server.
            out.execute("SET LOCAL idle_in_transaction_session_timeout = '30min'")
        copied = _copy(source, source_file, out, until_position, progress)
        projected = projecting.finish(out)
        advance_sequences(out, COPIED_TABLES)
        progress("rebuild", projected, count)
    assert projected == copied, f"{copied} events copied, {projected} projected"
    return copied


def _copy(
    source: LedgerRecorder,
    source_file: str | None,
    out: Sql,
    until_position: int,
    progress: Callable[[str, int, int], None],
) -> int:
    if out.scalar("SELECT COUNT(*) FROM stored_events"):
        raise ValueError(
            "the replay target already holds events; give a new file or an empty database"
        )
    if source_file is not None and out.dialect is Dialect.SQLITE:
        copied = _copy_attached(out, source_file, until_position)
        progress("copy", copied, until_position)
        return copied
    return _copy_rows(source.read, out, source.dialect, until_position, progress)


def _copy_attached(out: Sql, source_file: str, until_position: int) -> int:
    """SQLite to SQLite: the target attaches the source and copies table to table inside the
    database engine (one snapshot of the source for both tables: one transaction)."""
    out.execute("ATTACH DATABASE ? AS source", (source_file,))
    out.execute(
        f"INSERT INTO main.stored_events ({', '.join(EVENT_COLUMNS)})"
        f" SELECT {', '.join(f'e.{c}' for c in EVENT_COLUMNS)}"
        " FROM source.ledger l JOIN source.stored_events e ON e.notification_id = l.position"
        " WHERE l.position <= ?",
        (until_position,),
    )
    out.execute(
        f"INSERT INTO main.ledger ({', '.join(LEDGER_COLUMNS)})"
        f" SELECT {', '.join(LEDGER_COLUMNS)} FROM source.ledger WHERE position <= ?",
        (until_position,),
    )
    columns = ", ".join(commands.COLUMNS)
    out.execute(
        f"INSERT INTO main.commands ({columns})"
        f" SELECT {columns} FROM source.commands WHERE position <= ?",
        (until_position,),
    )
    columns = ", ".join(CHECKPOINT_COLUMNS)
    out.execute(
        f"INSERT INTO main.checkpoints ({columns})"
        f" SELECT {columns} FROM source.checkpoints WHERE position <= ?",
        (until_position,),
    )
    return int(out.scalar("SELECT COUNT(*) FROM main.ledger"))


def _copy_rows(
    read: Callable[[], AbstractContextManager[Sql]],
    out: Sql,
    source: Dialect,
    until_position: int,
    progress: Callable[[str, int, int], None],
) -> int:
    """From PostgreSQL, or into it: batches of rows, the next read while this one is written
    (on PostgreSQL; SQLite reads run in turn)."""
    copied = 0
    for rows in read_ahead(
        (
            partial(_read_batch, read, low, min(low + BATCH, until_position))
            for low in range(0, until_position, BATCH)
        ),
        source,
    ):
        out.insert_rows("stored_events", EVENT_COLUMNS, [row[:5] for row in rows])
        out.insert_rows("ledger", LEDGER_COLUMNS, [(*row[5:13], row[13].strip()) for row in rows])
        copied += len(rows)
        progress("copy", copied, until_position)
    _copy_commands(read, out, until_position)
    with read() as sql:
        signed = sql.tuples(COPY_CHECKPOINTS, (until_position,))
    out.insert_rows(
        "checkpoints", CHECKPOINT_COLUMNS, [(*row[:2], row[2].strip(), *row[3:]) for row in signed]
    )
    return copied


def _copy_commands(
    read: Callable[[], AbstractContextManager[Sql]], out: Sql, until_position: int
) -> None:
    """The command ids kept with the copied events, by ranges of positions."""
    for low in range(0, until_position, COMMANDS_BATCH):
        with read() as sql:
            kept = sql.tuples(COPY_COMMANDS, (low, min(low + COMMANDS_BATCH, until_position)))
        out.insert_rows("commands", commands.COLUMNS, kept)


def advance_sequences(out: Sql, tables: Iterable[str]) -> None:
    """PostgreSQL: every sequence behind a generated id (a serial or identity column) of
    ``tables`` set past the largest id they hold, so the next row inserted without an id (the
    next command's events) takes the one after. Rows copied in with their ids leave the
    sequences where they were. SQLite takes the next rowid from the rows themselves."""
    if out.dialect is not Dialect.POSTGRES:
        return
    wanted = set(tables)
    generated = out.tuples(
        "SELECT table_name::text, column_name::text,"
        " pg_get_serial_sequence(quote_ident(table_name), column_name)"
        " FROM information_schema.columns"
        " WHERE table_schema = current_schema()"
        " AND (column_default LIKE 'nextval(%' OR is_identity = 'YES')"
    )
    for table, column, sequence in generated:
        if table in wanted and sequence is not None:
            # is_called false: the next value is exactly the one given (1 on an empty table).
            out.execute(
                f"SELECT setval(?::regclass, COALESCE(MAX({column}), 0) + 1, false) FROM {table}",
                (sequence,),
            )


def _sqlite_file(sql: Sql) -> str:
    rows = sql.sqlite_connection().execute("PRAGMA database_list").fetchall()
    return str(next(row[2] for row in rows if row[1] == "main"))


def _read_batch(
    read: Callable[[], AbstractContextManager[Sql]], low: int, high: int
) -> list[tuple[Any, ...]]:
    with read() as sql:
        return sql.tuples(COPY.format(recorded_at=RECORDED_AT[sql.dialect]), (low, high))
