"""A batch's EPCIS document holds what its events name however many events the batch has: the
shipment that carried it is found after more than a page of its own events (QC re-tests here)."""

from __future__ import annotations

from tests.api.chain_documents import (
    REQUIRED_QC,
    Timeline,
    delivered,
    qc,
    release,
    started_batch,
    transduction,
)
from tests.api.client import GraphQL
from tests.api.test_chain_of_identity import collected
from tests.epcis import events, violations

BATCH = "CART-26100"
DOCUMENT = "query ($id: ID!) { epcisDocument(scope: { batchId: $id }) }"
# More than one page of the ledger's default event listing (100).
RETESTS = 110 // len(REQUIRED_QC) + 1


async def test_a_batch_with_more_than_a_page_of_events_still_brings_its_shipment(gql: GraphQL):
    t = Timeline.ending_weeks_ago()
    await collected(gql, t)
    await started_batch(gql, t, BATCH)
    await transduction(gql, t, BATCH)
    for _ in range(RETESTS):
        await qc(gql, t, BATCH)
    await release(gql, t, BATCH)
    await delivered(gql, t, BATCH)

    document = (await gql.data(DOCUMENT, {"id": BATCH}))["epcisDocument"]

    assert violations(document) == []
    shipping = [e for e in events(document) if e.get("bizStep") == "shipping"]
    received = [e for e in events(document) if e.get("bizStep") == "receiving"]
    assert len(shipping) == 1, [e.get("bizStep") for e in events(document)]
    assert any(e.get("regentrace:shipment", "").endswith(f"SHP-{BATCH}") for e in shipping), (
        shipping
    )
    # The lot's receipt and the batch's receipt at the hospital.
    assert len(received) == 2
