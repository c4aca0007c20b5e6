"""A material lot's consumption by quantity through the API on both databases (issue 18, item
1): a lot received with a quantity and unit; each manufacturing step states how much of each lot
it used; a step never consumes more than is left, and bad quantities are refused, storing
nothing."""

from __future__ import annotations

from typing import Any

from tests.api.chain_documents import (
    COMMAND_RESULT,
    SPOKE,
    VECTOR_LOT,
    Timeline,
    donor_with_donation,
    network,
    started_batch,
)
from tests.api.client import GraphQL
from tests.conftest import ledger_size

BATCH = "CART-43000"

RECEIVE = f"""
mutation ($input: ReceiveMaterialLotInput!) {{ receiveMaterialLot(input: $input) {COMMAND_RESULT} }}
"""
RELEASE = f"""
mutation ($input: MaterialLotDecisionInput!) {{
  releaseMaterialLot(input: $input) {COMMAND_RESULT}
}}
"""
STEP = f"""
mutation ($input: RecordBatchStepInput!) {{ recordBatchStep(input: $input) {COMMAND_RESULT} }}
"""


def lot(t: Timeline, **more: Any) -> dict[str, Any]:
    return {
        "lotId": VECTOR_LOT,
        "material": "Lentiviral vector, anti-CD19 CAR",
        "supplier": "Formosa Vector Manufacturing",
        "siteId": SPOKE,
        "receivedAt": t(-37),
        "quantity": 4.0,
        "unit": "mL",
        **more,
    }


def step(t: Timeline, *used: tuple[str, float], hours: float = 0) -> dict[str, Any]:
    return {
        "batchId": BATCH,
        "step": f"Lentiviral transduction +{hours}h",
        "siteId": SPOKE,
        "startedAt": t(-19 + hours / 24),
        "completedAt": t(-18),
        "operator": "op-tw-mu-hsinchu",
        "materialLots": [VECTOR_LOT],
        "materialQuantities": [{"lotId": lot_id, "quantity": q} for lot_id, q in used],
    }


async def refused(
    gql: GraphQL, service: Any, document: str, input: dict[str, Any], code: str
) -> str:
    before = ledger_size(service)
    body = await gql(document, {"input": input})
    assert ledger_size(service) == before, "a refused command stored something"
    assert [e["extensions"]["code"] for e in body["errors"]] == [code], body
    return str(body["errors"][0]["message"])


async def ready(gql: GraphQL, t: Timeline, **lot_fields: Any) -> None:
    await network(gql, t)
    await donor_with_donation(gql, t)
    await gql.data(RECEIVE, {"input": lot(t, **lot_fields)})
    await gql.data(RELEASE, {"input": {"lotId": VECTOR_LOT, "decidedAt": t(-36)}})
    await started_batch(gql, t, BATCH)


async def test_a_lot_is_consumed_by_quantity_never_beyond_what_was_received(gql: GraphQL, service):
    t = Timeline.ending_weeks_ago()
    await ready(gql, t)

    await gql.data(STEP, {"input": step(t, (VECTOR_LOT, 1.5))})
    await gql.data(STEP, {"input": step(t, (VECTOR_LOT, 2.0), hours=1)})
    message = await refused(
        gql, service, STEP, step(t, (VECTOR_LOT, 0.6), hours=2), "RULE_VIOLATION"
    )
    assert "has 0.5 mL left of 4 received" in message
    await gql.data(STEP, {"input": step(t, (VECTOR_LOT, 0.5), hours=3)})


async def test_bad_quantities_are_refused_as_bad_input(gql: GraphQL, service):
    t = Timeline.ending_weeks_ago()
    await ready(gql, t)
    for bad in (
        step(t, (VECTOR_LOT, 0.0)),
        step(t, (VECTOR_LOT, -1.0)),
        step(t, ("LOT-NOT-NAMED", 1.0)),
        step(t, (VECTOR_LOT, 1.0), (VECTOR_LOT, 1.0)),
    ):
        assert await refused(gql, service, STEP, bad, "BAD_INPUT")
    without_unit = lot(t, lotId="LOT-2", unit=None)
    assert await refused(gql, service, RECEIVE, without_unit, "BAD_INPUT")
    negative = lot(t, lotId="LOT-2", quantity=-4.0)
    assert await refused(gql, service, RECEIVE, negative, "BAD_INPUT")


async def test_a_lot_received_without_a_quantity_cannot_be_counted(gql: GraphQL, service):
    t = Timeline.ending_weeks_ago()
    await ready(gql, t, quantity=None, unit=None)

    message = await refused(gql, service, STEP, step(t, (VECTOR_LOT, 1.0)), "RULE_VIOLATION")
    assert "without a quantity" in message
    await gql.data(STEP, {"input": step(t)})  # a step naming no quantity uses it as before
