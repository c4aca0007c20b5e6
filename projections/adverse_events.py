"""Adverse-reaction reporting: what was reported, the reports each case owes each authority with
their deadlines, every submission and follow-up, and what is overdue.

The deadlines were fixed when the reaction was reported or new information arrived (reference
data, domain/adverse_reporting.py) and travel in the events; a case's ``reporting_deadline_at``
is its earliest open one (the earliest of all once every one is submitted). Whether a report is
overdue depends on the moment asked about: now, or the ``asOf`` moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.adverse_event import AdverseEvent
from projections.ledger import Appended
from projections.projection import Projection
from projections.scopes import Reach, within_reach
from projections.sql import Sql
from projections.versioned import VersionedTable, equal

TABLES = (
    "adverse_event_obligations",
    "adverse_event_submissions",
    "adverse_event_follow_ups",
    "adverse_event_versions",
)

REPORTS = VersionedTable(
    "adverse_event_versions",
    "adverse_event_id",
    (
        "adverse_event_id",
        "batch_id",
        "patient_code",
        "reported_by_site_id",
        "control_site_id",
        "jurisdiction",
        "serious",
        "description",
        "onset_at",
        "aware_at",
        "reporting_deadline_at",
        "submitted_at",
        "authority",
        "criteria",
        "expected",
        "context",
        "taiwan_regime",
    ),
)

OBLIGATIONS = VersionedTable(
    "adverse_event_obligations",
    "obligation_id",
    (
        "obligation_id",
        "adverse_event_id",
        "obligation_key",
        "jurisdiction",
        "authority",
        "kind",
        "rule",
        "source",
        "due_at",
        "submitted_at",
        "reported_by_site_id",
        "control_site_id",
    ),
)


def _key(originator_id: str) -> str:
    return originator_id.split(":", 1)[1]


def _owe(sql: Sql, a: Appended, case: dict[str, Any], records: list[dict[str, Any]]) -> None:
    """Open the required reports in ``records``, or move the ones already owed."""
    for record in records:
        obligation_id = f"{case['adverse_event_id']}/{record['key']}"
        due_at = datetime.fromisoformat(record["due_at"])
        if OBLIGATIONS.current(sql, obligation_id) is None:
            OBLIGATIONS.insert(
                sql,
                {
                    "obligation_id": obligation_id,
                    "adverse_event_id": case["adverse_event_id"],
                    "obligation_key": record["key"],
                    "jurisdiction": record["jurisdiction"],
                    "authority": record["authority"],
                    "kind": record["kind"],
                    "rule": record["rule"],
                    "source": record["source"],
                    "due_at": due_at,
                    "submitted_at": None,
                    "reported_by_site_id": case["reported_by_site_id"],
                    "control_site_id": case["control_site_id"],
                },
                a.position,
            )
        else:
            OBLIGATIONS.change(
                sql,
                obligation_id,
                a.position,
                rule=record["rule"],
                source=record["source"],
                due_at=due_at,
            )


def _earliest_due(sql: Sql, adverse_event_id: str) -> datetime:
    rows = sql.all(
        "SELECT due_at, submitted_at FROM adverse_event_obligations"
        " WHERE adverse_event_id = ? AND valid_to IS NULL",
        (adverse_event_id,),
    )
    open_: list[datetime] = [r["due_at"] for r in rows if r["submitted_at"] is None]
    earliest: datetime = min(open_ or [r["due_at"] for r in rows])
    return earliest


def _reported(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, AdverseEvent.Reported)
    REPORTS.insert(
        sql,
        {
            "adverse_event_id": e.originator_id.split(":", 1)[1],
            "batch_id": e.batch_id,
            "patient_code": e.patient_code,
            "reported_by_site_id": e.reported_by_site_id,
            "control_site_id": e.control_site_id,
            "jurisdiction": e.jurisdiction,
            "serious": e.serious,
            "description": e.description,
            "onset_at": e.onset_at,
            "aware_at": e.aware_at,
            "reporting_deadline_at": e.reporting_deadline,
            "submitted_at": None,
            "authority": None,
            "criteria": ",".join(e.criteria),
            "expected": e.expected,
            "context": e.context,
            "taiwan_regime": e.taiwan_regime,
        },
        a.position,
    )
    case = {
        "adverse_event_id": _key(e.originator_id),
        "reported_by_site_id": e.reported_by_site_id,
        "control_site_id": e.control_site_id,
    }
    _owe(sql, a, case, e.obligations)


def _follow_up(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, AdverseEvent.FollowUpRecorded)
    key = _key(e.originator_id)
    case = REPORTS.current(sql, key)
    assert case is not None, key
    sql.execute(
        "INSERT INTO adverse_event_follow_ups (adverse_event_id, position, received_at,"
        " information, serious, criteria, expected) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            key,
            a.position,
            e.received_at,
            e.information,
            e.serious,
            ",".join(e.criteria),
            e.expected,
        ),
    )
    _owe(sql, a, case, e.obligations)
    REPORTS.change(
        sql,
        key,
        a.position,
        serious=e.serious,
        criteria=",".join(e.criteria),
        expected=e.expected,
        reporting_deadline_at=_earliest_due(sql, key),
    )


def _submitted(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, AdverseEvent.SubmittedToAuthority)
    key = _key(e.originator_id)
    case = REPORTS.current(sql, key)
    assert case is not None, key
    jurisdiction = e.jurisdiction or case["jurisdiction"]
    obligation = e.obligation or (f"{jurisdiction}/INITIAL" if e.kind == "INITIAL" else None)
    sql.execute(
        "INSERT INTO adverse_event_submissions (adverse_event_id, position, jurisdiction,"
        " authority, kind, submitted_at, obligation_key) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (key, a.position, jurisdiction, e.authority, e.kind, e.submitted_at, obligation),
    )
    if obligation is not None and OBLIGATIONS.current(sql, f"{key}/{obligation}") is not None:
        OBLIGATIONS.change(sql, f"{key}/{obligation}", a.position, submitted_at=e.submitted_at)
    first = case["submitted_at"] is None
    REPORTS.change(
        sql,
        key,
        a.position,
        submitted_at=e.submitted_at if first else case["submitted_at"],
        authority=e.authority if first else case["authority"],
        reporting_deadline_at=_earliest_due(sql, key),
    )


PROJECTION = Projection(
    name="adverse_events",
    tables=TABLES,
    handles={
        AdverseEvent.Reported: _reported,
        AdverseEvent.SubmittedToAuthority: _submitted,
        AdverseEvent.FollowUpRecorded: _follow_up,
    },
)


@dataclass(frozen=True)
class ObligationView:
    """A report a case owes one authority: its deadline, the rule and source, its submission."""

    key: str
    jurisdiction: str
    authority: str
    kind: str
    rule: str
    source: str
    due_at: datetime
    submitted_at: datetime | None
    overdue: bool

    @property
    def submitted_late(self) -> bool:
        return self.submitted_at is not None and self.submitted_at > self.due_at


@dataclass(frozen=True)
class SubmissionView:
    jurisdiction: str
    authority: str
    kind: str
    submitted_at: datetime
    obligation_key: str | None


@dataclass(frozen=True)
class FollowUpView:
    received_at: datetime
    information: str
    serious: bool
    criteria: tuple[str, ...]
    expected: bool | None


@dataclass(frozen=True)
class AdverseEventView:
    adverse_event_id: str
    batch_id: str
    patient_code: str
    reported_by_site_id: str
    control_site_id: str
    jurisdiction: str
    serious: bool
    description: str
    onset_at: datetime
    aware_at: datetime
    reporting_deadline_at: datetime
    submitted_at: datetime | None
    authority: str | None
    overdue: bool
    criteria: tuple[str, ...] = ()
    expected: bool | None = None
    context: str = "MARKETED"
    taiwan_regime: str | None = None
    obligations: tuple[ObligationView, ...] = ()
    submissions: tuple[SubmissionView, ...] = ()
    follow_ups: tuple[FollowUpView, ...] = ()

    @property
    def submitted_late(self) -> bool:
        return any(o.submitted_late for o in self.obligations)


def _criteria(text: str) -> tuple[str, ...]:
    return tuple(c for c in text.split(",") if c)


def _expected(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _children(
    sql: Sql, position: int, moment: datetime, ids: list[str]
) -> tuple[
    dict[str, list[ObligationView]], dict[str, list[SubmissionView]], dict[str, list[FollowUpView]]
]:
    owed: dict[str, list[ObligationView]] = {i: [] for i in ids}
    sent: dict[str, list[SubmissionView]] = {i: [] for i in ids}
    told: dict[str, list[FollowUpView]] = {i: [] for i in ids}
    if not ids:
        return owed, sent, told
    marks = ", ".join("?" * len(ids))
    for row in OBLIGATIONS.select(
        sql, position, [f"adverse_event_id IN ({marks})"], ids, order="due_at, obligation_id"
    ):
        owed[row["adverse_event_id"]].append(
            ObligationView(
                key=row["obligation_key"],
                jurisdiction=row["jurisdiction"],
                authority=row["authority"],
                kind=row["kind"],
                rule=row["rule"],
                source=row["source"],
                due_at=row["due_at"],
                submitted_at=row["submitted_at"],
                overdue=row["submitted_at"] is None and row["due_at"] < moment,
            )
        )
    for row in sql.all(
        "SELECT adverse_event_id, jurisdiction, authority, kind, submitted_at, obligation_key"
        f" FROM adverse_event_submissions WHERE position <= ? AND adverse_event_id IN ({marks})"
        " ORDER BY position",
        [position, *ids],
    ):
        sent[row.pop("adverse_event_id")].append(SubmissionView(**row))
    for row in sql.all(
        "SELECT adverse_event_id, received_at, information, serious, criteria, expected"
        f" FROM adverse_event_follow_ups WHERE position <= ? AND adverse_event_id IN ({marks})"
        " ORDER BY position",
        [position, *ids],
    ):
        told[row["adverse_event_id"]].append(
            FollowUpView(
                received_at=row["received_at"],
                information=row["information"],
                serious=bool(row["serious"]),
                criteria=_criteria(row["criteria"]),
                expected=_expected(row["expected"]),
            )
        )
    return owed, sent, told


def find_adverse_events(
    sql: Sql,
    position: int,
    moment: datetime,
    *,
    batch_id: str | None = None,
    site_id: str | None = None,
    control_site_id: str | None = None,
    overdue: bool | None = None,
    reach: Reach | None,
) -> list[AdverseEventView]:
    """Reports as recorded by ``position``, those within ``reach``; overdue means a required
    report unsubmitted past its deadline at ``moment``."""
    where, params = equal(
        batch_id=batch_id, reported_by_site_id=site_id, control_site_id=control_site_id
    )
    reached, reach_params = within_reach(reach, "'AdverseEvent:' || adverse_event_id")
    where, params = where + reached, params + reach_params
    rows = REPORTS.select(sql, position, where, params, order="aware_at, adverse_event_id")
    owed, sent, told = _children(sql, position, moment, [r["adverse_event_id"] for r in rows])
    views = []
    for row in rows:
        key = row["adverse_event_id"]
        views.append(
            AdverseEventView(
                **{
                    **row,
                    "serious": bool(row["serious"]),
                    "criteria": _criteria(row["criteria"]),
                    "expected": _expected(row["expected"]),
                },
                overdue=any(o.overdue for o in owed[key]),
                obligations=tuple(owed[key]),
                submissions=tuple(sent[key]),
                follow_ups=tuple(told[key]),
            )
        )
    return [v for v in views if overdue is None or v.overdue == overdue]
