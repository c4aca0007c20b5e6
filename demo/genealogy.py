"""Demo story: an allogeneic MSC batch made from a pool of two donors' bone marrow.

MSC-31004 starts from the first allogeneic donor's donation pooled with a second donor's
(DNR-ALLO-0002): recallTrace reaches both donations and donors, EPCIS shows the pool as inputs of
the batch's transformation, and a look-back on either donor holds the batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.application import TraceabilityLedger
from domain.shared import Principal

BATCH = "MSC-31004"
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
