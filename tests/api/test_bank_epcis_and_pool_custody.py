"""Cell banks in EPCIS and pooled donations in the custody timeline, through the API on both
databases (issue 18, items 1, 2 and 5): banking a master bank from a donation, a working bank
from a master bank's vial and a batch from a working bank's vial are EPCIS transformations whose
lineage is recallTrace's, for the scope of the batch and for a recall from the donation forward,
each document accepted by GS1's schema; a pooled batch's custody timeline holds every pooled
donation's shipment, temperatures and receipt, as of any moment, and a rebuild writes exactly the
rows written live."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from projections import rebuild
from projections.epcis import batch_uri, cell_bank_uri, container_uri, donation_uri
from tests.api.chain_documents import HOSPITAL, SPOKE, Timeline, moment, network, qc_input
from tests.api.client import GraphQL
from tests.api.test_containers import MSC, MSC_DONATION, MSC_QC, allogeneic, shipped
from tests.api.test_custody import RECEIVE, SHIP, TEMPERATURE
from tests.api.test_genealogy import POOL, SECOND, bank, donor, master, send, start, working
from tests.epcis import events, transformations, violations
from tests.integration.test_projections import dump

EPCIS = """
query ($scope: EpcisScopeInput!, $asOf: DateTime) {
  epcisDocument(scope: $scope, asOf: $asOf)
}
"""
TRACE = """
query ($kind: TraceNodeKind!, $id: ID!, $direction: TraceDirection!, $asOf: DateTime) {
  recallTrace(origin: {kind: $kind, id: $id}, direction: $direction, asOf: $asOf) {
    edges { fromKind fromId toKind toId }
  }
}
"""
TIMELINE = """
query ($id: ID!, $subject: CustodySubject, $containerId: ID, $asOf: DateTime) {
  custodyTimeline(id: $id, subject: $subject, containerId: $containerId, asOf: $asOf) {
    subjectKind subjectId containerId kind at siteId toSiteId custodian legId detail
  }
}
"""
RECALL = """
mutation ($input: InitiateRecallInput!) {
  initiateRecall(input: $input) { id units { batchId } }
}
"""

FROM_BANK = "MSC-WCB-1"
SIBLING = "MSC-WCB-2"
MASTER_BANK = "MCB-42"
WORKING_BANK = "WCB-42-1"
IDLE_BANK = "WCB-42-2"  # a working bank no batch was made from
# What moves or changes a physical thing: the kinds an EPCIS transformation connects.
PHYSICAL = {"DONATION", "CELL_BANK", "MATERIAL_LOT", "BATCH", "CONTAINER"}


def uri(kind: str, key: str) -> str:
    return {
        "DONATION": donation_uri,
        "CELL_BANK": cell_bank_uri,
        "BATCH": batch_uri,
        "CONTAINER": container_uri,
    }[kind](key)


async def lineage(gql: GraphQL, kind: str, key: str, direction: str, **more: Any) -> set[Any]:
    """recallTrace's edges between physical things, as EPCIS (input, output) URI pairs."""
    variables = {"kind": kind, "id": key, "direction": direction, **more}
    edges = (await gql.data(TRACE, variables))["recallTrace"]["edges"]
    return {
        (uri(e["fromKind"], e["fromId"]), uri(e["toKind"], e["toId"]))
        for e in edges
        if {e["fromKind"], e["toKind"]} <= PHYSICAL
    }


async def epcis(gql: GraphQL, scope: dict[str, Any], as_of: str | None = None) -> dict[str, Any]:
    document = (await gql.data(EPCIS, {"scope": scope, "asOf": as_of}))["epcisDocument"]
    assert isinstance(document, dict)
    assert violations(document) == []
    return document


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def banked_and_used(gql: GraphQL, t: Timeline) -> str:
    """MSC made straight from the donation; a master bank of two vials from the same donation, a
    working bank from each vial; two batches from the first working bank. Answers the moment
    between the master bank's banking and the first working bank's."""
    await allogeneic(gql, t)
    await bank(gql, "bankMasterCells", master(t, vials=2))
    between = await moment()
    await bank(gql, "bankWorkingCells", working(t, vials=3))
    await bank(gql, "bankWorkingCells", working(t, bankId=IDLE_BANK, bankedAt=t(-24)))
    await send(gql, "startBatch", start(t, cellBankId=WORKING_BANK, batchId=FROM_BANK))
    await send(gql, "startBatch", start(t, cellBankId=WORKING_BANK, batchId=SIBLING))
    return between


# ---------------------------------------------------------------------------- cell banks


async def test_a_batch_made_from_a_cell_bank_is_traced_in_epcis_through_both_banks(
    gql: GraphQL,
) -> None:
    t = Timeline.ending_weeks_ago()
    between = await banked_and_used(gql, t)

    document = await epcis(gql, {"batchId": FROM_BANK})
    donation, batch = donation_uri(MSC_DONATION), batch_uri(FROM_BANK)
    mcb, wcb = cell_bank_uri(MASTER_BANK), cell_bank_uri(WORKING_BANK)
    assert transformations(document) == {
        (donation, mcb),
        (mcb, wcb),
        (wcb, batch),
        (donation, batch),
    }
    # Exactly recallTrace's lineage of the batch, either way: not the sibling batch, nor the
    # other working bank, made from the same banks.
    assert transformations(document) == await lineage(gql, "BATCH", FROM_BANK, "BOTH")

    made = {
        e["outputEPCList"][0]: e
        for e in events(document)
        if e["type"] == "TransformationEvent" and "bizStep" in e
    }
    laid_down = made[mcb]
    assert laid_down["inputEPCList"] == [donation]
    assert laid_down["outputQuantityList"] == [{"epcClass": mcb, "quantity": 2}]
    assert laid_down["transformationID"] == mcb
    assert when(laid_down["eventTime"]) == when(t(-30))
    assert laid_down["bizLocation"] == {"id": f"urn:regentrace:site:{SPOKE}"}
    assert laid_down["ilmd"]["regentrace:bankKind"] == "MASTER"
    assert laid_down["ilmd"]["regentrace:passage"] == 2
    assert made[wcb]["outputQuantityList"] == [{"epcClass": wcb, "quantity": 3}]
    assert made[wcb]["ilmd"]["regentrace:parentBank"] == mcb

    taken = [e for e in events(document) if "inputQuantityList" in e]
    found = [(e["inputQuantityList"], e["outputEPCList"], e["transformationID"]) for e in taken]
    assert found == [
        ([{"epcClass": mcb, "quantity": 1}], [wcb], wcb),
        ([{"epcClass": wcb, "quantity": 1}], [batch], batch),
    ]
    assert [when(e["eventTime"]) for e in taken] == [when(t(-25)), when(t(-20))]

    # As the ledger stood before the working bank: neither it nor the batch existed yet (MSC,
    # started at t(-20) straight from the donation, did).
    before = await epcis(gql, {"window": {"from": t(-31), "to": t(-19)}}, as_of=between)
    assert transformations(before) == {(donation, mcb), (donation, batch_uri(MSC))}
    window = await epcis(gql, {"window": {"from": t(-31), "to": t(-19)}})
    assert (mcb, cell_bank_uri(IDLE_BANK)) in transformations(window)
    assert (wcb, batch_uri(SIBLING)) in transformations(window)


async def test_a_recall_from_the_donation_forward_carries_the_banks_in_its_epcis_document(
    gql: GraphQL,
) -> None:
    t = Timeline.ending_weeks_ago()
    await banked_and_used(gql, t)
    forward = await lineage(gql, "DONATION", MSC_DONATION, "FORWARD")
    recall = {
        "recallId": "RCL-DNR-0042",
        "origin": {"kind": "DONATION", "id": MSC_DONATION},
        "reason": "donor look-back: HBV NAT reactive",
    }
    answer = (await gql.data(RECALL, {"input": recall}))["initiateRecall"]
    assert {u["batchId"] for u in answer["units"]} == {MSC, FROM_BANK, SIBLING}

    document = await epcis(gql, {"recallId": "RCL-DNR-0042"})
    assert transformations(document) == forward
    mcb = cell_bank_uri(MASTER_BANK)
    # Every bank and every batch made from a vial, and the split of MSC into its vials.
    assert {(mcb, cell_bank_uri(WORKING_BANK)), (mcb, cell_bank_uri(IDLE_BANK))} <= forward
    assert (cell_bank_uri(WORKING_BANK), batch_uri(SIBLING)) in forward
    assert (batch_uri(MSC), container_uri(f"{MSC}/V-1")) in forward


# -------------------------------------------------------------------------- pooled custody


def leg(donation: str, leg_id: str, t: Timeline) -> dict[str, dict[str, Any]]:
    """A donation's shipment from the hospital to the spoke, a reading on the way, its receipt."""
    return {
        "ship": {
            "donationId": donation,
            "shipmentId": leg_id,
            "toSiteId": SPOKE,
            "courier": "Cryoport Taiwan",
            "dispatchedAt": t(-37.5),
            "minCelsius": 2.0,
            "maxCelsius": 8.0,
        },
        "reading": {
            "donationId": donation,
            "shipmentId": leg_id,
            "observedAt": t(-37.3),
            "temperatureCelsius": 4.5,
            "durationMinutes": 15,
        },
        "receipt": {
            "donationId": donation,
            "shipmentId": leg_id,
            "receivedAt": t(-37),
            "conditionAcceptable": True,
        },
    }


async def shipped_donation(gql: GraphQL, donation: str, leg_id: str, t: Timeline) -> None:
    steps = leg(donation, leg_id, t)
    for document, input in (
        (SHIP, steps["ship"]),
        (TEMPERATURE, steps["reading"]),
        (RECEIVE, steps["receipt"]),
    ):
        await gql.data(document, {"input": input})


async def pooled_at_the_spoke(gql: GraphQL, t: Timeline) -> tuple[str, str]:
    """Two donors' donations, each shipped from the hospital to the spoke, pooled into one batch
    there, which is then shipped to the hospital. Answers the moments before the batch started
    and before it was dispatched."""
    await network(gql, t)
    await donor(gql, t, "DNR-0042", MSC_DONATION)
    await donor(gql, t, "DNR-0043", SECOND)
    await shipped_donation(gql, MSC_DONATION, "APH-42", t)
    await shipped_donation(gql, SECOND, "APH-43", t)
    unstarted = await moment()
    await send(gql, "startBatch", start(t, SECOND))
    for test in MSC_QC:
        await send(gql, "recordQcResult", qc_input(POOL, test, t))
    release = {"batchId": POOL, "signatureMeaning": "QP certification", "releasedAt": t(-10)}
    await send(gql, "releaseBatch", release)
    undispatched = await moment()
    await shipped(gql, t, "SHP-POOL-1", POOL)
    return unstarted, undispatched


def rows(timeline: list[dict[str, Any]]) -> list[tuple[str, str, str, str | None]]:
    return [(e["subjectKind"], e["subjectId"], e["kind"], e["siteId"]) for e in timeline]


DONATION_ROWS = [
    (subject, donation, kind, site)
    for kind, site in (("DISPATCHED", HOSPITAL), ("TEMPERATURE", None), ("RECEIVED", SPOKE))
    for subject, donation in (("DONATION", MSC_DONATION), ("DONATION", SECOND))
]


async def timeline(gql: GraphQL, key: str, **more: Any) -> list[dict[str, Any]]:
    found = (await gql.data(TIMELINE, {"id": key, **more}))["custodyTimeline"]
    assert isinstance(found, list)
    return found


async def test_a_pooled_batch_carries_every_pooled_donations_custody_as_of_any_moment(
    gql: GraphQL,
) -> None:
    t = Timeline.ending_weeks_ago()
    unstarted, undispatched = await pooled_at_the_spoke(gql, t)

    entries = await timeline(gql, POOL)
    batch_rows = [("BATCH", POOL, "DISPATCHED", SPOKE), ("BATCH", POOL, "RECEIVED", HOSPITAL)]
    assert rows(entries) == [*DONATION_ROWS, *batch_rows]
    second = [e for e in entries if e["subjectId"] == SECOND]
    assert [e["legId"] for e in second] == ["APH-43"] * 3
    assert second[0]["custodian"] == "Cryoport Taiwan"
    assert second[0]["toSiteId"] == SPOKE
    assert second[1]["detail"] == "4.5 °C for 15 min, within the range"

    # Before the dispatch: the donations' rows only; before the batch began: no donation yet.
    assert rows(await timeline(gql, POOL, asOf=undispatched)) == DONATION_ROWS
    assert await timeline(gql, POOL, asOf=unstarted) == []
    # Each donation's own timeline is still its own.
    assert len(await timeline(gql, SECOND, subject="DONATION")) == 3

    # The EPCIS document of the pool holds both donations' legs as object events.
    document = await epcis(gql, {"batchId": POOL})
    legs = {
        (e["epcList"][0], e["bizStep"])
        for e in events(document)
        if e["type"] == "ObjectEvent" and "regentrace:leg" in e
    }
    assert legs == {
        (donation_uri(d), step)
        for d in (MSC_DONATION, SECOND)
        for step in ("shipping", "sensor_reporting", "receiving")
    }
    assert transformations(document) == await lineage(gql, "BATCH", POOL, "BOTH")


async def test_a_rebuild_writes_and_reads_exactly_the_pooled_custody_written_live(
    gql: GraphQL, service: Any
) -> None:
    t = Timeline.ending_weeks_ago()
    await pooled_at_the_spoke(gql, t)
    live = dump(service)
    assert live["custody_timeline"]
    assert live["lineage_edges"]  # where a batch's donations are read from
    read_live = await timeline(gql, POOL)
    assert {e["subjectId"] for e in read_live} == {POOL, MSC_DONATION, SECOND}

    for workers in (1, 2):
        rebuild.rebuild(service.recorder, service.app.mapper, workers=workers)
        assert dump(service) == live
        assert await timeline(gql, POOL) == read_live
