"""Refusals along the donor-to-patient chain: each reaches the partner with its
``extensions.code`` and a message that says what to fix, and leaves the ledger as it was."""

from __future__ import annotations

import pytest

from tests.api.chain_documents import (
    CHAIN_OF_IDENTITY,
    CONTROL,
    DIN,
    DIN_LABELLED,
    DONOR_CODE,
    HOSPITAL,
    PATIENT,
    PRODUCT,
    REQUIRED_QC,
    SCREENING,
    SPOKE,
    Timeline,
    batch,
    batches,
    delivered,
    donor,
    donor_with_donation,
    moment,
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
from tests.conftest import ledger_size

BATCH = "CART-26000"


async def batch_in_process(gql: GraphQL, t: Timeline, batch_id: str = BATCH) -> None:
    await network(gql, t)
    await donor_with_donation(gql, t)
    await released_lot(gql, t)
    await started_batch(gql, t, batch_id)
    await transduction(gql, t, batch_id)


def release_input(t: Timeline, batch_id: str = BATCH) -> dict:
    return {"batchId": batch_id, "signatureMeaning": "QP certification", "releasedAt": t(-10)}


# ------------------------------------------------------------------------------------ release


async def test_a_release_is_refused_with_every_reason_that_stands_in_its_way(gql: GraphQL, service):
    t = Timeline.ending_weeks_ago()
    await batch_in_process(gql, t)
    await qc(gql, t, BATCH, ("STERILITY", "ENDOTOXIN", "MYCOPLASMA"))
    await run(
        gql,
        "openDeviation",
        {"batchId": BATCH, "deviationId": "DEV-7", "description": "Bag seal leak found"},
    )

    error = await refused(gql, service, "releaseBatch", release_input(t), "RULE_VIOLATION")

    message = error["message"]
    assert BATCH in message
    assert "required QC results missing" in message
    for test in ("CAR_EXPRESSION", "IDENTITY", "VECTOR_COPY_NUMBER", "VIABILITY"):
        assert test in message
    for test in ("STERILITY", "ENDOTOXIN", "MYCOPLASMA"):
        assert test not in message, "a passed test is listed as missing"
    assert "deviations still open: DEV-7" in message
    assert error["extensions"]["batch_id"] == BATCH
    if "reasons" in error["extensions"]:
        reasons = error["extensions"]["reasons"]
        assert len(reasons) == 2
        assert "QC" in reasons[0]
        assert "DEV-7" in reasons[1]
    found = await batch(gql, BATCH)
    assert found is not None
    assert found["status"] == "IN_PROCESS"
    assert found["release"] is None


async def test_a_failed_qc_result_blocks_release_and_says_which(gql: GraphQL, service):
    t = Timeline.ending_weeks_ago()
    await batch_in_process(gql, t)
    await qc(gql, t, BATCH, tuple(x for x in REQUIRED_QC if x != "STERILITY"))
    await run(
        gql,
        "recordQcResult",
        {
            "batchId": BATCH,
            "test": "STERILITY",
            "method": "Ph. Eur. 2.6.27",
            "specification": "No growth",
            "result": "Growth detected",
            "passed": False,
            "testedAt": t(-11),
            "laboratorySiteId": "TW-LAB-QC",
        },
    )

    error = await refused(gql, service, "releaseBatch", release_input(t), "RULE_VIOLATION")

    assert "required QC tests not passed: STERILITY" in error["message"]
    assert "missing" not in error["message"]


# ------------------------------------------------------------------------------- identifiers


async def test_a_din_with_the_wrong_check_character_is_bad_input_naming_the_right_one(
    gql: GraphQL, service
):
    t = Timeline.ending_weeks_ago()
    await network(gql, t)
    await donor_with_donation(gql, t, donation="G123498654321H")

    error = await refused(
        gql,
        service,
        "recordDonation",
        {
            "donationId": DIN + "4",
            "donorCode": DONOR_CODE,
            "donationType": "AUTOLOGOUS",
            "siteId": HOSPITAL,
            "material": "Leukapheresis product",
            "sourceTissue": "PERIPHERAL_BLOOD_APHERESIS",
            "acquiredAt": t(-38),
            "intendedPatientCode": PATIENT,
        },
        "BAD_INPUT",
    )

    assert "'3'" in error["message"]
    assert DIN + "4" in error["message"]
    assert error["extensions"]["field"] == "donationId"
    assert error["extensions"]["expected"] == "3"


async def test_a_din_written_with_and_without_its_check_character_is_one_donation(
    gql: GraphQL, service
):
    t = Timeline.ending_weeks_ago()
    await network(gql, t)
    await donor_with_donation(gql, t, donation=DIN)

    error = await refused(
        gql,
        service,
        "recordDonation",
        {
            "donationId": DIN_LABELLED,
            "donorCode": DONOR_CODE,
            "donationType": "AUTOLOGOUS",
            "siteId": HOSPITAL,
            "material": "Leukapheresis product",
            "sourceTissue": "PERIPHERAL_BLOOD_APHERESIS",
            "acquiredAt": t(-38),
            "intendedPatientCode": PATIENT,
        },
        "CONFLICT",
    )

    assert DIN in error["message"]


async def test_a_donation_from_an_unknown_donor_is_not_found(gql: GraphQL, service):
    t = Timeline.ending_weeks_ago()
    await network(gql, t)

    error = await refused(
        gql,
        service,
        "recordDonation",
        {
            "donationId": DIN_LABELLED,
            "donorCode": "DNR-NOBODY",
            "donationType": "AUTOLOGOUS",
            "siteId": HOSPITAL,
            "material": "Leukapheresis product",
            "sourceTissue": "PERIPHERAL_BLOOD_APHERESIS",
            "acquiredAt": t(-38),
            "intendedPatientCode": PATIENT,
        },
        "NOT_FOUND",
    )

    assert "DNR-NOBODY" in error["message"]
    assert error["path"] == ["recordDonation"]


async def test_consent_for_an_unknown_donor_is_not_found(gql: GraphQL, service):
    t = Timeline.ending_weeks_ago()

    error = await refused(
        gql,
        service,
        "recordConsent",
        {"donorCode": "DNR-NOBODY", "consentReference": "ICF-1", "signedAt": t(-1)},
        "NOT_FOUND",
    )

    assert "DNR-NOBODY" in error["message"]


async def test_starting_a_batch_id_twice_is_a_conflict(gql: GraphQL, service):
    t = Timeline.ending_weeks_ago()
    await batch_in_process(gql, t)

    error = await refused(
        gql,
        service,
        "startBatch",
        {
            "batchId": BATCH,
            "product": PRODUCT,
            "donationId": DIN,
            "patientCode": "PT-OTHER",
            "controlSiteId": CONTROL,
            "siteId": SPOKE,
            "startedAt": t(-19),
        },
        "CONFLICT",
    )

    assert BATCH in error["message"]
    found = await batch(gql, BATCH)
    assert found is not None
    assert found["patientCode"] == PATIENT


@pytest.mark.parametrize("outcome", ["MAYBE", "eligible", ""])
async def test_an_eligibility_outcome_outside_the_enum_is_bad_input(gql: GraphQL, service, outcome):
    t = Timeline.ending_weeks_ago()
    await run(gql, "registerDonor", {"donorCode": DONOR_CODE})

    error = await refused(
        gql,
        service,
        "determineEligibility",
        {
            "donorCode": DONOR_CODE,
            "outcome": outcome,
            "criteriaVersion": "TFDA-RM-DS-2025.1",
            "screening": SCREENING,
            "determinedAt": t(-1),
        },
        "BAD_INPUT",
    )

    assert "EligibilityOutcome" in error["message"]
    found = await donor(gql, DONOR_CODE)
    assert found is not None
    assert found["eligibility"] is None


async def test_an_eligibility_outcome_outside_the_enum_written_inline_is_bad_input(
    gql: GraphQL, service
):
    await run(gql, "registerDonor", {"donorCode": DONOR_CODE})
    before = ledger_size(service)

    body = await gql(
        """mutation {
          determineEligibility(input: {donorCode: "DNR-0001", outcome: MAYBE,
            criteriaVersion: "v1", screening: [], determinedAt: "2025-01-01T00:00:00+00:00"}) {
            position
          }
        }"""
    )

    assert ledger_size(service) == before
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_INPUT"], body
    assert "MAYBE" in body["errors"][0]["message"]


# ------------------------------------------------------------------------ distribution and use


async def test_dispatching_a_batch_that_is_not_released_is_a_rule_violation(gql: GraphQL, service):
    t = Timeline.ending_weeks_ago()
    await batch_in_process(gql, t)
    await qc(gql, t, BATCH)

    error = await refused(
        gql,
        service,
        "dispatchShipment",
        {
            "shipmentId": f"SHP-{BATCH}",
            "batchIds": [BATCH],
            "fromSiteId": SPOKE,
            "toSiteId": HOSPITAL,
            "courier": "CryoLogistics",
            "dispatchedAt": t(-9.9),
        },
        "RULE_VIOLATION",
    )

    assert BATCH in error["message"]
    assert "IN_PROCESS" in error["message"]
    assert "RELEASED" in error["message"]
    found = await batch(gql, BATCH)
    assert found is not None
    assert (found["status"], found["location"]) == ("IN_PROCESS", SPOKE)


async def test_administration_to_a_patient_the_batch_was_not_made_for_is_a_rule_violation(
    gql: GraphQL, service
):
    t = Timeline.ending_weeks_ago()
    await batch_in_process(gql, t)
    await qc(gql, t, BATCH)
    await release(gql, t, BATCH)
    await delivered(gql, t, BATCH)

    error = await refused(
        gql,
        service,
        "recordAdministration",
        {
            "batchId": BATCH,
            "siteId": HOSPITAL,
            "patientCode": "PT-0002",
            "administeredAt": t(-9),
            "identityVerified": True,
            "chainOfIdentityId": CHAIN_OF_IDENTITY,
        },
        "RULE_VIOLATION",
    )

    assert "chain-of-identity" in error["message"]
    assert BATCH in error["message"]
    found = await batch(gql, BATCH)
    assert found is not None
    assert (found["status"], found["location"]) == ("DISTRIBUTED", HOSPITAL)

    # The right patient, identity checked at the bedside, is accepted.
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


# ----------------------------------------------------------------- consent withdrawn, look-back


async def two_batches_ready_for_release(gql: GraphQL, t: Timeline) -> None:
    """BATCH from DONOR_CODE, and CART-27000 from another donor, both with every QC passed."""
    await batch_in_process(gql, t)
    await qc(gql, t, BATCH)
    await donor_with_donation(
        gql, t, donor="DNR-0002", donation="G123498654321H", patient="PT-0002"
    )
    await started_batch(gql, t, "CART-27000", donation="G123498654321", patient="PT-0002")
    await qc(gql, t, "CART-27000")


async def test_a_withdrawn_consent_reaches_the_batch_made_from_the_donor_and_blocks_release(
    gql: GraphQL, service
):
    t = Timeline.ending_weeks_ago()
    await two_batches_ready_for_release(gql, t)
    before_withdrawal = await moment()

    await run(
        gql,
        "withdrawConsent",
        {
            "donorCode": DONOR_CODE,
            "reason": "Patient withdrew from the treatment",
            "withdrawnAt": t(-10.5),
        },
    )

    now = await batch(gql, BATCH)
    assert now is not None
    assert (now["affected"], now["affectedBy"]) == (True, ["CONSENT_WITHDRAWN"])
    assert now["status"] == "IN_PROCESS"
    then = await batch(gql, BATCH, as_of=before_withdrawal)
    assert then is not None
    assert (then["affected"], then["affectedBy"]) == (False, [])

    affected = await batches(gql, filter={"affected": True})
    assert [(n["id"], n["affectedBy"]) for n in affected["nodes"]] == [
        (BATCH, ["CONSENT_WITHDRAWN"])
    ]
    unaffected = await batches(gql, filter={"affected": False})
    assert [n["id"] for n in unaffected["nodes"]] == ["CART-27000"]
    affected_then = await batches(gql, filter={"affected": True}, asOf=before_withdrawal)
    assert affected_then["nodes"] == []

    withdrawn = await donor(gql, DONOR_CODE)
    assert withdrawn is not None
    assert withdrawn["consent"]["withdrawnAt"] is not None

    error = await refused(gql, service, "releaseBatch", release_input(t), "RULE_VIOLATION")
    assert f"consent of donor {DONOR_CODE} does not stand" in error["message"]
    assert "QC" not in error["message"], "every QC result passed; only consent stands in the way"

    # The other donor's batch is untouched and is released.
    await release(gql, t, "CART-27000")


async def test_a_revoked_eligibility_reaches_the_batch_made_from_the_donor_and_blocks_release(
    gql: GraphQL, service
):
    t = Timeline.ending_weeks_ago()
    await two_batches_ready_for_release(gql, t)
    before_revocation = await moment()

    await run(
        gql,
        "revokeEligibility",
        {"donorCode": DONOR_CODE, "reason": "Look-back: HBV NAT positive on retained sample"},
    )

    now = await batch(gql, BATCH)
    assert now is not None
    assert (now["affected"], now["affectedBy"]) == (True, ["ELIGIBILITY_REVOKED"])
    then = await batch(gql, BATCH, as_of=before_revocation)
    assert then is not None
    assert then["affectedBy"] == []
    revoked = await donor(gql, DONOR_CODE)
    assert revoked is not None
    assert revoked["eligibility"]["revoked"] is True

    error = await refused(gql, service, "releaseBatch", release_input(t), "RULE_VIOLATION")
    assert f"eligibility of donor {DONOR_CODE} was revoked" in error["message"]


async def test_a_batch_started_after_consent_was_withdrawn_is_refused(gql: GraphQL, service):
    t = Timeline.ending_weeks_ago()
    await network(gql, t)
    await donor_with_donation(gql, t)
    await run(
        gql,
        "withdrawConsent",
        {"donorCode": DONOR_CODE, "reason": "Changed their mind", "withdrawnAt": t(-30)},
    )

    error = await refused(
        gql,
        service,
        "startBatch",
        {
            "batchId": BATCH,
            "product": PRODUCT,
            "donationId": DIN,
            "patientCode": PATIENT,
            "controlSiteId": CONTROL,
            "siteId": SPOKE,
            "startedAt": t(-20),
        },
        "RULE_VIOLATION",
    )

    assert "consent" in error["message"]
    assert await batch(gql, BATCH) is None
