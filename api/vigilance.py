"""Adverse-reaction follow-up, long-term follow-up of treated patients, reportable deviations:
their commands and the views of what is due and overdue (domain/vigilance.py,
projections/vigilance.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum

import strawberry

from api.auth.roles import (
    MEDICAL_INSTITUTION,
    PHARMACOVIGILANCE,
    PHYSICIAN,
    QUALITY_PERSON,
)
from api.auth.targets import NoReach, of, owned, site
from api.chain.inputs import SeriousnessCriterion
from api.commands import command
from api.common import AsOf
from api.context import Info
from api.convert import from_view
from api.resolve import read
from domain.distribution_commands import DistributionCommands
from domain.vigilance_commands import VigilanceCommands
from projections.vigilance import (
    DeviationReportView,
    VisitView,
    find_follow_up_visits,
    find_reportable_deviations,
)

# ---------------------------------------------------------------------------------- inputs


@strawberry.input
class RecordAdverseEventFollowUpInput:
    adverse_event_id: strawberry.ID
    information: str = strawberry.field(description="the new information on the case")
    received_at: datetime = strawberry.field(
        description="when the new information arrived: a deadline it moves counts from here"
    )
    serious: bool | None = strawberry.field(
        default=None, description="the seriousness now; unchanged when left out"
    )
    criteria: list[SeriousnessCriterion] | None = strawberry.field(
        default=None, description="the seriousness criteria now; unchanged when left out"
    )
    expected: bool | None = strawberry.field(
        default=None, description="the expectedness now; unchanged when left out"
    )


@strawberry.enum(description="what became of a long-term follow-up visit")
class VisitOutcomeStatus(Enum):
    COMPLETED = "COMPLETED"
    MISSED = "MISSED"
    LOST_TO_FOLLOW_UP = "LOST_TO_FOLLOW_UP"
    DECEASED = "DECEASED"


@strawberry.input
class RecordFollowUpVisitInput:
    batch_id: strawberry.ID
    patient_code: strawberry.ID
    visit: int = strawberry.field(description="the visit's number in the product's schedule")
    status: VisitOutcomeStatus
    visited_at: datetime
    site_id: strawberry.ID = strawberry.field(description="the institution that saw the patient")
    outcome: str = strawberry.field(description="the findings, or why the visit did not happen")


@strawberry.input
class MarkDeviationReportableInput:
    batch_id: strawberry.ID
    deviation_id: strawberry.ID
    discovered_at: datetime = strawberry.field(description="the deadline counts from here")
    jurisdiction: str = strawberry.field(
        description="whose authority receives the report (a rule of "
        "domain/data/deviation_reporting.json, e.g. US)"
    )


@strawberry.input
class SubmitDeviationReportInput:
    batch_id: strawberry.ID
    deviation_id: strawberry.ID
    authority: str
    submitted_at: datetime


# ------------------------------------------------------------------------------------ types


@strawberry.type(description="a visit of a treated patient's long-term follow-up")
class FollowUpVisit:
    batch_id: strawberry.ID
    patient_code: strawberry.ID
    product: str
    site_id: strawberry.ID = strawberry.field(description="the institution that administered")
    control_site_id: strawberry.ID
    administered_at: datetime
    visit: int
    months_after_administration: int
    kind: str = strawberry.field(description="EXAMINATION or CONTACT")
    due_at: datetime
    window_from: datetime
    window_to: datetime
    status: str = strawberry.field(
        description="UPCOMING, DUE, OVERDUE (now or at `asOf`), or the recorded COMPLETED, "
        "MISSED, LOST_TO_FOLLOW_UP, DECEASED"
    )
    visited_at: datetime | None
    outcome: str | None
    source: str = strawberry.field(description="the schedule's source")

    @classmethod
    def of(cls, v: VisitView) -> FollowUpVisit:
        return from_view(cls, v, months_after_administration=v.months)


@strawberry.input
class FollowUpVisitFilter:
    site_id: strawberry.ID | None = None
    control_site_id: strawberry.ID | None = None
    batch_id: strawberry.ID | None = None
    overdue: bool | None = None


@strawberry.type(description="a deviation reportable to an authority, its deadline and report")
class ReportableDeviation:
    batch_id: strawberry.ID
    deviation_id: strawberry.ID
    site_id: strawberry.ID
    control_site_id: strawberry.ID
    jurisdiction: str
    authority: str
    rule: str
    source: str
    discovered_at: datetime
    due_at: datetime
    submitted_at: datetime | None
    submitted_to: str | None
    overdue: bool = strawberry.field(description="not submitted and past due, now or at `asOf`")

    @classmethod
    def of(cls, v: DeviationReportView) -> ReportableDeviation:
        return from_view(cls, v)


@strawberry.input
class ReportableDeviationFilter:
    site_id: strawberry.ID | None = None
    control_site_id: strawberry.ID | None = None
    overdue: bool | None = None


# ---------------------------------------------------------------------------------- queries


@strawberry.type
class VigilanceQueries:
    @strawberry.field(
        description="Long-term follow-up visits of treated patients: recorded, due, overdue "
        "and the next one coming, now or as of a moment."
    )
    async def follow_up_visits(
        self, info: Info, filter: FollowUpVisitFilter | None = None, as_of: AsOf = None
    ) -> list[FollowUpVisit]:
        f = filter or FollowUpVisitFilter()
        moment = as_of or datetime.now(UTC)
        found = await read(
            info,
            as_of,
            lambda sql, p, reach: find_follow_up_visits(
                sql,
                p,
                moment,
                site_id=f.site_id,
                control_site_id=f.control_site_id,
                batch_id=f.batch_id,
                overdue=f.overdue,
                reach=reach,
            ),
        )
        return [FollowUpVisit.of(v) for v in found]

    @strawberry.field(
        description="Deviations marked reportable, with their deadline and submission; "
        "overdue now or as of a moment."
    )
    async def reportable_deviations(
        self, info: Info, filter: ReportableDeviationFilter | None = None, as_of: AsOf = None
    ) -> list[ReportableDeviation]:
        f = filter or ReportableDeviationFilter()
        moment = as_of or datetime.now(UTC)
        found = await read(
            info,
            as_of,
            lambda sql, p, reach: find_reportable_deviations(
                sql,
                p,
                moment,
                site_id=f.site_id,
                control_site_id=f.control_site_id,
                overdue=f.overdue,
                reach=reach,
            ),
        )
        return [ReportableDeviation.of(v) for v in found]


# -------------------------------------------------------------------------------- mutations


@strawberry.type
class VigilanceMutations:
    record_adverse_event_follow_up = command(
        DistributionCommands.record_adverse_event_follow_up,
        input=RecordAdverseEventFollowUpInput,
        roles=(MEDICAL_INSTITUTION, PHARMACOVIGILANCE),
        targets={"adverse_event_id": of("AdverseEvent")},
        description="Record new information on an adverse-reaction case. An upgrade (e.g. a "
        "fatal outcome) moves an unsubmitted initial report's deadline forward, counted from "
        "receivedAt; each authority already told is owed a follow-up report.",
    )
    record_follow_up_visit = command(
        VigilanceCommands.record_follow_up_visit,
        input=RecordFollowUpVisitInput,
        roles=(MEDICAL_INSTITUTION, PHYSICIAN),
        targets={
            "batch_id": of("Batch"),
            "patient_code": NoReach("the patient of the batch checked"),
            "site_id": site,
        },
        description="Record a long-term follow-up visit of a treated patient and its outcome; "
        "LOST_TO_FOLLOW_UP and DECEASED end the schedule.",
    )
    mark_deviation_reportable = command(
        VigilanceCommands.mark_deviation_reportable,
        input=MarkDeviationReportableInput,
        roles=(QUALITY_PERSON,),
        targets={
            "batch_id": owned("Batch"),
            "deviation_id": NoReach("a deviation of the batch checked"),
        },
        description="Mark a batch's deviation reportable to an authority; its deadline counts "
        "from discovery (US HCT/P: 45 days, 21 CFR 1271.350(b)).",
    )
    submit_deviation_report = command(
        VigilanceCommands.submit_deviation_report,
        input=SubmitDeviationReportInput,
        roles=(QUALITY_PERSON,),
        targets={
            "batch_id": owned("Batch"),
            "deviation_id": NoReach("a deviation of the batch checked"),
        },
        description="Record the submission of a reportable deviation's report.",
    )
