"""Recalls carried out: state and progress, notifications and their acknowledgements, the units
to account for, the actions on them, the reports to the authority and the effectiveness checks.

Everything comes from the Recall aggregate's own events (domain/recall.py), which carry what
they decided (the trace, the units, the notifications with their due times), so this view reads
no other view's rows. The recall's row and each notification are versioned (ADR 3); scopes,
units, actions, reports and checks are append-only rows tagged with their position. A unit is a
batch or, for a batch filled into containers, one of its containers (``container_id``, '' for a
whole batch; ``destroyed_before`` when the scope found it destroyed, domain/recall.py). Whether an
acknowledgement is overdue depends on the moment asked about: now, or ``asOf``.

Reach: a reader sees a recall when its reach touches the recall (the origin's sites, the sites
of its actions and acknowledgements: projections/scopes.py) or when one of its sites was
notified. A reader within the sites that own the recall (those of its origin) sees every
notification and action; any other sees its own notifications and the actions at its sites.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from domain.recall import DESTROYED_BEFORE_RECALL, FINAL_ACTIONS, OPEN, Recall, unit_parts
from projections.ledger import Appended
from projections.projection import Projection
from projections.scopes import Reach, sites_of
from projections.sql import Sql
from projections.versioned import AS_OF, VersionedTable

TABLES = (
    "recall_versions",
    "recall_notifications",
    "recall_scopes",
    "recall_units",
    "recall_actions",
    "recall_reports",
    "recall_checks",
)

RECALLS = VersionedTable(
    "recall_versions",
    "recall_id",
    (
        "recall_id",
        "reason",
        "origin_kind",
        "origin_id",
        "jurisdiction",
        "classification",
        "classification_defaulted",
        "authority",
        "status",
        "initiated_at",
        "initiated_by",
        "closed_at",
        "closed_by",
        "conclusion",
        "units_in_scope",
        "units_accounted",
        "units_quarantined",
        "notified",
        "acknowledged",
    ),
)

NOTIFICATIONS = VersionedTable(
    "recall_notifications",
    "notification_id",
    (
        "notification_id",
        "recall_id",
        "party_kind",
        "site_id",
        "patient_code",
        "batch_ids",
        "notified_at",
        "due_at",
        "acknowledged_at",
        "acknowledged_by",
        "note",
    ),
)


def _key(a: Appended) -> str:
    return a.event.originator_id.split(":", 1)[1]


def _scope(
    sql: Sql,
    a: Appended,
    scope_id: str,
    e: Recall.Initiated | Recall.Extended,
) -> None:
    recall_id = _key(a)
    sql.execute(
        "INSERT INTO recall_scopes (recall_id, scope_id, position, reason, origin_kind,"
        " origin_id, scoped_at, scoped_by, trace) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            recall_id,
            scope_id,
            a.position,
            e.reason,
            e.origin_kind,
            e.origin_id,
            e.occurred_at,
            e.actor,
            orjson.dumps(e.trace, option=orjson.OPT_SORT_KEYS).decode(),
        ),
    )
    gone, reached = set(e.destroyed_before), set(e.trace.get("affected_batches", ()))
    for unit in e.units:
        batch_id, container_id = unit_parts(unit, reached)
        sql.execute(
            "INSERT INTO recall_units (recall_id, batch_id, container_id, position, scope_id,"
            " destroyed_before) VALUES (?, ?, ?, ?, ?, ?)",
            (recall_id, batch_id, container_id or "", a.position, scope_id, int(unit in gone)),
        )
    for n in e.notifications:
        NOTIFICATIONS.insert(
            sql,
            {
                "notification_id": n["id"],
                "recall_id": recall_id,
                "party_kind": n["party_kind"],
                "site_id": n["site_id"],
                "patient_code": n["patient_code"],
                "batch_ids": ",".join(n["batch_ids"]),
                "notified_at": e.occurred_at,
                "due_at": datetime.fromisoformat(n["due_at"]),
                "acknowledged_at": None,
                "acknowledged_by": None,
                "note": None,
            },
            a.position,
        )


def unit_status(units: list[dict[str, Any]], actions: list[dict[str, Any]]) -> None:
    """Add to each unit row (batch_id, container_id '' for a whole batch, destroyed_before) what
    accounts for it (``accounted_by``: the kind of its first final action, in ledger order, or
    DESTROYED_BEFORE_RECALL; None while outstanding), that action's id (``action_id``) and
    whether it is ``quarantined``. An action naming a container accounts for that container when
    it is a unit, else for its batch (a batch recalled whole), as in the Recall aggregate."""
    keys = {(u["batch_id"], u["container_id"]) for u in units}
    done: dict[tuple[str, str], tuple[str, str]] = {}
    held: set[tuple[str, str]] = set()
    for x in sorted(actions, key=lambda r: r["position"]):
        key = (x["batch_id"], x["container_id"] or "")
        if key not in keys:
            key = (x["batch_id"], "")
        if x["kind"] in FINAL_ACTIONS:
            done.setdefault(key, (x["kind"], x["action_id"]))
        elif x["kind"] == "QUARANTINED":
            held.add(key)
    for u in units:
        key = (u["batch_id"], u["container_id"])
        by, action = done.get(key, (None, None))
        if u["destroyed_before"]:
            by, action = DESTROYED_BEFORE_RECALL, None
        u.update(accounted_by=by, action_id=action, quarantined=by is None and key in held)


def _counts(sql: Sql, recall_id: str) -> dict[str, int]:
    """The progress of ``recall_id`` from its rows at the head (handlers run in order)."""
    units = sql.all(_UNITS, (recall_id,))
    unit_status(units, sql.all(_ACTION_KINDS, (recall_id,)))
    notes = sql.all(_NOTIFIED, (recall_id,))
    return {
        "units_in_scope": len(units),
        "units_accounted": sum(1 for u in units if u["accounted_by"] is not None),
        "units_quarantined": sum(1 for u in units if u["quarantined"]),
        "notified": len(notes),
        "acknowledged": sum(1 for r in notes if r["acknowledged_at"] is not None),
    }


_UNITS = (
    "SELECT batch_id, container_id, destroyed_before FROM recall_units WHERE recall_id = ?"
    " ORDER BY batch_id, container_id"
)
_ACTION_KINDS = (
    "SELECT action_id, position, batch_id, container_id, kind FROM recall_actions"
    " WHERE recall_id = ?"
)
_NOTIFIED = (
    "SELECT acknowledged_at FROM recall_notifications WHERE recall_id = ? AND valid_to IS NULL"
)


def _initiated(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Recall.Initiated)
    recall_id = _key(a)
    _scope(sql, a, "", e)
    RECALLS.insert(
        sql,
        {
            "recall_id": recall_id,
            "reason": e.reason,
            "origin_kind": e.origin_kind,
            "origin_id": e.origin_id,
            "jurisdiction": e.jurisdiction,
            "classification": e.classification,
            "classification_defaulted": int(e.classification_defaulted),
            "authority": e.authority,
            "status": OPEN,
            "initiated_at": e.occurred_at,
            "initiated_by": e.actor,
            "closed_at": None,
            "closed_by": None,
            "conclusion": None,
            **_counts(sql, recall_id),
        },
        a.position,
    )


def _progress(sql: Sql, a: Appended, **changes: Any) -> None:
    recall_id = _key(a)
    RECALLS.change(sql, recall_id, a.position, **_counts(sql, recall_id), **changes)


def _extended(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Recall.Extended)
    _scope(sql, a, e.extension_id, e)
    _progress(sql, a)


def _acknowledged(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Recall.NotificationAcknowledged)
    NOTIFICATIONS.change(
        sql,
        e.notification_id,
        a.position,
        acknowledged_at=e.occurred_at,
        acknowledged_by=e.actor,
        note=e.note,
    )
    _progress(sql, a)


def _action(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Recall.ActionRecorded)
    sql.execute(
        "INSERT INTO recall_actions (action_id, position, recall_id, kind, batch_id,"
        " container_id, site_id, shipment_id, note, acted_at, recorded_by)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            e.action_id,
            a.position,
            _key(a),
            e.kind,
            e.batch_id,
            e.container_id,
            e.site_id,
            e.shipment_id,
            e.note,
            e.occurred_at,
            e.actor,
        ),
    )
    _progress(sql, a)


def _reported(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Recall.ReportedToAuthority)
    sql.execute(
        "INSERT INTO recall_reports (report_id, position, recall_id, kind, authority,"
        " reference, summary, reported_at, reported_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            e.report_id,
            a.position,
            _key(a),
            e.kind,
            e.authority,
            e.reference,
            e.summary,
            e.occurred_at,
            e.actor,
        ),
    )


def _checked(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Recall.EffectivenessChecked)
    sql.execute(
        "INSERT INTO recall_checks (check_id, position, recall_id, outcome, method, note,"
        " checked_at, checked_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (e.check_id, a.position, _key(a), e.outcome, e.method, e.note, e.occurred_at, e.actor),
    )


def _closed(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Recall.Closed)
    _progress(
        sql, a, status="CLOSED", closed_at=e.occurred_at, closed_by=e.actor, conclusion=e.conclusion
    )


PROJECTION = Projection(
    name="recalls",
    tables=TABLES,
    handles={
        Recall.Initiated: _initiated,
        Recall.Extended: _extended,
        Recall.NotificationAcknowledged: _acknowledged,
        Recall.ActionRecorded: _action,
        Recall.ReportedToAuthority: _reported,
        Recall.EffectivenessChecked: _checked,
        Recall.Closed: _closed,
    },
)


# ---------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class NotificationView:
    notification_id: str
    recall_id: str
    party_kind: str
    site_id: str
    patient_code: str | None
    batch_ids: tuple[str, ...]
    notified_at: datetime
    due_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    note: str | None
    overdue: bool


@dataclass(frozen=True)
class ScopeView:
    scope_id: str
    position: int
    reason: str
    origin_kind: str
    origin_id: str
    scoped_at: datetime
    scoped_by: str
    trace: dict[str, Any]


@dataclass
class RecallView:
    recall_id: str
    reason: str
    origin_kind: str
    origin_id: str
    jurisdiction: str | None
    classification: str | None
    classification_defaulted: bool
    authority: str | None
    status: str
    initiated_at: datetime
    initiated_by: str
    closed_at: datetime | None
    closed_by: str | None
    conclusion: str | None
    units_in_scope: int
    units_accounted: int
    units_quarantined: int
    notified: int
    acknowledged: int
    overdue: int = 0
    full: bool = True  # whether the reader sees every notification and action
    notifications: list[NotificationView] = field(default_factory=list)
    scopes: list[ScopeView] = field(default_factory=list)
    units: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    reports: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)


def _marks(values: tuple[str, ...] | list[str]) -> str:
    return ", ".join("?" * len(values))


def _visible(reach: Reach | None, position: int) -> tuple[list[str], list[Any]]:
    """Recalls a reader with ``reach`` may see: touching its reach, or notifying one of its
    sites by ``position``."""
    if reach is None:
        return [], []
    if not reach:
        return ["1 = 0"], []
    marks = _marks(reach)
    return (
        [
            "(EXISTS (SELECT 1 FROM aggregate_sites reach WHERE reach.aggregate_id ="
            f" 'Recall:' || recall_versions.recall_id AND reach.site_id IN ({marks}))"
            " OR EXISTS (SELECT 1 FROM recall_notifications n WHERE n.recall_id ="
            f" recall_versions.recall_id AND n.valid_from <= ? AND n.site_id IN ({marks})))"
        ],
        [*reach, position, *reach],
    )


def _notifications(
    sql: Sql, position: int, moment: datetime, recall_ids: list[str]
) -> dict[str, list[NotificationView]]:
    found: dict[str, list[NotificationView]] = {r: [] for r in recall_ids}
    if not recall_ids:
        return found
    rows = NOTIFICATIONS.select(
        sql,
        position,
        [f"recall_id IN ({_marks(recall_ids)})"],
        list(recall_ids),
        order="recall_id, notified_at, notification_id",
    )
    # In the order sent: <recallId>/N<n> by n (N10 after N9).
    rows.sort(key=lambda r: (r["notified_at"], int(r["notification_id"].rpartition("/N")[2])))
    for row in rows:
        found[row["recall_id"]].append(
            NotificationView(
                **{**row, "batch_ids": tuple(b for b in row["batch_ids"].split(",") if b)},
                overdue=row["acknowledged_at"] is None and row["due_at"] < moment,
            )
        )
    return found


def cut_to(view: RecallView, reach: Reach | None, sql: Sql) -> None:
    """Cut a recall's notifications and actions to what a reader with ``reach`` may see."""
    if reach is None:
        return
    owners = set(sites_of(sql, f"Recall:{view.recall_id}", owners=True))
    if owners & set(reach):
        return
    view.full = False
    view.notifications = [n for n in view.notifications if n.site_id in reach]
    view.actions = [x for x in view.actions if x["site_id"] in reach]


def find_recalls(
    sql: Sql,
    position: int,
    moment: datetime,
    *,
    reach: Reach | None,
    recall_ids: list[str] | None = None,
    status: str | None = None,
    site_id: str | None = None,
    overdue: bool | None = None,
    after: str | None = None,
    limit: int | None = None,
    details: bool = False,
    touching: Reach | None = None,
) -> list[RecallView]:
    """Recalls as they stood at ``position`` within ``reach``; overdue means a notification
    unacknowledged past its due time at ``moment``. ``details`` adds scopes, units, actions,
    reports and checks; ``touching`` keeps those that touch or notified one of its sites (a
    master file's)."""
    where, params = _visible(reach, position)
    if touching is not None:
        more, values = _visible(touching, position)
        where, params = where + more, params + values
    if recall_ids is not None:
        if not recall_ids:
            return []
        where.append(f"recall_id IN ({_marks(recall_ids)})")
        params += recall_ids
    if status is not None:
        where.append("status = ?")
        params.append(status)
    if site_id is not None:
        where.append(
            "EXISTS (SELECT 1 FROM recall_notifications s WHERE s.recall_id ="
            " recall_versions.recall_id AND s.valid_from <= ? AND s.site_id = ?)"
        )
        params += [position, site_id]
    if overdue is not None:
        where.append(
            ("" if overdue else "NOT ")
            + "EXISTS (SELECT 1 FROM recall_notifications o WHERE o.recall_id ="
            f" recall_versions.recall_id AND o.{AS_OF} AND o.acknowledged_at IS NULL"
            " AND o.due_at < ?)"
        )
        params += [position, position, moment]
    if after is not None:
        where.append("recall_id > ?")
        params.append(after)
    rows = RECALLS.select(sql, position, where, params, order="recall_id", limit=limit)
    views = [
        RecallView(**{**r, "classification_defaulted": bool(r["classification_defaulted"])})
        for r in rows
    ]
    notes = _notifications(sql, position, moment, [v.recall_id for v in views])
    for v in views:
        v.notifications = notes[v.recall_id]
        v.overdue = sum(1 for n in v.notifications if n.overdue)
        if details:
            _details(sql, position, v)
        cut_to(v, reach, sql)
    return views


def _details(sql: Sql, position: int, v: RecallView) -> None:
    at = (v.recall_id, position)
    v.scopes = [
        ScopeView(**{**r, "trace": orjson.loads(r["trace"])})
        for r in sql.all(
            "SELECT scope_id, position, reason, origin_kind, origin_id, scoped_at, scoped_by,"
            " trace FROM recall_scopes WHERE recall_id = ? AND position <= ? ORDER BY position",
            at,
        )
    ]
    v.units = sql.all(
        "SELECT batch_id, container_id, destroyed_before, scope_id, position FROM recall_units"
        " WHERE recall_id = ? AND position <= ? ORDER BY batch_id, container_id",
        at,
    )
    v.actions = sql.all(
        "SELECT action_id, position, kind, batch_id, container_id, site_id, shipment_id, note,"
        " acted_at, recorded_by FROM recall_actions WHERE recall_id = ? AND position <= ?"
        " ORDER BY position",
        at,
    )
    unit_status(v.units, v.actions)
    v.reports = sql.all(
        "SELECT report_id, position, kind, authority, reference, summary, reported_at,"
        " reported_by FROM recall_reports WHERE recall_id = ? AND position <= ?"
        " ORDER BY position",
        at,
    )
    v.checks = sql.all(
        "SELECT check_id, position, outcome, method, note, checked_at, checked_by"
        " FROM recall_checks WHERE recall_id = ? AND position <= ? ORDER BY position",
        at,
    )
