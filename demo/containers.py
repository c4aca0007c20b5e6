"""Demo story: an allogeneic MSC batch filled into three vials, each given to another patient.

MSC-31002, from the allogeneic donor's bone marrow, is filled into vials MSC-31002/V-1..V-3
(5 mL, 50 million cells each) before its release; two vials travel to the hospital in one shipment,
the third later in another, and each is given to a different patient. Its source-and-flow record
counts three units made and the vials of each delivery; recallTrace follows each vial to its
patient.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.application import TraceabilityLedger
from domain.shared import Principal

BATCH = "MSC-31002"
HOSPITAL = "TW-MI-NTUH"
SPOKE = "TW-MU-HSINCHU"
PATIENTS = {"V-1": "PT-MSC-0101", "V-2": "PT-MSC-0102", "V-3": "PT-MSC-0103"}
START = datetime(2026, 3, 4, 8, 0, tzinfo=UTC)

OPERATOR = Principal("demo-spoke-operator", "spoke_operator")
LAB = Principal("demo-qc-analyst", "qc_laboratory")
QP = Principal("dr-lin-qp", "qualified_person")
COURIER = Principal("demo-courier", "courier")
CLINIC = Principal("demo-hospital-pharmacist", "medical_institution")

Step = Callable[[], object]


def _call(method: Callable[..., object], *args: Any, **kwargs: Any) -> Step:
    return lambda: method(*args, **kwargs)


def _at(days: float) -> datetime:
    return START + timedelta(days=days)


def steps(
    app: TraceabilityLedger, donation: str, control: str, qc: list[tuple[str, str, str, str]]
) -> Iterator[tuple[str, Step]]:
    """The split batch's commands, labelled, in the order they happened."""
    yield (
        f"start {BATCH}",
        _call(
            app.batches.start_batch,
            OPERATOR,
            BATCH,
            "MSC-ALLO",
            donation,
            PATIENTS["V-1"],
            control,
            SPOKE,
            START,
        ),
    )
    yield (
        f"{BATCH}: expansion",
        _call(
            app.batches.record_batch_step,
            OPERATOR,
            BATCH,
            "MSC expansion (P0-P3)",
            SPOKE,
            START,
            _at(18),
            "op-tw-mu-hsinchu",
            "TW-MU-HSINCHU-BIOREACTOR-2",
            ["MSC-MED-2512"],
            {"passages": 3},
        ),
    )
    vials = [
        {
            "container_id": vial,
            "kind": "VIAL",
            "volume_ml": 5.0,
            "dose": 5.0e7,
            "dose_unit": "CELLS",
        }
        for vial in PATIENTS
    ]
    yield (
        f"{BATCH}: filled into {len(vials)} vials",
        _call(app.containers.record_batch_containers, OPERATOR, BATCH, SPOKE, _at(18.2), vials),
    )
    for test, method, spec, result in qc:
        yield (
            f"{BATCH}: QC {test}",
            _call(
                app.batches.record_qc_result,
                LAB,
                BATCH,
                test,
                method,
                spec,
                result,
                True,
                _at(19),
                "TW-LAB-QC",
            ),
        )
    yield (
        f"{BATCH}: QP release",
        _call(app.batches.release_batch, QP, BATCH, "QP certification", _at(20)),
    )
    for shipment, vials_sent, day in (
        (f"SHP-{BATCH}-1", ["V-1", "V-2"], 20.2),
        (f"SHP-{BATCH}-2", ["V-3"], 24.2),
    ):
        yield (
            f"{shipment}: dispatch {', '.join(vials_sent)}",
            _call(
                app.distribution.dispatch_shipment,
                COURIER,
                shipment,
                [BATCH],
                SPOKE,
                HOSPITAL,
                "CryoLogistics (LN2 dry shipper)",
                _at(day),
                containers=[{"batch_id": BATCH, "container_id": v} for v in vials_sent],
            ),
        )
        yield (
            f"{shipment}: received",
            _call(app.distribution.receive_shipment, CLINIC, shipment, _at(day + 0.5), True),
        )
        for k, vial in enumerate(vials_sent):
            yield (
                f"{BATCH}/{vial}: administered to {PATIENTS[vial]}",
                _call(
                    app.distribution.record_administration,
                    CLINIC,
                    BATCH,
                    HOSPITAL,
                    PATIENTS[vial],
                    _at(day + 1 + k / 10),
                    True,
                    container_id=vial,
                ),
            )
