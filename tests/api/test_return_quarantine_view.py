"""A batch received back on a return shipment shows as quarantined on the read side until the
quality unit assesses it (issue 18, item 2), through the API on both databases: since when, at
which site, by which return shipment, at any `asOf`; the assessment that cleared it stays shown;
and a rebuild writes exactly the batch rows written live."""

from __future__ import annotations

from typing import Any

from api.wiring import Regentrace
from demo.custody import RETURNED_BATCH
from demo.network import seed
from projections import rebuild
from tests.api.chain_documents import CONTROL, HOSPITAL, SPOKE, Timeline, moment, run
from tests.api.client import GraphQL
from tests.api.test_controlled_returns import ASSESS, assessment, giving_back, receipt
from tests.api.test_recall_lifecycle import initiation, send, world
from tests.api.test_use_time_gates import caller, qp
from tests.integration.test_projections import dump

QUARANTINE = """
query ($id: ID!, $asOf: DateTime) {
  batch(id: $id, asOf: $asOf) {
    id status location
    returnQuarantine { since siteId shipmentId }
    lastReturnAssessment { outcome reason at shipmentId }
  }
}
"""

LISTED = """
query ($asOf: DateTime) {
  batches(first: 50, asOf: $asOf) {
    nodes { id returnQuarantine { since siteId shipmentId } lastReturnAssessment { outcome } }
  }
}
"""


async def shown(gql: GraphQL, batch_id: str, as_of: str | None = None) -> dict[str, Any]:
    found = (await gql.data(QUARANTINE, {"id": batch_id, "asOf": as_of}))["batch"]
    assert isinstance(found, dict), found
    return found


async def listed(gql: GraphQL, as_of: str | None = None) -> dict[str, dict[str, Any]]:
    nodes = (await gql.data(LISTED, {"asOf": as_of}))["batches"]["nodes"]
    return {n["id"]: n for n in nodes}


async def test_a_returned_batch_shows_its_quarantine_until_released_for_reuse(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await world(gql, t)  # B-3 and B-4 delivered to the hospital, unused
    quality = qp(gql, service)
    delivered = await shown(gql, "B-4")
    assert delivered["returnQuarantine"] is None
    assert delivered["lastReturnAssessment"] is None

    back = giving_back("B-4", t, SPOKE, -3)  # to the site that made it
    await run(gql, "dispatchShipment", back)
    in_transit = await moment()
    await run(gql, "receiveShipment", receipt(back["shipmentId"], t, -2.8))
    quarantined = await moment()

    expected = {"since": t(-2.8), "siteId": SPOKE, "shipmentId": back["shipmentId"]}
    now = await shown(gql, "B-4")
    assert now["returnQuarantine"] == expected
    assert now["lastReturnAssessment"] is None
    assert (now["status"], now["location"]) == ("DISTRIBUTED", SPOKE)
    # Before the receipt the batch was travelling back, not in quarantine.
    assert (await shown(gql, "B-4", in_transit))["returnQuarantine"] is None
    # The list shows it as the single batch does; the other batches are in no quarantine.
    every = await listed(gql)
    assert every["B-4"]["returnQuarantine"] == expected
    assert every["B-3"]["returnQuarantine"] is None
    # Reach as for the batch itself: the hospital that sent it back sees the quarantine too.
    clinic = caller(gql, service, "medical_institution", HOSPITAL)
    assert (await shown(clinic, "B-4"))["returnQuarantine"] == expected

    reuse = assessment("B-4", t, "RELEASE_FOR_REUSE", days=-2.5)
    await quality.data(ASSESS, {"input": reuse})
    assessed = await moment()
    now = await shown(gql, "B-4")
    assert now["returnQuarantine"] is None
    assert now["lastReturnAssessment"] == {
        "outcome": "RELEASE_FOR_REUSE",
        "reason": reuse["reason"],
        "at": t(-2.5),
        "shipmentId": back["shipmentId"],
    }
    # As of a moment between the receipt and the assessment, the quarantine is what stood.
    between = await shown(gql, "B-4", quarantined)
    assert between["returnQuarantine"] == expected
    assert between["lastReturnAssessment"] is None
    assert (await listed(gql, quarantined))["B-4"]["returnQuarantine"] == expected
    assert (await listed(gql))["B-4"]["lastReturnAssessment"] == {"outcome": "RELEASE_FOR_REUSE"}

    # Released for reuse it moves on; the assessment stays shown, the quarantine does not return.
    onward = giving_back("B-4", t, HOSPITAL, -2, frm=SPOKE) | {"isReturn": False}
    await run(gql, "dispatchShipment", onward)
    later = await shown(gql, "B-4")
    assert later["returnQuarantine"] is None
    assert later["lastReturnAssessment"]["outcome"] == "RELEASE_FOR_REUSE"
    assert (await shown(gql, "B-4", assessed))["returnQuarantine"] is None


async def test_a_recalled_return_assessed_for_destruction_leaves_quarantine_and_a_rebuild_agrees(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await world(gql, t)
    quality = qp(gql, service)
    await send(quality, "initiateRecall", initiation(t, origin={"kind": "BATCH", "id": "B-3"}))
    back = giving_back("B-3", t, CONTROL, -1.5)
    await run(gql, "dispatchShipment", back)
    await run(gql, "receiveShipment", receipt(back["shipmentId"], t, -1.3))
    quarantined = await moment()
    pending = giving_back("B-4", t, SPOKE, -3)  # left waiting for its assessment
    await run(gql, "dispatchShipment", pending)
    await run(gql, "receiveShipment", receipt(pending["shipmentId"], t, -2.8))

    recalled = await shown(gql, "B-3")
    assert recalled["status"] == "RECALLED"
    assert recalled["returnQuarantine"] == {
        "since": t(-1.3),
        "siteId": CONTROL,
        "shipmentId": back["shipmentId"],
    }
    await quality.data(ASSESS, {"input": assessment("B-3", t, "DESTROY")})
    destroyed = await shown(gql, "B-3")
    assert destroyed["returnQuarantine"] is None
    assert destroyed["lastReturnAssessment"] == {
        "outcome": "DESTROY",
        "reason": assessment("B-3", t, "DESTROY")["reason"],
        "at": t(-1),
        "shipmentId": back["shipmentId"],
    }
    assert (await shown(gql, "B-3", quarantined))["returnQuarantine"] is not None

    live = dump(service)
    rows = live["batch_versions"]
    assert any(r["return_quarantine_shipment"] == pending["shipmentId"] for r in rows)
    assert any(r["return_assessed_shipment"] == back["shipmentId"] for r in rows)
    answers = [await shown(gql, b) for b in ("B-3", "B-4")]
    for workers in (1, 2):
        rebuild.rebuild(service.recorder, service.app.mapper, workers=workers)
        assert dump(service) == live
        assert [await shown(gql, b) for b in ("B-3", "B-4")] == answers


async def test_the_demo_return_waits_in_quarantine_at_the_taipei_control_site(
    gql: GraphQL, service: Regentrace
) -> None:
    seed(service.app)
    found = await shown(gql, RETURNED_BATCH)
    assert found["status"] == "RECALLED"
    quarantine = found["returnQuarantine"]
    assert quarantine is not None
    assert (quarantine["siteId"], quarantine["shipmentId"]) == (
        "TW-CTRL-TPE",
        f"RET-{RETURNED_BATCH}",
    )
    assert found["lastReturnAssessment"] is None  # the look-back review is still open
