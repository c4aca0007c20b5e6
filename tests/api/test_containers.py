"""Containers of a batch through the API on both databases (issue 18, item 1): a batch filled
into bags or vials before release, each with its identifier, volume and dose; shipments,
receipts, administrations and destruction naming containers; an allogeneic batch split into
doses for several patients, an autologous one given only to its patient; the lineage following
the containers; the source-and-flow record counting them."""

from __future__ import annotations

from typing import Any

from projections.epcis import batch_uri, container_uri
from tests.api.chain_documents import (
    CHAIN_OF_IDENTITY,
    COMMAND_RESULT,
    CONTROL,
    HOSPITAL,
    PATIENT,
    SPOKE,
    Timeline,
    delivered,
    donor_with_donation,
    network,
    qc,
    qc_input,
    release,
    released_lot,
    started_batch,
    transduction,
)
from tests.api.client import GraphQL
from tests.conftest import ledger_size
from tests.epcis import events, transformations, violations

CART = "CART-41000"
MSC = "MSC-42000"
MSC_DONATION = "NTUH-BM-2026-0042"
MSC_QC = (
    "STERILITY",
    "ENDOTOXIN",
    "MYCOPLASMA",
    "VIABILITY",
    "IDENTITY",
    "POTENCY",
    "PURITY",
    "KARYOTYPE",
)

MUTATIONS = {
    "recordBatchContainers": "RecordBatchContainersInput",
    "destroyBatchContainers": "DestroyBatchContainersInput",
    "dispatchShipment": "DispatchShipmentInput",
    "receiveShipment": "ReceiveShipmentInput",
    "recordAdministration": "RecordAdministrationInput",
    "reportAdverseEvent": "ReportAdverseEventInput",
    "registerSite": "RegisterSiteInput",
    "activateSite": "SiteStatusInput",
    "registerDonor": "RegisterDonorInput",
    "recordConsent": "RecordConsentInput",
    "determineEligibility": "DetermineEligibilityInput",
    "recordDonation": "RecordDonationInput",
    "startBatch": "StartBatchInput",
    "recordQcResult": "RecordQcResultInput",
    "releaseBatch": "ReleaseBatchInput",
}

TRACE = """
query ($kind: TraceNodeKind!, $id: ID!, $direction: TraceDirection!) {
  recallTrace(origin: {kind: $kind, id: $id}, direction: $direction) {
    nodes { kind id }
    edges { fromKind fromId toKind toId relation }
    affectedPatients
  }
}
"""

QUANTITIES = """
query ($id: ID!) {
  sourceAndFlow(batchId: $id) {
    quantity
    containers { containerId kind volumeMl dose doseUnit }
    flow { shipmentId quantity }
  }
}
"""


def document(field: str) -> str:
    name = field[0].upper() + field[1:]
    return f"""
mutation {name}($input: {MUTATIONS[field]}!) {{
  {field}(input: $input) {COMMAND_RESULT}
}}
"""


async def send(gql: GraphQL, field: str, input: dict[str, Any]) -> dict[str, Any]:
    data = await gql.data(document(field), {"input": input})
    result = data[field]
    assert isinstance(result, dict)
    return result


async def refused(gql: GraphQL, service: Any, field: str, input: dict[str, Any], code: str) -> str:
    """Send a command that must be refused with ``code``, storing nothing; answer the message."""
    before = ledger_size(service)
    body = await gql(document(field), {"input": input})
    assert ledger_size(service) == before, "a refused command stored something"
    assert [e.get("extensions", {}).get("code") for e in body.get("errors", [])] == [code], body
    message = body["errors"][0]["message"]
    assert isinstance(message, str)
    return message


def bag(container_id: str, **more: Any) -> dict[str, Any]:
    return {
        "containerId": container_id,
        "kind": "BAG",
        "volumeMl": 50.0,
        "dose": 1.0e8,
        "doseUnit": "CELLS",
        **more,
    }


def fill(batch: str, t: Timeline, *containers: dict[str, Any]) -> dict[str, Any]:
    return {
        "batchId": batch,
        "siteId": SPOKE,
        "filledAt": t(-12),
        "containers": list(containers),
    }


def given(
    batch: str, container: str | None, patient: str, t: Timeline, **more: Any
) -> dict[str, Any]:
    administration = {
        "batchId": batch,
        "siteId": HOSPITAL,
        "patientCode": patient,
        "administeredAt": t(-9),
        "identityVerified": True,
        **more,
    }
    if container is not None:
        administration["containerId"] = container
    return administration


async def autologous(gql: GraphQL, t: Timeline, bags: int = 2) -> None:
    """CART, made for PATIENT from its autologous donation, filled into ``bags`` bags."""
    await network(gql, t)
    await donor_with_donation(gql, t)
    await released_lot(gql, t)
    await started_batch(gql, t, CART)
    await transduction(gql, t, CART)
    await send(gql, "recordBatchContainers", fill(CART, t, *(bag(f"BAG-{n}") for n in range(bags))))
    await qc(gql, t, CART)
    await release(gql, t, CART)


async def allogeneic(gql: GraphQL, t: Timeline) -> None:
    """MSC, an allogeneic batch from an eligible donor's bone marrow, filled into three vials."""
    await network(gql, t)
    await send(gql, "registerDonor", {"donorCode": "DNR-0042"})
    await send(
        gql,
        "recordConsent",
        {"donorCode": "DNR-0042", "consentReference": "ICF-DNR-0042", "signedAt": t(-40)},
    )
    await send(
        gql,
        "determineEligibility",
        {
            "donorCode": "DNR-0042",
            "outcome": "ELIGIBLE",
            "criteriaVersion": "TFDA-RM-DS-2025.1",
            "screening": [
                {"test": marker, "result": f"{marker} non-reactive", "reactive": False}
                for marker in ("HIV", "HBV", "HCV", "HTLV", "SYPHILIS")
            ],
            "determinedAt": t(-39),
        },
    )
    await send(
        gql,
        "recordDonation",
        {
            "donationId": MSC_DONATION,
            "donorCode": "DNR-0042",
            "donationType": "ALLOGENEIC",
            "siteId": HOSPITAL,
            "material": "Bone marrow aspirate",
            "sourceTissue": "BONE_MARROW",
            "acquiredAt": t(-38),
        },
    )
    await send(
        gql,
        "startBatch",
        {
            "batchId": MSC,
            "product": "MSC-ALLO",
            "donationId": MSC_DONATION,
            "patientCode": "PT-4201",
            "controlSiteId": CONTROL,
            "siteId": SPOKE,
            "startedAt": t(-20),
        },
    )
    vials = (bag(f"V-{n}", kind="VIAL", volumeMl=5.0, dose=5.0e7) for n in range(1, 4))
    await send(gql, "recordBatchContainers", fill(MSC, t, *vials))
    for test in MSC_QC:
        await send(gql, "recordQcResult", qc_input(MSC, test, t))
    await send(
        gql,
        "releaseBatch",
        {"batchId": MSC, "signatureMeaning": "QP certification", "releasedAt": t(-10)},
    )


def shipment(shipment_id: str, batch: str, t: Timeline, *containers: str, **more: Any) -> dict:
    sent: dict[str, Any] = {
        "shipmentId": shipment_id,
        "batchIds": [batch],
        "fromSiteId": SPOKE,
        "toSiteId": HOSPITAL,
        "courier": "CryoLogistics (LN2 dry shipper)",
        "dispatchedAt": t(-9.9),
        **more,
    }
    if containers:
        sent["containers"] = [{"batchId": batch, "containerId": c} for c in containers]
    return sent


async def shipped(
    gql: GraphQL, t: Timeline, shipment_id: str, batch: str, *containers: str
) -> None:
    await send(gql, "dispatchShipment", shipment(shipment_id, batch, t, *containers))
    await send(
        gql,
        "receiveShipment",
        {"shipmentId": shipment_id, "receivedAt": t(-9.5), "conditionAcceptable": True},
    )


async def status(gql: GraphQL, batch: str) -> str:
    data = await gql.data("query ($id: ID!) { batch(id: $id) { status } }", {"id": batch})
    return str(data["batch"]["status"])


# ------------------------------------------------------------------------------------ filling


async def test_a_fill_is_refused_for_bad_containers_and_after_release(gql: GraphQL, service):
    t = Timeline.ending_weeks_ago()
    await network(gql, t)
    await donor_with_donation(gql, t)
    await released_lot(gql, t)
    await started_batch(gql, t, CART)
    await transduction(gql, t, CART)
    bad = {
        "twice": fill(CART, t, bag("BAG-1"), bag("BAG-1")),
        "slash": fill(CART, t, bag("BAG/1")),
        "no volume": fill(CART, t, bag("BAG-1", volumeMl=0.0)),
        "negative dose": fill(CART, t, bag("BAG-1", dose=-1.0)),
        "none": fill(CART, t),
    }
    for case, input in bad.items():
        message = await refused(gql, service, "recordBatchContainers", input, "BAD_INPUT")
        assert message, case
    early = fill(CART, t, bag("BAG-1")) | {"filledAt": t(-21)}
    assert "precedes the start" in await refused(
        gql, service, "recordBatchContainers", early, "RULE_VIOLATION"
    )

    await send(gql, "recordBatchContainers", fill(CART, t, bag("BAG-1")))
    again = fill(CART, t, bag("BAG-1"), bag("BAG-2"))
    assert "already has containers BAG-1" in await refused(
        gql, service, "recordBatchContainers", again, "RULE_VIOLATION"
    )
    await qc(gql, t, CART)
    await release(gql, t, CART)
    late = fill(CART, t, bag("BAG-2")) | {"filledAt": t(-9)}
    assert "is RELEASED" in await refused(
        gql, service, "recordBatchContainers", late, "RULE_VIOLATION"
    )


# ---------------------------------------------------------------------- shipping and giving


async def test_an_allogeneic_batch_is_split_into_doses_for_several_patients(gql: GraphQL, service):
    t = Timeline.ending_weeks_ago()
    await allogeneic(gql, t)
    await shipped(gql, t, "SHP-MSC-1", MSC, "V-1", "V-2")

    # V-3 stayed at the spoke: it cannot be given at the hospital.
    assert "has not been received" in await refused(
        gql, service, "recordAdministration", given(MSC, "V-3", "PT-4203", t), "RULE_VIOLATION"
    )
    await send(gql, "recordAdministration", given(MSC, "V-1", "PT-4201", t))
    await send(gql, "recordAdministration", given(MSC, "V-2", "PT-4202", t))
    assert "already administered" in await refused(
        gql, service, "recordAdministration", given(MSC, "V-2", "PT-4209", t), "RULE_VIOLATION"
    )
    assert "name the container" in await refused(
        gql, service, "recordAdministration", given(MSC, None, "PT-4201", t), "RULE_VIOLATION"
    )
    assert await status(gql, MSC) == "DISTRIBUTED", "one vial is left to give"

    await shipped(gql, t, "SHP-MSC-2", MSC, "V-3")
    await send(gql, "recordAdministration", given(MSC, "V-3", "PT-4203", t))
    assert await status(gql, MSC) == "ADMINISTERED"

    # Each patient's reaction is reported against the batch the patient received a vial of.
    reaction = {
        "adverseEventId": "AE-4202",
        "batchId": MSC,
        "patientCode": "PT-4202",
        "reportedBySiteId": HOSPITAL,
        "serious": False,
        "description": "transient fever after infusion",
        "onsetAt": t(-8.5),
        "awareAt": t(-8),
    }
    await send(gql, "reportAdverseEvent", reaction)
    stranger = reaction | {"adverseEventId": "AE-4299", "patientCode": "PT-4299"}
    assert "was not administered" in await refused(
        gql, service, "reportAdverseEvent", stranger, "RULE_VIOLATION"
    )


async def test_an_autologous_container_goes_only_to_its_patient(gql: GraphQL, service):
    t = Timeline.ending_weeks_ago()
    await autologous(gql, t)
    await shipped(gql, t, "SHP-CART", CART)  # no container named: every bag travels

    other = given(CART, "BAG-0", "PT-9999", t, chainOfIdentityId=CHAIN_OF_IDENTITY)
    assert "chain-of-identity check failed" in await refused(
        gql, service, "recordAdministration", other, "RULE_VIOLATION"
    )
    unknown = given(CART, "BAG-7", PATIENT, t, chainOfIdentityId=CHAIN_OF_IDENTITY)
    assert "has no container 'BAG-7'" in await refused(
        gql, service, "recordAdministration", unknown, "RULE_VIOLATION"
    )
    for container in ("BAG-0", "BAG-1"):
        bedside = given(CART, container, PATIENT, t, chainOfIdentityId=CHAIN_OF_IDENTITY)
        await send(gql, "recordAdministration", bedside)
    assert await status(gql, CART) == "ADMINISTERED"


async def test_a_dispatch_names_only_containers_ready_where_it_leaves(gql: GraphQL, service):
    t = Timeline.ending_weeks_ago()
    await allogeneic(gql, t)
    foreign = shipment("SHP-X", MSC, t) | {
        "containers": [{"batchId": "MSC-OTHER", "containerId": "V-1"}]
    }
    assert "does not carry" in await refused(gql, service, "dispatchShipment", foreign, "BAD_INPUT")
    unknown = shipment("SHP-X", MSC, t, "V-9")
    assert "has no container 'V-9'" in await refused(
        gql, service, "dispatchShipment", unknown, "RULE_VIOLATION"
    )
    await send(gql, "dispatchShipment", shipment("SHP-MSC-1", MSC, t, "V-1"))
    twice = shipment("SHP-MSC-2", MSC, t, "V-1")
    assert "in transit in 'SHP-MSC-1'" in await refused(
        gql, service, "dispatchShipment", twice, "RULE_VIOLATION"
    )
    # Not naming any: the vials left at the spoke travel.
    await send(gql, "dispatchShipment", shipment("SHP-MSC-2", MSC, t))
    empty = shipment("SHP-MSC-3", MSC, t)
    assert "no container left" in await refused(
        gql, service, "dispatchShipment", empty, "RULE_VIOLATION"
    )


async def test_a_batch_never_filled_ships_whole_and_refuses_container_names(gql: GraphQL, service):
    t = Timeline.ending_weeks_ago()
    await network(gql, t)
    await donor_with_donation(gql, t)
    await released_lot(gql, t)
    await started_batch(gql, t, CART)
    await transduction(gql, t, CART)
    await qc(gql, t, CART)
    await release(gql, t, CART)
    named = shipment("SHP-CART", CART, t, "BAG-1")
    assert "was not filled into containers" in await refused(
        gql, service, "dispatchShipment", named, "RULE_VIOLATION"
    )
    await delivered(gql, t, CART)
    record = (await gql.data(QUANTITIES, {"id": CART}))["sourceAndFlow"]
    assert record["quantity"] == 1
    assert record["flow"] == [{"shipmentId": f"SHP-{CART}", "quantity": 1}]


async def test_destroying_some_containers_leaves_the_rest_usable(gql: GraphQL, service):
    t = Timeline.ending_weeks_ago()
    await allogeneic(gql, t)
    destroy = {
        "batchId": MSC,
        "containerIds": ["V-2"],
        "reason": "bag breach",
        "decidedAt": t(-9.8),
    }
    await send(gql, "destroyBatchContainers", destroy)
    assert "already used" in await refused(
        gql, service, "destroyBatchContainers", destroy, "RULE_VIOLATION"
    )
    assert await status(gql, MSC) == "RELEASED"
    await shipped(gql, t, "SHP-MSC-1", MSC)  # V-1 and V-3: the destroyed vial stays behind
    record = (await gql.data(QUANTITIES, {"id": MSC}))["sourceAndFlow"]
    assert record["flow"] == [{"shipmentId": "SHP-MSC-1", "quantity": 2}]
    destroy_rest = destroy | {"containerIds": ["V-1", "V-3"], "decidedAt": t(-9)}
    await send(gql, "destroyBatchContainers", destroy_rest)
    assert await status(gql, MSC) == "DESTROYED"


# --------------------------------------------------------------------- lineage and quantities


async def test_the_lineage_follows_containers_to_their_patients(gql: GraphQL, service):
    t = Timeline.ending_weeks_ago()
    await allogeneic(gql, t)
    await shipped(gql, t, "SHP-MSC-1", MSC, "V-1", "V-2")
    await send(gql, "recordAdministration", given(MSC, "V-1", "PT-4201", t))
    await send(gql, "recordAdministration", given(MSC, "V-2", "PT-4202", t))

    variables = {"kind": "CONTAINER", "id": f"{MSC}/V-2", "direction": "FORWARD"}
    forward = (await gql.data(TRACE, variables))["recallTrace"]
    assert forward["affectedPatients"] == ["PT-4202"], "only the patient given V-2"
    assert {"kind": "SHIPMENT", "id": "SHP-MSC-1"} in forward["nodes"]

    variables = {"kind": "BATCH", "id": MSC, "direction": "FORWARD"}
    whole = (await gql.data(TRACE, variables))["recallTrace"]
    assert whole["affectedPatients"] == ["PT-4201", "PT-4202"]
    containers = sorted(n["id"] for n in whole["nodes"] if n["kind"] == "CONTAINER")
    assert containers == [f"{MSC}/V-1", f"{MSC}/V-2", f"{MSC}/V-3"]

    variables = {"kind": "PATIENT", "id": "PT-4202", "direction": "BACKWARD"}
    back = (await gql.data(TRACE, variables))["recallTrace"]
    kinds = {(n["kind"], n["id"]) for n in back["nodes"]}
    assert {("CONTAINER", f"{MSC}/V-2"), ("BATCH", MSC), ("DONATION", MSC_DONATION)} <= kinds
    assert ("CONTAINER", f"{MSC}/V-1") not in kinds


async def test_source_and_flow_counts_containers_made_and_delivered(gql: GraphQL, service):
    t = Timeline.ending_weeks_ago()
    await allogeneic(gql, t)
    await shipped(gql, t, "SHP-MSC-1", MSC, "V-1", "V-2")
    await shipped(gql, t, "SHP-MSC-2", MSC, "V-3")
    record = (await gql.data(QUANTITIES, {"id": MSC}))["sourceAndFlow"]
    assert record["quantity"] == 3
    assert record["containers"][0] == {
        "containerId": "V-1",
        "kind": "VIAL",
        "volumeMl": 5.0,
        "dose": 5.0e7,
        "doseUnit": "CELLS",
    }
    assert record["flow"] == [
        {"shipmentId": "SHP-MSC-1", "quantity": 2},
        {"shipmentId": "SHP-MSC-2", "quantity": 1},
    ]


# ------------------------------------------------------------------------------------- EPCIS

EPCIS = "query ($scope: EpcisScopeInput!) { epcisDocument(scope: $scope) }"


async def test_the_epcis_split_and_shipments_are_the_lineage_of_the_recall_trace(
    gql: GraphQL, service
):
    t = Timeline.ending_weeks_ago()
    await allogeneic(gql, t)
    await shipped(gql, t, "SHP-MSC-1", MSC, "V-1", "V-2")
    await send(gql, "recordAdministration", given(MSC, "V-1", "PT-4201", t))
    document = (await gql.data(EPCIS, {"scope": {"batchId": MSC}}))["epcisDocument"]
    assert violations(document) == []

    variables = {"kind": "BATCH", "id": MSC, "direction": "FORWARD"}
    traced = (await gql.data(TRACE, variables))["recallTrace"]
    containers = {n["id"] for n in traced["nodes"] if n["kind"] == "CONTAINER"}
    split = {made for given, made in transformations(document) if given == batch_uri(MSC)}
    assert split == {container_uri(c) for c in containers}

    shipped_in = {
        (e["fromId"], e["toId"])
        for e in traced["edges"]
        if (e["fromKind"], e["toKind"]) == ("CONTAINER", "SHIPMENT")
    }
    shipping = [e for e in events(document) if e.get("bizStep") == "shipping"]
    carried = {
        (epc, "SHP-MSC-1")
        for e in shipping
        for epc in e["epcList"]
        if epc.startswith("urn:regentrace:container:")
    }
    assert carried == {(container_uri(c), s) for c, s in shipped_in}
    assert [e["quantityList"] for e in shipping] == [[{"epcClass": batch_uri(MSC), "quantity": 2}]]
    fill_event = next(e for e in events(document) if "inputQuantityList" in e)
    assert fill_event["inputQuantityList"] == [
        {"epcClass": batch_uri(MSC), "quantity": 15.0, "uom": "MLT"}
    ]
    dispensed = [e["epcList"] for e in events(document) if e.get("bizStep") == "dispensing"]
    assert dispensed == [[container_uri(f"{MSC}/V-1")]]


RECALL = """
mutation ($input: InitiateRecallInput!) {
  initiateRecall(input: $input) { id units { batchId accountedFor } }
}
"""


async def test_a_recall_from_a_container_recalls_its_batch_and_a_missing_one_is_not_found(
    gql: GraphQL, service
):
    t = Timeline.ending_weeks_ago()
    await allogeneic(gql, t)
    await shipped(gql, t, "SHP-MSC-1", MSC, "V-1", "V-2")
    await send(gql, "recordAdministration", given(MSC, "V-1", "PT-4201", t))

    def recall(container: str) -> dict[str, Any]:
        origin = {"kind": "CONTAINER", "id": f"{MSC}/{container}"}
        return {"recallId": f"RCL-{container}", "origin": origin, "reason": "bag leak"}

    before = ledger_size(service)
    body = await gql(RECALL, {"input": recall("V-9")})
    assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"], body
    assert ledger_size(service) == before, "a recall of no container stored something"

    answer = (await gql.data(RECALL, {"input": recall("V-2")}))["initiateRecall"]
    # The container's batch is recalled: each of its containers is a unit to account for.
    assert [u["batchId"] for u in answer["units"]] == [MSC] * 3
    assert await status(gql, MSC) == "RECALLED"
