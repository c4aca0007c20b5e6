"""The ``commands`` table: a sender's command id, kept with the events the command produced.

Ledger data, not a view (ADR 7): written by the append transaction next to the ledger rows,
append-only, copied by a replay and never rebuilt (nothing in the events says which id a command
came with).
"""

from __future__ import annotations

from collections.abc import Sequence

from eventsourcing.persistence import StoredEvent

from domain.command_ids import CommandKey, RecordedCommand
from domain.shared import CommandResult
from projections.ledger import Appended
from projections.sql import Sql

COLUMNS = (
    "principal",
    "command_id",
    "name",
    "content_hash",
    "position",
    "aggregate_id",
    "version",
    "recorded_at",
)


def record(sql: Sql, key: CommandKey, last: Appended) -> None:
    """Keep ``key`` with the result of its command: the last event it appended. A second
    command with the same principal and id breaks the unique key, and its transaction with it."""
    sql.execute(
        f"INSERT INTO commands ({', '.join(COLUMNS)}) VALUES (?,?,?,?,?,?,?,?)",
        (
            key.principal,
            key.command_id,
            key.name,
            key.content_hash,
            last.position,
            last.event.originator_id,
            last.event.originator_version,
            last.recorded_at,
        ),
    )


def find(sql: Sql, principal: str, command_id: str) -> RecordedCommand | None:
    row = sql.one(
        "SELECT name, content_hash, position, aggregate_id, version FROM commands"
        " WHERE principal = ? AND command_id = ?",
        (principal, command_id),
    )
    if row is None:
        return None
    return RecordedCommand(
        CommandKey(principal, command_id, row["name"], str(row["content_hash"]).strip()),
        CommandResult(int(row["position"]), row["aggregate_id"], int(row["version"])),
    )


def stored_positions(sql: Sql, stored_events: Sequence[StoredEvent]) -> list[int] | None:
    """The positions of exactly these events (same aggregate, version and bytes), or None if
    they are not stored. Events of one append are stored together or not at all."""
    positions = []
    for s in stored_events:
        row = sql.one(
            "SELECT notification_id, state FROM stored_events"
            " WHERE originator_id = ? AND originator_version = ?",
            (str(s.originator_id), s.originator_version),
        )
        if row is None or bytes(row["state"]) != s.state:
            return None
        positions.append(int(row["notification_id"]))
    return positions
