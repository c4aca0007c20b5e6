"""The chain of identity through the API (issue W-1): the intended patient bound at collection,
an autologous product made only from that patient's own donation and only for that patient, the
identifier shown on every record and checked at start, dispatch, receipt and the bedside.

Every refusal is checked on both databases for its code and for a ledger that did not grow.
"""

from __future__ import annotations

from typing import Any

from tests.api.chain_documents import (
    CHAIN_OF_IDENTITY,
    CONTROL,
    DIN,
    DONOR_CODE,
    HOSPITAL,
    PATIENT,
    PRODUCT,
    SPOKE,
    Timeline,
    delivered,
    dispatch_input,
    donor_with_donation,
    network,
    qc,
    refused,
    release,
    released_lot,
    run,
    started_batch,
    transduction,
)
from tests.api.client import GraphQL
from tests.epcis import events, violations

BATCH = "CART-26000"
ALLOGENEIC_DONATION = "NTUH-BM-2025-0007"


def start_input(t: Timeline, batch: str, patient: str, **more: Any) -> dict[str, Any]:
    return {
        "batchId": batch,
        "product": PRODUCT,
        "donationId": DIN,
        "patientCode": patient,
        "controlSiteId": CONTROL,
        "siteId": SPOKE,
        "startedAt": t(-20),
        **more,
    }


def administration(t: Timeline, **more: Any) -> dict[str, Any]:
    return {
        "batchId": BATCH,
        "siteId": HOSPITAL,
        "patientCode": PATIENT,
        "administeredAt": t(-9),
        "identityVerified": True,
        **more,
    }


async def collected(gql: GraphQL, t: Timeline) -> None:
    """The network, DONOR_CODE's autologous donation DIN collected for PATIENT, a vector lot."""
    await network(gql, t)
    await donor_with_donation(gql, t)
    await released_lot(gql, t)


async def ready_for_use(gql: GraphQL, t: Timeline) -> None:
    await collected(gql, t)
    await started_batch(gql, t, BATCH)
    await transduction(gql, t, BATCH)
    await qc(gql, t, BATCH)
    await release(gql, t, BATCH)


async def allogeneic_donation(gql: GraphQL, t: Timeline) -> None:
    """ALLOGENEIC_DONATION from an eligible allogeneic donor, screened for every marker."""
    await run(gql, "registerDonor", {"donorCode": "DNR-0009"})
    await run(
        gql,
        "recordConsent",
        {"donorCode": "DNR-0009", "consentReference": "ICF-DNR-0009", "signedAt": t(-40)},
    )
    await run(
        gql,
        "determineEligibility",
        {
            "donorCode": "DNR-0009",
            "outcome": "ELIGIBLE",
            "criteriaVersion": "TFDA-RM-DS-2025.1",
            "screening": [
                {"test": marker, "result": f"{marker} non-reactive", "reactive": False}
                for marker in ("HIV", "HBV", "HCV", "HTLV", "SYPHILIS")
            ],
            "determinedAt": t(-39),
        },
    )
    await run(
        gql,
        "recordDonation",
        {
            "donationId": ALLOGENEIC_DONATION,
            "donorCode": "DNR-0009",
            "donationType": "ALLOGENEIC",
            "siteId": HOSPITAL,
            "material": "Bone marrow aspirate",
            "sourceTissue": "BONE_MARROW",
            "acquiredAt": t(-38),
        },
    )


# ----------------------------------------------------------------------------- W-1: at start


async def test_an_autologous_product_for_another_patient_than_the_donation_names_is_refused(
    gql: GraphQL, service
):
    t = Timeline.ending_weeks_ago()
    await collected(gql, t)

    error = await refused(
        gql,
        service,
        "startBatch",
        start_input(t, BATCH, "PT-SOMEONE-ELSE"),
        "RULE_VIOLATION",
    )

    assert "one donation serves one patient" in error["message"]
    assert PATIENT not in error["message"], "the refusal does not tell whom it was for"
    await run(gql, "startBatch", start_input(t, BATCH, PATIENT))


async def test_a_second_batch_for_another_patient_is_refused_a_remanufacture_is_not(
    gql: GraphQL, service
):
    t = Timeline.ending_weeks_ago()
    await collected(gql, t)
    await run(gql, "startBatch", start_input(t, BATCH, PATIENT))

    error = await refused(
        gql, service, "startBatch", start_input(t, "CART-26001", "PT-0002"), "RULE_VIOLATION"
    )

    assert DIN in error["message"]
    # A re-manufacture for the same patient (after a failed batch) is normal practice.
    await run(gql, "startBatch", start_input(t, "CART-26001", PATIENT))


async def test_an_autologous_product_from_an_allogeneic_donation_is_refused(gql: GraphQL, service):
    t = Timeline.ending_weeks_ago()
    await collected(gql, t)
    await allogeneic_donation(gql, t)

    error = await refused(
        gql,
        service,
        "startBatch",
        start_input(t, BATCH, PATIENT, donationId=ALLOGENEIC_DONATION),
        "RULE_VIOLATION",
    )

    assert "ALLOGENEIC" in error["message"]
    assert "autologous product" in error["message"]


async def test_an_allogeneic_product_from_an_autologous_donation_is_refused(gql: GraphQL, service):
    t = Timeline.ending_weeks_ago()
    await collected(gql, t)

    error = await refused(
        gql,
        service,
        "startBatch",
        start_input(t, "MSC-31000", PATIENT, product="MSC-ALLO"),
        "RULE_VIOLATION",
    )

    assert "AUTOLOGOUS" in error["message"]


async def test_an_autologous_donation_names_its_intended_patient(gql: GraphQL, service):
    t = Timeline.ending_weeks_ago()
    await network(gql, t)
    await donor_with_donation(gql, t)  # the donor, consent and eligibility: then another one
    donation = {
        "donationId": "G123498654321",
        "donorCode": DONOR_CODE,
        "donationType": "AUTOLOGOUS",
        "siteId": HOSPITAL,
        "material": "Leukapheresis product",
        "sourceTissue": "PERIPHERAL_BLOOD_APHERESIS",
        "acquiredAt": t(-37),
    }

    error = await refused(gql, service, "recordDonation", donation, "BAD_INPUT")

    assert error["extensions"]["field"] == "intendedPatientCode"
    await run(gql, "recordDonation", donation | {"intendedPatientCode": PATIENT})


# ------------------------------------------------------------------ the identifier on records

SHOWN = """
query Shown($batchId: ID!) {
  batch(id: $batchId) { chainOfIdentityId patientCode }
  sourceAndFlow(batchId: $batchId) {
    chainOfIdentityId
    source { donationId chainOfIdentityId }
    flow { shipmentId chainOfIdentityId }
  }
  epcisDocument(scope: { batchId: $batchId })
}
"""


def epcis_identifiers(document: dict[str, Any]) -> dict[str, str]:
    """The chain-of-identity identifier each EPCIS event's ILMD carries, by its bizStep."""
    return {
        e["bizStep"] + ":" + e["type"]: e["ilmd"]["regentrace:chainOfIdentity"]
        for e in events(document)
        if "regentrace:chainOfIdentity" in e.get("ilmd", {})
    }


async def test_the_identifier_is_shown_on_the_batch_shipment_source_and_flow_and_epcis(
    gql: GraphQL,
):
    t = Timeline.ending_weeks_ago()
    await ready_for_use(gql, t)
    await delivered(gql, t, BATCH)

    data = await gql.data(SHOWN, {"batchId": BATCH})

    assert data["batch"] == {"chainOfIdentityId": CHAIN_OF_IDENTITY, "patientCode": PATIENT}
    record = data["sourceAndFlow"]
    assert record["chainOfIdentityId"] == CHAIN_OF_IDENTITY
    assert record["source"] == {"donationId": DIN, "chainOfIdentityId": CHAIN_OF_IDENTITY}
    assert record["flow"] == [
        {"shipmentId": f"SHP-{BATCH}", "chainOfIdentityId": CHAIN_OF_IDENTITY}
    ]
    document = data["epcisDocument"]
    assert violations(document) == []
    assert epcis_identifiers(document) == {
        "commissioning:ObjectEvent": CHAIN_OF_IDENTITY,  # the donation
        "commissioning:TransformationEvent": CHAIN_OF_IDENTITY,  # the batch
    }


async def test_a_local_donation_code_gives_a_coi_identifier(gql: GraphQL):
    t = Timeline.ending_weeks_ago()
    await network(gql, t)
    await donor_with_donation(gql, t, donation="NTUH-APH-2025-0042")
    await started_batch(gql, t, BATCH, donation="NTUH-APH-2025-0042")

    data = await gql.data(SHOWN, {"batchId": BATCH})

    assert data["batch"]["chainOfIdentityId"] == "COI-NTUH-APH-2025-0042"
    assert data["sourceAndFlow"]["source"]["chainOfIdentityId"] == "COI-NTUH-APH-2025-0042"
    assert violations(data["epcisDocument"]) == []


# ---------------------------------------------------------- checked at every hand-over


async def test_a_wrong_identifier_is_refused_at_start_dispatch_receipt_and_the_bedside(
    gql: GraphQL, service
):
    t = Timeline.ending_weeks_ago()
    await collected(gql, t)
    wrong = {"chainOfIdentityId": "CHG123498654321"}
    right = {"chainOfIdentityId": CHAIN_OF_IDENTITY}

    await refused(
        gql, service, "startBatch", start_input(t, BATCH, PATIENT, **wrong), "RULE_VIOLATION"
    )
    await run(gql, "startBatch", start_input(t, BATCH, PATIENT, **right))
    await transduction(gql, t, BATCH)
    await qc(gql, t, BATCH)
    await release(gql, t, BATCH)

    error = await refused(
        gql, service, "dispatchShipment", dispatch_input(BATCH, t) | wrong, "RULE_VIOLATION"
    )
    assert "chain-of-identity check failed at dispatch" in error["message"]
    assert CHAIN_OF_IDENTITY not in error["message"], "the label is read, not the error"
    await run(gql, "dispatchShipment", dispatch_input(BATCH, t) | right)

    receipt = {"shipmentId": f"SHP-{BATCH}", "receivedAt": t(-9.5), "conditionAcceptable": True}
    error = await refused(gql, service, "receiveShipment", receipt | wrong, "RULE_VIOLATION")
    assert "chain-of-identity check failed at receipt" in error["message"]
    await run(gql, "receiveShipment", receipt | right)

    error = await refused(gql, service, "recordAdministration", administration(t), "RULE_VIOLATION")
    assert "chainOfIdentityId" in error["message"], "required at the bedside for autologous"
    error = await refused(
        gql, service, "recordAdministration", administration(t, **wrong), "RULE_VIOLATION"
    )
    assert "chain-of-identity check failed at the bedside" in error["message"]
    # The identifier alone is not enough: the patient code is still checked.
    await refused(
        gql,
        service,
        "recordAdministration",
        administration(t, patientCode="PT-0002", **right),
        "RULE_VIOLATION",
    )
    await run(gql, "recordAdministration", administration(t, **right))
