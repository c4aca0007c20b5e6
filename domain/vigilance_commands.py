"""Commands of long-term follow-up and of deviations reportable to an authority
(domain/vigilance.py)."""

from __future__ import annotations

from datetime import datetime

from domain.batch import Batch, BatchStatus
from domain.ledger import LedgerApplication, actor
from domain.shared import (
    BadInputError,
    CommandResult,
    ConflictError,
    Principal,
    RuleViolationError,
    require_identifier,
    require_order,
    require_text,
    require_time,
)
from domain.site import Site
from domain.vigilance import (
    DeviationReport,
    LongTermFollowUp,
    VisitStatus,
    deviation_rule,
    follow_up_schedules,
)


class VigilanceCommands:
    """Visits of treated patients' long-term follow-up; reportable deviations."""

    def __init__(self, ledger: LedgerApplication) -> None:
        self.ledger = ledger

    def record_follow_up_visit(
        self,
        principal: Principal,
        batch_id: str,
        patient_code: str,
        visit: int,
        status: str,
        visited_at: datetime,
        site_id: str,
        outcome: str,
    ) -> CommandResult:
        patient_code = require_identifier(patient_code, "patientCode")
        visited_at = require_time(visited_at, "visitedAt")
        outcome = require_text(outcome, "outcome")
        if status not in VisitStatus.__members__:
            raise BadInputError(f"unknown visit status {status!r}", field="status")
        by = actor(principal)
        with self.ledger.unit_of_work() as uow:
            batch = uow.load(Batch, batch_id)
            uow.load(Site, site_id)
            given_at = first_administration(batch, patient_code)
            if given_at is None:
                raise RuleViolationError(
                    f"batch {batch.key!r} was not administered to patient {patient_code!r}; "
                    "long-term follow-up is of a treated patient",
                    batch_id=batch.key,
                )
            schedule = follow_up_schedules().get(batch.product)
            if schedule is None:
                raise RuleViolationError(
                    f"product {batch.product!r} has no long-term follow-up schedule "
                    "(domain/data/long_term_follow_up.json)",
                    batch_id=batch.key,
                )
            key = f"{batch.key}/{patient_code}"
            if uow.exists(LongTermFollowUp, key):
                record = uow.load(LongTermFollowUp, key)
            else:
                record = LongTermFollowUp.open(
                    batch_id=batch.key,
                    patient_code=patient_code,
                    site_id=site_id,
                    control_site_id=batch.control_site_id,
                    administered_at=given_at,
                    schedule=schedule,
                    occurred_at=visited_at,
                    **by,
                )
            record.record_visit(visit, status, visited_at, site_id, outcome, **by)
            return uow.save(record)

    def mark_deviation_reportable(
        self,
        principal: Principal,
        batch_id: str,
        deviation_id: str,
        discovered_at: datetime,
        jurisdiction: str,
    ) -> CommandResult:
        discovered_at = require_time(discovered_at, "discoveredAt")
        rule = deviation_rule(jurisdiction.strip())
        with self.ledger.unit_of_work() as uow:
            batch = uow.load(Batch, batch_id)
            if deviation_id not in batch.deviations:
                raise RuleViolationError(
                    f"deviation {deviation_id!r} is not recorded on batch {batch.key!r}",
                    batch_id=batch.key,
                )
            key = f"{batch.key}/{deviation_id}"
            if uow.exists(DeviationReport, key):
                raise ConflictError(
                    f"deviation {deviation_id!r} of batch {batch.key!r} is already reportable",
                    id=key,
                )
            require_order(batch.started_at, discovered_at, "the batch's start", "discoveredAt")
            report = DeviationReport.mark(
                batch_id=batch.key,
                deviation_id=deviation_id,
                site_id=batch.site_id,
                control_site_id=batch.control_site_id,
                rule=rule,
                discovered_at=discovered_at,
                occurred_at=discovered_at,
                **actor(principal),
            )
            return uow.save(report)

    def submit_deviation_report(
        self,
        principal: Principal,
        batch_id: str,
        deviation_id: str,
        authority: str,
        submitted_at: datetime,
    ) -> CommandResult:
        authority = require_text(authority, "authority")
        submitted_at = require_time(submitted_at, "submittedAt")
        with self.ledger.unit_of_work() as uow:
            report = uow.load(DeviationReport, f"{batch_id}/{deviation_id}")
            report.submit(authority, submitted_at, **actor(principal))
            return uow.save(report)


def first_administration(batch: Batch, patient_code: str) -> datetime | None:
    """When ``patient_code`` first received (a container of) the batch, or None."""
    given: list[datetime] = []
    for container in getattr(batch, "containers", {}).values():
        at = getattr(container, "administered_at", None)
        if getattr(container, "administered_to", None) == patient_code and at is not None:
            given.append(at)
    if (
        batch.status is BatchStatus.ADMINISTERED
        and batch.patient_code == patient_code
        and batch.administered_at is not None
    ):
        given.append(batch.administered_at)
    return min(given) if given else None
