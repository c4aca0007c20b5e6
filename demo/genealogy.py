"""Demo stories: an allogeneic MSC batch made from a pool of two donors' bone marrow, and one
made from a cell bank.

MSC-31004 starts from the first allogeneic donor's donation pooled with a second donor's
(DNR-ALLO-0002): recallTrace reaches both donations and donors, EPCIS shows the pool as inputs of
the batch's transformation, and a look-back on either donor holds the batch.

A master cell bank (MCB-MSC-01, 10 vials at passage 2) is laid down from the first donor's
donation, a working bank (WCB-MSC-01-A, 20 vials at passage 4) from one of its vials, and
MSC-31005 starts from a working-bank vial: recallTrace runs donation -> master bank -> working
bank -> batch, and the first donor's look-back holds the batch too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.application import TraceabilityLedger
from domain.shared import Principal

BATCH = "MSC-31004"
BANKED = "MSC-31005"
MASTER_BANK = "MCB-MSC-01"
WORKING_BANK = "WCB-MSC-01-A"
DONOR = "DNR-ALLO-0002"
HOSPITAL = "TW-MI-NTUH"
SPOKE = "TW-MU-HSINCHU"
PATIENT = "PT-MSC-0401"
START = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)

OPERATOR = Principal("demo-spoke-operator", "spoke_operator")
CLINIC = Principal("demo-hospital-pharmacist", "medical_institution")
PHYSICIAN = Principal("dr-chen-physician", "physician")

Step = Callable[[], object]


def _call(method: Callable[..., object], *args: Any, **kwargs: Any) -> Step:
    return lambda: method(*args, **kwargs)


def steps(
    app: TraceabilityLedger,
    donation: str,
    second_donation: str,
    control: str,
    screening: list[dict[str, Any]],
) -> Iterator[tuple[str, Step]]:
    """A second eligible donor's donation, pooled with ``donation`` into one batch."""
    yield f"donor {DONOR}", _call(app.donors.register_donor, CLINIC, DONOR)
    yield (
        f"consent {DONOR}",
        _call(
            app.donors.record_consent, CLINIC, DONOR, "ICF-MSC-v2-0002", START - timedelta(days=9)
        ),
    )
    yield (
        f"eligibility {DONOR}",
        _call(
            app.donors.determine_eligibility,
            PHYSICIAN,
            DONOR,
            "ELIGIBLE",
            "TFDA-RM-DS-2025.1",
            screening,
            START - timedelta(days=8),
        ),
    )
    yield (
        f"bone marrow {second_donation}",
        _call(
            app.donors.record_donation,
            CLINIC,
            second_donation,
            DONOR,
            "ALLOGENEIC",
            HOSPITAL,
            "Bone marrow aspirate",
            START - timedelta(days=7),
            source_tissue="BONE_MARROW",
        ),
    )
    yield (
        f"start {BATCH} from a pool of {donation} and {second_donation}",
        _call(
            app.batches.start_batch,
            OPERATOR,
            BATCH,
            "MSC-ALLO",
            donation,
            PATIENT,
            control,
            SPOKE,
            START,
            additional_donation_ids=[second_donation],
        ),
    )
    yield (
        f"{MASTER_BANK}: master cell bank from {donation}",
        _call(
            app.cell_banks.bank_master_cells,
            OPERATOR,
            MASTER_BANK,
            donation,
            2,
            10,
            SPOKE,
            START + timedelta(days=1),
        ),
    )
    yield (
        f"{WORKING_BANK}: working cell bank from a vial of {MASTER_BANK}",
        _call(
            app.cell_banks.bank_working_cells,
            OPERATOR,
            WORKING_BANK,
            MASTER_BANK,
            4,
            20,
            SPOKE,
            START + timedelta(days=8),
        ),
    )
    yield (
        f"start {BANKED} from a vial of {WORKING_BANK}",
        _call(
            app.batches.start_batch,
            OPERATOR,
            BANKED,
            "MSC-ALLO",
            donation,
            "PT-MSC-0501",
            control,
            SPOKE,
            START + timedelta(days=9),
            cell_bank_id=WORKING_BANK,
        ),
    )
