"""The ledger index: one row per stored event, written in the append transaction.

Each row gives the event's position its ledger time (``recorded_at``) and links it into a SHA-256
hash chain. ``recorded_at`` is the event's own timestamp, but never earlier than the row before it,
so time order and ledger order agree and "as of time T" means "up to one position".

Chain link (see docs/adr/0004-ledger-index-and-hash-chain.md):
    hash = SHA-256( prev_hash "\\n" position "\\n" originator_id "\\n" version "\\n" topic "\\n"
                    recorded_at "\\n" SHA-256(state) )      all hex lowercase, UTF-8
with prev_hash of the first event = 64 zeros and recorded_at as ISO 8601 UTC with microseconds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from domain.shared import LedgerEvent, aggregate_type_of
from projections.sql import Sql, iso_utc

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class Appended:
    """An event at its place in the ledger, as the projections see it."""

    position: int
    recorded_at: datetime
    event: LedgerEvent


def chain_hash(
    prev_hash: str,
    position: int,
    originator_id: str,
    version: int,
    topic: str,
    recorded_at: datetime,
    state: bytes,
) -> str:
    return chain_link(
        prev_hash, position, originator_id, version, topic, iso_utc(recorded_at), state
    )


def chain_link(
    prev_hash: str,
    position: int,
    originator_id: str,
    version: int,
    topic: str,
    recorded_at: str,
    state: bytes,
) -> str:
    """The link with ``recorded_at`` already in its chain form (ISO 8601 UTC, microseconds), so
    verification can hash SQLite's stored text without parsing and re-formatting it."""
    digest = hashlib.sha256(state).hexdigest()
    line = f"{prev_hash}\n{position}\n{originator_id}\n{version}\n{topic}\n{recorded_at}\n{digest}"
    return hashlib.sha256(line.encode()).hexdigest()


class LedgerIndex:
    """Writes and reads the ``ledger`` table."""

    def __init__(self, sql: Sql) -> None:
        self.sql = sql

    def head(self) -> tuple[int, datetime | None, str]:
        row = self.sql.one(
            "SELECT position, recorded_at, hash FROM ledger ORDER BY position DESC LIMIT 1"
        )
        if row is None:
            return 0, None, GENESIS_HASH
        return int(row["position"]), row["recorded_at"], str(row["hash"])

    def append(self, position: int, topic: str, state: bytes, event: LedgerEvent) -> Appended:
        _, last_recorded_at, prev_hash = self.head()
        recorded_at = event.timestamp
        if last_recorded_at is not None and recorded_at < last_recorded_at:
            recorded_at = last_recorded_at
        digest = chain_hash(
            prev_hash,
            position,
            event.originator_id,
            event.originator_version,
            topic,
            recorded_at,
            state,
        )
        self.sql.execute(
            "INSERT INTO ledger (position, originator_id, originator_version, aggregate_type,"
            " event_type, actor, actor_role, recorded_at, hash) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                position,
                event.originator_id,
                event.originator_version,
                aggregate_type_of(event.originator_id),
                topic.rsplit(":", 1)[-1],
                event.actor,
                event.actor_role,
                recorded_at,
                digest,
            ),
        )
        return Appended(position, recorded_at, event)

    def position_at(self, moment: datetime | None) -> int:
        """The last position recorded at or before ``moment`` (the head when None)."""
        if moment is None:
            return int(self.sql.scalar("SELECT COALESCE(MAX(position), 0) FROM ledger"))
        return int(
            self.sql.scalar(
                "SELECT COALESCE(MAX(position), 0) FROM ledger WHERE recorded_at <= ?", (moment,)
            )
        )
