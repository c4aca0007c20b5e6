"""Controlled returns through the API on both databases (issue 18, item 2): a product goes back
to its control or manufacturing site on a return shipment (the one dispatch a recalled batch may
have), is quarantined on receipt, and moves again only after the quality unit's assessment; a
recall's RETURNED action naming a ledger shipment must name a return carrying the batch. Each
rule refuses with its code and stores nothing."""

from __future__ import annotations

from typing import Any

from api.wiring import Regentrace
from tests.api.chain_documents import (
    COMMAND_RESULT,
    CONTROL,
    HOSPITAL,
    LAB,
    SPOKE,
    Timeline,
    batch,
    run,
)
from tests.api.chain_documents import refused as refused_chain
from tests.api.client import GraphQL
from tests.api.test_custody import refused
from tests.api.test_recall_lifecycle import initiation, send, world
from tests.api.test_recall_lifecycle import refused as refused_recall
from tests.api.test_use_time_gates import qp
from tests.epcis import events, violations

EPCIS = "query ($scope: EpcisScopeInput!) { epcisDocument(scope: $scope) }"

ASSESS = f"mutation ($input: AssessReturnInput!) {{ assessReturn(input: $input) {COMMAND_RESULT} }}"


def giving_back(batch_id: str, t: Timeline, to: str, days: float, frm: str = HOSPITAL) -> dict:
    return {
        "shipmentId": f"RET-{batch_id}-{to}",
        "batchIds": [batch_id],
        "fromSiteId": frm,
        "toSiteId": to,
        "courier": "CryoLogistics (LN2 dry shipper)",
        "dispatchedAt": t(days),
        "isReturn": True,
    }


def receipt(shipment_id: str, t: Timeline, days: float) -> dict[str, Any]:
    return {"shipmentId": shipment_id, "receivedAt": t(days), "conditionAcceptable": True}


def assessment(batch_id: str, t: Timeline, outcome: str, days: float = -1) -> dict[str, Any]:
    return {
        "batchId": batch_id,
        "outcome": outcome,
        "reason": "Returned unopened; temperature log of the return leg reviewed",
        "assessedAt": t(days),
    }


async def test_a_recalled_product_goes_back_only_as_a_return_and_is_destroyed_after_assessment(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await world(gql, t)  # B-3 and B-4 delivered to the hospital, unused
    quality = qp(gql, service)
    await send(quality, "initiateRecall", initiation(t, origin={"kind": "BATCH", "id": "B-3"}))

    onward = giving_back("B-3", t, SPOKE, -1.5) | {"isReturn": None, "shipmentId": "SHP-X"}
    error = await refused_chain(gql, service, "dispatchShipment", onward, "RULE_VIOLATION")
    assert "under recall RCL-1" in error["message"]
    elsewhere = giving_back("B-3", t, LAB, -1.5)
    error = await refused_chain(gql, service, "dispatchShipment", elsewhere, "RULE_VIOLATION")
    assert error["extensions"]["reason"] == "RETURN_ELSEWHERE"

    back = giving_back("B-3", t, CONTROL, -1.5)
    await run(gql, "dispatchShipment", back)
    await run(gql, "receiveShipment", receipt(back["shipmentId"], t, -1.3))
    # Quarantined: it moves nowhere, not even back, until assessed.
    again = giving_back("B-3", t, SPOKE, -1.2, frm=CONTROL)
    error = await refused_chain(gql, service, "dispatchShipment", again, "RULE_VIOLATION")
    assert error["extensions"]["reason"] == "RETURN_NOT_ASSESSED"

    # The recall's RETURNED action names the return; a shipment that is not one is refused.
    action = {"recallId": "RCL-1", "batchId": "B-3", "kind": "RETURNED", "at": t(-1.3)}
    wrong = action | {"shipmentId": "SHP-B-4"}
    error = await refused_recall(gql, service, "recordRecallAction", wrong, "RULE_VIOLATION")
    assert error["extensions"]["rule"] == "RECALL_RETURN_SHIPMENT"
    await send(gql, "recordRecallAction", action | {"shipmentId": back["shipmentId"]})

    reuse = assessment("B-3", t, "RELEASE_FOR_REUSE")
    error = await refused(quality, service, ASSESS, reuse, "RULE_VIOLATION")
    assert error["extensions"]["reason"] == "RECALLED_NOT_REUSED"
    await quality.data(ASSESS, {"input": assessment("B-3", t, "DESTROY")})
    found = await batch(gql, "B-3")
    assert found is not None
    assert found["status"] == "RECALLED"  # what regulators see of a recalled batch
    assert found["location"] == CONTROL
    assert service.app.repository.get("Batch:B-3").status == "DESTROYED"
    twice = assessment("B-3", t, "DESTROY", days=-0.5)
    assert await refused(quality, service, ASSESS, twice, "RULE_VIOLATION")

    document = (await gql.data(EPCIS, {"scope": {"batchId": "B-3"}}))["epcisDocument"]
    assert violations(document) == []
    found_steps = [(e.get("bizStep"), e.get("disposition")) for e in events(document)]
    for step in (
        ("shipping", "returned"),
        ("holding", "non_sellable_other"),
        ("inspecting", "non_conformant"),
        ("destroying", "destroyed"),
    ):
        assert step in found_steps, step


async def test_a_product_returned_unused_moves_again_once_released_for_reuse(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await world(gql, t)
    quality = qp(gql, service)
    nothing_returned = assessment("B-4", t, "RELEASE_FOR_REUSE")
    assert await refused(quality, service, ASSESS, nothing_returned, "RULE_VIOLATION")

    back = giving_back("B-4", t, SPOKE, -3)  # to the site that made it
    await run(gql, "dispatchShipment", back)
    await run(gql, "receiveShipment", receipt(back["shipmentId"], t, -2.8))
    onward = giving_back("B-4", t, HOSPITAL, -2, frm=SPOKE) | {"isReturn": False}
    error = await refused_chain(gql, service, "dispatchShipment", onward, "RULE_VIOLATION")
    assert error["extensions"]["reason"] == "RETURN_NOT_ASSESSED"

    blank = assessment("B-4", t, "RELEASE_FOR_REUSE") | {"reason": " "}
    assert await refused(quality, service, ASSESS, blank, "BAD_INPUT")
    before_receipt = assessment("B-4", t, "RELEASE_FOR_REUSE", days=-2.9)
    assert await refused(quality, service, ASSESS, before_receipt, "RULE_VIOLATION")
    await quality.data(ASSESS, {"input": assessment("B-4", t, "RELEASE_FOR_REUSE", days=-2.5)})
    await run(gql, "dispatchShipment", onward)
    found = await batch(gql, "B-4")
    assert found is not None
    assert found["status"] == "DISTRIBUTED"
