"""A record id sent with spaces around it is the record the command acts on, and its reach is
judged on that record (api/commands.py): the commands strip such spaces, so a reach rule that
looked the padded id up would find nothing, let it through as unknown, and the command would act
on a record out of the caller's reach. On both databases, with the split batch of
test_recall_containers: V-1 given at the hospital, V-2 at the second institution."""

from __future__ import annotations

from tests.api.chain_documents import HOSPITAL, LAB, Timeline
from tests.api.test_containers import MSC
from tests.api.test_recall_containers import SECOND_HOSPITAL, split_at_two_institutions
from tests.api.test_recall_lifecycle import recall, refused, send
from tests.api.test_use_time_gates import caller, qp
from tests.conftest import ledger_size

STARTED = {"recallId": "RCL-1", "origin": {"kind": "BATCH", "id": MSC}, "reason": "look-back"}


async def recalled(gql, service) -> tuple[Timeline, dict, object]:
    """The recall of the split batch: its timeline, an action's input, and the quality person."""
    t = Timeline.ending_weeks_ago()
    await split_at_two_institutions(gql, t)
    quality = qp(gql, service)
    await send(quality, "initiateRecall", STARTED | {"initiatedAt": t(-2)})
    action = {"recallId": "RCL-1", "batchId": MSC, "at": t(-1.5), "kind": "QUARANTINED"}
    return t, action, quality


async def test_a_padded_container_id_is_judged_on_the_container_it_names(gql, service):
    _, action, _ = await recalled(gql, service)
    hospital = caller(gql, service, "medical_institution", HOSPITAL)

    for padded in (" V-2", "V-2 ", "\tV-2\n"):
        error = await refused(
            hospital, service, "recordRecallAction", action | {"containerId": padded}, "FORBIDDEN"
        )
        assert "V-2" in error["message"]
        assert SECOND_HOSPITAL in error["message"]


async def test_a_padded_batch_id_is_judged_on_the_batch_it_names(gql, service):
    _, action, _ = await recalled(gql, service)
    outsider = caller(gql, service, "medical_institution", LAB)

    for padded in (MSC + " ", " " + MSC):
        await refused(
            outsider,
            service,
            "recordRecallAction",
            action | {"batchId": padded, "containerId": "V-2"},
            "FORBIDDEN",
        )


async def test_a_padded_id_within_reach_acts_on_the_record_it_names(gql, service):
    _, action, quality = await recalled(gql, service)
    second = caller(gql, service, "medical_institution", SECOND_HOSPITAL)
    before = ledger_size(service)

    padded = {"batchId": f" {MSC} ", "containerId": " V-2"}
    await send(second, "recordRecallAction", action | padded)

    assert ledger_size(service) == before + 1
    seen = await recall(quality, "RCL-1")
    assert [(a["kind"], a["containerId"]) for a in seen["actions"]] == [("QUARANTINED", "V-2")]
