"""The audit trail: the ordered event history, and verification that nothing was altered.

Verification recomputes the hash chain (see projections/ledger.py and docs/ledger-chain.md) from
the stored events and the ledger index, in position order, a batch at a time, and checks that
every aggregate's versions run 1, 2, 3... without a gap: notification ids may have gaps (a failed
insert burns one), so completeness rests on the chain and version continuity, not on ids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from projections.ledger import GENESIS_HASH, chain_hash
from projections.sql import Sql

BATCH = 5000

EVENTS = (
    "SELECT notification_id AS position, originator_id, originator_version, topic, state"
    " FROM stored_events WHERE notification_id > ? AND notification_id <= ?"
    " ORDER BY notification_id LIMIT ?"
)
LEDGER = (
    "SELECT position, originator_id, originator_version, recorded_at, hash, actor, actor_role,"
    " aggregate_type, event_type FROM ledger"
    " WHERE position > ? AND position <= ? ORDER BY position LIMIT ?"
)


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked_events: int
    head_position: int
    head_hash: str
    first_mismatch_position: int | None = None
    problem: str | None = None


class ChainMismatchError(Exception):
    def __init__(self, position: int, problem: str) -> None:
        super().__init__(problem)
        self.position = position
        self.problem = problem


Reader = Callable[[], AbstractContextManager[Sql]]
Progress = Callable[[int, int], None]


def _rows(read: Reader, statement: str, start: int, stop: int) -> Iterator[dict[str, Any]]:
    after = start
    while True:
        with read() as sql:
            rows = sql.all(statement, (after, stop, BATCH))
        yield from rows
        if len(rows) < BATCH:
            return
        after = int(rows[-1]["position"])


def verify(
    read: Reader,
    from_position: int | None = None,
    to_position: int | None = None,
    progress: Progress = lambda _d, _t: None,
) -> Verification:
    """Recompute the chain over [from, to] (the whole ledger by default); stop at the first
    mismatch and name its position."""
    with read() as sql:
        head = sql.one("SELECT position, hash FROM ledger ORDER BY position DESC LIMIT 1")
        head_position, head_hash = (int(head["position"]), head["hash"]) if head else (0, "")
        start = max((from_position or 1) - 1, 0)
        stop = head_position if to_position is None else min(to_position, head_position)
        anchor = sql.one(
            "SELECT hash FROM ledger WHERE position <= ? ORDER BY position DESC LIMIT 1", (start,)
        )
        total = int(
            sql.scalar(
                "SELECT COUNT(*) FROM ledger WHERE position > ? AND position <= ?", (start, stop)
            )
        )
    prev_hash = anchor["hash"] if anchor else GENESIS_HASH
    checked = 0
    versions: dict[str, int] = {}
    events = _rows(read, EVENTS, start, stop)
    ledger = _rows(read, LEDGER, start, stop)
    try:
        for event, entry in _pairs(events, ledger):
            _check_pair(event, entry, prev_hash)
            _check_version(read, versions, event, start)
            prev_hash = entry["hash"]
            checked += 1
            if checked % 50_000 == 0:
                progress(checked, total)
    except ChainMismatchError as mismatch:
        return Verification(
            False, checked, head_position, head_hash, mismatch.position, mismatch.problem
        )
    progress(checked, total)
    if to_position is not None:
        # The answer's head is the last position verified, so its hash can be compared with
        # one published for that position.
        with read() as sql:
            last = sql.one(
                "SELECT position, hash FROM ledger WHERE position <= ?"
                " ORDER BY position DESC LIMIT 1",
                (stop,),
            )
        if last is not None:
            head_position, head_hash = int(last["position"]), last["hash"]
    return Verification(True, checked, head_position, head_hash)


def _pairs(
    events: Iterator[dict[str, Any]], ledger: Iterator[dict[str, Any]]
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Stored events and ledger rows side by side; a position missing on either side is a
    mismatch there."""
    event, entry = next(events, None), next(ledger, None)
    while event is not None or entry is not None:
        if entry is None or (event is not None and event["position"] < entry["position"]):
            assert event is not None
            raise ChainMismatchError(int(event["position"]), "stored event has no ledger row")
        if event is None or entry["position"] < event["position"]:
            raise ChainMismatchError(
                int(entry["position"]), "ledger row has no stored event (deleted?)"
            )
        yield event, entry
        event, entry = next(events, None), next(ledger, None)


def _check_pair(event: dict[str, Any], entry: dict[str, Any], prev_hash: str) -> None:
    position = int(event["position"])
    if (event["originator_id"], event["originator_version"]) != (
        entry["originator_id"],
        entry["originator_version"],
    ):
        raise ChainMismatchError(position, "stored event and ledger row name different aggregates")
    recorded_at: datetime = entry["recorded_at"]
    expected = chain_hash(
        prev_hash,
        position,
        event["originator_id"],
        int(event["originator_version"]),
        event["topic"],
        recorded_at,
        bytes(event["state"]),
    )
    if expected != entry["hash"]:
        raise ChainMismatchError(position, "hash does not match the event and the chain before it")
    # The ledger row's own columns are derived from the event: they must say what it says.
    state = orjson.loads(bytes(event["state"]))
    derived = (
        state.get("actor"),
        state.get("actor_role"),
        event["originator_id"].split(":", 1)[0],
        event["topic"].rsplit(":", 1)[-1],
    )
    if derived != (
        entry["actor"],
        entry["actor_role"],
        entry["aggregate_type"],
        entry["event_type"],
    ):
        raise ChainMismatchError(
            position, "ledger row's actor, role or type differs from the stored event"
        )


def _check_version(
    read: Reader, versions: dict[str, int], event: dict[str, Any], start: int
) -> None:
    originator, version = event["originator_id"], int(event["originator_version"])
    previous = versions.get(originator)
    if previous is None and version > 1:
        # First seen in this range: its earlier versions must lie before the range.
        with read() as sql:
            previous = sql.scalar(
                "SELECT MAX(originator_version) FROM stored_events"
                " WHERE originator_id = ? AND notification_id <= ?",
                (originator, start),
            )
        previous = int(previous or 0)
    if version != (previous or 0) + 1:
        raise ChainMismatchError(
            int(event["position"]),
            f"{originator} jumps from version {previous or 0} to {version} (an event is missing)",
        )
    versions[originator] = version


# ------------------------------------------------------------------------------------ history


def find_events(
    sql: Sql,
    *,
    aggregate_id: str | None = None,
    aggregate_type: str | None = None,
    event_type: str | None = None,
    actor: str | None = None,
    recorded_from: datetime | None = None,
    recorded_to: datetime | None = None,
    from_position: int | None = None,
    to_position: int | None = None,
    after: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Ledger events in position order with their payload, filtered; ``after`` is a position."""
    where: list[str] = []
    params: list[Any] = []
    for clause, value in (
        ("l.originator_id = ?", aggregate_id),
        ("l.aggregate_type = ?", aggregate_type),
        ("l.event_type = ?", event_type),
        ("l.actor = ?", actor),
        ("l.recorded_at >= ?", recorded_from),
        ("l.recorded_at <= ?", recorded_to),
        ("l.position >= ?", from_position),
        ("l.position <= ?", to_position),
        ("l.position > ?", after),
    ):
        if value is not None:
            where.append(clause)
            params.append(value)
    return sql.all(
        "SELECT l.position, l.originator_id, l.originator_version, l.aggregate_type,"
        " l.event_type, l.actor, l.actor_role, l.recorded_at, l.hash, e.topic, e.state"
        " FROM ledger l JOIN stored_events e ON e.notification_id = l.position"
        f" WHERE {' AND '.join(where) or '1 = 1'} ORDER BY l.position LIMIT ?",
        (*params, limit),
    )
