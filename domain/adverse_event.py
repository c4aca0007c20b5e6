"""The AdverseEvent aggregate (不良反應): reported by a site, submitted to the authorities.

What the case must be reported as is fixed when it is reported, from reference data
(domain/adverse_reporting.py): one required report (an obligation) per jurisdiction it goes to,
each with its deadline, rule and source; they travel in the event. New information about the
case is its own event: it may upgrade the case (a fatal outcome), which moves an unsubmitted
initial report's deadline forward, and for each authority already told it opens a follow-up
report due from the day the information arrived. Submissions are initial or follow-up, one
initial per authority.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from domain.adverse_reporting import Obligation, SubmissionKind
from domain.shared import BadInputError, LedgerAggregate, LedgerCreated, RuleViolationError


class AdverseEvent(LedgerAggregate):
    TYPE = "AdverseEvent"

    class Reported(LedgerAggregate.Event, LedgerCreated):
        class_version = 2

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
        criteria: list[str]
        expected: bool | None
        context: str
        taiwan_regime: str | None
        obligations: list[dict[str, Any]]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Reports made before criteria and obligations were kept: one report due to the
            reporting site's own authority by the deadline the event fixed."""
            deadline = state["reporting_deadline"]
            due = deadline.isoformat() if isinstance(deadline, datetime) else str(deadline)
            jurisdiction = state["jurisdiction"]
            state["criteria"] = []
            state["expected"] = None
            state["context"] = "MARKETED"
            state["taiwan_regime"] = "TECHNOLOGY" if jurisdiction == "TW" else None
            state["obligations"] = [_legacy_obligation(jurisdiction, due)]

    class FollowUpRecorded(LedgerAggregate.Event):
        information: str
        received_at: datetime
        serious: bool
        criteria: list[str]
        expected: bool | None
        obligations: list[dict[str, Any]]

        def apply(self, report: AdverseEvent) -> None:
            report.serious = self.serious
            report.criteria = list(self.criteria)
            report.expected = self.expected
            report.follow_ups += 1
            for record in self.obligations:
                o = Obligation.from_record(record)
                report.obligations[o.key] = o

    class SubmittedToAuthority(LedgerAggregate.Event):
        class_version = 2

        authority: str
        submitted_at: datetime
        kind: str = "INITIAL"
        jurisdiction: str | None = None  # None: the case's own jurisdiction
        obligation: str | None = None  # the required report it fulfils, if any

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["kind"] = "INITIAL"
            state["jurisdiction"] = None
            state["obligation"] = None

        def apply(self, report: AdverseEvent) -> None:
            if report.submitted_at is None:
                report.submitted_at = self.submitted_at
            jurisdiction = self.jurisdiction or report.jurisdiction
            report.submissions.append((jurisdiction, self.kind, self.submitted_at))
            key = self.obligation or (
                f"{jurisdiction}/INITIAL" if self.kind == SubmissionKind.INITIAL else None
            )
            if key is not None and key in report.obligations:
                o = report.obligations[key]
                report.obligations[key] = replace(o, submitted_at=self.submitted_at)

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
        criteria: list[str] | None = None,
        expected: bool | None = None,
        context: str = "MARKETED",
        taiwan_regime: str | None = None,
        obligations: list[dict[str, Any]] | None = None,
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
        self.criteria = list(criteria or [])
        self.expected = expected
        self.context = context
        self.taiwan_regime = taiwan_regime
        records = obligations or [_legacy_obligation(jurisdiction, reporting_deadline.isoformat())]
        self.obligations: dict[str, Obligation] = {
            o.key: o for o in map(Obligation.from_record, records)
        }
        self.submitted_at: datetime | None = None
        self.submissions: list[tuple[str, str, datetime]] = []
        self.follow_ups = 0

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
        criteria: list[str] | None = None,
        expected: bool | None = None,
        context: str = "MARKETED",
        taiwan_regime: str | None = None,
        obligations: list[Obligation] | None = None,
    ) -> AdverseEvent:
        """A new adverse event report: its Reported event, pending until saved."""
        records = (
            [o.as_record() for o in obligations]
            if obligations
            else [_legacy_obligation(jurisdiction, reporting_deadline.isoformat())]
        )
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
            criteria=list(criteria or []),
            expected=expected,
            context=context,
            taiwan_regime=taiwan_regime,
            obligations=records,
            occurred_at=occurred_at,
            actor=actor,
            actor_role=actor_role,
        )

    @property
    def jurisdictions(self) -> list[str]:
        """Where the case is reported: its own jurisdiction first, then the others."""
        found = [self.jurisdiction]
        for o in self.obligations.values():
            if o.jurisdiction not in found:
                found.append(o.jurisdiction)
        return found

    def open_obligations(self) -> list[Obligation]:
        return sorted(
            (o for o in self.obligations.values() if o.submitted_at is None),
            key=lambda o: (o.due_at, o.key),
        )

    def initial_submitted(self, jurisdiction: str) -> datetime | None:
        o = self.obligations.get(f"{jurisdiction}/INITIAL")
        return o.submitted_at if o is not None else None

    def record_follow_up(
        self,
        information: str,
        received_at: datetime,
        serious: bool,
        criteria: list[str],
        expected: bool | None,
        due: dict[str, Obligation],
        **actor: Any,
    ) -> None:
        """New information on the case. ``due`` holds, per jurisdiction, what the rules require
        from ``received_at`` for the case as it now stands: an unsubmitted initial report takes
        that deadline when it is earlier; an authority already told gets a follow-up report."""
        if received_at < self.aware_at:
            raise RuleViolationError(
                f"receivedAt {received_at.isoformat()} precedes awareness of the case "
                f"({self.aware_at.isoformat()})",
                adverse_event_id=self.key,
            )
        changed: list[Obligation] = []
        sequence = self.follow_ups + 1
        for jurisdiction in self.jurisdictions:
            now_due = due[jurisdiction]
            initial = self.obligations.get(f"{jurisdiction}/INITIAL")
            if initial is not None and initial.submitted_at is None:
                if now_due.due_at < initial.due_at:
                    changed.append(
                        replace(
                            initial,
                            rule=now_due.rule,
                            source=now_due.source,
                            due_at=now_due.due_at,
                        )
                    )
            else:
                changed.append(
                    replace(
                        now_due,
                        key=f"{jurisdiction}/FOLLOW_UP/{sequence}",
                        kind=SubmissionKind.FOLLOW_UP.value,
                    )
                )
        self.trigger_event(
            self.FollowUpRecorded,
            information=information,
            received_at=received_at,
            serious=serious,
            criteria=list(criteria),
            expected=expected,
            obligations=[o.as_record() for o in changed],
            occurred_at=received_at,
            **actor,
        )

    def submit(
        self,
        authority: str,
        submitted_at: datetime,
        kind: str = SubmissionKind.INITIAL,
        jurisdiction: str | None = None,
        **actor: Any,
    ) -> None:
        to = jurisdiction or self.jurisdiction
        if to not in self.jurisdictions:
            raise BadInputError(
                f"adverse event {self.key!r} is not reported to {to}; it goes to "
                f"{', '.join(self.jurisdictions)}",
                field="reportTo",
                adverse_event_id=self.key,
            )
        if submitted_at < self.aware_at:
            raise RuleViolationError(
                f"submittedAt {submitted_at.isoformat()} precedes awareness "
                f"({self.aware_at.isoformat()})",
                adverse_event_id=self.key,
            )
        initial = self.initial_submitted(to)
        obligation: str | None
        if kind == SubmissionKind.INITIAL:
            if initial is not None:
                raise RuleViolationError(
                    f"adverse event {self.key!r} was already submitted to {to} at "
                    f"{initial.isoformat()}; send new information as a FOLLOW_UP",
                    adverse_event_id=self.key,
                    reason="INITIAL_ALREADY_SUBMITTED",
                )
            obligation = f"{to}/INITIAL"
        else:
            if initial is None:
                raise RuleViolationError(
                    f"adverse event {self.key!r} has no initial report to {to} yet: a "
                    "follow-up comes after it",
                    adverse_event_id=self.key,
                    reason="NO_INITIAL_REPORT",
                )
            require_not_before(initial, submitted_at, self.key)
            pending = [
                o
                for o in self.open_obligations()
                if o.jurisdiction == to and o.kind == SubmissionKind.FOLLOW_UP
            ]
            obligation = pending[0].key if pending else None
        self.trigger_event(
            self.SubmittedToAuthority,
            authority=authority,
            submitted_at=submitted_at,
            kind=str(kind),
            jurisdiction=to,
            obligation=obligation,
            occurred_at=submitted_at,
            **actor,
        )


def require_not_before(initial: datetime, submitted_at: datetime, key: str) -> None:
    if submitted_at < initial:
        raise RuleViolationError(
            f"a follow-up submitted at {submitted_at.isoformat()} precedes the initial report "
            f"({initial.isoformat()})",
            adverse_event_id=key,
        )


def _legacy_obligation(jurisdiction: str, due_at: str) -> dict[str, Any]:
    """The one report a case recorded before obligations were kept owed: to its own
    jurisdiction, by the deadline its event fixed."""
    return {
        "key": f"{jurisdiction}/INITIAL",
        "jurisdiction": jurisdiction,
        "authority": jurisdiction,
        "kind": "INITIAL",
        "rule": f"{jurisdiction}-RECORDED",
        "source": "the deadline fixed when the case was reported (domain/data/"
        "reporting_deadlines.json at the time)",
        "due_at": due_at,
    }
