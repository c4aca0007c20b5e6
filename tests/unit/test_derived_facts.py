"""Facts derived from a batch's view rows, computed once (projections/source_and_flow.py,
projections/chain.py) and read alike by the GraphQL record and the inspectors' exports.

The expectations come from the product file itself (domain/data/products.json) and from dates
written out here, not from the code under test.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import domain
from domain.shared import BadInputError
from projections.chain import BatchView
from projections.source_and_flow import ContainerView, SourceAndFlowView, StepView

PRODUCTS = json.loads((Path(domain.__file__).parent / "data" / "products.json").read_text("utf-8"))
STARTED = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def batch(**changes: Any) -> BatchView:
    fields: dict[str, Any] = {
        "batch_id": "CART-1",
        "product": "CART-CD19-AUTO",
        "donation_id": "DON-1",
        "donor_code": "D-1",
        "patient_code": "PAT-1",
        "control_site_id": "CONTROL",
        "site_id": "MU-1",
        "location": "MU-1",
        "status": "IN_PRODUCTION",
        "started_at": STARTED,
        "released_at": None,
        "qualified_person": None,
        "signature_meaning": None,
        "affected_by": "",
        "disposition_kind": None,
        "disposition_site": None,
        "disposition_at": None,
        "recalled_by": "",
    }
    return BatchView(**(fields | changes))


def step(name: str, completed_at: datetime, lots: list[str]) -> StepView:
    return StepView(
        step=name,
        site_id="MU-1",
        started_at=completed_at - timedelta(hours=4),
        completed_at=completed_at,
        operator="op-1",
        equipment=None,
        material_lots=lots,
    )


def record(steps: list[StepView], **changes: Any) -> SourceAndFlowView:
    return SourceAndFlowView(batch(**changes), donation={}, donor={}, manufacture=steps)


def test_a_batch_is_made_when_its_last_step_completes_and_expires_a_shelf_life_later():
    last = datetime(2026, 3, 12, 17, 30, tzinfo=UTC)
    steps = [
        step("ACTIVATION", datetime(2026, 3, 3, 12, 0, tzinfo=UTC), []),
        step("FORMULATION", last, []),
        step("TRANSDUCTION", datetime(2026, 3, 5, 12, 0, tzinfo=UTC), []),
    ]

    r = record(steps)

    assert r.manufactured_at == last  # the latest completion, whatever order steps came in
    shelf_life = PRODUCTS["CART-CD19-AUTO"]["shelf_life_days"]
    assert r.expires_at == last + timedelta(days=shelf_life)


def test_a_batch_with_no_step_yet_is_dated_from_its_start():
    r = record([], product="MSC-ALLO")

    assert r.manufactured_at == STARTED
    assert r.expires_at == STARTED + timedelta(days=PRODUCTS["MSC-ALLO"]["shelf_life_days"])
    assert r.material_lots == []


def test_the_shelf_life_is_the_configured_products():
    r = record([], product="MSC-ALLO")

    assert r.product.code == "MSC-ALLO"
    assert r.product.shelf_life_days == PRODUCTS["MSC-ALLO"]["shelf_life_days"]


def test_an_unconfigured_product_has_no_expiry_and_says_so():
    with pytest.raises(BadInputError) as caught:
        _ = record([], product="NOT-A-PRODUCT").expires_at

    assert caught.value.details["field"] == "product"


def test_material_lots_are_listed_once_each_in_the_order_first_used():
    steps = [
        step("ACTIVATION", datetime(2026, 3, 3, tzinfo=UTC), ["BEADS-1", "MEDIA-1"]),
        step("TRANSDUCTION", datetime(2026, 3, 4, tzinfo=UTC), ["VECTOR-1", "MEDIA-1"]),
    ]

    assert record(steps).material_lots == ["BEADS-1", "MEDIA-1", "VECTOR-1"]


@pytest.mark.parametrize(
    ("kind", "patient"),
    [("ADMINISTERED", "PAT-1"), ("DESTROYED", None), ("RETURNED", None), (None, None)],
)
def test_the_patient_a_batch_was_used_on_is_known_only_once_administered(kind, patient):
    assert record([], disposition_kind=kind).administered_to == patient


def test_a_batch_never_filled_into_containers_is_one_unit_made():
    assert record([]).quantity_made == 1


def test_a_batch_filled_into_containers_counts_each_container_made():
    at = datetime(2026, 3, 12, 17, 30, tzinfo=UTC)
    r = record([])
    r.containers = [ContainerView(f"BAG-{n}", "BAG", 50.0, 1.0e8, "CELLS", at) for n in range(1, 4)]

    assert r.quantity_made == 3


@pytest.mark.parametrize(
    ("affected_by", "affected"),
    [("", False), ("CONSENT_WITHDRAWN", True), ("CONSENT_WITHDRAWN,ELIGIBILITY_REVOKED", True)],
)
def test_a_batch_is_affected_once_anything_reached_it(affected_by, affected):
    assert batch(affected_by=affected_by).affected is affected
