"""Long-term follow-up visits due and overdue, and deviations reportable to an authority.

The patients to follow come from the administrations themselves (the first time each patient
received a batch); their visits are the product's schedule (domain/data/long_term_follow_up.json)
counted from then, each on time within its window. A visit's record (completed, missed, lost to
follow-up, deceased) is its own event; lost to follow-up and deceased end the schedule. Whether a
visit is due or overdue depends on the moment asked about: now, or the ``asOf`` moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.batch import Batch
from domain.vigilance import (
    ENDS_FOLLOW_UP,
    DeviationReport,
    LongTermFollowUp,
    add_months,
    follow_up_schedules,
)
from projections.ledger import Appended
from projections.projection import Projection
from projections.scopes import Reach, within_reach
from projections.sql import Dialect, Sql
from projections.versioned import VersionedTable, equal

TABLES = (
    "follow_up_visits",
    "follow_up_patients",
    "follow_up_batches",
    "reportable_deviation_versions",
)

DEVIATIONS = VersionedTable(
    "reportable_deviation_versions",
    "report_id",
    (
        "report_id",
        "batch_id",
        "deviation_id",
        "site_id",
        "control_site_id",
        "jurisdiction",
        "authority",
        "rule",
        "source",
        "discovered_at",
        "due_at",
        "submitted_at",
        "submitted_to",
    ),
)


def _ignore(sql: Sql) -> tuple[str, str]:
    if sql.dialect is Dialect.POSTGRES:
        return "INSERT", " ON CONFLICT DO NOTHING"
    return "INSERT OR IGNORE", ""


def _started(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Batch.Started)
    sql.execute(
        "INSERT INTO follow_up_batches (batch_id, position, product, control_site_id)"
        " VALUES (?, ?, ?, ?)",
        (e.originator_id.split(":", 1)[1], a.position, e.product, e.control_site_id),
    )


def _administered(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Batch.Administered | Batch.ContainerAdministered)
    batch_id = e.originator_id.split(":", 1)[1]
    batch = sql.one(
        "SELECT product, control_site_id FROM follow_up_batches WHERE batch_id = ?", (batch_id,)
    )
    assert batch is not None, batch_id
    verb, conflict = _ignore(sql)
    # The first administration to the patient starts the follow-up; later ones change nothing.
    sql.execute(
        f"{verb} INTO follow_up_patients (batch_id, patient_code, position, product, site_id,"
        " control_site_id, administered_at) VALUES (?, ?, ?, ?, ?, ?, ?)" + conflict,
        (
            batch_id,
            e.patient_code,
            a.position,
            batch["product"],
            e.site_id,
            batch["control_site_id"],
            e.administered_at,
        ),
    )


def _visit(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, LongTermFollowUp.VisitRecorded)
    sql.execute(
        "INSERT INTO follow_up_visits (batch_id, patient_code, visit, position, status,"
        " visited_at, site_id, outcome, recorded_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            e.batch_id,
            e.patient_code,
            e.visit,
            a.position,
            e.status,
            e.visited_at,
            e.site_id,
            e.outcome,
            e.actor,
        ),
    )


def _marked(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, DeviationReport.MarkedReportable)
    DEVIATIONS.insert(
        sql,
        {
            "report_id": e.originator_id.split(":", 1)[1],
            "batch_id": e.batch_id,
            "deviation_id": e.deviation_id,
            "site_id": e.site_id,
            "control_site_id": e.control_site_id,
            "jurisdiction": e.jurisdiction,
            "authority": e.authority,
            "rule": e.rule,
            "source": e.source,
            "discovered_at": e.discovered_at,
            "due_at": e.due_at,
            "submitted_at": None,
            "submitted_to": None,
        },
        a.position,
    )


def _deviation_submitted(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, DeviationReport.Submitted)
    DEVIATIONS.change(
        sql,
        e.originator_id.split(":", 1)[1],
        a.position,
        submitted_at=e.submitted_at,
        submitted_to=e.authority,
    )


PROJECTION = Projection(
    name="vigilance",
    tables=TABLES,
    handles={
        Batch.Started: _started,
        Batch.Administered: _administered,
        Batch.ContainerAdministered: _administered,
        LongTermFollowUp.VisitRecorded: _visit,
        DeviationReport.MarkedReportable: _marked,
        DeviationReport.Submitted: _deviation_submitted,
    },
)


# ---------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class VisitView:
    batch_id: str
    patient_code: str
    product: str
    site_id: str
    control_site_id: str
    administered_at: datetime
    visit: int
    months: int
    kind: str
    due_at: datetime
    window_from: datetime
    window_to: datetime
    status: str  # DUE, OVERDUE, UPCOMING, or the record's status
    visited_at: datetime | None
    outcome: str | None
    source: str

    @property
    def overdue(self) -> bool:
        return self.status == "OVERDUE"


def find_follow_up_visits(
    sql: Sql,
    position: int,
    moment: datetime,
    *,
    site_id: str | None = None,
    control_site_id: str | None = None,
    batch_id: str | None = None,
    overdue: bool | None = None,
    reach: Reach | None,
) -> list[VisitView]:
    """Each treated patient's visits as recorded by ``position``: those recorded, those due or
    overdue at ``moment`` and the next one coming; none after the follow-up ended."""
    where, params = equal(site_id=site_id, control_site_id=control_site_id, batch_id=batch_id)
    reached, reach_params = within_reach(reach, "'Batch:' || batch_id")
    clauses = ["position <= ?", *where, *reached]
    patients = sql.all(
        "SELECT batch_id, patient_code, product, site_id, control_site_id, administered_at"
        f" FROM follow_up_patients WHERE {' AND '.join(clauses)}"
        " ORDER BY administered_at, batch_id, patient_code",
        [position, *params, *reach_params],
    )
    recorded: dict[tuple[str, str], dict[int, dict[str, object]]] = {}
    if patients:
        marks = ", ".join("?" * len(patients))
        for row in sql.all(
            "SELECT batch_id, patient_code, visit, status, visited_at, outcome"
            f" FROM follow_up_visits WHERE position <= ? AND batch_id IN ({marks})",
            [position, *sorted({p["batch_id"] for p in patients})],
        ):
            recorded.setdefault((row["batch_id"], row["patient_code"]), {})[row["visit"]] = row
    found: list[VisitView] = []
    for p in patients:
        schedule = follow_up_schedules().get(p["product"])
        if schedule is None:
            continue
        visits = recorded.get((p["batch_id"], p["patient_code"]), {})
        window = timedelta(days=schedule.window_days)
        ended = False
        upcoming_shown = False
        for n, months in enumerate(schedule.visits_months, start=1):
            due = add_months(p["administered_at"], months)
            record = visits.get(n)
            if record is not None:
                status = str(record["status"])
                visited_at = record["visited_at"]
                outcome = record["outcome"]
            elif ended or upcoming_shown:
                continue
            elif moment < due - window:
                status, visited_at, outcome = "UPCOMING", None, None
                upcoming_shown = True
            else:
                status = "DUE" if moment <= due + window else "OVERDUE"
                visited_at, outcome = None, None
            found.append(
                VisitView(
                    batch_id=p["batch_id"],
                    patient_code=p["patient_code"],
                    product=p["product"],
                    site_id=p["site_id"],
                    control_site_id=p["control_site_id"],
                    administered_at=p["administered_at"],
                    visit=n,
                    months=months,
                    kind=schedule.kind(n),
                    due_at=due,
                    window_from=due - window,
                    window_to=due + window,
                    status=status,
                    visited_at=visited_at,  # type: ignore[arg-type]
                    outcome=outcome,  # type: ignore[arg-type]
                    source=schedule.source,
                )
            )
            ended = ended or status in ENDS_FOLLOW_UP
    return [v for v in found if overdue is None or v.overdue == overdue]


@dataclass(frozen=True)
class DeviationReportView:
    batch_id: str
    deviation_id: str
    site_id: str
    control_site_id: str
    jurisdiction: str
    authority: str
    rule: str
    source: str
    discovered_at: datetime
    due_at: datetime
    submitted_at: datetime | None
    submitted_to: str | None
    overdue: bool


def find_reportable_deviations(
    sql: Sql,
    position: int,
    moment: datetime,
    *,
    site_id: str | None = None,
    control_site_id: str | None = None,
    overdue: bool | None = None,
    reach: Reach | None,
) -> list[DeviationReportView]:
    """Deviations marked reportable by ``position``; overdue: unsubmitted past the deadline at
    ``moment``."""
    where, params = equal(site_id=site_id, control_site_id=control_site_id)
    reached, reach_params = within_reach(reach, "'Batch:' || batch_id")
    rows = DEVIATIONS.select(
        sql, position, where + reached, params + reach_params, order="due_at, report_id"
    )
    views = [
        DeviationReportView(
            **{k: v for k, v in row.items() if k != "report_id"},
            overdue=row["submitted_at"] is None and row["due_at"] < moment,
        )
        for row in rows
    ]
    return [v for v in views if overdue is None or v.overdue == overdue]
