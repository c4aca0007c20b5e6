"""ISBT 128 identifiers through the API: wherever a donation is shown its DIN is shown in parts,
a patient code that is a Chain of Identity identifier likewise, and a DIN or Chain of Identity
identifier that does not check out is refused, naming what is wrong, with nothing stored."""

from __future__ import annotations

import pytest

from tests.api.chain_documents import (
    DIN,
    DONOR_CODE,
    HOSPITAL,
    Timeline,
    donor_with_donation,
    network,
    refused,
    released_lot,
    run,
    started_batch,
)
from tests.api.client import GraphQL

pytestmark = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)

BATCH = "CART-26000"
COI = "CHT041726AB12CD"
DIN_PARTS = "{ din facilityCode year sequenceNumber checkCharacter labelled checkFlags }"
SHOWN = f"""
query Shown($id: ID!) {{
  batch(id: $id) {{
    donationId din {DIN_PARTS} chainOfIdentity {{ value facilityCode year identifier }}
  }}
  sourceAndFlow(batchId: $id) {{ source {{ donationId din {DIN_PARTS} }} }}
}}
"""
EXPECTED_PARTS = {
    "din": "A999921123456",
    "facilityCode": "A9999",
    "year": "21",
    "sequenceNumber": "123456",
    "checkCharacter": "3",
    "labelled": "A9999211234563",
    "checkFlags": "63",
}


def donation(t: Timeline, donation_id: str) -> dict:
    return {
        "donationId": donation_id,
        "donorCode": DONOR_CODE,
        "donationType": "AUTOLOGOUS",
        "siteId": HOSPITAL,
        "material": "Leukapheresis product",
        "sourceTissue": "PERIPHERAL_BLOOD_APHERESIS",
        "acquiredAt": t(-38),
    }


@pytest.mark.parametrize(
    "written", [DIN, DIN + "3", DIN + "63", DIN + "00", "a999921123456 3"[:-2]]
)
async def test_a_batch_and_its_source_record_show_the_din_in_parts(gql: GraphQL, written: str):
    t = Timeline.ending_weeks_ago()
    await network(gql, t)
    await donor_with_donation(gql, t, donation=written, patient=COI)
    await released_lot(gql, t)
    await started_batch(gql, t, BATCH, donation=written, patient=COI)

    shown = await gql.data(SHOWN, {"id": BATCH})

    assert shown["batch"]["donationId"] == DIN
    assert shown["batch"]["din"] == EXPECTED_PARTS
    assert shown["sourceAndFlow"]["source"]["din"] == EXPECTED_PARTS
    assert shown["batch"]["chainOfIdentity"] == {
        "value": COI,
        "facilityCode": "T0417",
        "year": "26",
        "identifier": "AB12CD",
    }


async def test_a_local_donation_identifier_has_no_din_parts(gql: GraphQL):
    t = Timeline.ending_weeks_ago()
    await network(gql, t)
    await donor_with_donation(gql, t, donation="NTUH-APH-2025-0042")
    await started_batch(gql, t, BATCH, donation="NTUH-APH-2025-0042")

    shown = await gql.data(SHOWN, {"id": BATCH})

    assert shown["batch"]["din"] is None
    assert shown["batch"]["chainOfIdentity"] is None
    assert shown["sourceAndFlow"]["source"]["din"] is None


@pytest.mark.parametrize(
    ("written", "named"),
    [(DIN + "4", "'3'"), (DIN + "64", "63"), (DIN + "*", "'3'")],
)
async def test_a_din_whose_check_does_not_match_is_refused_naming_the_expected_one(
    gql: GraphQL, service, written: str, named: str
):
    t = Timeline.ending_weeks_ago()
    await network(gql, t)
    await donor_with_donation(gql, t, donation="G123498654321H")

    error = await refused(gql, service, "recordDonation", donation(t, written), "BAD_INPUT")

    assert named in error["message"]
    assert error["extensions"]["expected"] == "3"
    assert error["extensions"]["field"] == "donationId"


@pytest.mark.parametrize(
    ("patient", "named"),
    [
        ("CHO41726AB12CD1", "facility code"),  # facility code starting with O
        ("CHT0417XXAB12CD", "year"),
        ("CHTA41726AB12CD", "facility code"),  # a letter among its 4 digits
    ],
)
async def test_a_patient_code_that_is_a_malformed_chain_of_identity_is_refused(
    gql: GraphQL, service, patient: str, named: str
):
    t = Timeline.ending_weeks_ago()
    await network(gql, t)
    await donor_with_donation(gql, t)
    start = {
        "batchId": BATCH,
        "product": "CART-CD19-AUTO",
        "donationId": DIN,
        "patientCode": patient,
        "controlSiteId": "TW-CTRL-TPE",
        "siteId": "TW-MU-HSINCHU",
        "startedAt": t(-20),
    }

    error = await refused(gql, service, "startBatch", start, "BAD_INPUT")

    assert named in error["message"]
    assert error["extensions"]["field"] == "patientCode"


async def test_a_started_batch_answers_its_command_result(gql: GraphQL):
    t = Timeline.ending_weeks_ago()
    await network(gql, t)
    await donor_with_donation(gql, t, patient=COI.lower())  # kept as written, like any code

    result = await run(
        gql,
        "startBatch",
        {
            "batchId": BATCH,
            "product": "CART-CD19-AUTO",
            "donationId": DIN,
            "patientCode": COI.lower(),
            "controlSiteId": "TW-CTRL-TPE",
            "siteId": "TW-MU-HSINCHU",
            "startedAt": t(-20),
        },
    )

    assert result["aggregateId"] == f"Batch:{BATCH}"
