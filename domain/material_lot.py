"""The MaterialLot aggregate: reagent and ancillary-material lots (viral vector, media, serum...).

A lot is received into quarantine, then released for use or rejected. A released lot later found
defective is rejected too; nothing makes a rejected lot usable again.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.custody import Leg, Whereabouts
from domain.shared import LedgerAggregate, LedgerCreated, RuleViolationError


class LotStatus(StrEnum):
    QUARANTINED = "QUARANTINED"
    RELEASED = "RELEASED"
    REJECTED = "REJECTED"


class MaterialLot(LedgerAggregate):
    TYPE = "MaterialLot"

    class Received(LedgerAggregate.Event, LedgerCreated):
        """Version 2 keeps the quantity received and its unit (None: not counted)."""

        class_version = 2
        material: str
        supplier: str
        site_id: str
        received_at: datetime
        expires_at: datetime | None
        quantity: float | None = None
        unit: str | None = None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["quantity"] = None
            state["unit"] = None

    class Released(LedgerAggregate.Event):
        reason: str | None

        def apply(self, lot: MaterialLot) -> None:
            lot.status = LotStatus.RELEASED
            lot.released_at = self.occurred_at

    class Rejected(LedgerAggregate.Event):
        reason: str | None

        def apply(self, lot: MaterialLot) -> None:
            lot.status = LotStatus.REJECTED

    class Consumed(LedgerAggregate.Event):
        """A quantity of the lot used by a batch's manufacturing step."""

        batch_id: str
        step: str
        quantity: float

        def apply(self, lot: MaterialLot) -> None:
            lot.consumed += self.quantity

    class Transferred(LedgerAggregate.Event):
        """The lot handed to a courier for another site (issue 18, item 2)."""

        transfer_id: str
        from_site_id: str
        to_site_id: str
        courier: str
        dispatched_at: datetime

        def apply(self, lot: MaterialLot) -> None:
            lot.whereabouts.dispatched(
                Leg(
                    self.transfer_id,
                    self.from_site_id,
                    self.to_site_id,
                    self.courier,
                    self.dispatched_at,
                )
            )

    class TransferReceived(LedgerAggregate.Event):
        transfer_id: str
        site_id: str  # where it arrived: the leg's destination
        received_at: datetime
        condition_acceptable: bool

        def apply(self, lot: MaterialLot) -> None:
            lot.whereabouts.received(self.transfer_id, self.received_at, self.condition_acceptable)

    def __init__(
        self,
        material: str,
        supplier: str,
        site_id: str,
        received_at: datetime,
        expires_at: datetime | None,
        quantity: float | None = None,
        unit: str | None = None,
    ) -> None:
        self.quantity = quantity
        self.unit = unit
        self.consumed = 0.0
        self.material = material
        self.supplier = supplier
        self.site_id = site_id
        self.received_at = received_at
        self.expires_at = expires_at
        self.status = LotStatus.QUARANTINED
        self.released_at: datetime | None = None
        self.whereabouts = Whereabouts(site_id, received_at)

    @classmethod
    def create(
        cls,
        *,
        lot_id: str,
        material: str,
        supplier: str,
        site_id: str,
        received_at: datetime,
        expires_at: datetime | None = None,
        quantity: float | None = None,
        unit: str | None = None,
        occurred_at: datetime,
        actor: str,
        actor_role: str,
    ) -> MaterialLot:
        """A new material lot named ``lot_id``: its Received event, pending until saved."""
        return cls._create(
            cls.Received,
            id=cls.ledger_id(lot_id),
            material=material,
            supplier=supplier,
            site_id=site_id,
            received_at=received_at,
            expires_at=expires_at,
            quantity=quantity,
            unit=unit,
            occurred_at=occurred_at,
            actor=actor,
            actor_role=actor_role,
        )

    def require_usable(self, at: datetime) -> None:
        if self.status is not LotStatus.RELEASED:
            raise RuleViolationError(
                f"material lot {self.key!r} is {self.status.value}; "
                "only a RELEASED lot may be used",
                lot_id=self.key,
            )
        if self.released_at is not None and at < self.released_at:
            raise RuleViolationError(
                f"material lot {self.key!r} was still in quarantine at {at.isoformat()} "
                f"(released {self.released_at.isoformat()})",
                lot_id=self.key,
            )
        if self.expires_at is not None and at >= self.expires_at:
            raise RuleViolationError(
                f"material lot {self.key!r} expired at {self.expires_at.isoformat()}; "
                f"it cannot be used at {at.isoformat()}",
                lot_id=self.key,
            )

    def require_at(self, site_id: str, at: datetime, act: str) -> None:
        """A lot once transferred is used only at the site where it is (received there, not in
        transit). A lot never transferred is used where its steps say, as before transfers
        were recorded: a central store's lot used by its spokes."""
        if not self.whereabouts.legs:
            return
        try:
            self.whereabouts.require_at(f"material lot {self.key!r}", site_id, at, act)
        except RuleViolationError as error:
            raise RuleViolationError(
                error.message, lot_id=self.key, reason="MATERIAL_LOT_ELSEWHERE"
            ) from error

    def transfer(
        self,
        transfer_id: str,
        from_site_id: str,
        to_site_id: str,
        courier: str,
        dispatched_at: datetime,
        **actor: Any,
    ) -> None:
        what = f"material lot {self.key!r}"
        self.whereabouts.require_may_dispatch(what, transfer_id, from_site_id, dispatched_at)
        if self.status is LotStatus.REJECTED:
            raise RuleViolationError(f"{what} is REJECTED; it is not transferred", lot_id=self.key)
        self.trigger_event(
            self.Transferred,
            transfer_id=transfer_id,
            from_site_id=from_site_id,
            to_site_id=to_site_id,
            courier=courier,
            dispatched_at=dispatched_at,
            occurred_at=dispatched_at,
            **actor,
        )

    def receive_transfer(
        self, transfer_id: str, received_at: datetime, acceptable: bool, **actor: Any
    ) -> str:
        """Receive leg ``transfer_id``; answers the site it arrives at."""
        what = f"material lot {self.key!r}"
        leg = self.whereabouts.require_open_leg(what, transfer_id, received_at, "receivedAt")
        self.trigger_event(
            self.TransferReceived,
            transfer_id=transfer_id,
            site_id=leg.to_site_id,
            received_at=received_at,
            condition_acceptable=acceptable,
            occurred_at=received_at,
            **actor,
        )
        return leg.to_site_id

    def consume(
        self, batch_id: str, step: str, quantity: float, at: datetime, **actor: Any
    ) -> None:
        """Use ``quantity`` of the lot (in its unit): never more than is left of what was
        received."""
        if self.quantity is None:
            raise RuleViolationError(
                f"material lot {self.key!r} was received without a quantity; its consumption "
                "cannot be counted",
                lot_id=self.key,
            )
        left = self.quantity - self.consumed
        if quantity > left:
            raise RuleViolationError(
                f"material lot {self.key!r} has {left:g} {self.unit} left of {self.quantity:g} "
                f"received; {quantity:g} cannot be consumed",
                lot_id=self.key,
            )
        self.trigger_event(
            self.Consumed,
            batch_id=batch_id,
            step=step,
            quantity=quantity,
            occurred_at=at,
            **actor,
        )

    def release(self, reason: str | None, occurred_at: datetime, **actor: Any) -> None:
        if occurred_at < self.received_at:
            raise RuleViolationError(
                f"decidedAt {occurred_at.isoformat()} precedes the receipt of lot {self.key!r}",
                lot_id=self.key,
            )
        if self.status is not LotStatus.QUARANTINED:
            raise RuleViolationError(
                f"material lot {self.key!r} is {self.status.value}; only a QUARANTINED lot "
                "can be released",
                lot_id=self.key,
            )
        self.trigger_event(self.Released, reason=reason, occurred_at=occurred_at, **actor)

    def reject(self, reason: str | None, occurred_at: datetime, **actor: Any) -> None:
        if self.status is LotStatus.REJECTED:
            raise RuleViolationError(
                f"material lot {self.key!r} is already REJECTED", lot_id=self.key
            )
        self.trigger_event(self.Rejected, reason=reason, occurred_at=occurred_at, **actor)
