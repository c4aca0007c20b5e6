"""Each role against a representative set of queries and mutations: what its role table allows
runs (a refusal by the ledger's own rules is fine where the input is deliberately minimal), what
it does not is FORBIDDEN and stores nothing. Every call names organisation A's own records, so a
refusal here is the role's and never the reach's. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from api.auth.roles import ASSIGNABLE
from tests.api.access import (
    A_CONTROL,
    A_HOSPITAL,
    A_LAB,
    A_SPARE,
    A_SPOKE,
    ADVERSE_EVENTS,
    BATCH,
    BATCHES,
    CORRECT_EVENT,
    DM_MASTER_FILE,
    DONOR,
    EPCIS,
    INITIATE_RECALL,
    KEY_OF_ROLE,
    OPEN_DEVIATION,
    RECALL_TRACE,
    RECORD_ADMINISTRATION,
    RECORD_BATCH_STEP,
    RECORD_QC_RESULT,
    RECORDS,
    REGISTER_DONOR,
    REGISTER_SITE,
    REJECT_BATCH,
    RELEASE_BATCH,
    REPORT_ADVERSE_EVENT,
    ROLES,
    SOURCE_AND_FLOW,
    SUSPEND_SITE,
    Partners,
    codes,
    correction_input,
    lot,
    mutation,
    qc_input,
    release_input,
    step_input,
)
from tests.conftest import ledger_size

SO, QC, COURIER, MI, QP, PV, REG, RI, ADMIN, PHYS = ROLES
EVERYONE = frozenset(ROLES)
# Refusals by the ledger's own rules, which a deliberately minimal input may meet.
DOMAIN_CODES = {"NOT_FOUND", "RULE_VIOLATION", "CONFLICT", "BAD_INPUT"}

Inputs = Callable[[Partners, str], dict[str, Any]]


@dataclass(frozen=True)
class Operation:
    name: str
    document: str
    variables: Inputs
    allowed: frozenset[str]
    succeeds: bool = True  # False: a refusal by the ledger's rules is expected or possible

    @property
    def is_mutation(self) -> bool:
        return self.document.lstrip().startswith("mutation")


def tag(role: str) -> str:
    return role.replace("_", "-").upper()


def at(p: Partners, hours: float) -> str:
    return p.h(hours).isoformat()


def no_variables(p: Partners, role: str) -> dict[str, Any]:
    return {}


QUERIES = [
    Operation(
        "site", "query ($id: ID!) { site(id: $id) { id } }", lambda p, r: {"id": A_SPOKE}, EVERYONE
    ),
    Operation("sites", "{ sites { id } }", no_variables, EVERYONE),
    Operation("verifyLedger", "{ verifyLedger { ok } }", no_variables, EVERYONE),
    Operation(
        "checkpoints",
        "{ checkpoints { nodes { position } } }",
        no_variables,
        frozenset({QP, REG, ADMIN}),
    ),
    Operation("donor", DONOR, lambda p, r: {"code": "DNR-A1"}, frozenset({SO, QP, REG, RI, PHYS})),
    Operation("batch", BATCH, lambda p, r: {"id": "A1"}, frozenset({SO, QC, MI, QP, PV, REG, RI})),
    Operation("batches", BATCHES, no_variables, frozenset({SO, QC, QP, REG, RI})),
    Operation(
        "sourceAndFlow", SOURCE_AND_FLOW, lambda p, r: {"batchId": "A1"}, EVERYONE - {ADMIN, PHYS}
    ),
    Operation("sourceAndFlowRecords", RECORDS, no_variables, frozenset({SO, QP, REG, RI})),
    Operation(
        "epcisDocument",
        EPCIS,
        lambda p, r: {"scope": {"batchId": "A1"}},
        frozenset({SO, QP, REG, RI}),
    ),
    Operation(
        "events",
        "{ events(first: 5) { nodes { position } } }",
        no_variables,
        frozenset({SO, COURIER, QP, PV, REG, RI}),
    ),
    Operation("adverseEvents", ADVERSE_EVENTS, no_variables, frozenset({MI, QP, PV, REG, RI})),
    Operation(
        "recallTrace",
        RECALL_TRACE,
        lambda p, r: {"origin": lot("LV-A"), "direction": "FORWARD"},
        frozenset({QP, PV, REG, RI}),
    ),
    Operation(
        "physicianNotifications",
        "{ physicianNotifications { nodes { batchId } } }",
        no_variables,
        frozenset({MI, QP, PV, REG, RI}),
    ),
    Operation(
        "dmMasterFile", DM_MASTER_FILE, lambda p, r: {"id": A_CONTROL}, frozenset({QP, REG, ADMIN})
    ),
]


def site_input(p: Partners, role: str) -> dict[str, Any]:
    return {
        "id": f"TW-MI-{tag(role)}",
        "name": "Matrix Hospital",
        "kind": "MEDICAL_INSTITUTION",
        "jurisdiction": "TW",
        "country": "TW",
        "supervisingAuthority": "TFDA",
        "controlSiteId": A_CONTROL,
    }


def lot_input(p: Partners, role: str) -> dict[str, Any]:
    return {
        "lotId": f"LOT-{tag(role)}",
        "material": "Cytokine supplement",
        "supplier": "Media Co",
        "siteId": A_SPOKE,
        "receivedAt": at(p, 19),
    }


def adverse_event_input(p: Partners, role: str) -> dict[str, Any]:
    return {
        "adverseEventId": f"AE-{tag(role)}",
        "batchId": "A1",
        "patientCode": "PT-A1",
        "reportedBySiteId": A_HOSPITAL,
        "serious": False,
        "description": "Transient fever",
        "onsetAt": at(p, 30),
        "awareAt": at(p, 31),
    }


def eligibility_input(p: Partners, role: str) -> dict[str, Any]:
    screening = [
        {"test": t, "result": "non-reactive", "reactive": False}
        for t in ("HIV-1/2 NAT", "HBsAg", "anti-HCV", "TPPA")
    ]
    return {
        "donorCode": "DNR-A3",
        "outcome": "ELIGIBLE",
        "criteriaVersion": "CRIT-2025.2",
        "screening": screening,
        "determinedAt": at(p, 6),
    }


def inputs(function: Inputs) -> Inputs:
    """Wrap an input builder as the variables of a one-input mutation."""
    return lambda p, role: {"input": function(p, role)}


MUTATIONS = [
    Operation("registerSite", REGISTER_SITE, inputs(site_input), frozenset({ADMIN})),
    Operation(
        "suspendSite",
        SUSPEND_SITE,
        inputs(lambda p, r: {"siteId": A_SPARE, "reason": "inspection finding"}),
        frozenset({ADMIN}),
    ),
    Operation(
        "registerDonor",
        REGISTER_DONOR,
        inputs(lambda p, r: {"donorCode": f"DNR-{tag(r)}"}),
        frozenset({SO}),
    ),
    Operation(
        "determineEligibility",
        mutation("determineEligibility", "DetermineEligibilityInput"),
        inputs(eligibility_input),
        frozenset({PHYS}),
        succeeds=False,  # a second determination of the same donor may meet the ledger's rules
    ),
    Operation(
        "revokeEligibility",
        mutation("revokeEligibility", "RevokeEligibilityInput"),
        inputs(lambda p, r: {"donorCode": "DNR-A4", "reason": "look-back: HCV NAT positive"}),
        frozenset({PHYS, QP}),
        succeeds=False,  # revoked once; a second revocation is a RULE_VIOLATION
    ),
    Operation(
        "receiveMaterialLot",
        mutation("receiveMaterialLot", "ReceiveMaterialLotInput"),
        inputs(lot_input),
        frozenset({SO}),
    ),
    Operation(
        "releaseMaterialLot",
        mutation("releaseMaterialLot", "MaterialLotDecisionInput"),
        inputs(lambda p, r: {"lotId": "LOT-A-QUARANTINE", "reason": "CoA reviewed"}),
        frozenset({QP}),
    ),
    Operation(
        "recordBatchStep",
        RECORD_BATCH_STEP,
        inputs(lambda p, r: step_input(p, "A2", A_SPOKE, ("LV-A",))),
        frozenset({SO}),
    ),
    Operation(
        "recordQcResult",
        RECORD_QC_RESULT,
        inputs(lambda p, r: qc_input(p, "A2", A_LAB, test=f"POTENCY-{tag(r)}")),
        frozenset({QC}),
    ),
    Operation(
        "openDeviation",
        OPEN_DEVIATION,
        inputs(lambda p, r: {"batchId": "A2", "deviationId": f"DEV-{tag(r)}", "description": "x"}),
        frozenset({SO, QC, QP}),
    ),
    Operation(
        "releaseBatch",  # A2 lacks QC results: the ledger refuses, the guard does not
        RELEASE_BATCH,
        inputs(lambda p, r: release_input(p, "A2")),
        frozenset({QP}),
        succeeds=False,
    ),
    Operation(
        "rejectBatch",  # a batch that does not exist: NOT_FOUND
        REJECT_BATCH,
        inputs(lambda p, r: {"batchId": "A-NONE", "reason": "x"}),
        frozenset({QP}),
        succeeds=False,
    ),
    Operation(
        "destroyBatch",
        mutation("destroyBatch", "BatchDecisionInput"),
        inputs(lambda p, r: {"batchId": "A-NONE", "reason": "x"}),
        frozenset({SO, QP}),
        succeeds=False,
    ),
    Operation(
        "dispatchShipment",  # A2 is not released: RULE_VIOLATION
        mutation("dispatchShipment", "DispatchShipmentInput"),
        inputs(
            lambda p, r: {
                "shipmentId": f"SHP-{tag(r)}",
                "batchIds": ["A2"],
                "fromSiteId": A_SPOKE,
                "toSiteId": A_HOSPITAL,
                "courier": "Cryo",
                "dispatchedAt": at(p, 24),
            }
        ),
        frozenset({SO, COURIER}),
        succeeds=False,
    ),
    Operation(
        "recordTemperatureExcursion",
        mutation("recordTemperatureExcursion", "TemperatureExcursionInput"),
        inputs(
            lambda p, r: {
                "shipmentId": "SHP-A3",
                "observedAt": at(p, 12.5),
                "temperatureCelsius": -120.0,
                "durationMinutes": 4,
            }
        ),
        frozenset({COURIER}),
        succeeds=False,  # the shipment may have arrived meanwhile
    ),
    Operation(
        "receiveShipment",
        mutation("receiveShipment", "ReceiveShipmentInput"),
        inputs(
            lambda p, r: {
                "shipmentId": "SHP-A3",
                "receivedAt": at(p, 13),
                "conditionAcceptable": True,
            }
        ),
        frozenset({SO, COURIER, MI}),
        succeeds=False,  # received once; the second receipt is a rule violation
    ),
    Operation(
        "recordAdministration",
        RECORD_ADMINISTRATION,
        inputs(
            lambda p, r: {
                "batchId": "A3",
                "siteId": A_HOSPITAL,
                "patientCode": "PT-A3",
                "administeredAt": at(p, 14),
                "identityVerified": True,
                "chainOfIdentityId": "CHA999925000103",  # A3's donation, din(103)
            }
        ),
        frozenset({MI}),
        succeeds=False,  # depends on whether SHP-A3 arrived
    ),
    Operation(
        "reportAdverseEvent", REPORT_ADVERSE_EVENT, inputs(adverse_event_input), frozenset({MI, PV})
    ),
    Operation(
        "submitAdverseEventToAuthority",
        mutation("submitAdverseEventToAuthority", "SubmitAdverseEventInput"),
        inputs(
            lambda p, r: {"adverseEventId": "AE-A1", "authority": "TFDA", "submittedAt": at(p, 17)}
        ),
        frozenset({PV}),
    ),
    Operation(
        "initiateRecall",
        INITIATE_RECALL,
        inputs(
            lambda p, r: {
                "recallId": f"RC-{tag(r)}",
                "origin": {"kind": "SITE", "id": A_SPARE},
                "reason": "mock recall",
            }
        ),
        frozenset({QP, RI}),
    ),
    Operation(
        "correctEvent",
        CORRECT_EVENT,
        inputs(
            lambda p, r: correction_input(p.positions["A1 step"]) | {"newValue": f"op-{tag(r)}"}
        ),
        frozenset({SO, QP}),
    ),
]

OPERATIONS = {o.name: o for o in QUERIES + MUTATIONS}
CASES = [
    pytest.param(role, name, id=f"{role}-{name}-{'allowed' if role in o.allowed else 'forbidden'}")
    for name, o in OPERATIONS.items()
    for role in ROLES
]


@pytest.mark.parametrize(("role", "name"), CASES)
async def test_a_role_may_use_exactly_the_operations_its_table_allows(as_, partners, role, name):
    operation = OPERATIONS[name]
    caller = as_(KEY_OF_ROLE[role])
    variables = operation.variables(partners, role)

    if role not in operation.allowed:
        body = await caller.forbidden(operation.document, variables)
        assert body["errors"][0]["path"] == [name], body
        return

    before = ledger_size(partners.service)
    body = await caller(operation.document, variables)

    found = codes(body)
    assert "FORBIDDEN" not in found, body
    assert set(found) <= DOMAIN_CODES, body
    if operation.succeeds:
        assert found == [], body
    if operation.is_mutation and found:
        assert ledger_size(partners.service) == before, "a refused command stored something"


def test_the_matrix_covers_every_role_of_the_role_table():
    assert set(ROLES) == set(ASSIGNABLE)
    assert set(KEY_OF_ROLE) == set(ASSIGNABLE)


# --------------------------------------------------------- work a partner's own staff must do


async def test_a_spoke_operator_starts_a_batch_under_its_spokes_own_control_site(as_, partners):
    """The spoke operator acts for the spoke and the hospital that collected the donation; the
    batch must name the spoke's control site, which the operator does not act for itself."""
    before = ledger_size(partners.service)

    body = await as_("a-maker")(
        mutation("startBatch", "StartBatchInput"),
        {
            "input": {
                "batchId": "A4",
                "product": "CART-CD19-AUTO",
                "donationId": "A999925000104",
                "patientCode": "PT-A4",
                "controlSiteId": A_CONTROL,
                "siteId": A_SPOKE,
                "startedAt": at(partners, 18),
            }
        },
    )

    assert codes(body) == [], body
    assert ledger_size(partners.service) == before + 1


async def test_a_laboratory_records_the_first_qc_result_of_a_batch_of_its_network(as_, partners):
    """A5 has not been tested yet, so it does not touch A's laboratory until this result."""
    before = ledger_size(partners.service)

    body = await as_("a-lab")(RECORD_QC_RESULT, {"input": qc_input(partners, "A5", A_LAB)})

    assert codes(body) == [], body
    assert ledger_size(partners.service) == before + 1
