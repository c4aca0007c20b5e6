"""GraphQL documents of the donor-to-patient chain, as partner systems send them, and a small
Taiwanese network to run them on.

Every business time is stated relative to a ``Timeline`` that ends weeks before now, so no
command states a time in the future and the order of events is the order of their times.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.api.client import GraphQL
from tests.conftest import ledger_size

COMMAND_RESULT = "{ position aggregateId version }"

# Each mutation of the chain and the input type the partner contract gives it.
INPUT_TYPES = {
    "registerSite": "RegisterSiteInput",
    "activateSite": "SiteStatusInput",
    "suspendSite": "SiteStatusInput",
    "reinstateSite": "SiteStatusInput",
    "registerDonor": "RegisterDonorInput",
    "recordConsent": "RecordConsentInput",
    "withdrawConsent": "WithdrawConsentInput",
    "determineEligibility": "DetermineEligibilityInput",
    "revokeEligibility": "RevokeEligibilityInput",
    "recordDonation": "RecordDonationInput",
    "receiveMaterialLot": "ReceiveMaterialLotInput",
    "releaseMaterialLot": "MaterialLotDecisionInput",
    "rejectMaterialLot": "MaterialLotDecisionInput",
    "startBatch": "StartBatchInput",
    "recordBatchStep": "RecordBatchStepInput",
    "recordQcResult": "RecordQcResultInput",
    "openDeviation": "OpenDeviationInput",
    "closeDeviation": "CloseDeviationInput",
    "releaseBatch": "ReleaseBatchInput",
    "rejectBatch": "BatchDecisionInput",
    "destroyBatch": "BatchDecisionInput",
    "dispatchShipment": "DispatchShipmentInput",
    "recordTemperatureExcursion": "TemperatureExcursionInput",
    "receiveShipment": "ReceiveShipmentInput",
    "recordAdministration": "RecordAdministrationInput",
    "recordPatientIdentity": "RecordPatientIdentityInput",
    "declareImport": "DeclareImportInput",
    "recordBatchContainers": "RecordBatchContainersInput",
    "reportAdverseEvent": "ReportAdverseEventInput",
    "submitAdverseEventToAuthority": "SubmitAdverseEventInput",
    "liftBatchHold": "LiftBatchHoldInput",
    "acknowledgePhysicianNotification": "AcknowledgePhysicianNotificationInput",
    "correctEvent": "CorrectEventInput",
}


def mutation(field: str) -> str:
    """The document a partner sends for ``field``: one ``$input`` variable, a CommandResult."""
    name = field[0].upper() + field[1:]
    return f"""
mutation {name}($input: {INPUT_TYPES[field]}!) {{
  {field}(input: $input) {COMMAND_RESULT}
}}
"""


BATCH_FIELDS = """
  id product status donationId donorCode patientCode controlSiteId siteId location startedAt
  release { qualifiedPerson signatureMeaning releasedAt }
  affected affectedBy
"""

BATCH = f"""
query Batch($id: ID!, $asOf: DateTime) {{
  batch(id: $id, asOf: $asOf) {{ {BATCH_FIELDS} }}
}}
"""

BATCHES = """
query Batches($filter: BatchFilter, $first: Int, $after: String, $asOf: DateTime) {
  batches(filter: $filter, first: $first, after: $after, asOf: $asOf) {
    nodes { id status donorCode affected affectedBy }
    pageInfo { hasNextPage endCursor }
  }
}
"""

DONOR = """
query Donor($code: ID!, $asOf: DateTime) {
  donor(code: $code, asOf: $asOf) {
    code registeredAt
    consent { reference signedAt legalRepresentative notarised withdrawnAt }
    eligibility { outcome determinedAt determinedBy criteriaVersion revoked }
  }
}
"""

# The network: a Taiwanese control site, a modular unit under it, a hospital that collects and
# infuses, and a QC laboratory.
CONTROL = "TW-CTRL-TPE"
SPOKE = "TW-MU-HSINCHU"
HOSPITAL = "TW-MI-NTUH"
LAB = "TW-LAB-QC"

DONOR_CODE = "DNR-0001"
PATIENT = "PT-0001"
# ISBT 128 published example: A999921123456, check character 3, written as on a label.
DIN_LABELLED = "A9999211234563"
DIN = "A999921123456"
# The ISBT 128 chain-of-identity identifier of that donation: CH, facility, year, sequence.
CHAIN_OF_IDENTITY = "CHA999921123456"
VECTOR_LOT = "LV-CD19-25A01"
PRODUCT = "CART-CD19-AUTO"
# domain/data/products.json: what must have passed before a QP may release a CART-CD19-AUTO batch
REQUIRED_QC = (
    "STERILITY",
    "ENDOTOXIN",
    "MYCOPLASMA",
    "VIABILITY",
    "IDENTITY",
    "CAR_EXPRESSION",
    "VECTOR_COPY_NUMBER",
    "POTENCY",
    "RCL",
)

SCREENING = [
    {"test": "HIV", "result": "HIV-1/2 Ab and NAT non-reactive", "reactive": False},
    {"test": "HBV", "result": "HBsAg, anti-HBc and NAT non-reactive", "reactive": False},
    {"test": "HCV", "result": "Anti-HCV and NAT non-reactive", "reactive": False},
    {"test": "SYPHILIS", "result": "TPPA non-reactive", "reactive": False},
    # Taiwan asks for HTLV too when the cells are leukocyte-rich (domain/data/donor_protection.json)
    {"test": "HTLV", "result": "HTLV-I/II Ab non-reactive", "reactive": False},
]


@dataclass(frozen=True)
class Timeline:
    """Business times: ``t(days)`` is ``days`` after the timeline's origin, in ISO 8601."""

    origin: datetime

    @classmethod
    def ending_weeks_ago(cls) -> Timeline:
        now = datetime.now(UTC).replace(microsecond=0)
        return cls(now - timedelta(days=30))

    def at(self, days: float) -> datetime:
        return self.origin + timedelta(days=days)

    def __call__(self, days: float) -> str:
        return self.at(days).isoformat()


async def moment() -> str:
    """Now (ledger time), with the clock moved on a little either side."""
    await asyncio.sleep(0.01)
    now = datetime.now(UTC)
    await asyncio.sleep(0.01)
    return now.isoformat()


async def run(gql: GraphQL, field: str, input: dict[str, Any]) -> dict[str, Any]:
    """Send one command that must succeed; answer its CommandResult."""
    data = await gql.data(mutation(field), {"input": input})
    result = data[field]
    assert isinstance(result, dict)
    assert set(result) == {"position", "aggregateId", "version"}, result
    return result


async def refused(
    gql: GraphQL, service: Any, field: str, input: dict[str, Any], code: str
) -> dict[str, Any]:
    """Send one command that must be refused with ``code`` and store nothing; answer the error."""
    before = ledger_size(service)
    body = await gql(mutation(field), {"input": input})
    assert ledger_size(service) == before, "a refused command stored something"
    assert "errors" in body, body
    assert [e.get("extensions", {}).get("code") for e in body["errors"]] == [code], body
    assert (body.get("data") or {}).get(field) is None, body
    error = body["errors"][0]
    assert isinstance(error, dict)
    assert error["message"]
    return error


# ------------------------------------------------------------------------------ building blocks


def site_input(site_id: str, kind: str, t: Timeline, **more: Any) -> dict[str, Any]:
    return {
        "id": site_id,
        "name": f"Site {site_id}",
        "kind": kind,
        "jurisdiction": "TW",
        "country": "TW",
        "supervisingAuthority": "TFDA",
        # In Taiwan processing sites, control sites and medical institutions are licensed
        # (domain/data/site_authorisation.json); a laboratory's number does no harm.
        "licenceNumber": f"TFDA-{site_id}",
        "registeredAt": t(-60),
        **more,
    }


async def network(gql: GraphQL, t: Timeline) -> list[dict[str, Any]]:
    """Register and activate the four sites; answer the CommandResults in order."""
    results = [
        await run(gql, "registerSite", site_input(CONTROL, "CONTROL_SITE", t)),
        await run(gql, "registerSite", site_input(SPOKE, "MODULAR_UNIT", t, controlSiteId=CONTROL)),
        await run(gql, "registerSite", site_input(HOSPITAL, "MEDICAL_INSTITUTION", t)),
        await run(gql, "registerSite", site_input(LAB, "TESTING_LABORATORY", t)),
    ]
    for site_id, days in ((CONTROL, -59), (SPOKE, -58), (HOSPITAL, -58), (LAB, -58)):
        results.append(
            await run(
                gql,
                "activateSite",
                {"siteId": site_id, "reason": "qualified", "effectiveAt": t(days)},
            )
        )
    return results


async def donor_with_donation(
    gql: GraphQL,
    t: Timeline,
    donor: str = DONOR_CODE,
    donation: str = DIN_LABELLED,
    personal_data: dict[str, Any] | None = None,
    patient: str = PATIENT,
) -> list[dict[str, Any]]:
    """A donor with consent, an ELIGIBLE determination and one autologous donation collected
    for ``patient``."""
    registration: dict[str, Any] = {"donorCode": donor}
    if personal_data is not None:
        registration["personalData"] = personal_data
    return [
        await run(gql, "registerDonor", registration),
        await run(
            gql,
            "recordConsent",
            {"donorCode": donor, "consentReference": f"ICF-{donor}", "signedAt": t(-40)},
        ),
        await run(
            gql,
            "determineEligibility",
            {
                "donorCode": donor,
                "outcome": "ELIGIBLE",
                "criteriaVersion": "TFDA-RM-DS-2025.1",
                "screening": SCREENING,
                "determinedAt": t(-39),
            },
        ),
        await run(
            gql,
            "recordDonation",
            {
                "donationId": donation,
                "donorCode": donor,
                "donationType": "AUTOLOGOUS",
                "siteId": HOSPITAL,
                "material": "Leukapheresis product",
                "sourceTissue": "PERIPHERAL_BLOOD_APHERESIS",
                "acquiredAt": t(-38),
                "intendedPatientCode": patient,
            },
        ),
    ]


async def released_lot(gql: GraphQL, t: Timeline, lot: str = VECTOR_LOT) -> list[dict[str, Any]]:
    return [
        await run(
            gql,
            "receiveMaterialLot",
            {
                "lotId": lot,
                "material": "Lentiviral vector, anti-CD19 CAR",
                "supplier": "Formosa Vector Manufacturing",
                "siteId": SPOKE,
                "receivedAt": t(-37),
                "expiresAt": t(400),
            },
        ),
        await run(
            gql,
            "releaseMaterialLot",
            {"lotId": lot, "reason": "CoA reviewed", "decidedAt": t(-36)},
        ),
    ]


async def started_batch(
    gql: GraphQL,
    t: Timeline,
    batch: str,
    donation: str = DIN_LABELLED,
    patient: str = PATIENT,
) -> dict[str, Any]:
    return await run(
        gql,
        "startBatch",
        {
            "batchId": batch,
            "product": PRODUCT,
            "donationId": donation,
            "patientCode": patient,
            "controlSiteId": CONTROL,
            "siteId": SPOKE,
            "startedAt": t(-20),
        },
    )


async def transduction(gql: GraphQL, t: Timeline, batch: str) -> dict[str, Any]:
    return await run(
        gql,
        "recordBatchStep",
        {
            "batchId": batch,
            "step": "Lentiviral transduction",
            "siteId": SPOKE,
            "startedAt": t(-19),
            "completedAt": t(-18),
            "operator": "op-tw-mu-hsinchu",
            "equipment": "TW-MU-HSINCHU-ISOLATOR-1",
            "materialLots": [VECTOR_LOT],
            "parameters": {"moi": 5, "vector_volume_ml": 1.5, "closed_system": True},
        },
    )


def qc_input(batch: str, test: str, t: Timeline, passed: bool = True) -> dict[str, Any]:
    return {
        "batchId": batch,
        "test": test,
        "method": f"validated method for {test}",
        "specification": "per the product specification",
        "result": "conforms" if passed else "does not conform",
        "passed": passed,
        "testedAt": t(-11),
        "laboratorySiteId": LAB,
    }


async def qc(gql: GraphQL, t: Timeline, batch: str, tests: tuple[str, ...] = REQUIRED_QC) -> list:
    return [await run(gql, "recordQcResult", qc_input(batch, test, t)) for test in tests]


async def release(gql: GraphQL, t: Timeline, batch: str) -> dict[str, Any]:
    return await run(
        gql,
        "releaseBatch",
        {"batchId": batch, "signatureMeaning": "QP certification", "releasedAt": t(-10)},
    )


def dispatch_input(batch: str, t: Timeline, shipment: str | None = None) -> dict[str, Any]:
    return {
        "shipmentId": shipment or f"SHP-{batch}",
        "batchIds": [batch],
        "fromSiteId": SPOKE,
        "toSiteId": HOSPITAL,
        "courier": "CryoLogistics (LN2 dry shipper)",
        "dispatchedAt": t(-9.9),
    }


async def delivered(gql: GraphQL, t: Timeline, batch: str) -> list[dict[str, Any]]:
    """Dispatch a released batch to the hospital and receive it there in good condition."""
    return [
        await run(gql, "dispatchShipment", dispatch_input(batch, t)),
        await run(
            gql,
            "receiveShipment",
            {"shipmentId": f"SHP-{batch}", "receivedAt": t(-9.5), "conditionAcceptable": True},
        ),
    ]


async def batch(gql: GraphQL, batch_id: str, as_of: str | None = None) -> dict[str, Any] | None:
    data = await gql.data(BATCH, {"id": batch_id, "asOf": as_of})
    found = data["batch"]
    assert found is None or isinstance(found, dict)
    return found


async def batches(gql: GraphQL, **variables: Any) -> dict[str, Any]:
    data = await gql.data(BATCHES, variables)
    found = data["batches"]
    assert isinstance(found, dict)
    return found


async def donor(gql: GraphQL, code: str, as_of: str | None = None) -> dict[str, Any] | None:
    data = await gql.data(DONOR, {"code": code, "asOf": as_of})
    found = data["donor"]
    assert found is None or isinstance(found, dict)
    return found
