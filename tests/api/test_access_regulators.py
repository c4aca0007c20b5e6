"""A competent authority reads the records of its jurisdiction, and for an EU authority of its
member state, and nothing else; it changes nothing. Over the two organisations of
``tests.api.access`` (A in Taiwan; B in Germany with a Dutch spoke), on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.access import (
    A_BATCHES,
    A_CONTROL,
    A_HOSPITAL,
    A_SPOKE,
    ADVERSE_EVENTS,
    B_BATCHES,
    B_CONTROL,
    BATCH,
    BATCHES,
    CORRECT_EVENT,
    DM_MASTER_FILE,
    INITIATE_RECALL,
    RECORD_BATCH_STEP,
    RECORDS,
    REGISTER_SITE,
    RELEASE_BATCH,
    REPORT_ADVERSE_EVENT,
    SUSPEND_SITE,
    Caller,
    Partners,
    all_events,
    correction_input,
    ids,
    lot,
    release_input,
    step_input,
)


@pytest.mark.parametrize(
    ("key", "batches"),
    [
        ("tw-regulator", ["A1", "A2", "A3", "A5", "B2"]),  # B2: tested in Taiwan
        ("de-regulator", ["B1", "B2", "B3"]),  # B's control site is in Germany
        ("nl-regulator", ["B3"]),  # made at B's Dutch spoke
    ],
)
async def test_a_regulator_sees_the_batches_of_its_jurisdiction_and_member_state(as_, key, batches):
    regulator = as_(key)

    listed = await ids(regulator, BATCHES, "batches", "id")
    records = await ids(regulator, RECORDS, "sourceAndFlowRecords", "batchId")
    one_by_one = [b for b in (*A_BATCHES, *B_BATCHES) if await _seen(regulator, b)]

    assert sorted(listed) == batches
    assert sorted(records) == batches
    assert one_by_one == batches


async def _seen(caller: Caller, batch: str) -> bool:
    return (await caller.data(BATCH, {"id": batch}))["batch"] is not None


@pytest.mark.parametrize(
    ("key", "reports", "absent"),
    [("tw-regulator", ["AE-A1"], "Batch:B1"), ("de-regulator", ["AE-B1"], "Batch:A1")],
)
async def test_a_regulator_reads_reports_and_history_of_its_jurisdiction_only(
    as_, key, reports, absent
):
    regulator = as_(key)

    listed = await ids(regulator, ADVERSE_EVENTS, "adverseEvents", "id")
    history = await all_events(regulator)

    assert listed == reports
    assert absent not in {e["aggregateId"] for e in history}


@pytest.mark.parametrize(
    ("key", "own", "other"),
    [("tw-regulator", A_CONTROL, B_CONTROL), ("de-regulator", B_CONTROL, A_CONTROL)],
)
async def test_a_regulator_reads_the_dm_master_file_of_its_jurisdiction_only(as_, key, own, other):
    regulator = as_(key)

    found = await regulator.data(DM_MASTER_FILE, {"id": own})
    await regulator.forbidden(DM_MASTER_FILE, {"id": other})

    assert found["dmMasterFile"]["controlSite"]["id"] == own


def regulator_commands(p: Partners) -> dict[str, tuple[str, dict[str, Any]]]:
    return {
        "recordBatchStep": (RECORD_BATCH_STEP, step_input(p, "A2", A_SPOKE)),
        "releaseBatch": (RELEASE_BATCH, release_input(p, "B3")),
        "correctEvent": (CORRECT_EVENT, correction_input(p.positions["A1 step"])),
        "suspendSite": (SUSPEND_SITE, {"siteId": A_SPOKE, "reason": "inspection finding"}),
        "registerSite": (
            REGISTER_SITE,
            {
                "id": "TW-MI-REG",
                "name": "x",
                "kind": "MEDICAL_INSTITUTION",
                "jurisdiction": "TW",
                "country": "TW",
                "supervisingAuthority": "TFDA",
            },
        ),
        "reportAdverseEvent": (
            REPORT_ADVERSE_EVENT,
            {
                "adverseEventId": "AE-REG",
                "batchId": "A1",
                "patientCode": "PT-A1",
                "reportedBySiteId": A_HOSPITAL,
                "serious": False,
                "description": "x",
                "onsetAt": p.h(40).isoformat(),
                "awareAt": p.h(41).isoformat(),
            },
        ),
        "initiateRecall": (
            INITIATE_RECALL,
            {"recallId": "RC-REG", "origin": lot("LV-A"), "reason": "authority order"},
        ),
    }


REGULATOR_COMMANDS = (
    "recordBatchStep",
    "releaseBatch",
    "correctEvent",
    "suspendSite",
    "registerSite",
    "reportAdverseEvent",
    "initiateRecall",
)


@pytest.mark.parametrize("key", ["tw-regulator", "de-regulator"])
@pytest.mark.parametrize("command", REGULATOR_COMMANDS)
async def test_no_regulator_command_passes(as_, partners, key, command):
    document, input = regulator_commands(partners)[command]

    await as_(key).forbidden(document, {"input": input})
