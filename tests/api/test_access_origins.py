"""Trace origins, for every kind of origin and every role: a recall cannot start from a record
beyond the caller's reach; a trace shows the same whatever the query selects; and a record of
another organisation reads exactly like one that does not exist. Over the two organisations of
``tests.api.access``, seeded once per database."""

from __future__ import annotations

import json
from typing import Any

import pytest

from api.auth.keys import ApiKeys
from api.auth.roles import ROLES as ROLE_TABLE
from api.views.types import TraceNodeKind
from domain.batch import Batch
from domain.cell_bank import CellBank
from domain.recall import Recall
from tests.api.access import (
    A_HOSPITAL,
    A_SPOKE,
    B_HOSPITAL,
    B_NL_SPOKE,
    B_SPOKE,
    EPCIS,
    INITIATE_RECALL,
    KEY_OF_ROLE,
    ROLES,
    Caller,
    Partners,
    codes,
    din,
    lot,
)

# kind: (a record of organisation A, one of B, an id naming nothing)
ORIGINS = {
    "DONOR": ("DNR-A1", "DNR-B1", "DNR-NONE"),
    "DONATION": (din(101), din(201), din(999)),
    "MATERIAL_LOT": ("LV-A", "LV-B", "LV-NONE"),
    "BATCH": ("A1", "B1", "BATCH-NONE"),
    "SHIPMENT": ("SHP-A1", "SHP-B1", "SHP-NONE"),
    "SITE": (A_SPOKE, B_SPOKE, "TW-MU-NONE"),
    "PATIENT": ("PT-A1", "PT-B1", "PT-NONE"),
    "ADVERSE_EVENT": ("AE-A1", "AE-B1", "AE-NONE"),
    "CONTAINER": ("A2/BAG-1", "B3/BAG-1", "A2/BAG-NONE"),  # A2 and B3 filled by ``filled``
    "CELL_BANK": ("MCB-A", "MCB-B", "MCB-NONE"),  # banked by ``filled``
}
KINDS = tuple(ORIGINS)
DIRECTIONS = ("FORWARD", "BACKWARD", "BOTH")
TRACERS = tuple(r for r in ROLES if "recallTrace" in ROLE_TABLE[r].queries)
RECALLERS = tuple(r for r in ROLES if "initiateRecall" in ROLE_TABLE[r].mutations)
EPCIS_READERS = tuple(r for r in ROLES if "epcisDocument" in ROLE_TABLE[r].queries)

BARE = "origin { kind id } nodes { kind id } affectedBatches affectedPatients affectedSites"
TRACE = """
query ($origin: TraceOrigin!, $direction: TraceDirection!) {
  recallTrace(origin: $origin, direction: $direction) { %s }
}
"""
TRACE_BARE = TRACE % BARE
TRACE_WITH_EDGES = TRACE % f"{BARE} edges {{ fromKind fromId toKind toId }}"
PATIENTS_ONLY = TRACE % "affectedBatches affectedPatients"


def origin(kind: str, which: int) -> dict[str, str]:
    return {"kind": kind, "id": ORIGINS[kind][which]}


def recall(recall_id: str, kind: str, which: int) -> dict[str, Any]:
    return {"recallId": recall_id, "origin": origin(kind, which), "reason": "contamination"}


def without(body: dict[str, Any], name: str) -> str:
    """The answer with ``name`` (an id the caller itself sent) blanked: what is left must not
    tell a record beyond reach from one that does not exist."""
    for error in body.get("errors", []):
        error.pop("locations", None)
    return json.dumps(body, sort_keys=True).replace(name, "<id>")


@pytest.fixture(autouse=True)
def filled(partners: Partners) -> None:
    """The CONTAINER and CELL_BANK origins (once per ledger): A2 and B3, in process, filled into
    one bag each (not B2: A's laboratory tested it, so it is within A's reach), and a master
    cell bank of each organisation."""
    for batch, spoke in (("A2", A_SPOKE), ("B3", B_NL_SPOKE)):
        if not partners.app.repository.get(Batch.ledger_id(batch)).containers:
            bag = {"container_id": "BAG-1", "kind": "BAG", "volume_ml": 70.0}
            bag |= {"dose": 2.0e8, "dose_unit": "CELLS"}
            partners.run(
                partners.app.containers.record_batch_containers,
                batch,
                spoke,
                partners.h(10.5),
                [bag],
            )
    for bank, code, n, hospital, spoke in (
        ("MCB-A", "DNR-A9", 109, A_HOSPITAL, A_SPOKE),
        ("MCB-B", "DNR-B9", 209, B_HOSPITAL, B_NL_SPOKE),
    ):
        if not partners.app.exists(CellBank, bank):
            _master_bank(partners, bank, code, n, hospital, spoke)


def _master_bank(p: Partners, bank: str, code: str, n: int, hospital: str, spoke: str) -> None:
    """An eligible donor's bone marrow, banked as a master cell bank at ``spoke``."""
    p.run(p.app.donors.register_donor, code, None, hospital)
    p.run(p.app.donors.record_consent, code, f"ICF-{code}", p.h(4))
    screening = [
        {"test": t, "result": "non-reactive", "reactive": False}
        for t in ("HIV", "HBV", "HCV", "HTLV", "SYPHILIS")
    ]
    p.run(p.app.donors.determine_eligibility, code, "ELIGIBLE", "CRIT-2025.1", screening, p.h(5))
    p.run(
        p.app.donors.record_donation,
        din(n),
        code,
        "ALLOGENEIC",
        hospital,
        "Bone marrow aspirate",
        p.h(6),
        source_tissue="BONE_MARROW",
    )
    p.run(p.app.cell_banks.bank_master_cells, bank, din(n), 2, 5, spoke, p.h(7))


@pytest.fixture
def nl_investigator(partners: Partners) -> str:
    """A recall investigator acting for B's Dutch spoke alone (created once per ledger)."""
    name = "nl-investigator"
    if name not in partners.tokens:
        keys = ApiKeys(partners.service)
        _, partners.tokens[name] = keys.create(name, "recall_investigator", [B_NL_SPOKE])
    return name


@pytest.fixture
def b_recall(partners: Partners) -> str:
    """A recall of B's vector lot, initiated by B (once per ledger)."""
    recall_id = "RC-B-LV"
    if not partners.app.exists(Recall, recall_id):
        partners.run(
            partners.app.recalls.initiate_recall, recall_id, "MATERIAL_LOT", "LV-B", "vector"
        )
    return recall_id


def test_the_origins_cover_every_kind_of_trace_node():
    assert set(KINDS) == {k.value for k in TraceNodeKind}
    assert TRACERS
    assert RECALLERS
    assert EPCIS_READERS


# ------------------------------------------------- initiating a recall from beyond the reach


@pytest.mark.parametrize("role", ROLES)
async def test_no_role_initiates_a_recall_from_the_other_organisations_records(as_, role):
    caller = as_(KEY_OF_ROLE[role])

    for kind in KINDS:
        await caller.forbidden(INITIATE_RECALL, {"input": recall(f"RC-X-{kind}", kind, 1)})


async def test_a_dutch_spokes_investigator_cannot_recall_from_a_taiwanese_patient(
    as_, nl_investigator
):
    caller = as_(nl_investigator)

    body = await caller.forbidden(INITIATE_RECALL, {"input": recall("RC-NL-PT", "PATIENT", 0)})
    # Not even from its own organisation's patient, given at a German hospital.
    await caller.forbidden(INITIATE_RECALL, {"input": recall("RC-NL-PT", "PATIENT", 1)})

    assert "PT-A1" in body["errors"][0]["message"]


@pytest.mark.parametrize("role", RECALLERS)
async def test_a_recall_from_an_own_record_of_every_kind_is_initiated(as_, partners, role):
    caller = as_(KEY_OF_ROLE[role])

    for kind in KINDS:
        recall_id = f"RC-{role}-{kind}".replace("_", "-")
        body = await caller(INITIATE_RECALL, {"input": recall(recall_id, kind, 0)})

        assert "errors" not in body, body
        trace = body["data"]["initiateRecall"]["trace"]
        assert trace["origin"] == origin(kind, 0)
        assert "B1" not in trace["affectedBatches"]
        assert "PT-B1" not in trace["affectedPatients"]


# ----------------------------------------------- a trace does not depend on what is selected


def _uncut(trace: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in trace.items() if k != "edges"}


@pytest.mark.parametrize("role", TRACERS)
async def test_a_trace_answers_the_same_nodes_whether_edges_are_selected_or_not(as_, role):
    caller = as_(KEY_OF_ROLE[role])

    for kind in KINDS:
        for direction in DIRECTIONS:
            variables = {"origin": origin(kind, 0), "direction": direction}
            bare = (await caller.data(TRACE_BARE, variables))["recallTrace"]
            full = (await caller.data(TRACE_WITH_EDGES, variables))["recallTrace"]

            assert bare == _uncut(full), (kind, direction)
            kept = {(n["kind"], n["id"]) for n in full["nodes"]}
            for edge in full["edges"]:
                assert {(edge["fromKind"], edge["fromId"]), (edge["toKind"], edge["toId"])} <= kept


@pytest.mark.parametrize(
    ("key", "vector_lot", "batches", "patients"),
    [
        ("a-qp", "LV-A", ["A1", "A2"], ["PT-A1"]),
        ("a-pv", "LV-A", ["A1", "A2"], ["PT-A1"]),
        ("a-investigator", "LV-A", ["A1", "A2"], ["PT-A1"]),
        ("tw-regulator", "LV-A", ["A1", "A2"], ["PT-A1"]),
        ("b-qp", "LV-B", ["B1"], ["PT-B1"]),
        ("b-investigator", "LV-B", ["B1"], ["PT-B1"]),
        ("de-regulator", "LV-B", ["B1"], ["PT-B1"]),
    ],
)
async def test_the_patients_a_lot_reached_are_named_without_asking_for_edges(
    as_, key, vector_lot, batches, patients
):
    """The README's recall query: batches and patients, nothing else selected."""
    variables = {"origin": lot(vector_lot), "direction": "FORWARD"}

    data = await as_(key).data(PATIENTS_ONLY, variables)

    assert data["recallTrace"] == {"affectedBatches": batches, "affectedPatients": patients}


# ------------------------------------ a record beyond the reach reads as one that is not there


@pytest.mark.parametrize("role", ROLES)
async def test_a_trace_from_beyond_the_reach_answers_as_from_nothing(as_, role):
    caller = as_(KEY_OF_ROLE[role])

    for kind in KINDS:
        _, other, missing = ORIGINS[kind]
        beyond = await caller(TRACE_BARE, {"origin": origin(kind, 1), "direction": "BOTH"})
        absent = await caller(TRACE_BARE, {"origin": origin(kind, 2), "direction": "BOTH"})

        if role not in TRACERS:
            assert codes(beyond) == codes(absent) == ["FORBIDDEN"], (kind, beyond)
            assert without(beyond, other) == without(absent, missing)
        elif kind == "SITE":  # the site register is public: refusing a site tells nothing
            assert (codes(beyond), codes(absent)) == (["FORBIDDEN"], ["NOT_FOUND"])
        else:
            assert codes(beyond) == ["NOT_FOUND"], (kind, beyond)
            assert without(beyond, other) == without(absent, missing), kind


@pytest.mark.parametrize("role", ROLES)
async def test_an_epcis_document_of_beyond_the_reach_answers_as_of_nothing(as_, b_recall, role):
    caller = as_(KEY_OF_ROLE[role])

    for field, other in (("batchId", "B1"), ("shipmentId", "SHP-B1"), ("recallId", b_recall)):
        beyond = await caller(EPCIS, {"scope": {field: other}})
        absent = await caller(EPCIS, {"scope": {field: "NONE-SUCH"}})

        expected = ["NOT_FOUND"] if role in EPCIS_READERS else ["FORBIDDEN"]
        assert codes(beyond) == expected, (field, beyond)
        assert without(beyond, other) == without(absent, "NONE-SUCH"), field


async def test_the_other_organisation_reads_its_own_records(as_, b_recall):
    """The refusals above are about reach, not about the records: B reads them."""
    caller = as_("b-investigator")

    for kind in KINDS:
        body = await caller(TRACE_BARE, {"origin": origin(kind, 1), "direction": "BOTH"})
        assert "errors" not in body, (kind, body)
    for field, own in (("batchId", "B1"), ("shipmentId", "SHP-B1"), ("recallId", b_recall)):
        document = await caller.data(EPCIS, {"scope": {field: own}})
        assert document["epcisDocument"]["epcisBody"]["eventList"], field


async def test_a_patient_given_a_batch_at_a_hospital_is_within_that_hospitals_reach(as_):
    caller: Caller = as_("a-investigator")
    variables = {"origin": {"kind": "PATIENT", "id": "PT-A1"}, "direction": "BACKWARD"}

    data = await caller.data(TRACE_BARE, variables)

    assert data["recallTrace"]["affectedPatients"] == ["PT-A1"]
    assert A_HOSPITAL in data["recallTrace"]["affectedSites"]
