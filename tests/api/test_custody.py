"""Custody before the finished product through the API on both databases (issue 18, item 2):
starting material shipped from the collection site to the manufacturing site with its
temperatures and receipt, and material lots transferred between sites and used only where they
are. Each rule refuses with its code and stores nothing."""

from __future__ import annotations

from typing import Any

from api.wiring import Regentrace
from domain import holds
from tests.api.chain_documents import (
    COMMAND_RESULT,
    CONTROL,
    DIN,
    DIN_LABELLED,
    HOSPITAL,
    PATIENT,
    PRODUCT,
    SPOKE,
    VECTOR_LOT,
    Timeline,
    donor_with_donation,
    network,
    released_lot,
    started_batch,
)
from tests.api.client import GraphQL
from tests.conftest import ledger_size

BATCH = "CART-44000"


def document(field: str, input_type: str) -> str:
    return f"mutation ($input: {input_type}!) {{ {field}(input: $input) {COMMAND_RESULT} }}"


SHIP = document("shipDonation", "ShipDonationInput")
TEMPERATURE = document("recordDonationTemperature", "DonationTemperatureInput")
RECEIVE = document("receiveDonationShipment", "ReceiveDonationShipmentInput")
TRANSFER = document("transferMaterialLot", "TransferMaterialLotInput")
RECEIVE_LOT = document("receiveMaterialLotTransfer", "ReceiveMaterialLotTransferInput")
START = document("startBatch", "StartBatchInput")
STEP = document("recordBatchStep", "RecordBatchStepInput")
HOLDS = "query ($id: ID!) { batch(id: $id) { held holds { kind description active } } }"


async def refused(
    gql: GraphQL, service: Any, document: str, input: dict[str, Any], code: str
) -> dict[str, Any]:
    before = ledger_size(service)
    body = await gql(document, {"input": input})
    assert ledger_size(service) == before, "a refused command stored something"
    assert [e["extensions"]["code"] for e in body["errors"]] == [code], body
    error: dict[str, Any] = body["errors"][0]
    return error


def shipment(t: Timeline, **more: Any) -> dict[str, Any]:
    return {
        "donationId": DIN_LABELLED,
        "shipmentId": "APH-SHIP-1",
        "toSiteId": SPOKE,
        "courier": "Cryoport Taiwan",
        "dispatchedAt": t(-37.5),
        "minCelsius": 2.0,
        "maxCelsius": 8.0,
        **more,
    }


def start(t: Timeline, days: float = -20) -> dict[str, Any]:
    return {
        "batchId": BATCH,
        "product": PRODUCT,
        "donationId": DIN_LABELLED,
        "patientCode": PATIENT,
        "controlSiteId": CONTROL,
        "siteId": SPOKE,
        "startedAt": t(days),
    }


def received(t: Timeline, acceptable: bool = True) -> dict[str, Any]:
    return {
        "donationId": DIN_LABELLED,
        "shipmentId": "APH-SHIP-1",
        "receivedAt": t(-37),
        "conditionAcceptable": acceptable,
    }


async def test_a_shipped_donation_is_made_only_where_it_was_received(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await network(gql, t)
    await donor_with_donation(gql, t)
    await gql.data(SHIP, {"input": shipment(t)})

    # In transit: no batch is started from it, and it is not shipped again.
    error = await refused(gql, service, START, start(t, -37.2), "RULE_VIOLATION")
    assert error["extensions"]["reason"] == "STARTING_MATERIAL_ELSEWHERE"
    assert "in transit on leg 'APH-SHIP-1'" in error["message"]
    again = shipment(t, shipmentId="APH-SHIP-2", dispatchedAt=t(-37.4), toSiteId=CONTROL)
    assert await refused(gql, service, SHIP, again, "RULE_VIOLATION")

    await gql.data(RECEIVE, {"input": received(t)})
    assert await refused(gql, service, RECEIVE, received(t), "RULE_VIOLATION")  # once only
    # Before its receipt in business time, it was not there either.
    error = await refused(gql, service, START, start(t, -37.3), "RULE_VIOLATION")
    assert error["extensions"]["reason"] == "STARTING_MATERIAL_ELSEWHERE"

    await gql.data(START, {"input": start(t)})
    body = await gql.data(HOLDS, {"id": BATCH})
    assert body["batch"] == {"held": False, "holds": []}


async def test_a_donation_never_shipped_is_started_as_before(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await network(gql, t)
    await donor_with_donation(gql, t)
    await started_batch(gql, t, BATCH)  # collected at the hospital, made at the spoke


async def test_an_excursion_on_the_way_holds_what_is_made_from_the_donation(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await network(gql, t)
    await donor_with_donation(gql, t)
    await gql.data(SHIP, {"input": shipment(t)})
    reading = {
        "donationId": DIN,
        "shipmentId": "APH-SHIP-1",
        "observedAt": t(-37.3),
        "temperatureCelsius": 5.0,
        "durationMinutes": 30,
    }
    await gql.data(TEMPERATURE, {"input": reading})  # inside the range: data only
    await gql.data(TEMPERATURE, {"input": reading | {"temperatureCelsius": 14.5}})
    await gql.data(RECEIVE, {"input": received(t)})
    # After the receipt no reading is added to the leg.
    late = reading | {"observedAt": t(-36.9)}
    assert await refused(gql, service, TEMPERATURE, late, "RULE_VIOLATION")

    await gql.data(START, {"input": start(t)})
    body = await gql.data(HOLDS, {"id": BATCH})
    assert body["batch"]["held"] is True
    [hold] = body["batch"]["holds"]
    assert hold["kind"] == "TEMPERATURE_EXCURSION"
    assert hold["active"]
    assert "leg APH-SHIP-1: 14.5 °C for 30 min" in hold["description"]
    derived = holds.active_holds(service.app, BATCH)
    assert [r.kind for r in derived] == ["TEMPERATURE_EXCURSION"]


async def test_a_donation_received_in_unacceptable_condition_starts_no_batch(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await network(gql, t)
    await donor_with_donation(gql, t)
    await gql.data(SHIP, {"input": shipment(t)})
    await gql.data(RECEIVE, {"input": received(t, acceptable=False)})
    error = await refused(gql, service, START, start(t), "RULE_VIOLATION")
    assert error["extensions"]["reason"] == "STARTING_MATERIAL_UNACCEPTABLE"


async def test_bad_starting_material_shipments_are_refused(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await network(gql, t)
    await donor_with_donation(gql, t)
    for bad in (
        shipment(t, minCelsius=9.0),
        shipment(t, courier=" "),
        shipment(t, shipmentId=""),
    ):
        assert await refused(gql, service, SHIP, bad, "BAD_INPUT")
    already_there = shipment(t, toSiteId=HOSPITAL)
    assert await refused(gql, service, SHIP, already_there, "RULE_VIOLATION")
    before_collection = shipment(t, dispatchedAt=t(-38.5))
    assert await refused(gql, service, SHIP, before_collection, "RULE_VIOLATION")
    never_shipped = received(t) | {"shipmentId": "APH-NONE"}
    assert await refused(gql, service, RECEIVE, never_shipped, "RULE_VIOLATION")


# ------------------------------------------------------------------------------ material lots


def transfer(t: Timeline, days: float, frm: str, to: str, leg: str) -> dict[str, Any]:
    return {
        "lotId": VECTOR_LOT,
        "transferId": leg,
        "fromSiteId": frm,
        "toSiteId": to,
        "courier": "Formosa Cold Chain",
        "dispatchedAt": t(days),
    }


def lot_receipt(t: Timeline, days: float, leg: str) -> dict[str, Any]:
    return {
        "lotId": VECTOR_LOT,
        "transferId": leg,
        "receivedAt": t(days),
        "conditionAcceptable": True,
    }


def step(t: Timeline, days: float) -> dict[str, Any]:
    return {
        "batchId": BATCH,
        "step": f"Lentiviral transduction {days}",
        "siteId": SPOKE,
        "startedAt": t(days),
        "completedAt": t(days + 0.1),
        "operator": "op-tw-mu-hsinchu",
        "materialLots": [VECTOR_LOT],
    }


async def test_a_lot_is_used_only_where_it_is(gql: GraphQL, service: Regentrace) -> None:
    t = Timeline.ending_weeks_ago()
    await network(gql, t)
    await donor_with_donation(gql, t)
    await released_lot(gql, t)  # received at the spoke
    await started_batch(gql, t, BATCH)
    await gql.data(STEP, {"input": step(t, -19.5)})  # at the spoke, where the lot is

    await gql.data(TRANSFER, {"input": transfer(t, -19, SPOKE, CONTROL, "TR-1")})
    error = await refused(gql, service, STEP, step(t, -18.5), "RULE_VIOLATION")
    assert error["extensions"]["reason"] == "MATERIAL_LOT_ELSEWHERE"
    assert "in transit on leg 'TR-1'" in error["message"]
    # Not dispatched again while in transit, nor received twice, nor from where it is not.
    on_the_way = transfer(t, -18.9, CONTROL, HOSPITAL, "TR-2")
    assert await refused(gql, service, TRANSFER, on_the_way, "RULE_VIOLATION")
    await gql.data(RECEIVE_LOT, {"input": lot_receipt(t, -18.8, "TR-1")})
    assert await refused(gql, service, RECEIVE_LOT, lot_receipt(t, -18.7, "TR-1"), "RULE_VIOLATION")
    wrong_origin = transfer(t, -18.6, SPOKE, HOSPITAL, "TR-2")
    assert await refused(gql, service, TRANSFER, wrong_origin, "RULE_VIOLATION")

    # At the control site now: the spoke cannot use it, until it comes back.
    error = await refused(gql, service, STEP, step(t, -18.5), "RULE_VIOLATION")
    assert "at site 'TW-CTRL-TPE'" in error["message"]
    await gql.data(TRANSFER, {"input": transfer(t, -18, CONTROL, SPOKE, "TR-2")})
    await gql.data(RECEIVE_LOT, {"input": lot_receipt(t, -17.5, "TR-2")})
    await gql.data(STEP, {"input": step(t, -17)})
    # A step dated while the lot was away is still refused.
    error = await refused(gql, service, STEP, step(t, -18.2), "RULE_VIOLATION")
    assert error["extensions"]["reason"] == "MATERIAL_LOT_ELSEWHERE"


async def test_bad_lot_transfers_are_refused(gql: GraphQL, service: Regentrace) -> None:
    t = Timeline.ending_weeks_ago()
    await network(gql, t)
    await released_lot(gql, t)
    same = transfer(t, -30, SPOKE, SPOKE, "TR-1")
    assert await refused(gql, service, TRANSFER, same, "BAD_INPUT")
    no_courier = transfer(t, -30, SPOKE, CONTROL, "TR-1") | {"courier": ""}
    assert await refused(gql, service, TRANSFER, no_courier, "BAD_INPUT")
    before_receipt = transfer(t, -37.5, SPOKE, CONTROL, "TR-1")
    assert await refused(gql, service, TRANSFER, before_receipt, "RULE_VIOLATION")
    never = lot_receipt(t, -29, "TR-NONE")
    assert await refused(gql, service, RECEIVE_LOT, never, "RULE_VIOLATION")
