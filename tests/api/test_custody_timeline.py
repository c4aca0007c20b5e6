"""Hand-overs per leg, storage periods and the custody timeline of a batch, a container, a
donation and a lot, through the API on both databases (issue 18, item 2); each rule refuses with
its code and stores nothing, and a rebuild writes exactly the custody rows written live."""

from __future__ import annotations

from typing import Any

from api.wiring import Regentrace
from projections import rebuild
from projections.custody import TABLES
from tests.api.chain_documents import (
    COMMAND_RESULT,
    DIN_LABELLED,
    HOSPITAL,
    LAB,
    SPOKE,
    VECTOR_LOT,
    Timeline,
    dispatch_input,
    donor_with_donation,
    moment,
    network,
    qc,
    release,
    released_lot,
    run,
    site_input,
    started_batch,
    transduction,
)
from tests.api.client import GraphQL
from tests.api.test_custody import RECEIVE, SHIP, TEMPERATURE, received, refused, shipment
from tests.api.test_use_time_gates import caller
from tests.epcis import events, violations
from tests.integration.test_projections import dump

BATCH = "CART-45000"
SHIPMENT = f"SHP-{BATCH}"


def document(field: str, input_type: str) -> str:
    return f"mutation ($input: {input_type}!) {{ {field}(input: $input) {COMMAND_RESULT} }}"


HAND_OVER = document("recordHandOver", "RecordHandOverInput")
STORE = document("recordStorage", "RecordStorageInput")
END = document("endStorage", "EndStorageInput")
TIMELINE = """
query ($id: ID!, $subject: CustodySubject, $containerId: ID, $asOf: DateTime) {
  custodyTimeline(id: $id, subject: $subject, containerId: $containerId, asOf: $asOf) {
    subjectKind subjectId containerId kind at siteId toSiteId custodian location legId detail
  }
}
"""


def storage(t: Timeline, storage_id: str, site: str, days: float, **more: Any) -> dict[str, Any]:
    return {
        "storageId": storage_id,
        "batchId": BATCH,
        "siteId": site,
        "location": "LN2 tank 2, rack 4, box 7",
        "storedFrom": t(days),
        **more,
    }


def hand_over(t: Timeline, days: float, **more: Any) -> dict[str, Any]:
    return {
        "shipmentId": SHIPMENT,
        "custodian": "EVA Air Cargo, TPE",
        "custodianKind": "COURIER",
        "handedOverAt": t(days),
        **more,
    }


async def released_batch(gql: GraphQL, t: Timeline) -> None:
    """A batch made at the spoke from starting material shipped there from the hospital."""
    await network(gql, t)
    await donor_with_donation(gql, t)
    await gql.data(SHIP, {"input": shipment(t)})
    reading = {
        "donationId": DIN_LABELLED,
        "shipmentId": "APH-SHIP-1",
        "observedAt": t(-37.2),
        "temperatureCelsius": 4.5,
        "durationMinutes": 15,
    }
    await gql.data(TEMPERATURE, {"input": reading})
    await gql.data(RECEIVE, {"input": received(t)})
    await released_lot(gql, t)
    await started_batch(gql, t, BATCH)
    await transduction(gql, t, BATCH)
    await qc(gql, t, BATCH)
    await release(gql, t, BATCH)


async def story(gql: GraphQL, t: Timeline) -> str:
    """Stored at the spoke, shipped with two hand-overs, stored again at the hospital; answers
    the moment between the storage at the spoke and the dispatch."""
    await released_batch(gql, t)
    await gql.data(STORE, {"input": storage(t, "ST-1", SPOKE, -10.0, storedUntil=t(-9.95))})
    stored = await moment()
    await run(gql, "dispatchShipment", dispatch_input(BATCH, t))
    await gql.data(HAND_OVER, {"input": hand_over(t, -9.8)})
    at_depot = hand_over(t, -9.7, custodian="QC hub", custodianKind="SITE", custodianSiteId=LAB)
    await gql.data(HAND_OVER, {"input": at_depot})
    receipt = {"shipmentId": SHIPMENT, "receivedAt": t(-9.5), "conditionAcceptable": True}
    await run(gql, "receiveShipment", receipt)
    hospital = storage(t, "ST-2", HOSPITAL, -9.4, location="Pharmacy LN2 vapour tank A")
    await gql.data(STORE, {"input": hospital})
    return stored


async def test_the_custody_timeline_runs_from_vein_to_vein(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    stored = await story(gql, t)
    body = await gql.data(TIMELINE, {"id": BATCH})
    entries = body["custodyTimeline"]
    assert [(e["subjectKind"], e["kind"], e["siteId"]) for e in entries] == [
        ("DONATION", "DISPATCHED", HOSPITAL),
        ("DONATION", "TEMPERATURE", None),
        ("DONATION", "RECEIVED", SPOKE),
        ("BATCH", "STORED", SPOKE),
        ("BATCH", "STORAGE_ENDED", SPOKE),
        ("BATCH", "DISPATCHED", SPOKE),
        ("BATCH", "HANDED_OVER", None),
        ("BATCH", "HANDED_OVER", LAB),
        ("BATCH", "RECEIVED", HOSPITAL),
        ("BATCH", "STORED", HOSPITAL),
    ]
    assert entries[0]["custodian"] == "Cryoport Taiwan"
    assert entries[0]["detail"] == "kept between 2 and 8 °C"
    assert entries[5]["toSiteId"] == HOSPITAL
    assert entries[6]["custodian"] == "EVA Air Cargo, TPE"
    assert entries[9]["location"] == "Pharmacy LN2 vapour tank A"
    assert entries[9]["legId"] == "ST-2"

    # As it stood before the dispatch: only what had happened by then.
    before = await gql.data(TIMELINE, {"id": BATCH, "asOf": stored})
    assert [e["kind"] for e in before["custodyTimeline"]][-1] == "STORAGE_ENDED"
    # The donation's own timeline, and a caller of another network sees none.
    donation = await gql.data(TIMELINE, {"id": "A999921123456", "subject": "DONATION"})
    assert len(donation["custodyTimeline"]) == 3
    await run(gql, "registerSite", site_input("TW-CTRL-KHH", "CONTROL_SITE", t))
    outsider = caller(gql, service, "spoke_operator", "TW-CTRL-KHH")
    assert (await outsider.data(TIMELINE, {"id": BATCH}))["custodyTimeline"] is None


async def test_hand_overs_and_storage_keep_to_where_and_when_the_product_is(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await released_batch(gql, t)
    # Stored only where it is: the batch is at the spoke.
    error = await refused(gql, service, STORE, storage(t, "ST-1", HOSPITAL, -10), "RULE_VIOLATION")
    assert error["extensions"]["reason"] == "NOT_AT_SITE"
    before_start = storage(t, "ST-1", SPOKE, -21)
    assert await refused(gql, service, STORE, before_start, "RULE_VIOLATION")
    no_container = storage(t, "ST-1", SPOKE, -10, containerId="BAG-9")
    assert await refused(gql, service, STORE, no_container, "RULE_VIOLATION")
    backwards = storage(t, "ST-1", SPOKE, -10, storedUntil=t(-10.5))
    assert await refused(gql, service, STORE, backwards, "BAD_INPUT")
    blank = storage(t, "ST-1", SPOKE, -10, location=" ")
    assert await refused(gql, service, STORE, blank, "BAD_INPUT")

    await gql.data(STORE, {"input": storage(t, "ST-1", SPOKE, -10)})
    again = storage(t, "ST-1", SPOKE, -10)
    assert await refused(gql, service, STORE, again, "CONFLICT")
    early_end = {"storageId": "ST-1", "storedUntil": t(-10.1)}
    assert await refused(gql, service, END, early_end, "RULE_VIOLATION")
    await gql.data(END, {"input": {"storageId": "ST-1", "storedUntil": t(-9.95)}})
    assert await refused(
        gql, service, END, {"storageId": "ST-1", "storedUntil": t(-9)}, "RULE_VIOLATION"
    )

    await run(gql, "dispatchShipment", dispatch_input(BATCH, t))
    # In transit: stored nowhere; a hand-over only within the time in transit.
    in_transit = storage(t, "ST-2", SPOKE, -9.8)
    assert await refused(gql, service, STORE, in_transit, "RULE_VIOLATION")
    assert await refused(gql, service, HAND_OVER, hand_over(t, -10), "RULE_VIOLATION")
    site_without_id = hand_over(t, -9.8, custodianKind="SITE")
    assert await refused(gql, service, HAND_OVER, site_without_id, "BAD_INPUT")
    courier_with_site = hand_over(t, -9.8, custodianSiteId=LAB)
    assert await refused(gql, service, HAND_OVER, courier_with_site, "BAD_INPUT")
    await gql.data(HAND_OVER, {"input": hand_over(t, -9.8)})
    receipt = {"shipmentId": SHIPMENT, "receivedAt": t(-9.5), "conditionAcceptable": True}
    await run(gql, "receiveShipment", receipt)
    after_receipt = hand_over(t, -9.4)
    assert await refused(gql, service, HAND_OVER, after_receipt, "RULE_VIOLATION")


async def test_a_rebuild_writes_exactly_the_custody_rows_written_live(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await story(gql, t)
    transfer = {
        "lotId": VECTOR_LOT,
        "transferId": "TR-1",
        "fromSiteId": SPOKE,
        "toSiteId": HOSPITAL,
        "courier": "Formosa Cold Chain",
        "dispatchedAt": t(-5),
    }
    await run_custody(gql, "transferMaterialLot", "TransferMaterialLotInput", transfer)
    lot_receipt = {
        "lotId": VECTOR_LOT,
        "transferId": "TR-1",
        "receivedAt": t(-4.5),
        "conditionAcceptable": True,
    }
    await run_custody(
        gql, "receiveMaterialLotTransfer", "ReceiveMaterialLotTransferInput", lot_receipt
    )
    lot = await gql.data(TIMELINE, {"id": VECTOR_LOT, "subject": "MATERIAL_LOT"})
    assert [e["kind"] for e in lot["custodyTimeline"]] == ["DISPATCHED", "RECEIVED"]
    live = dump(service)
    assert all(live[table] for table in TABLES)
    for workers in (1, 2):
        rebuild.rebuild(service.recorder, service.app.mapper, workers=workers)
        assert dump(service) == live


async def run_custody(gql: GraphQL, field: str, input_type: str, input: dict[str, Any]) -> None:
    await gql.data(document(field, input_type), {"input": input})


EPCIS = "query ($scope: EpcisScopeInput!) { epcisDocument(scope: $scope) }"


async def test_custody_legs_and_storage_are_epcis_object_events_gs1_accepts(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await story(gql, t)
    document = (await gql.data(EPCIS, {"scope": {"batchId": BATCH}}))["epcisDocument"]
    assert violations(document) == []
    steps = [
        (e["type"], e.get("bizStep"), e["epcList"][0])
        for e in events(document)
        if e["type"] == "ObjectEvent"
    ]
    batch_uri, donation_uri = "urn:regentrace:batch:CART-45000", "urn:regentrace:din:A999921123456"
    for expected in (
        ("ObjectEvent", "shipping", donation_uri),
        ("ObjectEvent", "sensor_reporting", donation_uri),
        ("ObjectEvent", "receiving", donation_uri),
        ("ObjectEvent", "storing", batch_uri),
        ("ObjectEvent", "departing", batch_uri),
        ("ObjectEvent", "transporting", batch_uri),
    ):
        assert expected in steps, expected
    handed = [e for e in events(document) if e.get("bizStep") == "transporting"]
    assert [e["regentrace:custodian"] for e in handed] == ["EVA Air Cargo, TPE", "QC hub"]
    assert handed[1]["readPoint"] == {"id": "urn:regentrace:site:TW-LAB-QC"}
    stored = [e for e in events(document) if e.get("bizStep") == "storing"]
    assert [e["regentrace:storageLocation"] for e in stored] == [
        "LN2 tank 2, rack 4, box 7",
        "Pharmacy LN2 vapour tank A",
    ]
    # The reading within the leg's range is data, not an alarm.
    [reading] = [e for e in events(document) if e.get("bizStep") == "sensor_reporting"]
    assert "exception" not in reading["sensorElementList"][0]["sensorReport"][0]
