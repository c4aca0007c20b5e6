"""Demo story: custody from vein to vein for the first CAR-T patient (issue 18, item 2).

The leukapheresis product is shipped from the hospital that collected it to the Hsinchu unit in
a 2-8 °C shipper, its logger read on arrival, and received there: the batch is then made where
the starting material is. The finished batch's shipment to the hospital is handed from the
courier to an airline's cargo desk and back, and the hospital keeps the bag in its LN2 vapour
tank until the infusion. A lot of cryopreservation medium is transferred from the control
site's store to the unit and received there. (demo/chain.py passes what it needs; the
import-linter forbids this module importing it back.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from domain.application import TraceabilityLedger
from domain.shared import Principal, utcnow

# The patient whose chain the story follows (plan 0 of demo/chain.py).
FIRST = 0
CLINIC = Principal("demo-hospital-pharmacist", "medical_institution")
COURIER = Principal("demo-courier", "courier")
OPERATOR = Principal("demo-spoke-operator", "spoke_operator")
QP = Principal("dr-lin-qp", "qualified_person")
CONTROL = "TW-CTRL-TPE"
LOT = "CRYO-MED-2601"

Step = Callable[[], object]


def _call(method: Callable[..., object], *args: Any, **kwargs: Any) -> Step:
    return lambda: method(*args, **kwargs)


def apheresis(
    app: TraceabilityLedger,
    number: int,
    donation: str,
    site_id: str,
    at: Callable[[float], datetime],
) -> Iterator[tuple[str, Step]]:
    """The starting material's leg from the collection site to the manufacturing site."""
    if number != FIRST:
        return
    leg = f"APH-{donation}"
    yield (
        f"{leg}: shipped",
        _call(
            app.custody.ship_donation,
            CLINIC,
            donation,
            leg,
            site_id,
            "Formosa Cold Chain (2-8 °C validated shipper)",
            at(-0.9),
            2.0,
            8.0,
        ),
    )
    yield (
        f"{leg}: logger read",
        _call(app.custody.record_donation_temperature, COURIER, donation, leg, at(-0.7), 5.5, 240),
    )
    yield (
        f"{leg}: received",
        _call(app.custody.receive_donation_shipment, OPERATOR, donation, leg, at(-0.6), True),
    )


def after_receipt(
    app: TraceabilityLedger, plan: Any, batch: str, shipment: str, hospital: str
) -> Iterator[tuple[str, Step]]:
    """The finished batch's hand-overs on the way, its storage at the hospital until the
    infusion, and a lot transferred from the control site's store to the unit (``plan``: the
    patient's plan of demo/chain.py, its number, manufacturing site and clock)."""
    if plan.number != FIRST:
        return
    at: Callable[[float], datetime] = plan.at
    site_id: str = plan.site_id
    yield (
        f"{shipment}: handed to airline cargo",
        _call(
            app.custody.record_hand_over,
            COURIER,
            shipment,
            "EVA Air Cargo, Taoyuan (TPE)",
            "COURIER",
            at(12.4),
        ),
    )
    yield (
        f"{shipment}: handed back to the courier",
        _call(
            app.custody.record_hand_over,
            COURIER,
            shipment,
            "CryoLogistics (LN2 dry shipper)",
            "COURIER",
            at(12.7),
        ),
    )
    storage = f"ST-{batch}"
    yield (
        f"{batch}: stored at {hospital}",
        _call(
            app.custody.record_storage,
            CLINIC,
            storage,
            batch,
            hospital,
            "Cell therapy pharmacy, LN2 vapour tank A, rack 2, position 5",
            at(13.1),
            stored_until=at(13.9),
        ),
    )
    received = at(-30)
    yield (
        f"receive lot {LOT}",
        _call(
            app.batches.receive_material_lot,
            OPERATOR,
            LOT,
            "Cryopreservation medium (10% DMSO)",
            "BioLife Solutions",
            CONTROL,
            received,
            received + timedelta(days=365),
            quantity=20.0,
            unit="bottles",
        ),
    )
    yield (
        f"release lot {LOT}",
        _call(
            app.batches.release_material_lot,
            QP,
            LOT,
            "CoA reviewed",
            received + timedelta(days=1),
        ),
    )
    yield (
        f"{LOT}: transferred to {site_id}",
        _call(
            app.custody.transfer_material_lot,
            COURIER,
            LOT,
            f"TR-{LOT}-1",
            CONTROL,
            site_id,
            "Formosa Cold Chain",
            received + timedelta(days=2),
        ),
    )
    yield (
        f"{LOT}: received at {site_id}",
        _call(
            app.custody.receive_material_lot_transfer,
            OPERATOR,
            LOT,
            f"TR-{LOT}-1",
            received + timedelta(days=2, hours=3),
            True,
        ),
    )


RETURNED_BATCH = "MSC-31001"


def controlled_return(app: TraceabilityLedger) -> Iterator[tuple[str, Step]]:
    """MSC-31001, recalled on its donor's look-back (RCL-2026-002), goes back from the Hsinchu
    unit to its control site as a controlled return and waits there in quarantine for the
    quality unit's assessment (none yet: the look-back review is open). Business times are
    stated when the steps run, after the recall they follow."""
    shipment = f"RET-{RETURNED_BATCH}"
    yield (
        f"{shipment}: return dispatched to {CONTROL}",
        lambda: app.distribution.dispatch_shipment(
            COURIER,
            shipment,
            [RETURNED_BATCH],
            "TW-MU-HSINCHU",
            CONTROL,
            "CryoLogistics (LN2 dry shipper)",
            utcnow(),
            is_return=True,
        ),
    )
    yield (
        f"{shipment}: received into quarantine",
        lambda: app.distribution.receive_shipment(OPERATOR, shipment, utcnow(), True),
    )
