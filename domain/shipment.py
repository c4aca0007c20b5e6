"""The Shipment aggregate (運銷): batches in one courier's custody from one site to another.

Dispatched with the batches it carries, temperature excursions observed on the way, received
once with the condition the receiving site found (GDP).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.shared import LedgerAggregate, LedgerCreated, RuleViolationError


class Shipment(LedgerAggregate):
    TYPE = "Shipment"

    class Dispatched(LedgerAggregate.Event, LedgerCreated):
        """Version 2 names the containers carried (``batch/container``; none for batches
        shipped whole); version 3 marks a controlled return to the control or manufacturing
        site."""

        class_version = 3
        batch_ids: tuple[str, ...]
        from_site_id: str
        to_site_id: str
        courier: str
        dispatched_at: datetime
        containers: tuple[str, ...] = ()
        is_return: bool = False

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["containers"] = ()

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            """Version 3 says whether the shipment is a controlled return (issue 18, item 2);
            none before it was."""
            state["is_return"] = False

    class TemperatureExcursionRecorded(LedgerAggregate.Event):
        observed_at: datetime
        temperature_celsius: float
        duration_minutes: int

    class HandedOver(LedgerAggregate.Event):
        """One leg of the shipment: who took custody (a courier, or a site's staff at a
        depot or airport), where, when (issue 18, item 2)."""

        custodian: str
        custodian_kind: str  # COURIER or SITE
        custodian_site_id: str | None
        handed_over_at: datetime

    class Received(LedgerAggregate.Event):
        received_at: datetime
        condition_acceptable: bool

        def apply(self, shipment: Shipment) -> None:
            shipment.received_at = self.received_at

    def __init__(
        self,
        batch_ids: tuple[str, ...],
        from_site_id: str,
        to_site_id: str,
        courier: str,
        dispatched_at: datetime,
        containers: tuple[str, ...] = (),
        is_return: bool = False,
    ) -> None:
        self.is_return = is_return
        self.batch_ids = batch_ids
        self.containers = containers
        self.from_site_id = from_site_id
        self.to_site_id = to_site_id
        self.courier = courier
        self.dispatched_at = dispatched_at
        self.received_at: datetime | None = None

    @classmethod
    def create(
        cls,
        *,
        shipment_id: str,
        batch_ids: tuple[str, ...],
        from_site_id: str,
        to_site_id: str,
        courier: str,
        dispatched_at: datetime,
        occurred_at: datetime,
        containers: tuple[str, ...] = (),
        is_return: bool = False,
        actor: str,
        actor_role: str,
    ) -> Shipment:
        """A new shipment named ``shipment_id``: its Dispatched event, pending until saved."""
        return cls._create(
            cls.Dispatched,
            id=cls.ledger_id(shipment_id),
            batch_ids=batch_ids,
            containers=containers,
            is_return=is_return,
            from_site_id=from_site_id,
            to_site_id=to_site_id,
            courier=courier,
            dispatched_at=dispatched_at,
            occurred_at=occurred_at,
            actor=actor,
            actor_role=actor_role,
        )

    def record_excursion(
        self, observed_at: datetime, temperature_celsius: float, duration_minutes: int, **actor: Any
    ) -> None:
        if observed_at < self.dispatched_at or (
            self.received_at is not None and observed_at > self.received_at
        ):
            raise RuleViolationError(
                f"observedAt {observed_at.isoformat()} is outside shipment {self.key!r}'s "
                "time in transit",
                shipment_id=self.key,
            )
        self.trigger_event(
            self.TemperatureExcursionRecorded,
            observed_at=observed_at,
            temperature_celsius=temperature_celsius,
            duration_minutes=duration_minutes,
            occurred_at=observed_at,
            **actor,
        )

    def hand_over(
        self,
        custodian: str,
        custodian_kind: str,
        custodian_site_id: str | None,
        handed_over_at: datetime,
        **actor: Any,
    ) -> None:
        """A hand-over within the time in transit: after dispatch, not after receipt."""
        if handed_over_at < self.dispatched_at or (
            self.received_at is not None and handed_over_at > self.received_at
        ):
            raise RuleViolationError(
                f"handedOverAt {handed_over_at.isoformat()} is outside shipment {self.key!r}'s "
                "time in transit",
                shipment_id=self.key,
            )
        self.trigger_event(
            self.HandedOver,
            custodian=custodian,
            custodian_kind=custodian_kind,
            custodian_site_id=custodian_site_id,
            handed_over_at=handed_over_at,
            occurred_at=handed_over_at,
            **actor,
        )

    def receive(self, received_at: datetime, condition_acceptable: bool, **actor: Any) -> None:
        if self.received_at is not None:
            raise RuleViolationError(
                f"shipment {self.key!r} was already received at {self.received_at.isoformat()}",
                shipment_id=self.key,
            )
        if received_at < self.dispatched_at:
            raise RuleViolationError(
                f"receivedAt {received_at.isoformat()} precedes dispatch of shipment "
                f"{self.key!r} ({self.dispatched_at.isoformat()})",
                shipment_id=self.key,
            )
        self.trigger_event(
            self.Received,
            received_at=received_at,
            condition_acceptable=condition_acceptable,
            occurred_at=received_at,
            **actor,
        )
