"""Adverse-reaction reporting: what was reported, its deadline, its submission, what is overdue.

The deadline was fixed when the reaction was reported (reference data, per jurisdiction and
seriousness) and travels in the event; whether a report is overdue depends on the moment asked
about: now, or the ``asOf`` moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.adverse_event import AdverseEvent
from projections.ledger import Appended
from projections.projection import Projection
from projections.scopes import Reach, within_reach
from projections.sql import Sql
from projections.versioned import VersionedTable, equal

TABLES = ("adverse_event_versions",)

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
    ),
)


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
        },
        a.position,
    )


def _submitted(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, AdverseEvent.SubmittedToAuthority)
    REPORTS.change(
        sql,
        e.originator_id.split(":", 1)[1],
        a.position,
        submitted_at=e.submitted_at,
        authority=e.authority,
    )


PROJECTION = Projection(
    name="adverse_events",
    tables=TABLES,
    handles={
        AdverseEvent.Reported: _reported,
        AdverseEvent.SubmittedToAuthority: _submitted,
    },
)


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

    @property
    def submitted_late(self) -> bool:
        return self.submitted_at is not None and self.submitted_at > self.reporting_deadline_at


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
    """Reports as recorded by ``position``, those within ``reach``; overdue means unsubmitted
    past the deadline at ``moment``."""
    where, params = equal(
        batch_id=batch_id, reported_by_site_id=site_id, control_site_id=control_site_id
    )
    reached, reach_params = within_reach(reach, "'AdverseEvent:' || adverse_event_id")
    where, params = where + reached, params + reach_params
    views = [
        AdverseEventView(
            **{**row, "serious": bool(row["serious"])},
            overdue=row["submitted_at"] is None and row["reporting_deadline_at"] < moment,
        )
        for row in REPORTS.select(sql, position, where, params, order="aware_at, adverse_event_id")
    ]
    return [v for v in views if overdue is None or v.overdue == overdue]
