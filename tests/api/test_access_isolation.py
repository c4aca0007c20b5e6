"""One organisation's credentials reach nothing of the other's: not by id, not through a filter,
not in a list, a history, a lineage or a safety report, and no command of theirs touches it; a
regulator reads its own jurisdiction (and member state) and changes nothing. On SQLite and
PostgreSQL, over the two organisations of ``tests.api.access`` (seeded once per database)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.api.access import (
    A_HOSPITAL,
    A_LAB,
    A_SPOKE,
    ADVERSE_EVENTS,
    B_CONTROL,
    B_HOSPITAL,
    B_LAB,
    B_SPOKE,
    BATCH,
    BATCHES,
    CORRECT_EVENT,
    DM_MASTER_FILE,
    DONOR,
    EPCIS,
    INITIATE_RECALL,
    OPEN_DEVIATION,
    RECALL_TRACE,
    RECORD_ADMINISTRATION,
    RECORD_BATCH_STEP,
    RECORD_QC_RESULT,
    RECORDS,
    REJECT_BATCH,
    RELEASE_BATCH,
    SOURCE_AND_FLOW,
    Partners,
    all_events,
    codes,
    correction_input,
    din,
    ids,
    lot,
    qc_input,
    release_input,
    serving,
    step_input,
)
from tests.api.client import GraphQL
from tests.conftest import ledger_size

A_KEYS = ("a-operator", "a-qp", "a-investigator")
# What each of A's keys sees among the seven batches: B2 was tested by A's laboratory, so A's
# quality unit and investigator (whose control site controls that laboratory) see it.
VISIBLE = {
    "a-operator": ["A1", "A2", "A3", "A5"],
    "a-qp": ["A1", "A2", "A3", "A5", "B2"],
    "a-investigator": ["A1", "A2", "A3", "A5", "B2"],
}
# Names only B's records carry (B1 and B3 never touched a site of A).
B_ONLY = ("B1", "B3", "PT-B1", "DNR-B1", "DNR-B3", "SHP-B1", "AE-B1", "LV-B", din(201), B_HOSPITAL)


def mentions(value: Any, names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` occur as whole values or ids anywhere in ``value``."""
    text = json.dumps(value)
    return [n for n in names if f'"{n}"' in text or f':{n}"' in text]


# ------------------------------------------------------------------------------------ reading


@pytest.mark.parametrize("key", A_KEYS)
async def test_a_partner_reads_its_own_batch_and_not_the_other_organisations(as_, key):
    caller = as_(key)

    own = await caller.data(BATCH, {"id": "A1"})
    others = [(await caller.data(BATCH, {"id": b}))["batch"] for b in ("B1", "B3")]

    assert own["batch"]["id"] == "A1"
    assert others == [None, None]


@pytest.mark.parametrize("key", A_KEYS)
async def test_the_source_and_flow_record_of_the_other_organisations_batch_is_null(as_, key):
    caller = as_(key)

    own = await caller.data(SOURCE_AND_FLOW, {"batchId": "A1"})
    other = await caller.data(SOURCE_AND_FLOW, {"batchId": "B1"})

    assert own["sourceAndFlow"]["batchId"] == "A1"
    assert other == {"sourceAndFlow": None}


@pytest.mark.parametrize("key", A_KEYS)
async def test_source_and_flow_records_hold_only_reachable_batches_whatever_the_filter(as_, key):
    caller = as_(key)

    every = await ids(caller, RECORDS, "sourceAndFlowRecords", "batchId")
    at_b_spoke = await ids(
        caller, RECORDS, "sourceAndFlowRecords", "batchId", filter={"siteId": B_SPOKE}
    )
    at_b_hospital = await ids(
        caller, RECORDS, "sourceAndFlowRecords", "batchId", filter={"siteId": B_HOSPITAL}
    )
    of_b_donor = await ids(
        caller, RECORDS, "sourceAndFlowRecords", "batchId", filter={"donorCode": "DNR-B1"}
    )

    assert sorted(every) == VISIBLE[key]
    assert at_b_spoke == at_b_hospital == [b for b in VISIBLE[key] if b.startswith("B")]
    assert of_b_donor == []


@pytest.mark.parametrize("key", A_KEYS)
async def test_batches_lists_only_reachable_batches_even_filtered_by_the_other_control_site(
    as_, key
):
    caller = as_(key)

    every = await ids(caller, BATCHES, "batches", "id")
    of_b = await ids(caller, BATCHES, "batches", "id", filter={"controlSiteId": B_CONTROL})
    of_b_donor = await ids(caller, BATCHES, "batches", "id", filter={"donorCode": "DNR-B1"})

    assert sorted(every) == VISIBLE[key]
    assert of_b == [b for b in VISIBLE[key] if b.startswith("B")]
    assert of_b_donor == []


@pytest.mark.parametrize("key", A_KEYS)
async def test_events_hold_nothing_of_the_other_organisations_batch(as_, key):
    caller = as_(key)

    of_b1 = await all_events(caller, {"aggregateId": "Batch:B1"})
    of_b_spoke = await all_events(caller, {"aggregateId": f"Site:{B_SPOKE}"})
    every = await all_events(caller)

    assert of_b1 == []
    assert of_b_spoke == []
    assert every, "the caller sees its own organisation's history"
    assert mentions(every, B_ONLY) == []
    assert {e["aggregateId"] for e in every} >= {"Batch:A1", "Batch:A2"}


@pytest.mark.parametrize("key", ["a-qp", "a-investigator"])
async def test_a_trace_from_the_other_organisations_records_finds_nothing(as_, key):
    """As if they did not exist (tests/api/test_access_origins.py compares the answers); a site
    is refused, the site register being public."""
    caller = as_(key)
    origins = [
        lot("LV-B"),
        {"kind": "BATCH", "id": "B1"},
        {"kind": "DONOR", "id": "DNR-B1"},
        {"kind": "DONATION", "id": din(201)},
        {"kind": "SHIPMENT", "id": "SHP-B1"},
        {"kind": "ADVERSE_EVENT", "id": "AE-B1"},
        {"kind": "PATIENT", "id": "PT-B1"},
    ]

    for origin in origins:
        body = await caller(RECALL_TRACE, {"origin": origin, "direction": "BOTH"})
        assert codes(body) == ["NOT_FOUND"], body
        assert body["data"] is None
    await caller.forbidden(
        RECALL_TRACE, {"origin": {"kind": "SITE", "id": B_SPOKE}, "direction": "BOTH"}
    )


async def test_a_trace_from_the_other_organisations_patient_shows_nothing_of_it(as_):
    """A patient code names no site, so it is no target; the trace from it must be cut."""
    body = await as_("a-investigator")(
        RECALL_TRACE, {"origin": {"kind": "PATIENT", "id": "PT-B1"}, "direction": "BACKWARD"}
    )

    if "errors" in body:
        assert codes(body) in (["FORBIDDEN"], ["NOT_FOUND"]), body
    else:
        trace = body["data"]["recallTrace"]
        assert trace["edges"] == []
        assert mentions(trace["nodes"], tuple(n for n in B_ONLY if n != "PT-B1")) == []


async def test_the_shared_lot_links_the_organisations_in_the_uncut_trace(partners: Partners):
    async with serving(partners.settings, partners.service) as http:  # development principal
        data = await GraphQL(http).data(
            RECALL_TRACE, {"origin": lot("LV-A"), "direction": "FORWARD"}
        )

    assert sorted(data["recallTrace"]["affectedBatches"]) == ["A1", "A2", "B1"]


@pytest.mark.parametrize("key", ["a-qp", "a-investigator"])
async def test_a_trace_from_an_own_lot_is_cut_to_the_callers_reach(as_, key):
    caller = as_(key)

    data = await caller.data(RECALL_TRACE, {"origin": lot("LV-A"), "direction": "FORWARD"})
    trace = data["recallTrace"]

    assert sorted(trace["affectedBatches"]) == ["A1", "A2"]
    assert "PT-B1" not in trace["affectedPatients"]
    assert not set(trace["affectedSites"]) & {B_CONTROL, B_SPOKE, B_HOSPITAL, B_LAB}
    assert mentions(trace, B_ONLY) == []
    kept = {(n["kind"], n["id"]) for n in trace["nodes"]}
    for edge in trace["edges"]:
        assert (edge["fromKind"], edge["fromId"]) in kept, edge
        assert (edge["toKind"], edge["toId"]) in kept, edge


async def test_the_other_organisation_traces_its_lot_without_seeing_a(as_):
    caller = as_("b-investigator")

    data = await caller.data(RECALL_TRACE, {"origin": lot("LV-B"), "direction": "FORWARD"})

    assert data["recallTrace"]["affectedBatches"] == ["B1"]
    assert mentions(data, ("A1", "A2", "A3", "PT-A1", A_SPOKE, A_HOSPITAL)) == []


@pytest.mark.parametrize("key", ["a-qp", "a-investigator"])
async def test_adverse_events_hold_only_the_callers_organisations_reports(as_, key):
    caller = as_(key)

    every = await ids(caller, ADVERSE_EVENTS, "adverseEvents", "id")
    of_b1 = await ids(caller, ADVERSE_EVENTS, "adverseEvents", "id", filter={"batchId": "B1"})
    at_b = await ids(caller, ADVERSE_EVENTS, "adverseEvents", "id", filter={"siteId": B_HOSPITAL})

    assert every == ["AE-A1"]
    assert of_b1 == []
    assert at_b == []


@pytest.mark.parametrize("key", ["a-collector", "a-qp", "a-investigator"])
async def test_the_other_organisations_donor_is_null(as_, key):
    caller = as_(key)

    own = await caller.data(DONOR, {"code": "DNR-A1"})
    other = await caller.data(DONOR, {"code": "DNR-B1"})

    assert own["donor"] == {"code": "DNR-A1"}
    assert other == {"donor": None}


@pytest.mark.parametrize("key", ["a-qp", "a-investigator"])
@pytest.mark.parametrize("scope", [{"batchId": "B1"}, {"shipmentId": "SHP-B1"}])
async def test_an_epcis_document_of_the_other_organisations_records_is_refused(as_, key, scope):
    body = await as_(key)(EPCIS, {"scope": scope})

    assert codes(body) == ["NOT_FOUND"], body
    named = set(scope.values())  # the answer may repeat the id the caller sent, nothing else
    assert mentions(body, tuple(n for n in B_ONLY if n not in named)) == []


@pytest.mark.parametrize("key", ["a-qp", "a-investigator"])
async def test_an_epcis_document_of_a_time_window_holds_only_reachable_events(as_, partners, key):
    window = {"from": partners.h(-24).isoformat(), "to": partners.h(24 * 40).isoformat()}

    data = await as_(key).data(EPCIS, {"scope": {"window": window}})

    assert data["epcisDocument"]["epcisBody"]["eventList"], "A's own events are in the window"
    assert mentions(data, B_ONLY) == []


async def test_a_dm_master_file_of_the_other_control_site_is_forbidden(as_):
    await as_("a-qp").forbidden(DM_MASTER_FILE, {"id": B_CONTROL})


# ------------------------------------------------------------------------------------ writing


Command = tuple[str, str, Callable[[Partners], dict[str, Any]]]

# What A's keys try on B's records (or at B's sites): (key, document, input).
CROSS_ORGANISATION: dict[str, Command] = {
    "a step on B's batch": (
        "a-operator",
        RECORD_BATCH_STEP,
        lambda p: step_input(p, "B1", A_SPOKE),
    ),
    "a step on B's Dutch batch": (
        "a-operator",
        RECORD_BATCH_STEP,
        lambda p: step_input(p, "B3", A_SPOKE),
    ),
    "a step of A's batch at B's spoke": (
        "a-operator",
        RECORD_BATCH_STEP,
        lambda p: step_input(p, "A2", B_SPOKE),
    ),
    "a step using B's lot": (
        "a-operator",
        RECORD_BATCH_STEP,
        lambda p: step_input(p, "A2", A_SPOKE, ("LV-B",)),
    ),
    "a correction of B's step": (
        "a-operator",
        CORRECT_EVENT,
        lambda p: correction_input(p.positions["B1 step"]),
    ),
    "a QC result on B's batch": ("a-lab", RECORD_QC_RESULT, lambda p: qc_input(p, "B1", A_LAB)),
    "a QC result at B's laboratory": (
        "a-lab",
        RECORD_QC_RESULT,
        lambda p: qc_input(p, "A2", B_LAB),
    ),
    "a release of B's batch": ("a-qp", RELEASE_BATCH, lambda p: release_input(p, "B1")),
    "a release of B's Dutch batch": ("a-qp", RELEASE_BATCH, lambda p: release_input(p, "B3")),
    "a deviation on B's batch": (
        "a-qp",
        OPEN_DEVIATION,
        lambda p: {"batchId": "B3", "deviationId": "DEV-X", "description": "x"},
    ),
    "a QP's correction of B's step": (
        "a-qp",
        CORRECT_EVENT,
        lambda p: correction_input(p.positions["B3 step"]),
    ),
    "an administration of B's batch": (
        "a-clinic",
        RECORD_ADMINISTRATION,
        lambda p: {
            "batchId": "B1",
            "siteId": A_HOSPITAL,
            "patientCode": "PT-B1",
            "administeredAt": p.h(30).isoformat(),
            "identityVerified": True,
        },
    ),
    "a recall from B's lot": (
        "a-investigator",
        INITIATE_RECALL,
        lambda p: {"recallId": "RC-X", "origin": lot("LV-B"), "reason": "vector contamination"},
    ),
    "a recall from B's batch": (
        "a-investigator",
        INITIATE_RECALL,
        lambda p: {"recallId": "RC-Y", "origin": {"kind": "BATCH", "id": "B1"}, "reason": "x"},
    ),
}


@pytest.mark.parametrize("attempt", list(CROSS_ORGANISATION))
async def test_no_command_of_one_organisation_touches_the_others_records(as_, partners, attempt):
    key, document, input = CROSS_ORGANISATION[attempt]

    await as_(key).forbidden(document, {"input": input(partners)})


async def test_a_quality_person_sees_a_batch_its_laboratory_tested_but_cannot_sign_for_it(as_):
    qp = as_("a-qp")

    seen = await qp.data(BATCH, {"id": "B2"})
    await qp.forbidden(RELEASE_BATCH, {"input": release_input(qp.partners, "B2")})
    await qp.forbidden(REJECT_BATCH, {"input": {"batchId": "B2", "reason": "not ours"}})

    assert seen["batch"]["controlSiteId"] == B_CONTROL


async def test_the_batchs_own_quality_person_releases_it(as_, partners):
    before = ledger_size(partners.service)

    data = await as_("b-qp").data(RELEASE_BATCH, {"input": release_input(partners, "B2")})

    assert data["releaseBatch"]["aggregateId"] == "Batch:B2"
    assert ledger_size(partners.service) == before + 1
