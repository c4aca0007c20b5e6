"""A whole donor-to-patient chain through the partner contract, on each database: every command
answers a CommandResult further along the ledger, and the queries show the batch as it stands and
as it stood."""

from __future__ import annotations

from datetime import datetime

import pytest

from api.settings import Settings
from tests.api.chain_documents import (
    BATCHES,
    CHAIN_OF_IDENTITY,
    CONTROL,
    DIN,
    DIN_LABELLED,
    DONOR_CODE,
    HOSPITAL,
    PATIENT,
    PRODUCT,
    REQUIRED_QC,
    SPOKE,
    VECTOR_LOT,
    Timeline,
    batch,
    batches,
    dispatch_input,
    donor,
    donor_with_donation,
    moment,
    network,
    qc,
    qc_input,
    refused,
    release,
    released_lot,
    run,
    started_batch,
    transduction,
)
from tests.api.client import GraphQL
from tests.conftest import ledger_size

BATCH = "CART-26000"


def same_moment(a: str, b: str) -> bool:
    return datetime.fromisoformat(a) == datetime.fromisoformat(b)


async def test_a_complete_chain_runs_from_site_registration_to_the_authority_report(
    gql: GraphQL, service, settings: Settings
):
    t = Timeline.ending_weeks_ago()
    results = []
    results += await network(gql, t)
    results += await donor_with_donation(
        gql,
        t,
        donation=DIN_LABELLED,  # as printed on the label: 13 characters and the check character
        personal_data={"name": "Chen Wei", "dateOfBirth": "1979-04-02"},
    )
    results += await released_lot(gql, t)
    results.append(await started_batch(gql, t, BATCH))
    results.append(await transduction(gql, t, BATCH))
    results += await qc(gql, t, BATCH)
    results.append(
        await run(
            gql,
            "openDeviation",
            {
                "batchId": BATCH,
                "deviationId": "DEV-2025-118",
                "description": "Incubator CO2 alarm for 40 minutes during expansion",
            },
        )
    )
    results.append(
        await run(
            gql,
            "closeDeviation",
            {
                "batchId": BATCH,
                "deviationId": "DEV-2025-118",
                "resolution": "CO2 recovered within limits; no impact on CQAs",
            },
        )
    )
    before_release = await moment()
    results.append(await release(gql, t, BATCH))
    results.append(await run(gql, "dispatchShipment", dispatch_input(BATCH, t)))
    results.append(
        await run(
            gql,
            "recordTemperatureExcursion",
            {
                "shipmentId": f"SHP-{BATCH}",
                "observedAt": t(-9.7),
                "temperatureCelsius": -128.5,
                "durationMinutes": 14,
            },
        )
    )
    # -128.5 °C is outside the product's LN2-vapour range: the batch is held until the control
    # site's quality person judges the excursion (stability data) and lifts the hold.
    excursion = f"TEMPERATURE_EXCURSION:Shipment:SHP-{BATCH}@{results[-1]['version']}"
    results.append(
        await run(
            gql,
            "liftBatchHold",
            {
                "batchId": BATCH,
                "holdKeys": [excursion],
                "reason": "14 min at -128.5 °C is within the validated transport excursion",
                "signatureMeaning": "QP decision: hold lifted",
                "liftedAt": t(-9.6),
            },
        )
    )
    results.append(
        await run(
            gql,
            "receiveShipment",
            {"shipmentId": f"SHP-{BATCH}", "receivedAt": t(-9.5), "conditionAcceptable": True},
        )
    )
    results.append(
        await run(
            gql,
            "recordAdministration",
            {
                "batchId": BATCH,
                "siteId": HOSPITAL,
                "patientCode": PATIENT,
                "administeredAt": t(-9),
                "identityVerified": True,
                "chainOfIdentityId": CHAIN_OF_IDENTITY,
            },
        )
    )
    results.append(
        await run(
            gql,
            "reportAdverseEvent",
            {
                "adverseEventId": f"AE-{BATCH}",
                "batchId": BATCH,
                "patientCode": PATIENT,
                "reportedBySiteId": HOSPITAL,
                "serious": True,
                "description": "Cytokine release syndrome grade 3 (ASTCT)",
                "onsetAt": t(-8),
                "awareAt": t(-7.9),
            },
        )
    )
    results.append(
        await run(
            gql,
            "submitAdverseEventToAuthority",
            {"adverseEventId": f"AE-{BATCH}", "authority": "TFDA", "submittedAt": t(-7)},
        )
    )

    positions = [r["position"] for r in results]
    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions), "two commands answered the same position"
    assert positions[-1] == ledger_size(service)
    by_aggregate = {r["aggregateId"] for r in results}
    assert {
        f"Site:{CONTROL}",
        f"Donor:{DONOR_CODE}",
        f"Donation:{DIN}",
        f"MaterialLot:{VECTOR_LOT}",
        f"Batch:{BATCH}",
        f"Shipment:SHP-{BATCH}",
        f"AdverseEvent:AE-{BATCH}",
    } <= by_aggregate

    now = await batch(gql, BATCH)
    assert now is not None
    assert now["status"] == "ADMINISTERED"
    assert now["location"] == HOSPITAL
    assert now["product"] == PRODUCT
    assert now["donationId"] == DIN, "a DIN written with its check character is kept as 13"
    assert now["donorCode"] == DONOR_CODE
    assert now["patientCode"] == PATIENT
    assert (now["controlSiteId"], now["siteId"]) == (CONTROL, SPOKE)
    assert same_moment(now["startedAt"], t(-20))
    assert now["release"]["qualifiedPerson"] == settings.dev_principal
    assert now["release"]["signatureMeaning"] == "QP certification"
    assert same_moment(now["release"]["releasedAt"], t(-10))
    assert (now["affected"], now["affectedBy"]) == (False, [])

    then = await batch(gql, BATCH, as_of=before_release)
    assert then is not None
    assert then["status"] == "IN_PROCESS"
    assert then["release"] is None
    assert then["location"] == SPOKE

    found = await donor(gql, DONOR_CODE)
    assert found == {
        "code": DONOR_CODE,
        "registeredAt": found["registeredAt"],
        "consent": {
            "reference": f"ICF-{DONOR_CODE}",
            "signedAt": found["consent"]["signedAt"],
            "legalRepresentative": None,
            "notarised": False,
            "withdrawnAt": None,
        },
        "eligibility": {
            "outcome": "ELIGIBLE",
            "determinedAt": found["eligibility"]["determinedAt"],
            "determinedBy": settings.dev_principal,
            "criteriaVersion": "TFDA-RM-DS-2025.1",
            "revoked": False,
        },
    }
    assert same_moment(found["consent"]["signedAt"], t(-40))
    assert same_moment(found["eligibility"]["determinedAt"], t(-39))
    assert await donor(gql, "DNR-NOBODY") is None
    assert await batch(gql, "CART-NOTHING") is None

    listed = await batches(gql, filter={"donorCode": DONOR_CODE, "status": "ADMINISTERED"})
    assert [n["id"] for n in listed["nodes"]] == [BATCH]
    assert listed["pageInfo"]["hasNextPage"] is False


async def test_each_qc_result_of_the_product_is_needed_before_release(gql: GraphQL, service):
    t = Timeline.ending_weeks_ago()
    await network(gql, t)
    await donor_with_donation(gql, t)
    await released_lot(gql, t)
    await started_batch(gql, t, BATCH)
    await transduction(gql, t, BATCH)
    await qc(gql, t, BATCH, REQUIRED_QC[:-1])

    error = await refused(
        gql,
        service,
        "releaseBatch",
        {"batchId": BATCH, "signatureMeaning": "QP certification", "releasedAt": t(-10)},
        "RULE_VIOLATION",
    )
    assert REQUIRED_QC[-1] in error["message"]

    await run(gql, "recordQcResult", qc_input(BATCH, REQUIRED_QC[-1].lower(), t))
    await release(gql, t, BATCH)
    released = await batch(gql, BATCH)
    assert released is not None
    assert released["status"] == "RELEASED"
    assert released["location"] == SPOKE


# --------------------------------------------------------------------------------- pagination

PAGED = [f"CART-{26100 + n}" for n in range(5)]


async def five_batches(gql: GraphQL) -> None:
    t = Timeline.ending_weeks_ago()
    await network(gql, t)
    await donor_with_donation(gql, t)
    for batch_id in reversed(PAGED):  # started out of id order
        # One autologous donation serves one patient: these are re-manufactures for PATIENT.
        await started_batch(gql, t, batch_id, donation=DIN, patient=PATIENT)
    await donor_with_donation(
        gql, t, donor="DNR-0002", donation="G123498654321H", patient="PT-OTHER"
    )
    await started_batch(gql, t, "CART-00001", donation="G123498654321", patient="PT-OTHER")


async def test_batches_are_paged_in_id_order_with_cursors_that_continue_where_a_page_ended(
    gql: GraphQL,
):
    await five_batches(gql)

    pages = []
    after = None
    while True:
        page = await batches(gql, filter={"donorCode": DONOR_CODE}, first=2, after=after)
        pages.append([n["id"] for n in page["nodes"]])
        info = page["pageInfo"]
        if not info["hasNextPage"]:
            break
        assert info["endCursor"]
        after = info["endCursor"]
        assert len(pages) < 10, "the pages never end"

    assert pages == [PAGED[0:2], PAGED[2:4], PAGED[4:5]]
    assert page["pageInfo"]["endCursor"], "the last page still names where it ended"

    everything = await batches(gql, first=500)
    assert [n["id"] for n in everything["nodes"]] == ["CART-00001", *PAGED]
    assert everything["pageInfo"]["hasNextPage"] is False

    exact = await batches(gql, filter={"donorCode": DONOR_CODE}, first=5)
    assert [n["id"] for n in exact["nodes"]] == PAGED
    assert exact["pageInfo"]["hasNextPage"] is False

    default = await batches(gql)
    assert len(default["nodes"]) == 6


async def test_batches_filter_by_status_and_control_site(gql: GraphQL):
    await five_batches(gql)

    in_process = await batches(gql, filter={"status": "IN_PROCESS", "controlSiteId": CONTROL})
    assert len(in_process["nodes"]) == 6
    assert await batches(gql, filter={"status": "RELEASED"}) == {
        "nodes": [],
        "pageInfo": {"hasNextPage": False, "endCursor": None},
    }
    assert (await batches(gql, filter={"controlSiteId": "TW-CTRL-ELSEWHERE"}))["nodes"] == []


async def test_an_empty_page_after_the_last_batch_has_no_next_page(gql: GraphQL):
    await five_batches(gql)
    last = await batches(gql, first=6)

    beyond = await batches(gql, first=2, after=last["pageInfo"]["endCursor"])

    assert beyond == {"nodes": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}


async def batches_refused(gql: GraphQL, variables: dict, field: str) -> dict:
    body = await gql(BATCHES, variables)
    assert "errors" in body, body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_INPUT"], body
    assert body.get("data") is None, body
    error = body["errors"][0]
    assert error["extensions"].get("field") == field, error
    return error


@pytest.mark.parametrize("first", [0, -1, 501])
async def test_a_page_size_outside_one_to_five_hundred_is_bad_input(gql: GraphQL, first):
    await five_batches(gql)

    error = await batches_refused(gql, {"first": first}, "first")

    assert "500" in error["message"]


@pytest.mark.parametrize("cursor", ["not a cursor!", "////", "\u00e9t\u00e9"])
async def test_a_cursor_the_service_never_issued_is_bad_input(gql: GraphQL, cursor):
    await five_batches(gql)

    error = await batches_refused(gql, {"first": 2, "after": cursor}, "after")

    assert "cursor" in error["message"]


@pytest.mark.parametrize(
    "cursor",
    ["", "%%%", "!!!!" + "Q0FSVC0yNjEwMA=="],
    ids=["empty", "no-base64-characters", "junk-before-a-real-cursor"],
)
async def test_a_cursor_that_decodes_only_by_ignoring_junk_is_bad_input_not_a_page(
    gql: GraphQL, cursor
):
    """No cursor this service issues is empty or carries characters outside base64url."""
    await five_batches(gql)

    await batches_refused(gql, {"first": 2, "after": cursor}, "after")
