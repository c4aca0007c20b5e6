"""Rebuild every projection from the ledger, through the same code that writes them inline.

The ledger is read in position order in batches (never loaded whole), inside one write
transaction: under PostgreSQL the events table stays locked, so no command lands half-way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from eventsourcing.persistence import Mapper, StoredEvent

from domain.shared import LedgerEvent
from projections.audit import find_events
from projections.ledger import Appended, LedgerIndex
from projections.registry import project, projection_tables
from projections.sql import Sql
from projections.store import LedgerRecorder

Progress = Callable[[int, int], None]


def read_ledger(
    sql: Sql, mapper: Mapper[Any], until: int, batch_size: int = 2000
) -> Iterator[Appended]:
    """Every event up to position ``until``, in order, with its ledger time."""
    after = 0
    while True:
        rows = find_events(sql, to_position=until, after=after, limit=batch_size)
        for row in rows:
            stored = StoredEvent(
                originator_id=row["originator_id"],
                originator_version=row["originator_version"],
                topic=row["topic"],
                state=bytes(row["state"]),
            )
            event = mapper.to_domain_event(stored)
            assert isinstance(event, LedgerEvent)
            yield Appended(int(row["position"]), row["recorded_at"], event)
        if len(rows) < batch_size:
            return
        after = int(rows[-1]["position"])


def rebuild(
    recorder: LedgerRecorder, mapper: Mapper[Any], progress: Progress = lambda _d, _t: None
) -> int:
    """Empty every projection table and replay the whole ledger into them; answer the count."""
    with recorder.write() as sql:
        for table in projection_tables():
            sql.execute(f"DELETE FROM {table}")
        head = LedgerIndex(sql).position_at(None)
        total = int(sql.scalar("SELECT COUNT(*) FROM ledger"))
        done = 0
        for appended in read_ledger(sql, mapper, head):
            project(sql, appended)
            done += 1
            if done % 5000 == 0:
                progress(done, total)
        progress(done, total)
    return done
