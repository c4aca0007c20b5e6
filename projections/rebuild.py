"""Rebuild every projection from the ledger, through the same code that writes them inline.

The ledger is read in position order in batches (never loaded whole), inside one write
transaction: under PostgreSQL the events table stays locked, so no command lands half-way. The
handlers write into a scratch SQLite file (projections/scratch.py), whose rows are then copied
into the emptied projection tables in bulk, still inside that transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from functools import partial
from typing import Any

from eventsourcing.persistence import Mapper, StoredEvent

from domain.shared import LedgerEvent
from projections.ledger import Appended, LedgerIndex
from projections.read_ahead import read_ahead
from projections.registry import project, projection_tables
from projections.scratch import Scratch
from projections.sql import Dialect, Sql
from projections.store import LedgerRecorder

Progress = Callable[[int, int], None]

BATCH = 5000
PROGRESS_EVERY = 5000
EVENTS = (
    "SELECT l.position, l.recorded_at, e.originator_id, e.originator_version, e.topic, e.state"
    " FROM ledger l JOIN stored_events e ON e.notification_id = l.position"
    " WHERE l.position > ? AND l.position <= ? ORDER BY l.position"
)


def read_ledger(
    sql: Sql, mapper: Mapper[Any], until: int, batch_size: int | None = None
) -> Iterator[Appended]:
    """Every event up to position ``until``, in order, with its ledger time.

    Batches are ranges of positions, so each query's work is bounded whatever its plan; on
    PostgreSQL the next is read and decoded while the caller projects this one, and nothing else
    may use ``sql`` meanwhile."""
    size = batch_size or BATCH
    batches = read_ahead(
        (
            partial(_read_batch, sql, mapper, low, min(low + size, until))
            for low in range(0, until, size)
        ),
        sql.dialect,
    )
    for batch in batches:
        yield from batch


def _read_batch(sql: Sql, mapper: Mapper[Any], low: int, high: int) -> list[Appended]:
    found = []
    for position, at, originator_id, version, topic, state in sql.tuples(EVENTS, (low, high)):
        event = mapper.to_domain_event(StoredEvent(originator_id, version, topic, bytes(state)))
        assert isinstance(event, LedgerEvent)
        # SQLite keeps ledger time as ISO 8601 text.
        recorded_at = datetime.fromisoformat(at) if isinstance(at, str) else at
        found.append(Appended(int(position), recorded_at, event))
    return found


def rebuild(
    recorder: LedgerRecorder, mapper: Mapper[Any], progress: Progress = lambda _d, _t: None
) -> int:
    """Empty every projection table and replay the whole ledger into them; answer the count."""
    tables = projection_tables()
    with recorder.write_in_bulk() as sql, Scratch() as scratch:
        # Emptied first: under SQLite that takes the write lock before anything else is read.
        for table in tables:
            sql.execute(f"DELETE FROM {table}")
        if sql.dialect is Dialect.POSTGRES:
            # The transaction waits on this process while a batch is projected locally; a slow
            # batch must not look like an abandoned session to the server.
            sql.execute("SET LOCAL idle_in_transaction_session_timeout = '10min'")
        head = LedgerIndex(sql).position_at(None)
        total = int(sql.scalar("SELECT COUNT(*) FROM ledger"))
        done = 0
        for appended in read_ledger(sql, mapper, head):
            project(scratch.sql, appended)
            done += 1
            if done % PROGRESS_EVERY == 0:
                progress(done, total)
        scratch.copy_into(sql, tables)
        progress(done, total)
    return done
