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
from functools import partial
from typing import Any

import orjson

from projections.ledger import GENESIS_HASH, chain_hash, chain_link
from projections.read_ahead import read_ahead
from projections.scopes import Reach, as_seen, within_reach
from projections.sql import Dialect, Sql, iso_utc

# Positions per batch: large enough that a query's fixed cost (a round trip, a transaction)
# vanishes against the per-row work, small enough that memory stays flat. Batches are ranges of
# positions (not LIMITs), so each query's work is bounded whatever plan the database picks.
BATCH = 10_000
PROGRESS_EVERY = 50_000
# Aggregates whose last version the walk keeps in memory between batches; past it, it lets go of
# them all, and one seen again is looked up with the rest of its batch. Memory stays flat however
# many records the ledger holds.
VERSIONS_KEPT = 100_000
# Aggregate ids per look-up of their last versions before a batch.
LOOKUP = 2_000

EVENTS = (
    "SELECT notification_id, originator_id, originator_version, topic, state"
    " FROM stored_events WHERE notification_id > ? AND notification_id <= ?"
    " ORDER BY notification_id"
)
LEDGER = (
    "SELECT position, originator_id, originator_version, {recorded_at}, hash, actor, actor_role,"
    " aggregate_type, event_type FROM ledger"
    " WHERE position > ? AND position <= ? ORDER BY position"
)
# recorded_at as the chain writes it (ISO 8601 UTC with microseconds): SQLite stores that text;
# PostgreSQL formats it, which spares a datetime per row. Text in any other form is parsed and
# re-formatted before verification calls the link broken (see _links).
RECORDED_AT = {
    Dialect.SQLITE: "recorded_at",
    Dialect.POSTGRES: (
        "to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"
    ),
}

Row = tuple[Any, ...]


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


def _batches(
    read: Reader, start: int, stop: int, dialect: Dialect
) -> Iterator[tuple[list[Row], list[Row]]]:
    """Stored events and ledger rows of consecutive position ranges, each pair read together
    (on PostgreSQL the next while the caller checks this one)."""
    return read_ahead(
        (
            partial(_read_batch, read, low, min(low + BATCH, stop))
            for low in range(start, stop, BATCH)
        ),
        dialect,
    )


def _read_batch(read: Reader, low: int, high: int) -> tuple[list[Row], list[Row]]:
    with read() as sql:
        events = sql.tuples(EVENTS, (low, high))
        ledger = sql.tuples(LEDGER.format(recorded_at=RECORDED_AT[sql.dialect]), (low, high))
    return events, ledger


def verify(
    read: Reader,
    from_position: int | None = None,
    to_position: int | None = None,
    progress: Progress = lambda _d, _t: None,
) -> Verification:
    """Recompute the chain over [from, to] (the whole ledger by default); stop at the first
    mismatch and name its position."""
    with read() as sql:
        dialect = sql.dialect
        head = sql.one("SELECT position, hash FROM ledger ORDER BY position DESC LIMIT 1")
        head_position, head_hash = (int(head["position"]), head["hash"]) if head else (0, "")
        start = max((from_position or 1) - 1, 0)
        stop = head_position if to_position is None else min(to_position, head_position)
        anchor = sql.one(
            "SELECT position, hash FROM ledger WHERE position <= ? ORDER BY position DESC LIMIT 1",
            (start,),
        )
        total = int(
            sql.scalar(
                "SELECT COUNT(*) FROM ledger WHERE position > ? AND position <= ?", (start, stop)
            )
        )
    chain = _Chain(read, anchor["hash"] if anchor else GENESIS_HASH)
    try:
        if anchor is not None:
            _check_link_into(read, int(anchor["position"]))
        for events, ledger in _batches(read, start, stop, dialect):
            chain.walk(events, ledger, total, progress)
    except ChainMismatchError as mismatch:
        return Verification(
            False, chain.checked, head_position, head_hash, mismatch.position, mismatch.problem
        )
    progress(chain.checked, total)
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
    return Verification(True, chain.checked, head_position, head_hash)


def _pairs(events: Iterator[Row], ledger: Iterator[Row]) -> Iterator[tuple[Row, Row]]:
    """Stored events and ledger rows side by side; a position missing on either side is a
    mismatch there."""
    event, entry = next(events, None), next(ledger, None)
    while event is not None or entry is not None:
        if entry is None or (event is not None and event[0] < entry[0]):
            assert event is not None
            raise ChainMismatchError(int(event[0]), "stored event has no ledger row")
        if event is None or entry[0] < event[0]:
            raise ChainMismatchError(int(entry[0]), "ledger row has no stored event (deleted?)")
        yield event, entry
        event, entry = next(events, None), next(ledger, None)


class _Chain:
    """The walk along the chain: the previous link, and the last version of the aggregates seen
    since it last let go of them (at most ``VERSIONS_KEPT`` between batches); the last version
    before a batch of the others it names is read with that batch (``before``)."""

    def __init__(self, read: Reader, prev_hash: str) -> None:
        self.read = read
        self.prev_hash = prev_hash
        self.checked = 0
        self.versions: dict[str, int] = {}
        self.before: dict[str, int] = {}

    def walk(self, events: list[Row], ledger: list[Row], total: int, progress: Progress) -> None:
        """Check one batch; both sides name the same positions unless something is missing."""
        if events:
            unknown = {e[1] for e in events if e[2] > 1 and e[1] not in self.versions}
            self.before = self._versions_before(sorted(unknown), int(events[0][0]))
        same = len(events) == len(ledger) and all(
            e[0] == entry[0] for e, entry in zip(events, ledger, strict=True)
        )
        pairs = zip(events, ledger, strict=True) if same else _pairs(iter(events), iter(ledger))
        check = self.check
        for event, entry in pairs:
            check(event, entry)
            if self.checked % PROGRESS_EVERY == 0:
                progress(self.checked, total)
        # Let go of them all, between batches, once there are too many: those seen again are
        # looked up with their batch (one query per few thousand), as at the start of a range.
        if len(self.versions) > VERSIONS_KEPT:
            self.versions.clear()

    def check(self, event: Row, entry: Row) -> None:
        self.check_link(event, entry)
        position, originator_id, version, *_ = event
        self._check_version(position, originator_id, version)
        self.prev_hash = entry[4]
        self.checked += 1

    def check_link(self, event: Row, entry: Row) -> None:
        """The event's link after the previous one, and the ledger row's columns beside it."""
        position, originator_id, version, topic, state = event
        _, ledger_id, ledger_version, recorded_at, digest, *columns = entry
        if originator_id != ledger_id or version != ledger_version:
            raise ChainMismatchError(
                position, "stored event and ledger row name different aggregates"
            )
        if not _links(self.prev_hash, event, recorded_at, digest):
            raise ChainMismatchError(
                position, "hash does not match the event and the chain before it"
            )
        # The ledger row's own columns are derived from the event: they must say what it says.
        payload = orjson.loads(state)
        derived = [
            payload.get("actor"),
            payload.get("actor_role"),
            originator_id.split(":", 1)[0],
            topic.rsplit(":", 1)[-1],
        ]
        if derived != columns:
            raise ChainMismatchError(
                position, "ledger row's actor, role or type differs from the stored event"
            )

    def _check_version(self, position: int, originator: str, version: int) -> None:
        previous = self.versions.get(originator)
        if previous is None:
            # Not kept: its earlier versions lie before this batch (before the range, or let go).
            previous = self.before.get(originator, 0) if version > 1 else 0
        if version != previous + 1:
            raise ChainMismatchError(
                position,
                f"{originator} jumps from version {previous} to {version} (an event is missing)",
            )
        self.versions[originator] = version

    def _versions_before(self, originators: list[str], position: int) -> dict[str, int]:
        """Each aggregate's last version stored before ``position`` (none: not there)."""
        found: dict[str, int] = {}
        for low in range(0, len(originators), LOOKUP):
            chunk = originators[low : low + LOOKUP]
            with self.read() as sql:
                rows = sql.tuples(
                    "SELECT originator_id, MAX(originator_version) FROM stored_events"
                    f" WHERE originator_id IN ({', '.join('?' * len(chunk))})"
                    " AND notification_id < ? GROUP BY originator_id",
                    (*chunk, position),
                )
            found.update((str(o), int(v)) for o, v in rows)
        return found


def _check_link_into(read: Reader, position: int) -> None:
    """A range's first link uses the hash of the event just before the range: recompute that
    event's own link too, so the range rests on a real event and not on a stored hash alone."""
    with read() as sql:
        before = sql.one(
            "SELECT hash FROM ledger WHERE position < ? ORDER BY position DESC LIMIT 1", (position,)
        )
    events, ledger = _read_batch(read, position - 1, position)
    anchor = _Chain(read, before["hash"] if before else GENESIS_HASH)
    try:
        for event, entry in _pairs(iter(events), iter(ledger)):
            anchor.check_link(event, entry)
    except ChainMismatchError as mismatch:
        raise ChainMismatchError(
            mismatch.position,
            f"{mismatch.problem} (the event before the range, whose hash links into it)",
        ) from None


def _links(prev_hash: str, event: Row, recorded_at: Any, digest: str) -> bool:
    """Whether ``digest`` is the chain link of ``event`` after ``prev_hash``."""
    position, originator_id, version, topic, state = event
    if isinstance(recorded_at, datetime):
        recorded_at = iso_utc(recorded_at)
    if chain_link(prev_hash, position, originator_id, version, topic, recorded_at, state) == digest:
        return True
    # The text was not in the chain's form: read it as a time and hash that, as the chain says.
    moment = datetime.fromisoformat(recorded_at)
    return chain_hash(prev_hash, position, originator_id, version, topic, moment, state) == digest


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
    reach: Reach | None,
) -> list[dict[str, Any]]:
    """Ledger events in position order with their payload, filtered; ``after`` is a position.
    Only the events of aggregates within ``reach``, as a reader with it may see them."""
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
    reached, reach_params = within_reach(reach, "l.originator_id")
    where += reached
    params += reach_params
    rows = sql.all(
        "SELECT l.position, l.originator_id, l.originator_version, l.aggregate_type,"
        " l.event_type, l.actor, l.actor_role, l.recorded_at, l.hash, e.topic, e.state"
        " FROM ledger l JOIN stored_events e ON e.notification_id = l.position"
        f" WHERE {' AND '.join(where) or '1 = 1'} ORDER BY l.position LIMIT ?",
        (*params, limit),
    )
    return as_seen(sql, reach, rows)
