"""Pooled starting material and split batches made safe, through the API on both databases
(issue 18, item 1): an allogeneic batch from several donations, every donor's rules applying and
a later revocation of any pooled donor holding the batch, the lineage and EPCIS reaching every
donation; a hold raised after some containers of a split batch were given owes each of their
patients' physicians a notification; the source-and-flow record and the institution's record
name the patient each container was used on."""

from __future__ import annotations

from typing import Any

from projections import rebuild
from projections.epcis import batch_uri, donation_uri
from tests.api.chain_documents import (
    CONTROL,
    HOSPITAL,
    SPOKE,
    Timeline,
    qc_input,
    run,
    site_input,
)
from tests.api.chain_documents import refused as refused_with
from tests.api.client import GraphQL
from tests.api.test_containers import (
    EPCIS,
    MSC,
    MSC_DONATION,
    TRACE,
    allogeneic,
    given,
    shipment,
    shipped,
)
from tests.conftest import ledger_size
from tests.epcis import transformations, violations
from tests.integration.test_projections import dump

POOL = "MSC-POOL-1"
SECOND = "NTUH-BM-2026-0043"
THIRD = "NTUH-BM-2026-0044"
CART_PRODUCT = "CART-CD19-AUTO"

HOLDS = "query ($id: ID!) { batch(id: $id) { held holds { key kind active } } }"
DUTIES = """
query ($filter: PhysicianNotificationFilter) {
  physicianNotifications(filter: $filter) {
    nodes { batchId patientCode siteId holdKeys open }
  }
}
"""
USES = """
query ($id: ID!) {
  sourceAndFlow(batchId: $id) {
    containers { containerId patientCode usedAtSiteId }
    finalDisposition { patientCode }
  }
}
"""
RECORD = """
query ($site: ID!) {
  institutionRecord(siteId: $site) { entries { batchId containerId patientCode } }
}
"""


async def donor(gql: GraphQL, t: Timeline, code: str, donation_id: str) -> None:
    """An eligible allogeneic donor with one bone-marrow donation."""
    await send(gql, "registerDonor", {"donorCode": code})
    await send(
        gql,
        "recordConsent",
        {"donorCode": code, "consentReference": f"ICF-{code}", "signedAt": t(-40)},
    )
    await send(
        gql,
        "determineEligibility",
        {
            "donorCode": code,
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
            "donationId": donation_id,
            "donorCode": code,
            "donationType": "ALLOGENEIC",
            "siteId": HOSPITAL,
            "material": "Bone marrow aspirate",
            "sourceTissue": "BONE_MARROW",
            "acquiredAt": t(-38),
        },
    )


async def send(gql: GraphQL, field: str, input: dict[str, Any]) -> dict[str, Any]:
    return await run(gql, field, input)


async def refused(gql: GraphQL, service: Any, field: str, input: dict[str, Any], code: str) -> str:
    """The message of a refusal with ``code`` that stored nothing."""
    return str((await refused_with(gql, service, field, input, code))["message"])


def start(t: Timeline, *pooled: str, **more: Any) -> dict[str, Any]:
    return {
        "batchId": POOL,
        "product": "MSC-ALLO",
        "donationId": MSC_DONATION,
        "patientCode": "PT-4201",
        "controlSiteId": CONTROL,
        "siteId": SPOKE,
        "startedAt": t(-20),
        "additionalDonationIds": list(pooled),
        **more,
    }


async def holds(gql: GraphQL, batch: str) -> dict[str, Any]:
    found = (await gql.data(HOLDS, {"id": batch}))["batch"]
    assert isinstance(found, dict)
    return found


# ----------------------------------------------------------------------------------- pooling


async def test_a_pool_of_donations_is_refused_where_any_donor_may_not_give(
    gql: GraphQL, service: Any
) -> None:
    t = Timeline.ending_weeks_ago()
    await allogeneic(gql, t)
    await donor(gql, t, "DNR-0043", SECOND)
    await donor(gql, t, "DNR-0044", THIRD)
    await send(gql, "revokeEligibility", {"donorCode": "DNR-0044", "reason": "look-back: HCV+"})

    twice = start(t, SECOND, SECOND)
    assert "each pooled donation once" in await refused(
        gql, service, "startBatch", twice, "BAD_INPUT"
    )
    first_again = start(t, MSC_DONATION)
    await refused(gql, service, "startBatch", first_again, "BAD_INPUT")
    assert "DNR-0044" in await refused(
        gql, service, "startBatch", start(t, SECOND, THIRD), "RULE_VIOLATION"
    )
    await refused(gql, service, "startBatch", start(t, "NTUH-BM-2026-0999"), "NOT_FOUND")
    autologous = start(t, SECOND, product=CART_PRODUCT)
    await refused(gql, service, "startBatch", autologous, "RULE_VIOLATION")


async def test_a_pooled_batch_is_traced_to_every_donation_and_held_by_any_donors_revocation(
    gql: GraphQL, service: Any
) -> None:
    t = Timeline.ending_weeks_ago()
    await allogeneic(gql, t)
    await donor(gql, t, "DNR-0043", SECOND)
    await send(gql, "startBatch", start(t, SECOND))

    variables = {"kind": "BATCH", "id": POOL, "direction": "BACKWARD"}
    traced = (await gql.data(TRACE, variables))["recallTrace"]
    donations = {n["id"] for n in traced["nodes"] if n["kind"] == "DONATION"}
    assert donations == {MSC_DONATION, SECOND}
    donors = {n["id"] for n in traced["nodes"] if n["kind"] == "DONOR"}
    assert donors == {"DNR-0042", "DNR-0043"}

    document = (await gql.data(EPCIS, {"scope": {"batchId": POOL}}))["epcisDocument"]
    assert violations(document) == []
    pooled = {given for given, made in transformations(document) if made == batch_uri(POOL)}
    assert {donation_uri(MSC_DONATION), donation_uri(SECOND)} <= pooled

    assert (await holds(gql, POOL))["held"] is False
    await send(gql, "revokeEligibility", {"donorCode": "DNR-0043", "reason": "look-back: HBV NAT+"})
    found = await holds(gql, POOL)
    assert found["held"] is True
    assert [h["kind"] for h in found["holds"]] == ["ELIGIBILITY_REVOKED"]
    # The batch made only from the first donor's donation is not held.
    assert (await holds(gql, MSC))["held"] is False

    # The gate agrees with the view: the pooled batch cannot be released.
    for test in ("STERILITY", "ENDOTOXIN"):
        await send(gql, "recordQcResult", qc_input(POOL, test, t))
    release = {"batchId": POOL, "signatureMeaning": "QP certification", "releasedAt": t(-10)}
    assert "DNR-0043" in await refused(gql, service, "releaseBatch", release, "RULE_VIOLATION")


# ------------------------------------------------------------------------------ split batches

SECOND_HOSPITAL = "TW-MI-CGMH"


async def split_and_partly_given(gql: GraphQL, t: Timeline) -> None:
    """MSC's vials V-1 and V-2 given to two patients at the hospital; V-3 kept at the spoke."""
    await allogeneic(gql, t)
    await shipped(gql, t, "SHP-MSC-1", MSC, "V-1", "V-2")
    await send(gql, "recordAdministration", given(MSC, "V-1", "PT-4201", t))
    await send(gql, "recordAdministration", given(MSC, "V-2", "PT-4202", t))


async def test_a_hold_after_some_containers_were_given_tells_each_patients_physician(
    gql: GraphQL, service: Any
) -> None:
    t = Timeline.ending_weeks_ago()
    await split_and_partly_given(gql, t)
    assert (await gql.data(DUTIES))["physicianNotifications"]["nodes"] == []

    await send(gql, "revokeEligibility", {"donorCode": "DNR-0042", "reason": "look-back"})
    (hold,) = (await holds(gql, MSC))["holds"]
    duties = (await gql.data(DUTIES))["physicianNotifications"]["nodes"]
    assert duties == [
        {
            "batchId": MSC,
            "patientCode": patient,
            "siteId": HOSPITAL,
            "holdKeys": [hold["key"]],
            "open": True,
        }
        for patient in ("PT-4201", "PT-4202")
    ]
    elsewhere = {"filter": {"siteId": SPOKE}}
    assert (await gql.data(DUTIES, elsewhere))["physicianNotifications"]["nodes"] == []

    # The domain owes the same duty: the hospital may acknowledge it, the spoke may not.
    ack = {"batchId": MSC, "holdKeys": [hold["key"]], "acknowledgedAt": t(-1), "siteId": SPOKE}
    assert "was not administered at" in await refused(
        gql, service, "acknowledgePhysicianNotification", ack, "RULE_VIOLATION"
    )
    await send(gql, "acknowledgePhysicianNotification", ack | {"siteId": HOSPITAL})
    duties = (await gql.data(DUTIES))["physicianNotifications"]["nodes"]
    assert [d["open"] for d in duties] == [False, False]


async def test_each_administering_site_acknowledges_its_own_patients_physicians(
    gql: GraphQL, service: Any
) -> None:
    """V-1 given at the hospital, V-3 at a second institution: one site's acknowledgement
    leaves the other's patient's duty open, in the domain and in the view."""
    t = Timeline.ending_weeks_ago()
    await split_and_partly_given(gql, t)
    await run(gql, "registerSite", site_input(SECOND_HOSPITAL, "MEDICAL_INSTITUTION", t))
    activation = {"siteId": SECOND_HOSPITAL, "reason": "qualified", "effectiveAt": t(-58)}
    await run(gql, "activateSite", activation)
    await send(
        gql,
        "dispatchShipment",
        shipment("SHP-MSC-2", MSC, t, "V-3", toSiteId=SECOND_HOSPITAL),
    )
    received = {"shipmentId": "SHP-MSC-2", "receivedAt": t(-9.5), "conditionAcceptable": True}
    await send(gql, "receiveShipment", received)
    await send(gql, "recordAdministration", given(MSC, "V-3", "PT-4203", t, siteId=SECOND_HOSPITAL))
    await send(gql, "revokeEligibility", {"donorCode": "DNR-0042", "reason": "look-back"})
    (hold,) = (await holds(gql, MSC))["holds"]

    ack = {"batchId": MSC, "holdKeys": [hold["key"]], "acknowledgedAt": t(-1)}
    await send(gql, "acknowledgePhysicianNotification", ack | {"siteId": HOSPITAL})
    duties = (await gql.data(DUTIES))["physicianNotifications"]["nodes"]
    assert [(d["patientCode"], d["siteId"], d["open"]) for d in duties] == [
        ("PT-4201", HOSPITAL, False),
        ("PT-4202", HOSPITAL, False),
        ("PT-4203", SECOND_HOSPITAL, True),
    ]
    # The hospital cannot answer twice, nor for the other institution's patient.
    assert "already acknowledged" in await refused(
        gql,
        service,
        "acknowledgePhysicianNotification",
        ack | {"siteId": HOSPITAL},
        "RULE_VIOLATION",
    )

    await send(gql, "acknowledgePhysicianNotification", ack | {"siteId": SECOND_HOSPITAL})
    duties = (await gql.data(DUTIES))["physicianNotifications"]["nodes"]
    assert [d["open"] for d in duties] == [False, False, False]
    assert "is not an open notify-the-physician duty" in await refused(
        gql,
        service,
        "acknowledgePhysicianNotification",
        ack | {"siteId": HOSPITAL},
        "RULE_VIOLATION",
    )


async def test_records_name_the_patient_each_container_was_used_on(
    gql: GraphQL, service: Any
) -> None:
    t = Timeline.ending_weeks_ago()
    await split_and_partly_given(gql, t)

    record = (await gql.data(USES, {"id": MSC}))["sourceAndFlow"]
    uses = [(c["containerId"], c["patientCode"], c["usedAtSiteId"]) for c in record["containers"]]
    assert uses == [
        ("V-1", "PT-4201", HOSPITAL),
        ("V-2", "PT-4202", HOSPITAL),
        ("V-3", None, None),
    ]
    csv = (await gql.data("query { sourceAndFlowCsv }"))["sourceAndFlowCsv"]
    assert "PT-4201; PT-4202" in csv

    entries = (await gql.data(RECORD, {"site": HOSPITAL}))["institutionRecord"]["entries"]
    assert [(e["batchId"], e["containerId"], e["patientCode"]) for e in entries] == [
        (MSC, "V-1", "PT-4201"),
        (MSC, "V-2", "PT-4202"),
    ]

    # The last vial used up the batch: its patient is named too, not the batch's start patient.
    await shipped(gql, t, "SHP-MSC-2", MSC, "V-3")
    await send(gql, "recordAdministration", given(MSC, "V-3", "PT-4203", t))
    record = (await gql.data(USES, {"id": MSC}))["sourceAndFlow"]
    assert record["containers"][-1]["patientCode"] == "PT-4203"
    assert record["finalDisposition"] == {"patientCode": "PT-4203"}
    entries = (await gql.data(RECORD, {"site": HOSPITAL}))["institutionRecord"]["entries"]
    assert [e["patientCode"] for e in entries] == ["PT-4201", "PT-4202", "PT-4203"]


async def test_a_rebuild_writes_exactly_the_pool_and_container_rows_written_live(
    gql: GraphQL, service: Any
) -> None:
    t = Timeline.ending_weeks_ago()
    await split_and_partly_given(gql, t)
    await donor(gql, t, "DNR-0043", SECOND)
    await send(gql, "startBatch", start(t, SECOND))
    await send(gql, "revokeEligibility", {"donorCode": "DNR-0043", "reason": "look-back"})
    await send(gql, "revokeEligibility", {"donorCode": "DNR-0042", "reason": "look-back"})
    live = dump(service)
    for table in ("hold_pool_donors", "hold_container_uses", "container_uses"):
        assert live[table], table
    assert len(live["physician_notifications"]) == 2

    for workers in (1, 2):
        rebuild.rebuild(service.recorder, service.app.mapper, workers=workers)
        assert dump(service) == live


# -------------------------------------------------------------------------------- cell banks

BANKING = {"bankMasterCells": "BankMasterCellsInput", "bankWorkingCells": "BankWorkingCellsInput"}


def bank_document(field: str) -> str:
    return f"""
mutation ($input: {BANKING[field]}!) {{
  {field}(input: $input) {{ position aggregateId version }}
}}
"""


async def bank(gql: GraphQL, field: str, input: dict[str, Any]) -> dict[str, Any]:
    result = (await gql.data(bank_document(field), {"input": input}))[field]
    assert isinstance(result, dict)
    return result


async def bank_refused(
    gql: GraphQL, service: Any, field: str, input: dict[str, Any], code: str
) -> str:
    before = ledger_size(service)
    body = await gql(bank_document(field), {"input": input})
    assert ledger_size(service) == before, "a refused command stored something"
    assert [e.get("extensions", {}).get("code") for e in body.get("errors", [])] == [code], body
    return str(body["errors"][0]["message"])


def master(t: Timeline, **more: Any) -> dict[str, Any]:
    return {
        "bankId": "MCB-42",
        "donationId": MSC_DONATION,
        "passage": 2,
        "vials": 1,
        "siteId": SPOKE,
        "bankedAt": t(-30),
        **more,
    }


def working(t: Timeline, **more: Any) -> dict[str, Any]:
    return {
        "bankId": "WCB-42-1",
        "masterBankId": "MCB-42",
        "passage": 4,
        "vials": 1,
        "siteId": SPOKE,
        "bankedAt": t(-25),
        **more,
    }


async def test_cell_banks_give_no_more_vials_than_banked_and_carry_the_lineage_and_holds(
    gql: GraphQL, service: Any
) -> None:
    t = Timeline.ending_weeks_ago()
    await allogeneic(gql, t)
    await donor(gql, t, "DNR-0043", SECOND)

    await bank_refused(gql, service, "bankMasterCells", master(t, vials=0), "BAD_INPUT")
    await bank_refused(gql, service, "bankMasterCells", master(t, passage=-1), "BAD_INPUT")
    too_early = master(t, bankedAt=t(-39))
    await bank_refused(gql, service, "bankMasterCells", too_early, "RULE_VIOLATION")
    await bank(gql, "bankMasterCells", master(t))

    early = working(t, passage=2)
    assert "not after the master bank's 2" in await bank_refused(
        gql, service, "bankWorkingCells", early, "RULE_VIOLATION"
    )
    elsewhere = working(t, siteId=HOSPITAL)
    await bank_refused(gql, service, "bankWorkingCells", elsewhere, "RULE_VIOLATION")
    await bank(gql, "bankWorkingCells", working(t))
    # The master bank's one vial is used.
    assert "no vial left" in await bank_refused(
        gql, service, "bankWorkingCells", working(t, bankId="WCB-42-2"), "RULE_VIOLATION"
    )
    # A working bank is not the master of another.
    from_working = working(t, bankId="WCB-42-3", masterBankId="WCB-42-1", passage=6)
    assert "is a WORKING bank" in await bank_refused(
        gql, service, "bankWorkingCells", from_working, "RULE_VIOLATION"
    )

    from_bank = start(t, cellBankId="WCB-42-1", batchId="MSC-WCB-1")
    from_master = from_bank | {"cellBankId": "MCB-42"}
    assert "is a MASTER bank" in await refused(
        gql, service, "startBatch", from_master, "RULE_VIOLATION"
    )
    other_cells = from_bank | {"donationId": SECOND}
    assert "holds cells of donation" in await refused(
        gql, service, "startBatch", other_cells, "RULE_VIOLATION"
    )
    await send(gql, "startBatch", from_bank)
    assert "no vial left" in await refused(
        gql, service, "startBatch", from_bank | {"batchId": "MSC-WCB-2"}, "RULE_VIOLATION"
    )

    variables = {"kind": "DONATION", "id": MSC_DONATION, "direction": "FORWARD"}
    traced = (await gql.data(TRACE, variables))["recallTrace"]
    chain = {
        (e["fromKind"], e["fromId"], e["toKind"], e["toId"])
        for e in traced["edges"]
        if "CELL_BANK" in (e["fromKind"], e["toKind"]) and e["fromKind"] != "SITE"
    }
    assert chain == {
        ("DONATION", MSC_DONATION, "CELL_BANK", "MCB-42"),
        ("CELL_BANK", "MCB-42", "CELL_BANK", "WCB-42-1"),
        ("CELL_BANK", "WCB-42-1", "BATCH", "MSC-WCB-1"),
    }

    await send(gql, "revokeEligibility", {"donorCode": "DNR-0042", "reason": "look-back"})
    assert (await holds(gql, "MSC-WCB-1"))["held"] is True
