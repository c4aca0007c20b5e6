"""Custody before the finished product (issue 18, item 2): starting material shipped from the
collection site to the manufacturing site, and material lots transferred between sites.

Each leg is dispatched from the site where the item is, by a named courier, to an operating
site, and received there once with the condition found. A temperature read on a starting-
material leg outside the range stated at dispatch is kept as data and puts every batch made
from the donation on hold (domain/holds.py, TEMPERATURE_EXCURSION).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TypeVar

from domain.batch import Batch
from domain.custody import Whereabouts
from domain.donation import Donation
from domain.isbt128 import normalise_donation_id
from domain.ledger import LedgerApplication, actor
from domain.material_lot import MaterialLot
from domain.shared import (
    BadInputError,
    CommandResult,
    ConflictError,
    LedgerAggregate,
    Principal,
    RuleViolationError,
    require_identifier,
    require_text,
    require_time,
)
from domain.shipment import Shipment
from domain.site import operating_site
from domain.storage import Storage

CUSTODIAN_KINDS = ("COURIER", "SITE")
RETURN_OUTCOMES = ("RELEASE_FOR_REUSE", "DESTROY")

Item = TypeVar("Item", bound=LedgerAggregate)


class CustodyCommands:
    """Legs of starting material and material lots between sites."""

    def __init__(self, ledger: LedgerApplication) -> None:
        self.ledger = ledger

    # ---------------------------------------------------------------- starting material

    def ship_donation(
        self,
        principal: Principal,
        donation_id: str,
        shipment_id: str,
        to_site_id: str,
        courier: str,
        dispatched_at: datetime,
        min_celsius: float,
        max_celsius: float,
    ) -> CommandResult:
        shipment_id = require_identifier(shipment_id, "shipmentId")
        courier = require_text(courier, "courier")
        dispatched_at = require_time(dispatched_at, "dispatchedAt")
        for value, field in ((min_celsius, "minCelsius"), (max_celsius, "maxCelsius")):
            if not math.isfinite(value):
                raise BadInputError(f"{field} must be a number of degrees", field=field)
        if min_celsius > max_celsius:
            raise BadInputError("minCelsius is above maxCelsius", field="minCelsius")
        return self._step(
            Donation,
            _donation_key(donation_id),
            dispatched_at,
            lambda donation: donation.ship(
                shipment_id,
                to_site_id,
                courier,
                dispatched_at,
                float(min_celsius),
                float(max_celsius),
                **actor(principal),
            ),
            sites=lambda donation: (donation.whereabouts.current.site_id, to_site_id),
            about="donation_id",
        )

    def record_donation_temperature(
        self,
        principal: Principal,
        donation_id: str,
        shipment_id: str,
        observed_at: datetime,
        temperature_celsius: float,
        duration_minutes: int,
    ) -> CommandResult:
        observed_at = require_time(observed_at, "observedAt")
        if duration_minutes <= 0:
            raise BadInputError("durationMinutes must be positive", field="durationMinutes")
        if not math.isfinite(temperature_celsius):
            raise BadInputError("temperatureCelsius must be a number", field="temperatureCelsius")
        return self._step(
            Donation,
            _donation_key(donation_id),
            observed_at,
            lambda donation: donation.record_temperature(
                shipment_id,
                observed_at,
                float(temperature_celsius),
                duration_minutes,
                **actor(principal),
            ),
            about="donation_id",
        )

    def receive_donation_shipment(
        self,
        principal: Principal,
        donation_id: str,
        shipment_id: str,
        received_at: datetime,
        condition_acceptable: bool,
    ) -> CommandResult:
        received_at = require_time(received_at, "receivedAt")
        return self._step(
            Donation,
            _donation_key(donation_id),
            received_at,
            lambda donation: donation.receive_shipment(
                shipment_id, received_at, bool(condition_acceptable), **actor(principal)
            ),
            sites=lambda donation: _destination(donation.whereabouts, shipment_id),
            about="donation_id",
        )

    # --------------------------------------------------------------------- material lots

    def transfer_material_lot(
        self,
        principal: Principal,
        lot_id: str,
        transfer_id: str,
        from_site_id: str,
        to_site_id: str,
        courier: str,
        dispatched_at: datetime,
    ) -> CommandResult:
        transfer_id = require_identifier(transfer_id, "transferId")
        courier = require_text(courier, "courier")
        dispatched_at = require_time(dispatched_at, "dispatchedAt")
        if from_site_id == to_site_id:
            raise BadInputError("fromSiteId and toSiteId must differ", field="toSiteId")
        return self._step(
            MaterialLot,
            lot_id,
            dispatched_at,
            lambda lot: lot.transfer(
                transfer_id, from_site_id, to_site_id, courier, dispatched_at, **actor(principal)
            ),
            sites=lambda _: (from_site_id, to_site_id),
            about="lot_id",
        )

    def receive_material_lot_transfer(
        self,
        principal: Principal,
        lot_id: str,
        transfer_id: str,
        received_at: datetime,
        condition_acceptable: bool,
    ) -> CommandResult:
        received_at = require_time(received_at, "receivedAt")
        return self._step(
            MaterialLot,
            lot_id,
            received_at,
            lambda lot: lot.receive_transfer(
                transfer_id, received_at, bool(condition_acceptable), **actor(principal)
            ),
            sites=lambda lot: _destination(lot.whereabouts, transfer_id),
            about="lot_id",
        )

    # ------------------------------------------------------------ hand-overs and storage

    def record_hand_over(
        self,
        principal: Principal,
        shipment_id: str,
        custodian: str,
        custodian_kind: str,
        handed_over_at: datetime,
        custodian_site_id: str | None = None,
    ) -> CommandResult:
        custodian = require_text(custodian, "custodian")
        custodian_kind = str(getattr(custodian_kind, "value", custodian_kind))
        handed_over_at = require_time(handed_over_at, "handedOverAt")
        if custodian_kind not in CUSTODIAN_KINDS:
            raise BadInputError(
                f"custodianKind is one of {', '.join(CUSTODIAN_KINDS)}", field="custodianKind"
            )
        if (custodian_kind == "SITE") != (custodian_site_id is not None):
            raise BadInputError(
                "custodianSiteId is given for a SITE custodian, and only for one",
                field="custodianSiteId",
            )
        return self._step(
            Shipment,
            shipment_id,
            handed_over_at,
            lambda shipment: shipment.hand_over(
                custodian, custodian_kind, custodian_site_id, handed_over_at, **actor(principal)
            ),
            sites=lambda _: (custodian_site_id,),
        )

    def record_storage(
        self,
        principal: Principal,
        storage_id: str,
        batch_id: str,
        site_id: str,
        location: str,
        stored_from: datetime,
        container_id: str | None = None,
        stored_until: datetime | None = None,
    ) -> CommandResult:
        storage_id = require_identifier(storage_id, "storageId")
        location = require_text(location, "location")
        stored_from = require_time(stored_from, "storedFrom")
        if container_id is not None:
            container_id = require_identifier(container_id, "containerId")
        if stored_until is not None:
            stored_until = require_time(stored_until, "storedUntil")
            if stored_until < stored_from:
                raise BadInputError("storedUntil precedes storedFrom", field="storedUntil")
        by = actor(principal)
        with self.ledger.unit_of_work() as uow:
            if uow.exists(Storage, storage_id):
                raise ConflictError(f"storage {storage_id!r} is already recorded", id=storage_id)
            batch = uow.load(Batch, batch_id)
            operating_site(uow, site_id, stored_from)
            batch.require_after_start(stored_from, "storedFrom")
            _require_kept_at(batch, container_id, site_id, stored_from, stored_until)
            storage = Storage.create(
                storage_id=storage_id,
                batch_id=batch.key,
                container_id=container_id,
                site_id=site_id,
                location=location,
                stored_from=stored_from,
                **by,
            )
            if stored_until is not None:
                storage.end(stored_until, **by)
            return uow.save(storage)

    def end_storage(
        self, principal: Principal, storage_id: str, stored_until: datetime
    ) -> CommandResult:
        stored_until = require_time(stored_until, "storedUntil")
        with self.ledger.unit_of_work() as uow:
            storage = uow.load(Storage, storage_id)
            if storage.stored_until is None and stored_until >= storage.stored_from:
                # The period ends where it began: the item stayed there until then.
                batch = uow.load(Batch, storage.batch_id)
                _require_kept_at(
                    batch, storage.container_id, storage.site_id, storage.stored_from, stored_until
                )
            storage.end(stored_until, **actor(principal))
            return uow.save(storage)

    # ----------------------------------------------------------------- controlled returns

    def assess_return(
        self,
        principal: Principal,
        batch_id: str,
        outcome: str,
        reason: str,
        assessed_at: datetime,
    ) -> CommandResult:
        """The quality unit's assessment of a product received back: RELEASE_FOR_REUSE (it
        may be dispatched again; never a recalled one) or DESTROY (it is destroyed with the
        assessment)."""
        outcome = str(getattr(outcome, "value", outcome))
        if outcome not in RETURN_OUTCOMES:
            raise BadInputError(f"outcome is one of {', '.join(RETURN_OUTCOMES)}", field="outcome")
        reason = require_text(reason, "reason")
        assessed_at = require_time(assessed_at, "assessedAt")
        by = actor(principal)

        def assess(batch: Batch) -> None:
            batch.assess_return(outcome, reason, assessed_at, **by)
            if outcome == "DESTROY":
                batch.destroy(f"assessed after its return: {reason}", occurred_at=assessed_at, **by)

        return self._step(Batch, batch_id, assessed_at, assess)

    # --------------------------------------------------------------------------- one step

    def _step(
        self,
        kind: type[Item],
        key: str,
        at: datetime,
        decide: Callable[[Item], object],
        *,
        sites: Callable[[Item], Iterable[str | None]] = lambda _: (),
        about: str | None = None,
    ) -> CommandResult:
        """One step of an item already recorded: load it (the ``kind`` named ``key``), check
        that each site ``sites`` names for it (None: no site) is operating ``at`` the step's
        time, in that order, let ``decide`` change it, and save what it decided. Given
        ``about`` (e.g. ``lot_id``), a rule the item breaks that names nothing names the item
        under that detail."""
        with self.ledger.unit_of_work() as uow:
            item = uow.load(kind, key)
            for site_id in sites(item):
                if site_id is not None:
                    operating_site(uow, site_id, at)
            try:
                decide(item)
            except RuleViolationError as error:
                if about is None or error.details:
                    raise
                raise RuleViolationError(error.message, **{about: item.key}) from error
            return uow.save(item)


def _require_kept_at(
    batch: Batch,
    container_id: str | None,
    site_id: str,
    stored_from: datetime,
    stored_until: datetime | None,
) -> None:
    """What is stored was at the site THEN: at ``stored_from`` (received there, not in
    transit), and it neither left nor was given or destroyed before ``stored_until`` (when
    given). Storage is often recorded after the fact, so where the item is now does not
    matter: a storage at the manufacturing site before the dispatch may be recorded after the
    receipt at the hospital, and one at the hospital from before the receipt is refused.

    A batch's whereabouts are those of the batch as a whole (in transit while it or any of its
    containers is on a shipment); a container's are its own. Something given or destroyed by
    ``stored_from`` is not stored; one given or destroyed later may still have its earlier
    storage recorded (an inspector reconstructing the custody wants it), ending by then. An
    open period (no ``stored_until``) of an item that has since moved is recorded as it is;
    its end (endStorage) is held to the same rule."""
    if container_id is None:
        whereabouts, used_at = batch.whereabouts, batch.used_at
        what = f"batch {batch.key!r}"
    else:
        container = batch.container(container_id)
        whereabouts, used_at = container.whereabouts, container.used_at
        what = f"container {container_id!r} of batch {batch.key!r}"
    if used_at is not None and used_at <= stored_from:
        raise RuleViolationError(
            f"{what} was already given or destroyed at {used_at.isoformat()}; it is not stored "
            f"from {stored_from.isoformat()}",
            batch_id=batch.key,
        )
    whereabouts.require_at(
        what,
        site_id,
        stored_from,
        "storage",
        until=stored_until,
        batch_id=batch.key,
        reason="NOT_AT_SITE",
    )
    if stored_until is not None and used_at is not None and used_at < stored_until:
        raise RuleViolationError(
            f"{what} was given or destroyed at {used_at.isoformat()}, before "
            f"{stored_until.isoformat()}; storage at site {site_id!r} ends by then",
            batch_id=batch.key,
            reason="NOT_AT_SITE",
        )


def _donation_key(donation_id: str) -> str:
    return normalise_donation_id(require_text(donation_id, "donationId"))[0]


def _destination(whereabouts: Whereabouts, leg_id: str) -> tuple[str | None]:
    """The site the leg goes to (None: no such leg, which the item then refuses)."""
    leg = whereabouts.leg(leg_id)
    return (None if leg is None else leg.to_site_id,)
