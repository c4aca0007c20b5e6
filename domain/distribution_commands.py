"""Commands from dispatch to the patient, and the adverse reactions that may follow."""

from __future__ import annotations

from datetime import datetime

from domain import reference
from domain.adverse_event import AdverseEvent
from domain.batch import Batch, BatchStatus
from domain.batch_commands import BatchCommands
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
from domain.site import Site


class DistributionCommands(BatchCommands):
    def dispatch_shipment(
        self,
        principal: Principal,
        shipment_id: str,
        batch_ids: list[str],
        from_site_id: str,
        to_site_id: str,
        courier: str,
        dispatched_at: datetime,
    ) -> CommandResult:
        shipment_id = require_identifier(shipment_id, "shipmentId")
        courier = require_text(courier, "courier")
        dispatched_at = require_time(dispatched_at, "dispatchedAt")
        ids = tuple(dict.fromkeys(batch_ids))
        if not ids:
            raise BadInputError("a shipment carries at least one batch", field="batchIds")
        if from_site_id == to_site_id:
            raise BadInputError("fromSiteId and toSiteId must differ", field="toSiteId")
        if self.exists(Shipment, shipment_id):
            raise ConflictError(f"shipment {shipment_id!r} is already dispatched", id=shipment_id)
        self.operating_site(from_site_id, dispatched_at)
        self.operating_site(to_site_id, dispatched_at)
        batches = [self.load(Batch, b) for b in ids]
        actor = self.actor(principal)
        for batch in batches:
            batch.dispatch(shipment_id, from_site_id, to_site_id, dispatched_at, **actor)
        shipment = Shipment._create(
            Shipment.Dispatched,
            id=Shipment.ledger_id(shipment_id),
            batch_ids=tuple(b.key for b in batches),
            from_site_id=from_site_id,
            to_site_id=to_site_id,
            courier=courier,
            dispatched_at=dispatched_at,
            occurred_at=dispatched_at,
            **actor,
        )
        return self.commit(*batches, shipment)

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
        shipment = self.load(Shipment, shipment_id)
        shipment.record_excursion(
            observed_at, float(temperature_celsius), duration_minutes, **self.actor(principal)
        )
        return self.commit(shipment)

    def receive_shipment(
        self,
        principal: Principal,
        shipment_id: str,
        received_at: datetime,
        condition_acceptable: bool,
    ) -> CommandResult:
        received_at = require_time(received_at, "receivedAt")
        shipment = self.load(Shipment, shipment_id)
        self.operating_site(shipment.to_site_id, received_at)
        actor = self.actor(principal)
        shipment.receive(received_at, bool(condition_acceptable), **actor)
        batches = [self.load(Batch, b) for b in shipment.batch_ids]
        for batch in batches:
            batch.receive(
                shipment.key, shipment.to_site_id, received_at, bool(condition_acceptable), **actor
            )
        return self.commit(*batches, shipment)

    def record_administration(
        self,
        principal: Principal,
        batch_id: str,
        site_id: str,
        patient_code: str,
        administered_at: datetime,
        identity_verified: bool,
    ) -> CommandResult:
        patient_code = require_text(patient_code, "patientCode")
        administered_at = require_time(administered_at, "administeredAt")
        batch = self.load(Batch, batch_id)
        self.operating_site(site_id, administered_at)
        batch.administer(
            site_id, patient_code, administered_at, bool(identity_verified), **self.actor(principal)
        )
        return self.commit(batch)

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
    ) -> CommandResult:
        adverse_event_id = require_identifier(adverse_event_id, "adverseEventId")
        description = require_text(description, "description")
        onset_at = require_time(onset_at, "onsetAt")
        aware_at = require_time(aware_at, "awareAt")
        require_order(onset_at, aware_at, "onsetAt", "awareAt")
        if self.exists(AdverseEvent, adverse_event_id):
            raise ConflictError(
                f"adverse event {adverse_event_id!r} is already reported", id=adverse_event_id
            )
        batch = self.load(Batch, batch_id)
        if batch.status is not BatchStatus.ADMINISTERED or batch.patient_code != patient_code:
            raise RuleViolationError(
                f"batch {batch.key!r} was not administered to patient {patient_code!r}; an "
                "adverse reaction is reported against the batch the patient received",
                batch_id=batch.key,
            )
        if batch.administered_at is not None:
            require_order(batch.administered_at, onset_at, "the administration", "onsetAt")
        site = self.load(Site, reported_by_site_id)
        report = AdverseEvent._create(
            AdverseEvent.Reported,
            id=AdverseEvent.ledger_id(adverse_event_id),
            batch_id=batch.key,
            patient_code=patient_code,
            reported_by_site_id=site.key,
            control_site_id=batch.control_site_id,
            jurisdiction=site.jurisdiction,
            serious=bool(serious),
            description=description,
            onset_at=onset_at,
            aware_at=aware_at,
            reporting_deadline=reference.reporting_deadline(site.jurisdiction, serious, aware_at),
            occurred_at=aware_at,
            **self.actor(principal),
        )
        return self.commit(report)

    def submit_adverse_event_to_authority(
        self, principal: Principal, adverse_event_id: str, authority: str, submitted_at: datetime
    ) -> CommandResult:
        authority = require_text(authority, "authority")
        submitted_at = require_time(submitted_at, "submittedAt")
        report = self.load(AdverseEvent, adverse_event_id)
        report.submit(authority, submitted_at, **self.actor(principal))
        return self.commit(report)
