"""Commands from dispatch to the patient, and the adverse reactions that may follow."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from domain import adverse_reporting as reporting
from domain import chain_of_identity as coi
from domain import reference
from domain.adverse_event import AdverseEvent
from domain.batch import Batch, BatchStatus, container_node
from domain.holds import require_no_active_holds
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
from domain.shipment import Shipment
from domain.site import Site, operating_site
from domain.site_authorisation import require_may_administer


class DistributionCommands:
    """Shipments, administration to the patient, and adverse reactions."""

    def __init__(self, ledger: LedgerApplication) -> None:
        self.ledger = ledger

    def dispatch_shipment(
        self,
        principal: Principal,
        shipment_id: str,
        batch_ids: list[str],
        from_site_id: str,
        to_site_id: str,
        courier: str,
        dispatched_at: datetime,
        chain_of_identity_id: str | None = None,
        containers: list[dict[str, Any]] | None = None,
        is_return: bool | None = None,
    ) -> CommandResult:
        returning = bool(is_return)
        shipment_id = require_identifier(shipment_id, "shipmentId")
        courier = require_text(courier, "courier")
        dispatched_at = require_time(dispatched_at, "dispatchedAt")
        ids = tuple(dict.fromkeys(batch_ids))
        if not ids:
            raise BadInputError("a shipment carries at least one batch", field="batchIds")
        if from_site_id == to_site_id:
            raise BadInputError("fromSiteId and toSiteId must differ", field="toSiteId")
        named = _named_containers(containers or [], ids)
        by = actor(principal)
        with self.ledger.unit_of_work() as uow:
            if uow.exists(Shipment, shipment_id):
                raise ConflictError(
                    f"shipment {shipment_id!r} is already dispatched", id=shipment_id
                )
            operating_site(uow, from_site_id, dispatched_at)
            operating_site(uow, to_site_id, dispatched_at)
            batches = [uow.load(Batch, b) for b in ids]
            carried: list[str] = []
            for batch in batches:
                coi.require_same(
                    chain_of_identity_id, batch.chain_of_identity_id, "dispatch", batch.key
                )
                if returning:  # held or recalled, a product goes back to be assessed
                    _require_return_site(batch, to_site_id)
                else:
                    require_no_active_holds(uow, batch, dispatched_at, "dispatch")
                moved = batch.dispatch(
                    shipment_id,
                    from_site_id,
                    to_site_id,
                    dispatched_at,
                    named.get(batch.key, ()),
                    returning=returning,
                    **by,
                )
                carried += [container_node(batch.key, c) for c in moved]
            shipment = Shipment.create(
                shipment_id=shipment_id,
                batch_ids=tuple(b.key for b in batches),
                containers=tuple(carried),
                from_site_id=from_site_id,
                to_site_id=to_site_id,
                courier=courier,
                dispatched_at=dispatched_at,
                occurred_at=dispatched_at,
                is_return=returning,
                **by,
            )
            return uow.save(*batches, shipment)

    def record_temperature_excursion(
        self,
        principal: Principal,
        shipment_id: str,
        observed_at: datetime,
        temperature_celsius: float,
        duration_minutes: int,
    ) -> CommandResult:
        observed_at = require_time(observed_at, "observedAt")
        if duration_minutes <= 0:
            raise BadInputError("durationMinutes must be positive", field="durationMinutes")
        with self.ledger.unit_of_work() as uow:
            shipment = uow.load(Shipment, shipment_id)
            shipment.record_excursion(
                observed_at, float(temperature_celsius), duration_minutes, **actor(principal)
            )
            return uow.save(shipment)

    def receive_shipment(
        self,
        principal: Principal,
        shipment_id: str,
        received_at: datetime,
        condition_acceptable: bool,
        chain_of_identity_id: str | None = None,
    ) -> CommandResult:
        received_at = require_time(received_at, "receivedAt")
        by = actor(principal)
        acceptable = bool(condition_acceptable)
        with self.ledger.unit_of_work() as uow:
            shipment = uow.load(Shipment, shipment_id)
            operating_site(uow, shipment.to_site_id, received_at)
            shipment.receive(received_at, acceptable, **by)
            batches = [uow.load(Batch, b) for b in shipment.batch_ids]
            for batch in batches:
                coi.require_same(
                    chain_of_identity_id, batch.chain_of_identity_id, "receipt", batch.key
                )
                # A unit found unacceptable goes to quarantine, held or not; so does a return.
                if acceptable and not shipment.is_return:
                    require_no_active_holds(uow, batch, received_at, "receipt as acceptable")
                batch.receive(shipment.key, shipment.to_site_id, received_at, acceptable, **by)
                if shipment.is_return:
                    batch.quarantine_return(shipment.key, shipment.to_site_id, received_at, **by)
            return uow.save(*batches, shipment)

    def record_administration(
        self,
        principal: Principal,
        batch_id: str,
        site_id: str,
        patient_code: str,
        administered_at: datetime,
        identity_verified: bool,
        chain_of_identity_id: str | None = None,
        container_id: str | None = None,
    ) -> CommandResult:
        patient_code = require_text(patient_code, "patientCode")
        if container_id is not None:
            container_id = require_identifier(container_id, "containerId")
        administered_at = require_time(administered_at, "administeredAt")
        with self.ledger.unit_of_work() as uow:
            batch = uow.load(Batch, batch_id)
            _require_bedside_identity(batch, chain_of_identity_id)
            require_may_administer(uow.load(Site, site_id))
            operating_site(uow, site_id, administered_at)
            require_no_active_holds(uow, batch, administered_at, "administration")
            origin = reference.product(batch.product).origin
            batch.administer(
                site_id,
                patient_code,
                administered_at,
                bool(identity_verified),
                container_id,
                one_patient=origin is reference.Origin.AUTOLOGOUS,
                **actor(principal),
            )
            return uow.save(batch)

    def report_adverse_event(
        self,
        principal: Principal,
        adverse_event_id: str,
        batch_id: str,
        patient_code: str,
        reported_by_site_id: str,
        serious: bool,
        description: str,
        onset_at: datetime,
        aware_at: datetime,
        criteria: list[str] | None = None,
        expected: bool | None = None,
        context: str | None = None,
        taiwan_regime: str | None = None,
        also_report_to: list[str] | None = None,
    ) -> CommandResult:
        adverse_event_id = require_identifier(adverse_event_id, "adverseEventId")
        description = require_text(description, "description")
        onset_at = require_time(onset_at, "onsetAt")
        aware_at = require_time(aware_at, "awareAt")
        require_order(onset_at, aware_at, "onsetAt", "awareAt")
        with self.ledger.unit_of_work() as uow:
            if uow.exists(AdverseEvent, adverse_event_id):
                raise ConflictError(
                    f"adverse event {adverse_event_id!r} is already reported", id=adverse_event_id
                )
            batch = uow.load(Batch, batch_id)
            _require_administered_to(batch, patient_code, onset_at)
            site = uow.load(Site, reported_by_site_id)
            to = reporting.reported_to(site.jurisdiction, also_report_to)
            case = reporting.case_facts(
                serious=bool(serious),
                criteria=criteria,
                expected=expected,
                context=context,
                taiwan_regime=taiwan_regime,
                jurisdictions=to,
            )
            due = [reporting.obligation(j, case, aware_at, "INITIAL") for j in to]
            report = AdverseEvent.create(
                adverse_event_id=adverse_event_id,
                batch_id=batch.key,
                patient_code=patient_code,
                reported_by_site_id=site.key,
                control_site_id=batch.control_site_id,
                jurisdiction=site.jurisdiction,
                serious=case.serious,
                description=description,
                onset_at=onset_at,
                aware_at=aware_at,
                reporting_deadline=min(o.due_at for o in due),
                criteria=list(case.criteria),
                expected=case.expected,
                context=case.context,
                taiwan_regime=case.taiwan_regime,
                obligations=due,
                occurred_at=aware_at,
                **actor(principal),
            )
            return uow.save(report)

    def record_adverse_event_follow_up(
        self,
        principal: Principal,
        adverse_event_id: str,
        information: str,
        received_at: datetime,
        serious: bool | None = None,
        criteria: list[str] | None = None,
        expected: bool | None = None,
    ) -> CommandResult:
        information = require_text(information, "information")
        received_at = require_time(received_at, "receivedAt")
        with self.ledger.unit_of_work() as uow:
            report = uow.load(AdverseEvent, adverse_event_id)
            # What the caller leaves out stays as the case had it; criteria imply seriousness.
            now_serious = report.serious if serious is None else bool(serious)
            if serious is None and criteria:
                now_serious = True
            if criteria is None:  # a case no longer serious keeps no criteria
                criteria = report.criteria if now_serious else []
            case = reporting.case_facts(
                serious=now_serious,
                criteria=criteria,
                expected=report.expected if expected is None else expected,
                context=report.context,
                taiwan_regime=None,
                jurisdictions=[],
            )
            case = replace(case, taiwan_regime=report.taiwan_regime)
            due = {
                j: reporting.obligation(j, case, received_at, "FOLLOW_UP")
                for j in report.jurisdictions
            }
            report.record_follow_up(
                information,
                received_at,
                case.serious,
                list(case.criteria),
                case.expected,
                due,
                **actor(principal),
            )
            return uow.save(report)

    def submit_adverse_event_to_authority(
        self,
        principal: Principal,
        adverse_event_id: str,
        authority: str,
        submitted_at: datetime,
        kind: str | None = None,
        report_to: str | None = None,
    ) -> CommandResult:
        authority = require_text(authority, "authority")
        submitted_at = require_time(submitted_at, "submittedAt")
        if kind is not None and kind not in reporting.SubmissionKind.__members__:
            raise BadInputError(f"unknown submission kind {kind!r}", field="kind")
        with self.ledger.unit_of_work() as uow:
            report = uow.load(AdverseEvent, adverse_event_id)
            report.submit(
                authority,
                submitted_at,
                kind or reporting.SubmissionKind.INITIAL,
                report_to.strip() if report_to and report_to.strip() else None,
                **actor(principal),
            )
            return uow.save(report)


def _require_bedside_identity(batch: Batch, chain_of_identity_id: str | None) -> None:
    """At the bedside the identifier on the bag is read and must be the batch's; for an
    autologous product it must be read (wrong-patient infusion is the hazard it guards)."""
    autologous = reference.product(batch.product).origin is reference.Origin.AUTOLOGOUS
    if autologous and (chain_of_identity_id is None or not chain_of_identity_id.strip()):
        raise RuleViolationError(
            f"batch {batch.key!r} is an autologous product: administration states the "
            "chain-of-identity identifier read from its label at the bedside (chainOfIdentityId)",
            batch_id=batch.key,
        )
    coi.require_same(chain_of_identity_id, batch.chain_of_identity_id, "the bedside", batch.key)


def _require_return_site(batch: Batch, to_site_id: str) -> None:
    """A controlled return goes back to the batch's control site or the site that made it."""
    if to_site_id not in (batch.control_site_id, batch.site_id):
        raise RuleViolationError(
            f"a return of batch {batch.key!r} goes to its control site "
            f"{batch.control_site_id!r} or its manufacturing site {batch.site_id!r}, not "
            f"{to_site_id!r}",
            batch_id=batch.key,
            reason="RETURN_ELSEWHERE",
        )


def _named_containers(
    containers: list[dict[str, Any]], batch_ids: tuple[str, ...]
) -> dict[str, tuple[str, ...]]:
    """The containers a dispatch names, by batch (each of a batch the shipment carries)."""
    named: dict[str, list[str]] = {}
    for ref in containers:
        batch_id = require_text(ref.get("batch_id"), "containers.batchId")
        container_id = require_identifier(ref.get("container_id", ""), "containers.containerId")
        if batch_id not in batch_ids:
            raise BadInputError(
                f"container {container_id!r} names batch {batch_id!r}, which the shipment does "
                "not carry (batchIds)",
                field="containers",
            )
        if container_id in named.setdefault(batch_id, []):
            raise BadInputError(
                f"container {container_id!r} of batch {batch_id!r} is named twice",
                field="containers",
            )
        named[batch_id].append(container_id)
    return {b: tuple(c) for b, c in named.items()}


def _require_administered_to(batch: Batch, patient_code: str, onset_at: datetime) -> None:
    """An adverse reaction is reported against the batch the patient received, after it."""
    given = patient_code in batch.administered_patients
    if not given and (
        batch.status is not BatchStatus.ADMINISTERED or batch.patient_code != patient_code
    ):
        raise RuleViolationError(
            f"batch {batch.key!r} was not administered to patient {patient_code!r}; an "
            "adverse reaction is reported against the batch the patient received",
            batch_id=batch.key,
        )
    given_at = batch.first_given_to(patient_code)
    if given_at is not None:
        require_order(given_at, onset_at, "the administration", "onsetAt")
