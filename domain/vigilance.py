"""Long-term follow-up of treated patients and deviations reportable to an authority.

``LongTermFollowUp`` (one per batch and patient, ``<batch>/<patient>``) keeps the visits of a
treated patient against the product's schedule (domain/data/long_term_follow_up.json), fixed in
its first event. ``DeviationReport`` (one per batch deviation, ``<batch>/<deviation>``) marks a
deviation reportable with the deadline its rule gives (domain/data/deviation_reporting.json) and
records its submission.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any

from domain.reference import _load
from domain.shared import (
    BadInputError,
    ConflictError,
    LedgerAggregate,
    LedgerCreated,
    RuleViolationError,
)

# ------------------------------------------------------------------------------ reference data


@dataclass(frozen=True)
class FollowUpSchedule:
    product: str
    years: int
    window_days: int
    visits_months: tuple[int, ...]
    examination_until_month: int
    reason: str
    source: str

    def due(self, administered_at: datetime, visit: int) -> datetime:
        """When visit number ``visit`` (1-based) falls: whole months after administration."""
        return add_months(administered_at, self.visits_months[visit - 1])

    def kind(self, visit: int) -> str:
        months = self.visits_months[visit - 1]
        return "EXAMINATION" if months <= self.examination_until_month else "CONTACT"


def add_months(at: datetime, months: int) -> datetime:
    month = at.month - 1 + months
    year, month = at.year + month // 12, month % 12 + 1
    day = at.day
    while True:
        try:
            return at.replace(year=year, month=month, day=day)
        except ValueError:  # 31 January + 1 month: the last day of February
            day -= 1


@cache
def follow_up_schedules() -> dict[str, FollowUpSchedule]:
    return {
        product: FollowUpSchedule(
            product=product,
            years=int(spec["years"]),
            window_days=int(spec["window_days"]),
            visits_months=tuple(int(m) for m in spec["visits_months"]),
            examination_until_month=int(spec["examination_until_month"]),
            reason=spec["reason"],
            source=spec["source"],
        )
        for product, spec in _load("long_term_follow_up.json").items()
    }


@dataclass(frozen=True)
class DeviationRule:
    jurisdiction: str
    days: int
    authority: str
    rule: str
    source: str


@cache
def deviation_rules() -> dict[str, DeviationRule]:
    return {
        jurisdiction: DeviationRule(jurisdiction=jurisdiction, **spec)
        for jurisdiction, spec in _load("deviation_reporting.json").items()
    }


def deviation_rule(jurisdiction: str) -> DeviationRule:
    found = deviation_rules().get(jurisdiction)
    if found is None:
        raise BadInputError(
            f"no deviation-reporting rule is configured for {jurisdiction!r}; configured: "
            f"{', '.join(sorted(deviation_rules()))}",
            field="jurisdiction",
        )
    return found


# ---------------------------------------------------------------------- long-term follow-up


class VisitStatus(StrEnum):
    COMPLETED = "COMPLETED"
    MISSED = "MISSED"
    LOST_TO_FOLLOW_UP = "LOST_TO_FOLLOW_UP"
    DECEASED = "DECEASED"


ENDS_FOLLOW_UP = frozenset({VisitStatus.LOST_TO_FOLLOW_UP, VisitStatus.DECEASED})


class LongTermFollowUp(LedgerAggregate):
    TYPE = "LongTermFollowUp"

    class Opened(LedgerAggregate.Event, LedgerCreated):
        batch_id: str
        patient_code: str
        site_id: str
        control_site_id: str
        product: str
        administered_at: datetime
        visits_months: list[int]
        window_days: int
        source: str

    class VisitRecorded(LedgerAggregate.Event):
        batch_id: str
        patient_code: str
        visit: int
        status: str
        visited_at: datetime
        site_id: str
        outcome: str

        def apply(self, record: LongTermFollowUp) -> None:
            record.visits[self.visit] = self.status
            if self.status in ENDS_FOLLOW_UP:
                record.ended = self.status

    def __init__(
        self,
        batch_id: str,
        patient_code: str,
        site_id: str,
        control_site_id: str,
        product: str,
        administered_at: datetime,
        visits_months: list[int],
        window_days: int,
        source: str,
    ) -> None:
        self.batch_id = batch_id
        self.patient_code = patient_code
        self.site_id = site_id
        self.control_site_id = control_site_id
        self.product = product
        self.administered_at = administered_at
        self.visits_months = list(visits_months)
        self.window_days = window_days
        self.source = source
        self.visits: dict[int, str] = {}
        self.ended: str | None = None

    @classmethod
    def open(
        cls,
        *,
        batch_id: str,
        patient_code: str,
        site_id: str,
        control_site_id: str,
        administered_at: datetime,
        schedule: FollowUpSchedule,
        occurred_at: datetime,
        **actor: Any,
    ) -> LongTermFollowUp:
        return cls._create(
            cls.Opened,
            id=cls.ledger_id(f"{batch_id}/{patient_code}"),
            batch_id=batch_id,
            patient_code=patient_code,
            site_id=site_id,
            control_site_id=control_site_id,
            product=schedule.product,
            administered_at=administered_at,
            visits_months=list(schedule.visits_months),
            window_days=schedule.window_days,
            source=schedule.source,
            occurred_at=occurred_at,
            **actor,
        )

    def record_visit(
        self,
        visit: int,
        status: str,
        visited_at: datetime,
        site_id: str,
        outcome: str,
        **actor: Any,
    ) -> None:
        if not 1 <= visit <= len(self.visits_months):
            raise BadInputError(
                f"visit {visit} is not in the schedule of batch {self.batch_id!r} (visits 1 to "
                f"{len(self.visits_months)})",
                field="visit",
            )
        if visit in self.visits:
            raise ConflictError(
                f"visit {visit} of patient {self.patient_code!r} (batch {self.batch_id!r}) is "
                f"already recorded as {self.visits[visit]}",
                id=self.key,
            )
        if self.ended is not None:
            raise RuleViolationError(
                f"the follow-up of patient {self.patient_code!r} (batch {self.batch_id!r}) "
                f"ended: {self.ended}",
                batch_id=self.batch_id,
                reason="FOLLOW_UP_ENDED",
            )
        if visited_at < self.administered_at:
            raise RuleViolationError(
                f"visitedAt {visited_at.isoformat()} precedes the administration "
                f"({self.administered_at.isoformat()})",
                batch_id=self.batch_id,
            )
        self.trigger_event(
            self.VisitRecorded,
            batch_id=self.batch_id,
            patient_code=self.patient_code,
            visit=visit,
            status=status,
            visited_at=visited_at,
            site_id=site_id,
            outcome=outcome,
            occurred_at=visited_at,
            **actor,
        )


# ------------------------------------------------------------------------ reportable deviations


class DeviationReport(LedgerAggregate):
    TYPE = "DeviationReport"

    class MarkedReportable(LedgerAggregate.Event, LedgerCreated):
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

    class Submitted(LedgerAggregate.Event):
        authority: str
        submitted_at: datetime

        def apply(self, report: DeviationReport) -> None:
            report.submitted_at = self.submitted_at

    def __init__(
        self,
        batch_id: str,
        deviation_id: str,
        site_id: str,
        control_site_id: str,
        jurisdiction: str,
        authority: str,
        rule: str,
        source: str,
        discovered_at: datetime,
        due_at: datetime,
    ) -> None:
        self.batch_id = batch_id
        self.deviation_id = deviation_id
        self.site_id = site_id
        self.control_site_id = control_site_id
        self.jurisdiction = jurisdiction
        self.authority = authority
        self.rule = rule
        self.source = source
        self.discovered_at = discovered_at
        self.due_at = due_at
        self.submitted_at: datetime | None = None

    @classmethod
    def mark(
        cls,
        *,
        batch_id: str,
        deviation_id: str,
        site_id: str,
        control_site_id: str,
        rule: DeviationRule,
        discovered_at: datetime,
        occurred_at: datetime,
        **actor: Any,
    ) -> DeviationReport:
        return cls._create(
            cls.MarkedReportable,
            id=cls.ledger_id(f"{batch_id}/{deviation_id}"),
            batch_id=batch_id,
            deviation_id=deviation_id,
            site_id=site_id,
            control_site_id=control_site_id,
            jurisdiction=rule.jurisdiction,
            authority=rule.authority,
            rule=rule.rule,
            source=rule.source,
            discovered_at=discovered_at,
            due_at=discovered_at + timedelta(days=rule.days),
            occurred_at=occurred_at,
            **actor,
        )

    def submit(self, authority: str, submitted_at: datetime, **actor: Any) -> None:
        if self.submitted_at is not None:
            raise RuleViolationError(
                f"the report of deviation {self.deviation_id!r} (batch {self.batch_id!r}) was "
                f"already submitted at {self.submitted_at.isoformat()}",
                batch_id=self.batch_id,
                reason="ALREADY_SUBMITTED",
            )
        if submitted_at < self.discovered_at:
            raise RuleViolationError(
                f"submittedAt {submitted_at.isoformat()} precedes the discovery of deviation "
                f"{self.deviation_id!r} ({self.discovered_at.isoformat()})",
                batch_id=self.batch_id,
            )
        self.trigger_event(
            self.Submitted,
            authority=authority,
            submitted_at=submitted_at,
            occurred_at=submitted_at,
            **actor,
        )
