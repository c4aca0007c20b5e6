"""The Donation aggregate (組織細胞取得): which site took what from which donor, when.

Its key is the donation identifier: an ISBT 128 Donation Identification Number kept as its 13
characters (whatever written form it arrived in), or a local identifier kept as given. At
collection it is bound to its intended patient (always named for an autologous donation) under a
chain-of-identity identifier derived from the key (domain/isbt128.py ``chain_of_identity_for``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.custody import Leg, Whereabouts
from domain.isbt128 import chain_of_identity_for
from domain.shared import LedgerAggregate, LedgerCreated, RuleViolationError


class DonationType(StrEnum):
    AUTOLOGOUS = "AUTOLOGOUS"
    ALLOGENEIC = "ALLOGENEIC"


class Donation(LedgerAggregate):
    TYPE = "Donation"

    class Recorded(LedgerAggregate.Event, LedgerCreated):
        class_version = 3

        donor_code: str
        donation_type: str
        site_id: str
        material: str
        acquired_at: datetime
        isbt128_din: str | None
        intended_patient_code: str | None
        chain_of_identity_id: str
        # The coded source-tissue type (domain/data/donor_protection.json); None on donations
        # recorded before it was asked for, whose free-text material is all there is.
        source_tissue: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Donations recorded before the chain of identity was kept named no patient; their
            identifier is the one their key derives (the same a new record would get)."""
            state["intended_patient_code"] = None
            state["chain_of_identity_id"] = chain_of_identity_for(
                state["originator_id"].split(":", 1)[1]
            )

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            """Donations recorded before the source tissue was coded: no code is guessed from
            the free-text material."""
            state["source_tissue"] = None

    class Shipped(LedgerAggregate.Event):
        """The starting material handed to a courier at the collection site for another site,
        with the range it must be kept in on the way (as the shipper states it)."""

        shipment_id: str
        from_site_id: str
        to_site_id: str
        courier: str
        dispatched_at: datetime
        min_celsius: float
        max_celsius: float

        def apply(self, donation: Donation) -> None:
            donation.whereabouts.dispatched(
                Leg(
                    self.shipment_id,
                    self.from_site_id,
                    self.to_site_id,
                    self.courier,
                    self.dispatched_at,
                )
            )
            donation.ranges[self.shipment_id] = (self.min_celsius, self.max_celsius)

    class TemperatureRecorded(LedgerAggregate.Event):
        """A temperature read on the way; ``outside_range`` against the leg's range."""

        shipment_id: str
        observed_at: datetime
        temperature_celsius: float
        duration_minutes: int
        outside_range: bool

    class ShipmentReceived(LedgerAggregate.Event):
        shipment_id: str
        site_id: str  # where it arrived: the leg's destination
        received_at: datetime
        condition_acceptable: bool

        def apply(self, donation: Donation) -> None:
            donation.whereabouts.received(
                self.shipment_id, self.received_at, self.condition_acceptable
            )

    def __init__(
        self,
        donor_code: str,
        donation_type: str,
        site_id: str,
        material: str,
        acquired_at: datetime,
        isbt128_din: str | None,
        intended_patient_code: str | None,
        chain_of_identity_id: str,
        source_tissue: str | None = None,
    ) -> None:
        self.donor_code = donor_code
        self.donation_type = DonationType(donation_type)
        self.site_id = site_id
        self.material = material
        self.acquired_at = acquired_at
        self.isbt128_din = isbt128_din
        self.intended_patient_code = intended_patient_code
        self.chain_of_identity_id = chain_of_identity_id
        self.source_tissue = source_tissue
        self.whereabouts = Whereabouts(site_id, acquired_at)
        self.ranges: dict[str, tuple[float, float]] = {}

    @classmethod
    def create(
        cls,
        *,
        donation_id: str,
        donor_code: str,
        donation_type: str,
        site_id: str,
        material: str,
        acquired_at: datetime,
        isbt128_din: str | None = None,
        intended_patient_code: str | None = None,
        source_tissue: str | None = None,
        occurred_at: datetime,
        actor: str,
        actor_role: str,
    ) -> Donation:
        """A new donation named ``donation_id``: its Recorded event, pending until saved."""
        return cls._create(
            cls.Recorded,
            id=cls.ledger_id(donation_id),
            donor_code=donor_code,
            donation_type=donation_type,
            site_id=site_id,
            material=material,
            acquired_at=acquired_at,
            isbt128_din=isbt128_din,
            intended_patient_code=intended_patient_code,
            chain_of_identity_id=chain_of_identity_for(donation_id),
            source_tissue=source_tissue,
            occurred_at=occurred_at,
            actor=actor,
            actor_role=actor_role,
        )

    # --------------------------------------------------------------- custody (issue 18, item 2)

    @property
    def shipped(self) -> bool:
        return bool(self.whereabouts.legs)

    def ship(
        self,
        shipment_id: str,
        to_site_id: str,
        courier: str,
        dispatched_at: datetime,
        min_celsius: float,
        max_celsius: float,
        **actor: Any,
    ) -> None:
        here = self.whereabouts.current.site_id or ""
        self.whereabouts.require_may_dispatch(
            f"donation {self.key!r}", shipment_id, here, dispatched_at
        )
        if to_site_id == here:
            raise RuleViolationError(
                f"donation {self.key!r} is already at {to_site_id!r}", donation_id=self.key
            )
        self.trigger_event(
            self.Shipped,
            shipment_id=shipment_id,
            from_site_id=here,
            to_site_id=to_site_id,
            courier=courier,
            dispatched_at=dispatched_at,
            min_celsius=min_celsius,
            max_celsius=max_celsius,
            occurred_at=dispatched_at,
            **actor,
        )

    def record_temperature(
        self,
        shipment_id: str,
        observed_at: datetime,
        temperature_celsius: float,
        duration_minutes: int,
        **actor: Any,
    ) -> bool:
        """A temperature read on leg ``shipment_id`` before its receipt (the logger is read on
        arrival, before the receipt is signed); answers whether it was outside the range."""
        self.whereabouts.require_open_leg(
            f"donation {self.key!r}", shipment_id, observed_at, "observedAt"
        )
        low, high = self.ranges[shipment_id]
        outside = not low <= temperature_celsius <= high
        self.trigger_event(
            self.TemperatureRecorded,
            shipment_id=shipment_id,
            observed_at=observed_at,
            temperature_celsius=temperature_celsius,
            duration_minutes=duration_minutes,
            outside_range=outside,
            occurred_at=observed_at,
            **actor,
        )
        return outside

    def receive_shipment(
        self, shipment_id: str, received_at: datetime, acceptable: bool, **actor: Any
    ) -> str:
        """Receive leg ``shipment_id``; answers the site it arrives at."""
        leg = self.whereabouts.require_open_leg(
            f"donation {self.key!r}", shipment_id, received_at, "receivedAt"
        )
        self.trigger_event(
            self.ShipmentReceived,
            shipment_id=shipment_id,
            site_id=leg.to_site_id,
            received_at=received_at,
            condition_acceptable=acceptable,
            occurred_at=received_at,
            **actor,
        )
        return leg.to_site_id

    def require_made_at(self, site_id: str, at: datetime) -> None:
        """A donation once shipped is made into a batch only where it was received, in a
        condition found acceptable. One never shipped is made where its records say (the
        rule predates the shipments of starting material)."""
        if not self.shipped:
            return
        what = f"donation {self.key!r}"
        try:
            self.whereabouts.require_at(what, site_id, at, "a batch started")
        except RuleViolationError as error:
            raise RuleViolationError(
                error.message, donation_id=self.key, reason="STARTING_MATERIAL_ELSEWHERE"
            ) from error
        leg = self.whereabouts.legs[-1]
        if leg.condition_acceptable is False:
            raise RuleViolationError(
                f"{what} was received at {leg.to_site_id!r} in a condition found unacceptable "
                f"(leg {leg.leg_id!r}); no batch is started from it",
                donation_id=self.key,
                reason="STARTING_MATERIAL_UNACCEPTABLE",
            )
