"""The AdverseEvent aggregate (不良反應): reported by a site, submitted to the authority.

The reporting deadline is fixed when the report is made, from the reporting site's jurisdiction
and the seriousness (reference data, not code), and travels in the event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.shared import LedgerAggregate, LedgerCreated, RuleViolationError


class AdverseEvent(LedgerAggregate):
    TYPE = "AdverseEvent"

    class Reported(LedgerAggregate.Event, LedgerCreated):
        batch_id: str
        patient_code: str
        reported_by_site_id: str
        control_site_id: str
        jurisdiction: str
        serious: bool
        description: str
        onset_at: datetime
        aware_at: datetime
        reporting_deadline: datetime

    class SubmittedToAuthority(LedgerAggregate.Event):
        authority: str
        submitted_at: datetime

        def apply(self, report: AdverseEvent) -> None:
            report.submitted_at = self.submitted_at

    def __init__(
        self,
        batch_id: str,
        patient_code: str,
        reported_by_site_id: str,
        control_site_id: str,
        jurisdiction: str,
        serious: bool,
        description: str,
        onset_at: datetime,
        aware_at: datetime,
        reporting_deadline: datetime,
    ) -> None:
        self.batch_id = batch_id
        self.patient_code = patient_code
        self.reported_by_site_id = reported_by_site_id
        self.control_site_id = control_site_id
        self.jurisdiction = jurisdiction
        self.serious = serious
        self.description = description
        self.onset_at = onset_at
        self.aware_at = aware_at
        self.reporting_deadline = reporting_deadline
        self.submitted_at: datetime | None = None

    @classmethod
    def create(
        cls,
        *,
        adverse_event_id: str,
        batch_id: str,
        patient_code: str,
        reported_by_site_id: str,
        control_site_id: str,
        jurisdiction: str,
        serious: bool,
        description: str,
        onset_at: datetime,
        aware_at: datetime,
        reporting_deadline: datetime,
        occurred_at: datetime,
        actor: str,
        actor_role: str,
    ) -> AdverseEvent:
        """A new adverse event report: its Reported event, pending until saved."""
        return cls._create(
            cls.Reported,
            id=cls.ledger_id(adverse_event_id),
            batch_id=batch_id,
            patient_code=patient_code,
            reported_by_site_id=reported_by_site_id,
            control_site_id=control_site_id,
            jurisdiction=jurisdiction,
            serious=serious,
            description=description,
            onset_at=onset_at,
            aware_at=aware_at,
            reporting_deadline=reporting_deadline,
            occurred_at=occurred_at,
            actor=actor,
            actor_role=actor_role,
        )

    def submit(self, authority: str, submitted_at: datetime, **actor: Any) -> None:
        if self.submitted_at is not None:
            raise RuleViolationError(
                f"adverse event {self.key!r} was already submitted at "
                f"{self.submitted_at.isoformat()}",
                adverse_event_id=self.key,
            )
        if submitted_at < self.aware_at:
            raise RuleViolationError(
                f"submittedAt {submitted_at.isoformat()} precedes awareness "
                f"({self.aware_at.isoformat()})",
                adverse_event_id=self.key,
            )
        self.trigger_event(
            self.SubmittedToAuthority,
            authority=authority,
            submitted_at=submitted_at,
            occurred_at=submitted_at,
            **actor,
        )
