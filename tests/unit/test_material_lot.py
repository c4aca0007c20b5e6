"""The MaterialLot aggregate on its own, without any I/O: quarantine, release, rejection, use.

``given(*history)`` receives a lot and applies past events to it as recorded facts, leaving no
pending events.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.material_lot import LotStatus, MaterialLot
from domain.shared import RuleViolationError

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
ACTOR = {"actor": "dr-lin-qp", "actor_role": "qualified_person"}
KEY = "LV-CD19-25A01"

History = tuple[type[MaterialLot.Event], dict[str, Any]]


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def released(at: datetime = T0) -> History:
    return MaterialLot.Released, {"reason": "CoA reviewed", "occurred_at": at}


def rejected(at: datetime = T0) -> History:
    return MaterialLot.Rejected, {"reason": "failed identity test", "occurred_at": at}


def given(*history: History, expires_at: datetime | None = None) -> MaterialLot:
    lot = MaterialLot.create(
        lot_id=KEY,
        material="Lentiviral vector, anti-CD19 CAR",
        supplier="Formosa Vector Manufacturing",
        site_id="TW-MU-1",
        received_at=T0,
        expires_at=expires_at,
        occurred_at=T0,
        **ACTOR,
    )
    for event_cls, fields in history:
        lot.trigger_event(event_cls, **fields, **ACTOR)
    lot.collect_events()
    return lot


LOTS = {
    LotStatus.QUARANTINED: (),
    LotStatus.RELEASED: (released(day(1)),),
    LotStatus.REJECTED: (rejected(day(1)),),
}


def lot_in(status: LotStatus, expires_at: datetime | None = None) -> MaterialLot:
    return given(*LOTS[status], expires_at=expires_at)


def refused(lot: MaterialLot, call, *args: Any) -> RuleViolationError:
    status, version = lot.status, lot.version
    with pytest.raises(RuleViolationError) as caught:
        call(*args)
    assert caught.value.code == "RULE_VIOLATION"
    assert caught.value.details["lot_id"] == KEY
    assert lot.collect_events() == []
    assert (lot.status, lot.version) == (status, version)
    return caught.value


# ------------------------------------------------------------------------------------- tests


def test_a_received_lot_is_quarantined():
    lot = MaterialLot.create(
        lot_id=KEY,
        material="Recombinant human IL-2",
        supplier="CytoSource BV",
        site_id="TW-MU-1",
        received_at=T0,
        expires_at=day(365),
        occurred_at=T0,
        **ACTOR,
    )

    (event,) = lot.collect_events()
    assert isinstance(event, MaterialLot.Received)
    assert (event.originator_id, event.expires_at, event.site_id) == (
        "MaterialLot:LV-CD19-25A01",
        day(365),
        "TW-MU-1",
    )
    assert lot.status is LotStatus.QUARANTINED


def test_a_quarantined_lot_is_released():
    lot = lot_in(LotStatus.QUARANTINED)

    lot.release("CoA reviewed; identity confirmed", day(1), **ACTOR)

    (event,) = lot.collect_events()
    assert isinstance(event, MaterialLot.Released)
    assert (event.reason, event.occurred_at, event.actor) == (
        "CoA reviewed; identity confirmed",
        day(1),
        "dr-lin-qp",
    )
    assert lot.status is LotStatus.RELEASED


@pytest.mark.parametrize("status", [LotStatus.RELEASED, LotStatus.REJECTED])
def test_only_a_quarantined_lot_is_released(status):
    lot = lot_in(status)

    error = refused(lot, lot.release, None, day(2))

    assert status.value in error.message


@pytest.mark.parametrize("status", [LotStatus.QUARANTINED, LotStatus.RELEASED])
def test_a_lot_is_rejected_from_quarantine_or_after_release(status):
    lot = lot_in(status)

    lot.reject("supplier recall", day(2), **ACTOR)

    (event,) = lot.collect_events()
    assert isinstance(event, MaterialLot.Rejected)
    assert event.reason == "supplier recall"
    assert lot.status is LotStatus.REJECTED


def test_a_rejected_lot_is_not_rejected_again():
    lot = lot_in(LotStatus.REJECTED)

    refused(lot, lot.reject, "again", day(2))


def test_a_released_lot_is_usable():
    lot = lot_in(LotStatus.RELEASED)

    lot.require_usable(day(2))

    assert lot.collect_events() == []


@pytest.mark.parametrize("status", [LotStatus.QUARANTINED, LotStatus.REJECTED])
def test_a_quarantined_or_rejected_lot_is_not_usable(status):
    lot = lot_in(status, expires_at=day(365))

    error = refused(lot, lot.require_usable, day(2))

    assert status.value in error.message


def test_a_lot_rejected_after_its_release_is_no_longer_usable():
    lot = given(released(day(1)), rejected(day(2)))

    refused(lot, lot.require_usable, day(3))


def test_a_lot_is_not_usable_from_its_expiry_on():
    lot = lot_in(LotStatus.RELEASED, expires_at=day(30))

    lot.require_usable(day(30) - timedelta(microseconds=1))
    refused(lot, lot.require_usable, day(30))
    error = refused(lot, lot.require_usable, day(31))

    assert day(30).isoformat() in error.message


def test_a_lot_without_an_expiry_date_stays_usable():
    lot = lot_in(LotStatus.RELEASED)

    lot.require_usable(day(10_000))
