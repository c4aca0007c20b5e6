"""The Shipment aggregate on its own, without any I/O: receipt and temperature excursions (GDP).

``given(*history)`` dispatches a shipment on day 0 and applies past events to it as recorded
facts, leaving no pending events.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.shared import RuleViolationError
from domain.shipment import Shipment

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
ACTOR = {"actor": "courier-3", "actor_role": "courier"}
KEY = "SHP-2025-0007"

History = tuple[type[Shipment.Event], dict[str, Any]]


def hour(n: float) -> datetime:
    return T0 + timedelta(hours=n)


def received(at: datetime, acceptable: bool = True) -> History:
    return Shipment.Received, {
        "received_at": at,
        "condition_acceptable": acceptable,
        "occurred_at": at,
    }


def given(*history: History) -> Shipment:
    shipment = Shipment.create(
        shipment_id=KEY,
        batch_ids=("CART-26001", "CART-26002"),
        from_site_id="TW-MU-1",
        to_site_id="TW-MI-1",
        courier="ColdChain Express",
        dispatched_at=T0,
        occurred_at=T0,
        **ACTOR,
    )
    for event_cls, fields in history:
        shipment.trigger_event(event_cls, **fields, **ACTOR)
    shipment.collect_events()
    return shipment


def refused(shipment: Shipment, call, *args: Any) -> RuleViolationError:
    before = (shipment.version, shipment.received_at)
    with pytest.raises(RuleViolationError) as caught:
        call(*args, **ACTOR)
    assert caught.value.code == "RULE_VIOLATION"
    assert caught.value.details["shipment_id"] == KEY
    assert shipment.collect_events() == []
    assert (shipment.version, shipment.received_at) == before
    return caught.value


# -------------------------------------------------------------------------------- dispatch


def test_a_dispatched_shipment_carries_its_batches_and_is_not_yet_received():
    shipment = given()

    assert shipment.batch_ids == ("CART-26001", "CART-26002")
    assert (shipment.from_site_id, shipment.to_site_id, shipment.dispatched_at) == (
        "TW-MU-1",
        "TW-MI-1",
        T0,
    )
    assert shipment.received_at is None


# --------------------------------------------------------------------------------- receipt


@pytest.mark.parametrize("acceptable", [True, False])
def test_a_shipment_is_received_with_the_condition_found(acceptable):
    shipment = given()

    shipment.receive(hour(6), acceptable, **ACTOR)

    (event,) = shipment.collect_events()
    assert isinstance(event, Shipment.Received)
    assert (event.received_at, event.condition_acceptable, event.occurred_at) == (
        hour(6),
        acceptable,
        hour(6),
    )
    assert shipment.received_at == hour(6)


def test_a_shipment_is_received_only_once():
    shipment = given(received(hour(6)))

    error = refused(shipment, shipment.receive, hour(7), True)

    assert hour(6).isoformat() in error.message


def test_a_shipment_is_not_received_before_it_was_dispatched():
    shipment = given()

    refused(shipment, shipment.receive, T0 - timedelta(microseconds=1), True)

    shipment.receive(T0, True, **ACTOR)
    assert shipment.received_at == T0


# ---------------------------------------------------------------------------- excursions


@pytest.mark.parametrize("at", [0, 2.5, 6], ids=["at dispatch", "on the way", "at receipt"])
def test_an_excursion_observed_in_transit_is_recorded(at):
    shipment = given(received(hour(6)))

    shipment.record_excursion(hour(at), -95.5, 12, **ACTOR)

    (event,) = shipment.collect_events()
    assert isinstance(event, Shipment.TemperatureExcursionRecorded)
    assert (event.observed_at, event.temperature_celsius, event.duration_minutes) == (
        hour(at),
        -95.5,
        12,
    )


def test_an_excursion_may_be_recorded_any_time_after_dispatch_while_not_yet_received():
    shipment = given()

    shipment.record_excursion(hour(48), -80.0, 30, **ACTOR)

    assert len(shipment.collect_events()) == 1


@pytest.mark.parametrize(
    "at",
    [T0 - timedelta(microseconds=1), hour(6) + timedelta(microseconds=1), hour(30)],
    ids=["before dispatch", "just after receipt", "long after receipt"],
)
def test_an_excursion_outside_the_time_in_transit_is_refused(at):
    shipment = given(received(hour(6)))

    refused(shipment, shipment.record_excursion, at, -60.0, 5)


def test_an_excursion_before_dispatch_is_refused_while_still_in_transit():
    shipment = given()

    refused(shipment, shipment.record_excursion, T0 - timedelta(minutes=1), -60.0, 5)
