"""Who wrote an event is the credential that sent it, whatever the input says; identifying details
open only for roles that need them; what a recall keeps shows a caller no more than its reach; and
seeing another organisation's batch (through a contract) grants no say over it. Over the two
organisations of ``tests.api.access``, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from api.audit.types import WITHHELD
from tests.api.access import (
    A_SPOKE,
    B_CONTROL,
    B_HOSPITAL,
    B_SPOKE,
    CORRECT_EVENT,
    EPCIS,
    INITIATE_RECALL,
    PERSONAL,
    PERSONAL_DATA,
    RECORD_BATCH_STEP,
    REPORT_ADVERSE_EVENT,
    Caller,
    all_events,
    codes,
    correction_input,
    lot,
    mutation,
    step_input,
)
from tests.conftest import ledger_size

B1_NAMES = ("B1", "PT-B1", B_SPOKE, B_HOSPITAL, B_CONTROL)


def named(value: object, names: tuple[str, ...]) -> list[str]:
    text = json.dumps(value)
    return [n for n in names if f'"{n}"' in text]


# --------------------------------------------------------------------------------- attribution


async def test_an_event_written_with_an_api_key_names_the_key_as_actor_and_its_role(as_, partners):
    operator = as_("a-operator")
    step = step_input(partners, "A2", A_SPOKE) | {"operator": "apikey:someone-else"}

    written = await operator.data(RECORD_BATCH_STEP, {"input": step})
    history = await all_events(operator, {"aggregateId": "Batch:A2"})

    event = next(e for e in history if e["position"] == written["recordBatchStep"]["position"])
    assert event["actor"] == "apikey:a-operator"
    assert event["actorRole"] == "spoke_operator"
    assert event["payload"]["operator"] == "apikey:someone-else"  # a descriptive field, no more


@pytest.mark.parametrize(
    "smuggled", [{"actor": "dr-lin-qp"}, {"actorRole": "development"}, {"actor_role": "x"}]
)
async def test_the_input_cannot_name_another_actor_or_role(as_, partners, smuggled):
    before = ledger_size(partners.service)

    body = await as_("a-operator")(
        RECORD_BATCH_STEP, {"input": step_input(partners, "A2", A_SPOKE) | smuggled}
    )

    assert codes(body) == ["BAD_INPUT"], body
    assert ledger_size(partners.service) == before


# ------------------------------------------------------------------------------- personal data


@pytest.mark.parametrize(("key", "donor"), [("a-collector", "DNR-A1"), ("b-collector", "DNR-B1")])
async def test_a_spoke_operator_of_the_donors_site_reads_the_personal_data(as_, key, donor):
    data = await as_(key).data(PERSONAL, {"code": donor})

    assert data["donor"] == {"code": donor, "personalData": PERSONAL_DATA}


@pytest.mark.parametrize("key", ["a-qp", "a-investigator", "tw-regulator"])
async def test_personal_data_is_forbidden_to_roles_that_do_not_need_it(as_, key):
    body = await as_(key)(PERSONAL, {"code": "DNR-A1"})

    assert codes(body) == ["FORBIDDEN"], body
    assert body["errors"][0]["path"] == ["donor", "personalData"]
    assert PERSONAL_DATA["nationalId"] not in json.dumps(body)


@pytest.mark.parametrize("key", ["a-qp", "a-investigator", "tw-regulator"])
async def test_the_history_shows_the_withheld_marker_instead_of_sealed_data(as_, key):
    history = await all_events(as_(key), {"aggregateId": "Donor:DNR-A1"})

    registered = history[0]["payload"]
    assert registered["sealed_personal_data"] == WITHHELD
    assert PERSONAL_DATA["nationalId"] not in json.dumps(history)


async def test_the_history_keeps_the_sealed_value_for_the_donors_own_site(as_):
    history = await all_events(as_("a-collector"), {"aggregateId": "Donor:DNR-A1"})

    sealed = history[0]["payload"]["sealed_personal_data"]
    assert sealed.startswith("v1:")
    assert PERSONAL_DATA["nationalId"] not in json.dumps(history)


# ------------------------------------------------------------------------------------ recalls


RECALL = {"recallId": "RC-LV-A", "origin": lot("LV-A"), "reason": "vector lot contaminated"}


async def recalled(investigator: Caller) -> dict:
    """A's investigator recalls what A's vector lot reached (once per ledger): the answer."""
    body = await investigator(INITIATE_RECALL, {"input": RECALL})
    assert "errors" not in body or codes(body) == ["CONFLICT"], body
    return body


async def test_a_recall_answers_its_initiator_only_the_trace_within_reach(as_):
    body = await recalled(as_("a-investigator"))

    if "errors" not in body:
        trace = body["data"]["initiateRecall"]["trace"]
        assert sorted(trace["affectedBatches"]) == ["A1", "A2"]
    assert named(body, B1_NAMES) == []


@pytest.mark.parametrize("key", ["a-investigator", "a-qp"])
async def test_the_recalls_own_event_read_back_shows_nothing_beyond_the_callers_reach(as_, key):
    await recalled(as_("a-investigator"))

    kept = await all_events(as_(key), {"aggregateId": "Recall:RC-LV-A"})

    assert kept, "the organisation reads its recall's history"
    # The event keeps the whole trace (B1 used A's lot); read back through the API it must not
    # show the other organisation's batch, patient or sites.
    assert named(kept, B1_NAMES) == [], kept[0]["payload"]["trace"]


async def test_the_epcis_document_of_a_recall_holds_only_reachable_batches(as_):
    await recalled(as_("a-investigator"))

    document = await as_("a-investigator").data(EPCIS, {"scope": {"recallId": "RC-LV-A"}})

    assert named(document, ("B1", "PT-B1", B_HOSPITAL)) == []


async def test_the_other_organisation_never_reads_a_recall_of_the_first(as_):
    await recalled(as_("a-investigator"))

    history = await all_events(as_("b-qp"), {"aggregateType": "Recall"})

    assert history == []


# ------------------------------------------- what seeing a batch through a contract does not grant


async def test_a_quality_person_cannot_destroy_a_batch_it_sees_only_through_its_laboratory(
    as_, partners
):
    await as_("a-qp").forbidden(
        mutation("destroyBatch", "BatchDecisionInput"),
        {"input": {"batchId": "B2", "reason": "destroyed by another organisation"}},
    )


async def test_a_quality_person_cannot_correct_the_other_organisations_manufacturing_record(
    as_, partners
):
    """B2's step was recorded at B's spoke; A sees B2 only because A's laboratory tested it."""
    await as_("a-qp").forbidden(
        CORRECT_EVENT, {"input": correction_input(partners.positions["B2 step"])}
    )


async def test_a_report_cannot_be_attributed_to_a_hospital_of_the_other_organisation(as_, partners):
    await as_("a-pv").forbidden(
        REPORT_ADVERSE_EVENT,
        {
            "input": {
                "adverseEventId": "AE-FORGED",
                "batchId": "A1",
                "patientCode": "PT-A1",
                "reportedBySiteId": B_HOSPITAL,
                "serious": True,
                "description": "reported in the name of B's hospital",
                "onsetAt": partners.h(40).isoformat(),
                "awareAt": partners.h(41).isoformat(),
            }
        },
    )
