"""EPCIS export of a split batch's containers, through the API on both databases: containers
destroyed outside a recall (destroyBatchContainers) are deleted once, by their EPCs (the fill's
outputs), at the destruction's time and site; a recall from a container carries that container's
batch's own events (its fill); each document validates against GS1's schema."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.wiring import Regentrace
from projections.epcis import container_uri, site_uri
from tests.api.chain_documents import SPOKE, Timeline, run
from tests.api.client import GraphQL
from tests.api.test_containers import MSC, allogeneic, given, shipped
from tests.api.test_containers import send as send_container
from tests.api.test_recall_lifecycle import send
from tests.api.test_use_time_gates import qp
from tests.epcis import events, violations

EPCIS = "query ($scope: EpcisScopeInput!) { epcisDocument(scope: $scope) }"


async def document(gql: GraphQL, scope: dict[str, str]) -> dict[str, Any]:
    found = (await gql.data(EPCIS, {"scope": scope}))["epcisDocument"]
    assert isinstance(found, dict)
    assert violations(found) == []
    return found


def fill_outputs(found: dict[str, Any]) -> list[str]:
    """The EPCs MSC's fill gives its containers (its one fill event's outputEPCList)."""
    fills = [e for e in events(found) if e.get("transformationID") == f"urn:regentrace:fill:{MSC}"]
    assert len(fills) == 1
    outputs: list[str] = fills[0]["outputEPCList"]
    return outputs


def deletions(found: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in events(found) if e["type"] == "ObjectEvent" and e["action"] == "DELETE"]


async def test_containers_destroyed_outside_a_recall_are_deleted_by_their_epcs(
    gql: GraphQL, service: Regentrace
) -> None:
    """MSC filled into V-1, V-2 and V-3; V-2 destroyed at the spoke: the batch's document holds
    exactly one DELETE, of V-2's EPC as the fill gave it, at the destruction's time and site."""
    t = Timeline.ending_weeks_ago()
    await allogeneic(gql, t)
    destroyed = {
        "batchId": MSC,
        "containerIds": ["V-2"],
        "reason": "bag breach on inspection",
        "decidedAt": t(-9.8),
    }
    await send_container(gql, "destroyBatchContainers", destroyed)

    found = await document(gql, {"batchId": MSC})
    epc = container_uri(f"{MSC}/V-2")
    assert epc in fill_outputs(found)
    [deleted] = deletions(found)
    assert deleted["epcList"] == [epc]
    assert (deleted["bizStep"], deleted["disposition"]) == ("destroying", "destroyed")
    assert datetime.fromisoformat(deleted["eventTime"]) == datetime.fromisoformat(t(-9.8))
    assert deleted["readPoint"] == deleted["bizLocation"] == {"id": site_uri(SPOKE)}
    assert deleted["regentrace:reason"] == "bag breach on inspection"


async def test_a_recall_from_a_container_exports_that_containers_fill(
    gql: GraphQL, service: Regentrace
) -> None:
    """A recall initiated from V-1 (given to a patient): its document holds MSC's own events,
    the fill whose outputEPCList gives V-1 its EPC among them; V-2 destroyed under the recall is
    deleted once (the batch's record of the destruction, not the action's copy of it)."""
    t = Timeline.ending_weeks_ago()
    await allogeneic(gql, t)
    await shipped(gql, t, "SHP-MSC-1", MSC, "V-1")
    await run(gql, "recordAdministration", given(MSC, "V-1", "PT-4201", t))
    quality = qp(gql, service)
    origin = {"kind": "CONTAINER", "id": f"{MSC}/V-1"}
    started = {"recallId": "RCL-C1", "origin": origin, "reason": "vial V-1 failed"}
    await send(quality, "initiateRecall", started | {"initiatedAt": t(-2)})
    act = {"recallId": "RCL-C1", "batchId": MSC, "containerId": "V-2", "kind": "DESTROYED"}
    await send(quality, "recordRecallAction", act | {"at": t(-1.5)})

    found = await document(quality, {"recallId": "RCL-C1"})
    outputs = fill_outputs(found)
    assert container_uri(f"{MSC}/V-1") in outputs
    [deleted] = deletions(found)
    assert deleted["epcList"] == [container_uri(f"{MSC}/V-2")]
    assert deleted["epcList"][0] in outputs
    assert deleted["regentrace:reason"].startswith("recall RCL-C1")


async def test_a_batchs_destruction_deletes_only_the_containers_left(
    gql: GraphQL, service: Regentrace
) -> None:
    """V-1 given, V-2 destroyed, then V-3 (the last one left): the batch's destruction deletes
    the batch's EPC and V-3's, not V-2's again nor V-1's (given to its patient)."""
    t = Timeline.ending_weeks_ago()
    await allogeneic(gql, t)
    await shipped(gql, t, "SHP-MSC-1", MSC, "V-1")
    await run(gql, "recordAdministration", given(MSC, "V-1", "PT-4201", t))
    destroyed = {"batchId": MSC, "reason": "thawed", "containerIds": ["V-2"], "decidedAt": t(-8)}
    await send_container(gql, "destroyBatchContainers", destroyed)
    last = destroyed | {"containerIds": ["V-3"], "reason": "expired", "decidedAt": t(-7)}
    await send_container(gql, "destroyBatchContainers", last)

    found = await document(gql, {"batchId": MSC})
    outputs = fill_outputs(found)
    assert [e["epcList"] for e in deletions(found)] == [
        [outputs[1]],
        [f"urn:regentrace:batch:{MSC}", outputs[2]],
    ]
