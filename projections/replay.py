"""Offline replay for inspectors: the ledger up to a moment, in a file of its own.

The events up to the position that stood at that moment are copied with their ledger rows (so
the chain verifies in the copy), then every projection is rebuilt from them there: the copy holds
each view exactly as it stood at that moment, and answers without regentrace's server.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from eventsourcing.persistence import Mapper

from projections.audit import find_events
from projections.rebuild import rebuild
from projections.sql import Sql
from projections.store import LedgerRecorder

BATCH = 5000
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


def replay(
    read: Callable[[], AbstractContextManager[Sql]],
    until_position: int,
    target: LedgerRecorder,
    mapper: Mapper[Any],
    progress: Callable[[str, int, int], None] = lambda _s, _d, _t: None,
) -> int:
    """Copy events 1..``until_position`` and their chain into ``target``; rebuild its views."""
    with target.write() as out:
        if out.scalar("SELECT COUNT(*) FROM stored_events"):
            raise ValueError("the replay target already holds events; give a new file")
    copied, after = 0, 0
    while True:
        with read() as sql:
            rows = find_events(sql, to_position=until_position, after=after, limit=BATCH)
        with target.write() as out:
            for row in rows:
                out.execute(
                    "INSERT INTO stored_events (notification_id, originator_id,"
                    " originator_version, topic, state) VALUES (?,?,?,?,?)",
                    (
                        row["position"],
                        row["originator_id"],
                        row["originator_version"],
                        row["topic"],
                        bytes(row["state"]),
                    ),
                )
                out.execute(
                    f"INSERT INTO ledger ({', '.join(LEDGER_COLUMNS)})"
                    f" VALUES ({', '.join('?' * len(LEDGER_COLUMNS))})",
                    tuple(row[c].strip() if c == "hash" else row[c] for c in LEDGER_COLUMNS),
                )
        copied += len(rows)
        progress("copy", copied, until_position)
        if len(rows) < BATCH:
            break
        after = int(rows[-1]["position"])
    rebuild(target, mapper, lambda done, total: progress("rebuild", done, total))
    return copied
