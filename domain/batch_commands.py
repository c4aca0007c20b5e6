"""Commands on material lots and batches: manufacture, QC, deviations, QP release."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from domain import chain_of_identity as coi
from domain import reference
from domain.batch import Batch
from domain.cell_bank import WORKING, CellBank
from domain.donation import Donation, DonationType
from domain.donor import Donor, require_donor_may_give
from domain.holds import batch_holds, describe
from domain.isbt128 import check_patient_code, normalise_donation_id
from domain.ledger import LedgerApplication, UnitOfWork, actor
from domain.material_lot import MaterialLot
from domain.reference import Origin
from domain.shared import (
    BadInputError,
    CommandResult,
    ConflictError,
    Principal,
    RuleViolationError,
    require_identifier,
    require_offset,
    require_order,
    require_text,
    require_time,
    utcnow,
)
from domain.site import Site, SiteStatus, operating_site


class BatchCommands:
    """Material lots received and decided; batches made, tested, released or discarded."""

    def __init__(self, ledger: LedgerApplication) -> None:
        self.ledger = ledger

    # ------------------------------------------------------------------------ material lots

    def receive_material_lot(
        self,
        principal: Principal,
        lot_id: str,
        material: str,
        supplier: str,
        site_id: str,
        received_at: datetime,
        expires_at: datetime | None = None,
        quantity: float | None = None,
        unit: str | None = None,
    ) -> CommandResult:
        lot_id = require_identifier(lot_id, "lotId")
        if (quantity is None) != (unit is None or not unit.strip()):
            raise BadInputError("quantity and unit are given together", field="quantity")
        if quantity is not None:
            _require_positive(quantity, "quantity")
        material = require_text(material, "material")
        supplier = require_text(supplier, "supplier")
        received_at = require_time(received_at, "receivedAt")
        if expires_at is not None:
            require_offset(expires_at, "expiresAt")
            require_order(received_at, expires_at, "receivedAt", "expiresAt")
        with self.ledger.unit_of_work() as uow:
            if uow.exists(MaterialLot, lot_id):
                raise ConflictError(f"material lot {lot_id!r} is already received", id=lot_id)
            operating_site(uow, site_id, received_at)
            lot = MaterialLot.create(
                lot_id=lot_id,
                material=material,
                supplier=supplier,
                site_id=site_id,
                received_at=received_at,
                expires_at=expires_at,
                quantity=None if quantity is None else float(quantity),
                unit=unit.strip() if unit else None,
                occurred_at=received_at,
                **actor(principal),
            )
            return uow.save(lot)

    def release_material_lot(
        self,
        principal: Principal,
        lot_id: str,
        reason: str | None = None,
        decided_at: datetime | None = None,
    ) -> CommandResult:
        return self._decide_lot(principal, lot_id, reason, decided_at, MaterialLot.release)

    def reject_material_lot(
        self,
        principal: Principal,
        lot_id: str,
        reason: str | None = None,
        decided_at: datetime | None = None,
    ) -> CommandResult:
        return self._decide_lot(principal, lot_id, reason, decided_at, MaterialLot.reject)

    def _decide_lot(
        self,
        principal: Principal,
        lot_id: str,
        reason: str | None,
        decided_at: datetime | None,
        decide: Callable[..., None],
    ) -> CommandResult:
        at = require_time(decided_at or utcnow(), "decidedAt")
        with self.ledger.unit_of_work() as uow:
            lot = uow.load(MaterialLot, lot_id)
            decide(lot, _optional(reason), at, **actor(principal))
            return uow.save(lot)

    # ------------------------------------------------------------------------------ batches

    def start_batch(
        self,
        principal: Principal,
        batch_id: str,
        product: str,
        donation_id: str,
        patient_code: str,
        control_site_id: str,
        site_id: str,
        started_at: datetime,
        chain_of_identity_id: str | None = None,
        additional_donation_ids: list[str] | None = None,
        cell_bank_id: str | None = None,
    ) -> CommandResult:
        batch_id = require_identifier(batch_id, "batchId")
        made = reference.product(product)
        patient_code = check_patient_code(require_identifier(patient_code, "patientCode"))
        started_at = require_time(started_at, "startedAt")
        first = _donation_key(donation_id)
        pooled = _pooled_keys(first, additional_donation_ids or [])
        with self.ledger.unit_of_work() as uow:
            if uow.exists(Batch, batch_id):
                raise ConflictError(f"batch {batch_id!r} is already started", id=batch_id)
            donation = uow.load(Donation, first)
            coi.require_same(chain_of_identity_id, donation.chain_of_identity_id, "start", batch_id)
            coi.require_may_make(made, donation, patient_code)
            _require_source_usable(uow, donation, started_at)
            donation.require_made_at(site_id, started_at)
            if pooled and made.origin is Origin.AUTOLOGOUS:
                raise RuleViolationError(
                    f"{made.code} is an autologous product, made only from the patient's own "
                    "donation; pooled starting material is for allogeneic products",
                    batch_id=batch_id,
                )
            for key in pooled:
                other = uow.load(Donation, key)
                coi.require_may_make(made, other, patient_code)
                _require_source_usable(uow, other, started_at)
                other.require_made_at(site_id, started_at)
            control = _control_site(uow, control_site_id)
            _require_manufacturing_site(uow, control, site_id, started_at)
            bank = None
            if cell_bank_id is not None:
                bank = _working_bank(uow, cell_bank_id, donation, bool(pooled), site_id)
                bank.take_vial("BATCH", batch_id, started_at, **actor(principal))
            batch = Batch.create(
                batch_id=batch_id,
                product=product,
                donation_id=donation.key,
                patient_code=patient_code,
                control_site_id=control.key,
                site_id=site_id,
                started_at=started_at,
                occurred_at=started_at,
                **actor(principal),
            )
            if pooled:
                batch.pool(pooled, **actor(principal))
            return uow.save(*([bank] if bank else []), batch)

    def record_batch_step(
        self,
        principal: Principal,
        batch_id: str,
        step: str,
        site_id: str,
        started_at: datetime,
        completed_at: datetime,
        operator: str,
        equipment: str | None = None,
        material_lots: list[str] | None = None,
        parameters: dict[str, Any] | None = None,
        material_quantities: list[dict[str, Any]] | None = None,
    ) -> CommandResult:
        step = require_text(step, "step")
        operator = require_text(operator, "operator")
        started_at = require_time(started_at, "startedAt")
        completed_at = require_time(completed_at, "completedAt")
        require_order(started_at, completed_at, "startedAt", "completedAt")
        lots = tuple(dict.fromkeys(material_lots or ()))
        used = _quantities_used(material_quantities or [], lots)
        with self.ledger.unit_of_work() as uow:
            batch = uow.load(Batch, batch_id)
            control = uow.load(Site, batch.control_site_id)
            _require_manufacturing_site(uow, control, site_id, started_at)
            operating_site(uow, site_id, started_at, until=completed_at)
            consumed = []
            for lot_id in lots:
                lot = uow.load(MaterialLot, lot_id)
                lot.require_usable(started_at)
                lot.require_at(site_id, started_at, f"step {step!r}")
                if lot_id in used:
                    lot.consume(batch_id, step, used[lot_id], started_at, **actor(principal))
                    consumed.append(lot)
            batch.record_step(
                step=step,
                site_id=site_id,
                started_at=started_at,
                completed_at=completed_at,
                operator=operator,
                equipment=_optional(equipment),
                material_lots=lots,
                parameters=parameters or None,
                **actor(principal),
            )
            return uow.save(batch, *consumed)

    def record_qc_result(
        self,
        principal: Principal,
        batch_id: str,
        test: str,
        method: str,
        specification: str,
        result: str,
        passed: bool,
        tested_at: datetime,
        laboratory_site_id: str,
    ) -> CommandResult:
        fields = {
            "test": require_text(test, "test").upper(),
            "method": require_text(method, "method"),
            "specification": require_text(specification, "specification"),
            "result": require_text(result, "result"),
        }
        tested_at = require_time(tested_at, "testedAt")
        with self.ledger.unit_of_work() as uow:
            batch = uow.load(Batch, batch_id)
            operating_site(uow, laboratory_site_id, tested_at)
            batch.record_qc_result(
                passed=bool(passed),
                tested_at=tested_at,
                laboratory_site_id=laboratory_site_id,
                **fields,
                **actor(principal),
            )
            return uow.save(batch)

    def open_deviation(
        self,
        principal: Principal,
        batch_id: str,
        deviation_id: str,
        description: str,
        opened_at: datetime | None = None,
    ) -> CommandResult:
        deviation_id = require_identifier(deviation_id, "deviationId")
        description = require_text(description, "description")
        context = _at(principal, opened_at, "openedAt")
        with self.ledger.unit_of_work() as uow:
            batch = uow.load(Batch, batch_id)
            batch.open_deviation(deviation_id, description, **context)
            return uow.save(batch)

    def close_deviation(
        self,
        principal: Principal,
        batch_id: str,
        deviation_id: str,
        resolution: str,
        closed_at: datetime | None = None,
    ) -> CommandResult:
        resolution = require_text(resolution, "resolution")
        context = _at(principal, closed_at, "closedAt")
        with self.ledger.unit_of_work() as uow:
            batch = uow.load(Batch, batch_id)
            batch.close_deviation(deviation_id, resolution, **context)
            return uow.save(batch)

    def release_batch(
        self, principal: Principal, batch_id: str, signature_meaning: str, released_at: datetime
    ) -> CommandResult:
        meaning = require_text(signature_meaning, "signatureMeaning")
        released_at = require_time(released_at, "releasedAt")
        with self.ledger.unit_of_work() as uow:
            batch = uow.load(Batch, batch_id)
            require_order(batch.started_at, released_at, "the batch's startedAt", "releasedAt")
            batch.require_status({batch.status.IN_PROCESS}, "release")
            product = reference.product(batch.product)
            reasons = batch.release_blockers(product.required_qc_tests, released_at)
            reasons += _site_blockers(uow, batch, released_at)
            reasons += _donor_blockers(uow, batch, released_at)
            reasons += describe(batch_holds(uow, batch, released_at).active)
            if reasons:
                raise RuleViolationError(
                    f"release of batch {batch.key!r} refused: " + "; ".join(reasons),
                    batch_id=batch.key,
                    reasons=reasons,
                )
            batch.release(meaning, released_at, product.shelf_life_days, **actor(principal))
            return uow.save(batch)

    def reject_batch(
        self,
        principal: Principal,
        batch_id: str,
        reason: str,
        decided_at: datetime | None = None,
    ) -> CommandResult:
        reason = require_text(reason, "reason")
        context = _at(principal, decided_at, "decidedAt")
        with self.ledger.unit_of_work() as uow:
            batch = uow.load(Batch, batch_id)
            batch.reject(reason, **context)
            return uow.save(batch)

    def destroy_batch(
        self,
        principal: Principal,
        batch_id: str,
        reason: str,
        decided_at: datetime | None = None,
    ) -> CommandResult:
        reason = require_text(reason, "reason")
        context = _at(principal, decided_at, "decidedAt")
        with self.ledger.unit_of_work() as uow:
            batch = uow.load(Batch, batch_id)
            batch.destroy(reason, **context)
            return uow.save(batch)


# -------------------------------------------------------------------------------- internals


def _at(principal: Principal, at: datetime | None, field: str) -> dict[str, Any]:
    """The business time a caller states (with an offset, not in the future), or now when it
    states none (as these commands were dated before they took one)."""
    return {"occurred_at": utcnow() if at is None else require_time(at, field), **actor(principal)}


def _control_site(uow: UnitOfWork, control_site_id: str) -> Site:
    control = uow.load(Site, control_site_id)
    if not control.is_control_site:
        raise RuleViolationError(
            f"site {control_site_id!r} is a {control.kind.value}, not a CONTROL_SITE",
            control_site_id=control_site_id,
        )
    return control


def _require_manufacturing_site(uow: UnitOfWork, control: Site, site_id: str, at: datetime) -> None:
    """The site makes for ``control`` (is it, or answers to it) and operates at ``at``."""
    site = operating_site(uow, site_id, at)
    if control.key not in (site.key, site.control_site_id):
        raise RuleViolationError(
            f"site {site_id!r} does not operate under control site {control.key!r}",
            site_id=site_id,
        )


def _require_source_usable(uow: UnitOfWork, donation: Donation, at: datetime) -> None:
    """The donation was acquired by ``at`` and its donor may give for its use then."""
    require_order(donation.acquired_at, at, "the donation's acquiredAt", "startedAt")
    donor = uow.load(Donor, donation.donor_code)
    require_donor_may_give(donor, donation.donation_type, at)


def _site_blockers(uow: UnitOfWork, batch: Batch, at: datetime) -> list[str]:
    reasons = []
    for site_id in sorted(batch.sites | {batch.control_site_id}):
        site = uow.load(Site, site_id)
        status = site.status_at(at)
        if status is not SiteStatus.ACTIVE:
            reasons.append(f"site {site_id} is {status.value if status else 'unknown'}")
    return reasons


def _donor_blockers(uow: UnitOfWork, batch: Batch, at: datetime) -> list[str]:
    reasons = []
    for donation_id in batch.donation_ids:
        reasons += _donation_blockers(uow, uow.load(Donation, donation_id), at)
    return reasons


def _donation_blockers(uow: UnitOfWork, donation: Donation, at: datetime) -> list[str]:
    donor = uow.load(Donor, donation.donor_code)
    reasons = []
    if donor.consent_withdrawn or not donor.consent_stands_at(at):
        reasons.append(f"consent of donor {donor.key} does not stand")
    if donor.eligibility_revoked:
        reasons.append(f"eligibility of donor {donor.key} was revoked")
    elif donation.donation_type is DonationType.ALLOGENEIC and not donor.eligible_at(at):
        reasons.append(f"donor {donor.key} is not ELIGIBLE")
    return reasons


def _require_positive(value: float, field: str) -> None:
    if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise BadInputError(f"{field} must be a positive number", field=field)


def _quantities_used(given: list[dict[str, Any]], lots: tuple[str, ...]) -> dict[str, float]:
    """The quantity of each lot a step consumed, each a lot the step names (materialLots)."""
    used: dict[str, float] = {}
    for entry in given:
        lot_id = str(entry.get("lot_id", ""))
        quantity = entry.get("quantity")
        if lot_id not in lots:
            raise BadInputError(
                f"materialQuantities names lot {lot_id!r}, which materialLots does not",
                field="materialQuantities",
            )
        if lot_id in used:
            raise BadInputError(
                f"materialQuantities names lot {lot_id!r} twice", field="materialQuantities"
            )
        _require_positive(quantity, "materialQuantities.quantity")  # type: ignore[arg-type]
        used[lot_id] = float(quantity)  # type: ignore[arg-type]
    return used


def _optional(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def _donation_key(donation_id: str) -> str:
    return normalise_donation_id(require_text(donation_id, "donationId"))[0]


def _working_bank(
    uow: UnitOfWork, bank_id: str, donation: Donation, pooled: bool, site_id: str
) -> CellBank:
    """The working bank a batch starts from: a vial of the donation's cells, at the site."""
    bank = uow.load(CellBank, bank_id)
    bank.require_kind(WORKING, "a batch")
    bank.require_at(site_id, "a batch")
    if bank.donation_id != donation.key or pooled:
        raise RuleViolationError(
            f"cell bank {bank.key!r} holds cells of donation {bank.donation_id!r}; a batch from "
            f"it names that donation alone, not {donation.key!r}"
            + (" with a pool" if pooled else ""),
            bank_id=bank.key,
        )
    return bank


def _pooled_keys(first: str, donation_ids: list[str]) -> tuple[str, ...]:
    """The donations pooled with ``first``, each once and none of them ``first``."""
    keys = [
        normalise_donation_id(require_text(d, "additionalDonationIds"))[0] for d in donation_ids
    ]
    if len(set(keys)) != len(keys) or first in keys:
        raise BadInputError(
            "additionalDonationIds names each pooled donation once, and not the first donation",
            field="additionalDonationIds",
        )
    return tuple(keys)
