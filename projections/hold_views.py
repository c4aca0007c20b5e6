"""Reading the holds (projections/holds.py) at a ledger position: each batch's reasons with
their lifts, whether it is held, and the institutions' duties to tell the physician.

Expiry is the one reason no event raises: a batch is expired at a moment at or after its expiry
(fixed at release; before release the end of manufacture plus the product's shelf life), unless
it was administered, rejected or destroyed by the position read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain import reference
from projections.hold_reasons import EXPIRED, derived_expiry, expiry_key
from projections.scopes import Reach, within_reach
from projections.sql import Sql


@dataclass(frozen=True)
class HoldLiftView:
    """The signed decision that lifted a hold."""

    at: datetime
    reason: str
    signature_meaning: str
    signed_by: str
    role: str
    deviation_id: str | None
    position: int


@dataclass(frozen=True)
class HoldView:
    key: str
    kind: str
    raised_at: datetime
    raised_position: int | None  # None for expiry, which no event raises
    description: str
    lift: HoldLiftView | None = None

    @property
    def active(self) -> bool:
        return self.lift is None


def holds_of(
    sql: Sql, position: int, batch_ids: list[str], moment: datetime
) -> dict[str, list[HoldView]]:
    """Each batch's hold reasons raised by ``position``, in the order raised, with their lifts
    by then; the expiry among them once ``moment`` reached it."""
    found: dict[str, list[HoldView]] = {b: [] for b in batch_ids}
    if not batch_ids:
        return found
    marks = ", ".join("?" * len(batch_ids))
    lifts = {
        (r.pop("batch_id"), r.pop("hold_key")): HoldLiftView(at=r.pop("lifted_at"), **r)
        for r in sql.all(
            "SELECT batch_id, hold_key, lifted_at, reason, signature_meaning, signed_by,"
            " role, deviation_id, position FROM batch_hold_lifts"
            f" WHERE position <= ? AND batch_id IN ({marks})",
            (position, *batch_ids),
        )
    }
    for r in sql.all(
        "SELECT batch_id, hold_key, position, kind, raised_at, description FROM batch_holds"
        f" WHERE position <= ? AND batch_id IN ({marks}) ORDER BY position, hold_key",
        (position, *batch_ids),
    ):
        lift = lifts.get((r["batch_id"], r["hold_key"]))
        hold = HoldView(r["hold_key"], r["kind"], r["raised_at"], r["position"], r["description"])
        found[r["batch_id"]].append(hold if lift is None else _lifted(hold, lift))
    for batch_id in batch_ids:
        expired = expiry_hold(sql, batch_id, position, moment)
        if expired is not None:
            found[batch_id].append(expired)
    return found


def _lifted(hold: HoldView, lift: HoldLiftView) -> HoldView:
    return HoldView(
        hold.key, hold.kind, hold.raised_at, hold.raised_position, hold.description, lift
    )


def expires_at(sql: Sql, batch_id: str, position: int) -> datetime | None:
    """The batch's expiry as known at ``position``: the one its release fixed, else derived
    from its steps by then (None for a batch not started by then)."""
    batch = sql.one(
        "SELECT released_position, frozen_expires_at FROM hold_batches"
        " WHERE batch_id = ? AND valid_to IS NULL",
        (batch_id,),
    )
    if batch is None:
        return None
    released = batch["released_position"]
    if released is not None and released <= position and batch["frozen_expires_at"]:
        frozen: datetime = batch["frozen_expires_at"]
        return frozen
    return derived_expiry(sql, batch_id, position)


def expiry_hold(sql: Sql, batch_id: str, position: int, moment: datetime) -> HoldView | None:
    """The EXPIRED reason of a batch still in use at ``position`` whose expiry ``moment``
    reached; None otherwise."""
    ended = sql.scalar(
        "SELECT ended_position FROM hold_batches WHERE batch_id = ? AND valid_to IS NULL",
        (batch_id,),
    )
    if ended is not None and ended <= position:
        return None
    expiry = expires_at(sql, batch_id, position)
    if expiry is None or moment < expiry:
        return None
    description = f"batch {batch_id} expired at {expiry.isoformat()}"
    return HoldView(expiry_key(batch_id), EXPIRED, expiry, None, description)


# ------------------------------------------------------------------- batches(filter: {held})

ACTIVE_HOLD = """EXISTS (SELECT 1 FROM batch_holds h WHERE h.batch_id = {batch}
AND h.position <= ? AND NOT EXISTS (SELECT 1 FROM batch_hold_lifts l
WHERE l.batch_id = h.batch_id AND l.hold_key = h.hold_key AND l.position <= ?))"""
MADE_AT = """COALESCE((SELECT MAX(s.completed_at) FROM hold_steps s
WHERE s.batch_id = e.batch_id AND s.position <= ?), e.started_at)"""


def held_clause(position: int, moment: datetime, batch: str) -> tuple[str, list[Any]]:
    """An SQL condition true for the batches (``batch``: the SQL expression of their id) held
    at ``position`` and ``moment``, the expiry included; and its parameters."""
    shelf = [
        (code, moment - timedelta(days=product.shelf_life_days))
        for code, product in sorted(reference.products().items())
    ]
    derived = " OR ".join(f"(e.product = ? AND {MADE_AT} <= ?)" for _ in shelf) or "1 = 0"
    expired = (
        f"EXISTS (SELECT 1 FROM hold_batches e WHERE e.batch_id = {batch} AND e.valid_to IS NULL"
        " AND (e.ended_position IS NULL OR e.ended_position > ?)"
        " AND CASE WHEN e.released_position <= ? THEN e.frozen_expires_at <= ?"
        f" ELSE ({derived}) END)"
    )
    params: list[Any] = [position, position, position, position, moment]
    for code, cutoff in shelf:
        params += [code, position, cutoff]
    return f"({ACTIVE_HOLD.format(batch=batch)} OR {expired})", params


# ------------------------------------------------------------------- physician notifications


@dataclass(frozen=True)
class NotificationView:
    """The administering institution's duty to tell the physician of a batch's reasons raised
    after it was administered; open while any of them is unacknowledged."""

    batch_id: str
    patient_code: str
    site_id: str
    hold_keys: list[str]
    raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None

    @property
    def open(self) -> bool:
        return self.acknowledged_at is None


UNACKNOWLEDGED = """EXISTS (SELECT 1 FROM physician_notifications o
WHERE o.batch_id = n.batch_id AND o.position <= ? AND NOT EXISTS (
SELECT 1 FROM physician_acknowledgements k
WHERE k.batch_id = o.batch_id AND k.hold_key = o.hold_key AND k.site_id = o.site_id
AND k.position <= ?))"""


def find_notifications(
    sql: Sql,
    position: int,
    *,
    site_id: str | None = None,
    open: bool | None = None,
    after: str | None = None,
    limit: int | None = None,
    reach: Reach | None,
) -> list[NotificationView]:
    """The duties at ``position`` on batches within ``reach``, one per patient given the batch
    (a split batch: each patient a container went to), ordered by batch id and patient, after
    the batch id ``after``, at most ``limit`` batches."""
    where: list[str] = ["n.position <= ?"]
    params: list[Any] = [position]
    if site_id is not None:
        where.append("n.site_id = ?")
        params.append(site_id)
    if after is not None:
        where.append("n.batch_id > ?")
        params.append(after)
    if open is not None:
        where.append(UNACKNOWLEDGED if open else f"NOT {UNACKNOWLEDGED}")
        params += [position, position]
    reached, reach_params = within_reach(reach, "'Batch:' || n.batch_id")
    statement = (
        "SELECT DISTINCT n.batch_id FROM physician_notifications n"
        f" WHERE {' AND '.join(where + reached)} ORDER BY n.batch_id"
    )
    if limit is not None:
        statement += f" LIMIT {int(limit)}"
    ids = [r["batch_id"] for r in sql.all(statement, [*params, *reach_params])]
    return _notifications(sql, position, ids, site_id)


def _notifications(
    sql: Sql, position: int, ids: list[str], site_id: str | None = None
) -> list[NotificationView]:
    if not ids:
        return []
    marks = ", ".join("?" * len(ids))
    duties: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in sql.all(
        "SELECT batch_id, hold_key, raised_at, site_id, patient_code FROM"
        f" physician_notifications WHERE position <= ? AND batch_id IN ({marks})"
        " ORDER BY position, hold_key",
        (position, *ids),
    ):
        if site_id is None or row["site_id"] == site_id:
            duties.setdefault((row["batch_id"], row["patient_code"]), []).append(row)
    acks = {
        (r["batch_id"], r["hold_key"], r["site_id"]): r
        for r in sql.all(
            "SELECT batch_id, hold_key, site_id, acknowledged_at, acknowledged_by, position FROM"
            f" physician_acknowledgements WHERE position <= ? AND batch_id IN ({marks})",
            (position, *ids),
        )
    }
    return [_duty(duties[k], acks) for k in sorted(duties)]


def _duty(rows: list[dict[str, Any]], acks: dict[tuple[str, str, str], Any]) -> NotificationView:
    """A patient's duty: answered by the site that gave the patient the batch or container."""
    answered = [acks.get((r["batch_id"], r["hold_key"], r["site_id"])) for r in rows]
    waiting = [r for r, ack in zip(rows, answered, strict=True) if ack is None]
    last = max((a for a in answered if a), key=lambda a: a["position"], default=None)
    done = not waiting and last is not None
    return NotificationView(
        batch_id=rows[0]["batch_id"],
        patient_code=rows[0]["patient_code"],
        site_id=rows[0]["site_id"],
        hold_keys=[r["hold_key"] for r in rows],
        raised_at=min(r["raised_at"] for r in (waiting or rows)),
        acknowledged_at=last["acknowledged_at"] if done and last else None,
        acknowledged_by=last["acknowledged_by"] if done and last else None,
    )
