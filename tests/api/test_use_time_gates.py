"""Holds at the point of use, through the API on both databases (issue 16, W-2..W-7, W-10, W-16;
DOMAIN "Gates at the point of use"): each fact raises a hold the gates then refuse on
(RULE_VIOLATION naming the hold, nothing stored); only the control site's quality person lifts
one; an administered batch's new hold is a duty of the administering institution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from api.auth.keys import ApiKeys
from api.wiring import Regentrace
from domain import holds
from domain.batch import Batch
from tests.api.chain_documents import (
    CONTROL,
    HOSPITAL,
    LAB,
    PRODUCT,
    REQUIRED_QC,
    SCREENING,
    SPOKE,
    VECTOR_LOT,
    Timeline,
    qc_input,
    refused,
    run,
    site_input,
)
from tests.api.client import GraphQL

COI = "query ($id: ID!) { batch(id: $id) { chainOfIdentityId } }"
DISPATCHED = "dispatchShipment"


# ------------------------------------------------------------------------------ the chain


async def licensed_network(gql: GraphQL, t: Timeline) -> None:
    """The four Taiwanese sites of tests/api/chain_documents.py, each with its licence."""
    kinds = {
        CONTROL: "CONTROL_SITE",
        SPOKE: "MODULAR_UNIT",
        HOSPITAL: "MEDICAL_INSTITUTION",
        LAB: "TESTING_LABORATORY",
    }
    for site_id, kind in kinds.items():
        more: dict[str, Any] = {"licenceNumber": f"LIC-{site_id}"}
        if site_id == SPOKE:
            more["controlSiteId"] = CONTROL
        await run(gql, "registerSite", site_input(site_id, kind, t, **more))
    for site_id in kinds:
        activation = {"siteId": site_id, "reason": "qualified", "effectiveAt": t(-59)}
        await run(gql, "activateSite", activation)


async def lot(gql: GraphQL, t: Timeline, lot_id: str = VECTOR_LOT) -> None:
    await run(
        gql,
        "receiveMaterialLot",
        {
            "lotId": lot_id,
            "material": "Lentiviral vector, anti-CD19 CAR",
            "supplier": "Formosa Vector Manufacturing",
            "siteId": SPOKE,
            "receivedAt": t(-37),
        },
    )
    await run(gql, "releaseMaterialLot", {"lotId": lot_id, "decidedAt": t(-36)})


async def made(gql: GraphQL, t: Timeline, n: int, lot_id: str = VECTOR_LOT) -> str:
    """Batch B-n for patient PT-n from donor DNR-n's donation, one step using ``lot_id``."""
    batch, donor, patient, din = f"B-{n}", f"DNR-{n}", f"PT-{n}", f"DIN-{n}"
    await run(gql, "registerDonor", {"donorCode": donor, "siteId": HOSPITAL})
    consent = {"donorCode": donor, "consentReference": f"ICF-{donor}", "signedAt": t(-40)}
    await run(gql, "recordConsent", consent)
    eligibility = {
        "donorCode": donor,
        "outcome": "ELIGIBLE",
        "criteriaVersion": "TFDA-RM-DS-2025.1",
        "screening": SCREENING,
        "determinedAt": t(-39),
    }
    await run(gql, "determineEligibility", eligibility)
    donation = {
        "donationId": din,
        "donorCode": donor,
        "donationType": "AUTOLOGOUS",
        "intendedPatientCode": patient,
        "siteId": HOSPITAL,
        "material": "Leukapheresis product",
        "sourceTissue": "PERIPHERAL_BLOOD_APHERESIS",
        "acquiredAt": t(-38),
    }
    await run(gql, "recordDonation", donation)
    start = {
        "batchId": batch,
        "product": PRODUCT,
        "donationId": din,
        "patientCode": patient,
        "controlSiteId": CONTROL,
        "siteId": SPOKE,
        "startedAt": t(-20),
    }
    await run(gql, "startBatch", start)
    step = {
        "batchId": batch,
        "step": "Lentiviral transduction",
        "siteId": SPOKE,
        "startedAt": t(-19),
        "completedAt": t(-18),
        "operator": "op-tw-mu-hsinchu",
        "materialLots": [lot_id],
    }
    await run(gql, "recordBatchStep", step)
    return batch


async def all_qc_passed(gql: GraphQL, t: Timeline, batch: str) -> None:
    for test in REQUIRED_QC:
        await run(gql, "recordQcResult", qc_input(batch, test, t))


def release_input(batch: str, t: Timeline, days: float = -10) -> dict[str, Any]:
    return {"batchId": batch, "signatureMeaning": "QP certification", "releasedAt": t(days)}


async def released(gql: GraphQL, t: Timeline, n: int) -> str:
    batch = await made(gql, t, n)
    await all_qc_passed(gql, t, batch)
    await run(gql, "releaseBatch", release_input(batch, t))
    return batch


def dispatch_input(batch: str, t: Timeline, days: float = -9.9) -> dict[str, Any]:
    return {
        "shipmentId": f"SHP-{batch}",
        "batchIds": [batch],
        "fromSiteId": SPOKE,
        "toSiteId": HOSPITAL,
        "courier": "CryoLogistics (LN2 dry shipper)",
        "dispatchedAt": t(days),
    }


def receipt_input(batch: str, t: Timeline, acceptable: bool = True) -> dict[str, Any]:
    return {"shipmentId": f"SHP-{batch}", "receivedAt": t(-9.5), "conditionAcceptable": acceptable}


async def administration_input(
    gql: GraphQL, batch: str, t: Timeline, days: float = -9
) -> dict[str, Any]:
    found = await gql.data(COI, {"id": batch})
    return {
        "batchId": batch,
        "siteId": HOSPITAL,
        "patientCode": "PT-" + batch.removeprefix("B-"),
        "administeredAt": t(days),
        "identityVerified": True,
        "chainOfIdentityId": found["batch"]["chainOfIdentityId"],
    }


async def delivered(gql: GraphQL, t: Timeline, n: int) -> str:
    batch = await released(gql, t, n)
    await run(gql, DISPATCHED, dispatch_input(batch, t))
    await run(gql, "receiveShipment", receipt_input(batch, t))
    return batch


async def administered(gql: GraphQL, t: Timeline, n: int) -> str:
    batch = await delivered(gql, t, n)
    await run(gql, "recordAdministration", await administration_input(gql, batch, t))
    return batch


# ------------------------------------------------------------------------------ assertions


def active_keys(service: Regentrace, batch: str, at: datetime | None = None) -> list[str]:
    return [r.key for r in holds.active_holds(service.app, batch, at)]


def hold_key(kind: str, source: str, version: int) -> str:
    return f"{kind}:{source}@{version}"


def version_of(result: dict[str, Any]) -> int:
    return int(result["version"])


async def gate_refuses(
    gql: GraphQL, service: Regentrace, field: str, input: dict[str, Any], key: str
) -> None:
    """The gate refuses ``field`` (RULE_VIOLATION, nothing stored), naming hold ``key``."""
    error = await refused(gql, service, field, input, "RULE_VIOLATION")
    assert key in error["message"], error


def lift_input(batch: str, keys: list[str], t: Timeline, **more: Any) -> dict[str, Any]:
    return {
        "batchId": batch,
        "holdKeys": keys,
        "reason": "investigated: no impact on the batch",
        "signatureMeaning": "QP decision: hold lifted",
        "liftedAt": t(-1),
        **more,
    }


def caller(gql: GraphQL, service: Regentrace, role: str, site: str) -> GraphQL:
    _, token = ApiKeys(service).create(f"{role}-{site}", role, [site])
    return gql.as_(token)


def qp(gql: GraphQL, service: Regentrace) -> GraphQL:
    return caller(gql, service, "quality_person", CONTROL)


# ------------------------------------------------------------------------------ the W-rows


async def test_w2_an_expired_batch_is_not_administered_and_expiry_is_never_lifted(
    gql: GraphQL, service: Regentrace
) -> None:
    """Shelf life 365 days from the end of manufacture (t-18), frozen into the release."""
    t = Timeline(datetime.now(UTC).replace(microsecond=0) - timedelta(days=500))
    await licensed_network(gql, t)
    await lot(gql, t)
    batch = await delivered(gql, t, 1)
    expiry = holds.holds_of(service.app, batch, t.at(400)).active
    assert [(r.kind, r.raised_at) for r in expiry] == [("EXPIRED", t.at(-18 + 365))]
    assert active_keys(service, batch, t.at(300)) == []
    key = "EXPIRED:Batch:B-1"
    late = await administration_input(gql, batch, t, days=400)
    await gate_refuses(gql, service, "recordAdministration", late, key)
    error = await refused(
        gql,
        service,
        "liftBatchHold",
        lift_input(batch, [key], t, liftedAt=t(400)),
        "RULE_VIOLATION",
    )
    assert "cannot be lifted" in error["message"]


async def test_w3_look_back_revocation_holds_dispatch_receipt_and_administration(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await licensed_network(gql, t)
    await lot(gql, t)
    revoke = {"reason": "look-back: HCV NAT positive on a later donation"}
    first = await released(gql, t, 1)
    result = await run(gql, "revokeEligibility", {"donorCode": "DNR-1", **revoke})
    key = hold_key("ELIGIBILITY_REVOKED", "Donor:DNR-1", version_of(result))
    assert active_keys(service, first) == [key]
    await gate_refuses(gql, service, DISPATCHED, dispatch_input(first, t), key)

    second = await released(gql, t, 2)
    await run(gql, DISPATCHED, dispatch_input(second, t))
    result = await run(gql, "revokeEligibility", {"donorCode": "DNR-2", **revoke})
    key = hold_key("ELIGIBILITY_REVOKED", "Donor:DNR-2", version_of(result))
    await gate_refuses(gql, service, "receiveShipment", receipt_input(second, t), key)
    # Found unacceptable, the unit is received into quarantine: that stays allowed.
    await run(gql, "receiveShipment", receipt_input(second, t, acceptable=False))

    third = await delivered(gql, t, 3)
    result = await run(gql, "revokeEligibility", {"donorCode": "DNR-3", **revoke})
    key = hold_key("ELIGIBILITY_REVOKED", "Donor:DNR-3", version_of(result))
    given = await administration_input(gql, third, t)
    await gate_refuses(gql, service, "recordAdministration", given, key)


async def test_consent_withdrawal_holds_the_donors_batch(gql: GraphQL, service: Regentrace) -> None:
    t = Timeline.ending_weeks_ago()
    await licensed_network(gql, t)
    await lot(gql, t)
    batch = await delivered(gql, t, 1)
    withdrawal = {"donorCode": "DNR-1", "reason": "donor's request", "withdrawnAt": t(-9.2)}
    result = await run(gql, "withdrawConsent", withdrawal)
    key = hold_key("CONSENT_WITHDRAWN", "Donor:DNR-1", version_of(result))
    assert active_keys(service, batch) == [key]
    given = await administration_input(gql, batch, t)
    await gate_refuses(gql, service, "recordAdministration", given, key)


async def test_w4_a_lot_rejected_after_use_holds_release_until_the_control_sites_qp_lifts(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await licensed_network(gql, t)
    other = site_input("TW-CTRL-KHH", "CONTROL_SITE", t, licenceNumber="LIC-KHH")
    await run(gql, "registerSite", other)
    await run(gql, "activateSite", {"siteId": "TW-CTRL-KHH", "reason": "ok", "effectiveAt": t(-59)})
    await lot(gql, t)
    batch = await made(gql, t, 1)
    await all_qc_passed(gql, t, batch)
    rejection = {
        "lotId": VECTOR_LOT,
        "reason": "RCL detected in retained sample",
        "decidedAt": t(-12),
    }
    result = await run(gql, "rejectMaterialLot", rejection)
    key = hold_key("LOT_REJECTED", f"MaterialLot:{VECTOR_LOT}", version_of(result))
    await gate_refuses(gql, service, "releaseBatch", release_input(batch, t), key)

    lift = lift_input(batch, [key], t, liftedAt=t(-10.5))
    for wrong in (
        caller(gql, service, "spoke_operator", SPOKE),
        caller(gql, service, "medical_institution", HOSPITAL),
        caller(gql, service, "quality_person", "TW-CTRL-KHH"),
    ):
        await refused(wrong, service, "liftBatchHold", lift, "FORBIDDEN")
    assert active_keys(service, batch) == [key]
    await run(qp(gql, service), "liftBatchHold", lift)
    assert active_keys(service, batch) == []
    await refused(gql, service, "liftBatchHold", lift, "RULE_VIOLATION")  # already lifted
    await run(gql, "releaseBatch", release_input(batch, t))


async def test_w5_a_passing_retest_does_not_lift_a_failed_result_without_a_closed_investigation(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await licensed_network(gql, t)
    await lot(gql, t)
    batch = await made(gql, t, 1)
    early = {"batchId": batch, "deviationId": "DEV-0", "description": "cleanroom alarm"}
    await run(gql, "openDeviation", early)
    closing = {"batchId": batch, "deviationId": "DEV-0", "resolution": "no impact"}
    await run(gql, "closeDeviation", closing)
    failed = await run(
        gql, "recordQcResult", {**qc_input(batch, "STERILITY", t, passed=False), "testedAt": t(-12)}
    )
    await all_qc_passed(gql, t, batch)  # every test passes, STERILITY on retest
    key = hold_key("QC_FAILED", f"Batch:{batch}", version_of(failed))
    await gate_refuses(gql, service, "releaseBatch", release_input(batch, t), key)

    lift = lift_input(batch, [key], t, liftedAt=t(-10.5))
    for deviation in (None, "DEV-0"):  # none, or one opened before the failure
        error = await refused(
            gql, service, "liftBatchHold", {**lift, "deviationId": deviation}, "RULE_VIOLATION"
        )
        assert "deviation" in error["message"]
    opened = {"batchId": batch, "deviationId": "DEV-1", "description": "OOS sterility"}
    await run(gql, "openDeviation", opened)
    await refused(gql, service, "liftBatchHold", {**lift, "deviationId": "DEV-1"}, "RULE_VIOLATION")
    conclusion = "root cause: sampling contamination; retest valid"
    await run(
        gql, "closeDeviation", {"batchId": batch, "deviationId": "DEV-1", "resolution": conclusion}
    )
    await run(qp(gql, service), "liftBatchHold", {**lift, "deviationId": "DEV-1"})
    await run(gql, "releaseBatch", release_input(batch, t))


async def test_w6_a_result_failed_after_release_holds_dispatch(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await licensed_network(gql, t)
    await lot(gql, t)
    batch = await released(gql, t, 1)
    failed = {**qc_input(batch, "MYCOPLASMA", t, passed=False), "testedAt": t(-9.95)}
    result = await run(gql, "recordQcResult", failed)
    key = hold_key("QC_FAILED", f"Batch:{batch}", version_of(result))
    assert active_keys(service, batch) == [key]
    await gate_refuses(gql, service, DISPATCHED, dispatch_input(batch, t), key)


async def test_w7_an_excursion_outside_the_storage_range_holds_receipt_as_acceptable(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await licensed_network(gql, t)
    await lot(gql, t)
    warm, cold = await released(gql, t, 1), await released(gql, t, 2)
    for batch in (warm, cold):
        await run(gql, DISPATCHED, dispatch_input(batch, t))
    excursion = {"observedAt": t(-9.7), "durationMinutes": 300}
    result = await run(
        gql,
        "recordTemperatureExcursion",
        {"shipmentId": f"SHP-{warm}", "temperatureCelsius": -60.0, **excursion},
    )
    # Still in LN2 vapour (-196 to -150 °C): no hold.
    await run(
        gql,
        "recordTemperatureExcursion",
        {"shipmentId": f"SHP-{cold}", "temperatureCelsius": -160.0, **excursion},
    )
    key = hold_key("TEMPERATURE_EXCURSION", f"Shipment:SHP-{warm}", version_of(result))
    assert (active_keys(service, warm), active_keys(service, cold)) == ([key], [])
    await gate_refuses(gql, service, "receiveShipment", receipt_input(warm, t), key)
    await run(gql, "receiveShipment", receipt_input(cold, t))
    await run(gql, "receiveShipment", receipt_input(warm, t, acceptable=False))


async def test_w10_a_back_dated_suspension_covering_a_step_holds_release(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await licensed_network(gql, t)
    await lot(gql, t)
    batch = await made(gql, t, 1)  # its step ran at the spoke from t-19 to t-18
    await all_qc_passed(gql, t, batch)
    suspension = {"siteId": SPOKE, "reason": "EM excursion", "effectiveAt": t(-19.5)}
    result = await run(gql, "suspendSite", suspension)
    reinstated = {"siteId": SPOKE, "reason": "requalified", "effectiveAt": t(-15)}
    await run(gql, "reinstateSite", reinstated)
    key = hold_key("SITE_SUSPENDED", f"Site:{SPOKE}", version_of(result))
    assert active_keys(service, batch) == [key]
    await gate_refuses(gql, service, "releaseBatch", release_input(batch, t), key)


async def released_then_viability_corrected(
    gql: GraphQL, t: Timeline, batch: str
) -> dict[str, Any]:
    """Release ``batch`` on a viability result, then correct that result to 55 % (below the
    >= 70 % specification): the correction's answer."""
    viability = await run(gql, "recordQcResult", qc_input(batch, "VIABILITY", t))
    await all_qc_passed(gql, t, batch)
    await run(gql, "releaseBatch", release_input(batch, t))
    correction = {
        "position": viability["position"],
        "field": "result",
        "newValue": "55 %",
        "reason": "transcription error: the instrument printout reads 55 %",
    }
    return await run(gql, "correctEvent", correction)


async def test_w16_correcting_a_value_that_supported_the_release_holds_the_batch(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await licensed_network(gql, t)
    await lot(gql, t)
    batch = await made(gql, t, 1)
    result = await released_then_viability_corrected(gql, t, batch)
    key = hold_key("RELEASE_VALUE_CORRECTED", f"Batch:{batch}", version_of(result))
    assert active_keys(service, batch) == [key]
    await gate_refuses(gql, service, DISPATCHED, dispatch_input(batch, t), key)


async def test_a_held_batch_can_still_be_rejected_and_destroyed(
    gql: GraphQL, service: Regentrace
) -> None:
    """The quality person's other decision: the batch never reaches a patient."""
    t = Timeline.ending_weeks_ago()
    await licensed_network(gql, t)
    await lot(gql, t)
    batch = await released(gql, t, 1)
    await run(gql, "rejectMaterialLot", {"lotId": VECTOR_LOT, "reason": "RCL in retained sample"})
    assert len(active_keys(service, batch)) == 1
    decision = {"batchId": batch, "reason": "vector lot rejected: RCL"}
    await run(qp(gql, service), "rejectBatch", decision)
    await run(gql, "destroyBatch", {**decision, "reason": "destroyed per SOP-QA-014"})
    found = await gql.data("query ($id: ID!) { batch(id: $id) { status } }", {"id": batch})
    assert found["batch"]["status"] == "DESTROYED"


# ------------------------------------------------------------------- the physician's duty


async def test_a_hold_raised_after_administration_is_a_duty_until_the_institution_acknowledges(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await licensed_network(gql, t)
    await lot(gql, t)
    batch = await administered(gql, t, 1)
    assert holds.holds_of(service.app, batch).duties == []
    result = await run(gql, "rejectMaterialLot", {"lotId": VECTOR_LOT, "reason": "RCL found"})
    key = hold_key("LOT_REJECTED", f"MaterialLot:{VECTOR_LOT}", version_of(result))
    assert [r.key for r in holds.holds_of(service.app, batch).open_duties] == [key]
    ack = {"batchId": batch, "holdKeys": [key], "acknowledgedAt": t(-1), "note": "Dr Lin told"}
    for wrong in (caller(gql, service, "spoke_operator", SPOKE), qp(gql, service)):
        await refused(wrong, service, "acknowledgePhysicianNotification", ack, "FORBIDDEN")
    clinic = caller(gql, service, "medical_institution", HOSPITAL)
    bogus = {**ack, "holdKeys": ["QC_FAILED:Batch:B-1@9"]}
    await refused(clinic, service, "acknowledgePhysicianNotification", bogus, "RULE_VIOLATION")
    await run(clinic, "acknowledgePhysicianNotification", ack)
    found = holds.holds_of(service.app, batch)
    assert ([r.key for r in found.duties], found.open_duties) == ([key], [])
    await refused(clinic, service, "acknowledgePhysicianNotification", ack, "RULE_VIOLATION")


# ------------------------------------------------------------------ events are contracts


async def test_a_release_stored_before_expiry_was_frozen_still_loads(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await licensed_network(gql, t)
    await lot(gql, t)
    batch = await released(gql, t, 1)
    stored = next(
        e
        for e in service.app.recorder.select_events(Batch.ledger_id(batch))
        if e.topic.endswith("Batch.Released")
    )
    mapper = service.app.mapper
    state = mapper.transcoder.decode(stored.state)
    assert state["shelf_life_days"] == 365
    assert state.pop("class_version") == 2
    del state["shelf_life_days"], state["expires_at"]
    old = type(stored)(
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=mapper.transcoder.encode(state),
    )
    event = mapper.to_domain_event(old)
    assert isinstance(event, Batch.Released)
    assert (event.shelf_life_days, event.expires_at) == (None, None)
    assert event.released_at == t.at(-10)
