"""Batched submissions (issue 19, ADR 10), through the API on both databases: an offline site's
backlog of 10,000 commands syncs in one call, every command through its own mutation's checks
and rules; a resend stores nothing twice; ALL_OR_NOTHING stores nothing on a refusal;
UNTIL_FIRST_REFUSAL stores what came before the refusal; access is checked per command; the size
limits refuse a batch before anything runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import closing
from typing import Any

import pytest
from fastapi import FastAPI

from api.app import create_app
from api.settings import Settings
from api.wiring import Regentrace
from tests.api.access import A_SPOKE, B_NL_SPOKE, Caller, Partners, step_input
from tests.api.chain_documents import (
    CONTROL,
    HOSPITAL,
    PRODUCT,
    SCREENING,
    SPOKE,
    VECTOR_LOT,
    Timeline,
    mutation,
    site_input,
)
from tests.api.client import GraphQL, client_for
from tests.conftest import ledger_size

SUBMIT = """
mutation ($input: SubmitCommandsInput!) {
  submitCommands(input: $input) {
    mode
    stored
    outcomes {
      commandId mutation status
      result { position aggregateId version }
      error { code message field }
    }
  }
}
"""
BACKLOG = 10_000


@pytest.fixture
def app(settings: Settings, service: Regentrace) -> FastAPI:
    # A backlog of 10,000 commands is about 3.5 MB of JSON: over the default request limit.
    return create_app(settings.model_copy(update={"max_body_bytes": 16_000_000}), service)


def command(command_id: str, field: str, input: dict[str, Any]) -> dict[str, Any]:
    return {"commandId": command_id, "mutation": field, "input": input}


def network(t: Timeline) -> list[dict[str, Any]]:
    """The offline site's network: a control site and a modular unit under it, a hospital."""
    sites = [
        (CONTROL, "CONTROL_SITE", {}),
        (SPOKE, "MODULAR_UNIT", {"controlSiteId": CONTROL}),
        (HOSPITAL, "MEDICAL_INSTITUTION", {}),
    ]
    found = [
        command(f"site-{s}", "registerSite", site_input(s, k, t, licenceNumber=f"LIC-{s}", **more))
        for s, k, more in sites
    ]
    activation = {"reason": "qualified", "effectiveAt": t(-59)}
    found += [
        command(f"activate-{s}", "activateSite", {"siteId": s, **activation}) for s, _, _ in sites
    ]
    return found


def batch_commands(t: Timeline, n: int, steps: int) -> list[dict[str, Any]]:
    """Donor DNR-n, their donation, batch B-n started from it and ``steps`` steps."""
    donor, batch, din = f"DNR-{n}", f"B-{n}", f"A999921{n:06d}"
    found = [
        command(f"{n}-donor", "registerDonor", {"donorCode": donor, "siteId": HOSPITAL}),
        command(
            f"{n}-consent",
            "recordConsent",
            {"donorCode": donor, "consentReference": f"ICF-{n}", "signedAt": t(-40)},
        ),
        command(
            f"{n}-eligible",
            "determineEligibility",
            {
                "donorCode": donor,
                "outcome": "ELIGIBLE",
                "criteriaVersion": "TFDA-RM-DS-2025.1",
                "screening": SCREENING,
                "determinedAt": t(-39),
            },
        ),
        command(
            f"{n}-donation",
            "recordDonation",
            {
                "donationId": din,
                "donorCode": donor,
                "donationType": "AUTOLOGOUS",
                "siteId": HOSPITAL,
                "material": "Leukapheresis product",
                "sourceTissue": "PERIPHERAL_BLOOD_APHERESIS",
                "acquiredAt": t(-38),
                "intendedPatientCode": f"PT-{n}",
            },
        ),
        command(
            f"{n}-start",
            "startBatch",
            {
                "batchId": batch,
                "product": PRODUCT,
                "donationId": din,
                "patientCode": f"PT-{n}",
                "controlSiteId": CONTROL,
                "siteId": SPOKE,
                "startedAt": t(-20),
            },
        ),
    ]
    found += [command(f"{n}-step-{k}", "recordBatchStep", step(t, batch, k)) for k in range(steps)]
    return found


def step(t: Timeline, batch: str, k: int, lots: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "batchId": batch,
        "step": f"Expansion, day {k}",
        "siteId": SPOKE,
        "startedAt": t(-19 + k / 10_000),
        "completedAt": t(-18 + k / 10_000),
        "operator": "op-tw-mu-hsinchu",
        "materialLots": list(lots),
    }


def lot_commands(t: Timeline) -> list[dict[str, Any]]:
    return [
        command(
            "lot-received",
            "receiveMaterialLot",
            {
                "lotId": VECTOR_LOT,
                "material": "Lentiviral vector, anti-CD19 CAR",
                "supplier": "Formosa Vector Manufacturing",
                "siteId": SPOKE,
                "receivedAt": t(-37),
                "expiresAt": t(400),
            },
        ),
        command(
            "lot-released",
            "releaseMaterialLot",
            {"lotId": VECTOR_LOT, "reason": "CoA reviewed", "decidedAt": t(-36)},
        ),
    ]


def backlog(t: Timeline, size: int, batches: int = 20) -> list[dict[str, Any]]:
    """``size`` commands: the network, a vector lot, then ``batches`` batches sharing the rest."""
    found = network(t) + lot_commands(t)
    steps = (size - len(found)) // batches - 5
    for n in range(1, batches + 1):
        found += batch_commands(t, n, steps)
    found += [command(f"1-more-{k}", "recordBatchStep", step(t, "B-1", k)) for k in range(steps)]
    return found[:size]


async def submit(gql: GraphQL, mode: str, commands: list[dict[str, Any]]) -> dict[str, Any]:
    data = await gql.data(SUBMIT, {"input": {"mode": mode, "commands": commands}})
    answer = data["submitCommands"]
    assert [o["commandId"] for o in answer["outcomes"]] == [c["commandId"] for c in commands]
    return answer


def statuses(answer: dict[str, Any]) -> list[str]:
    return [o["status"] for o in answer["outcomes"]]


def stored_commands(service: Regentrace) -> int:
    with service.read() as sql:
        return int(sql.scalar("SELECT COUNT(*) FROM commands"))


# ------------------------------------------------------------------------------ the backlog


async def test_a_backlog_of_ten_thousand_commands_syncs_in_one_call_and_a_resend_stores_nothing(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    commands = backlog(t, BACKLOG)
    assert len(commands) == BACKLOG

    started = time.perf_counter()
    answer = await submit(gql, "UNTIL_FIRST_REFUSAL", commands)
    elapsed = time.perf_counter() - started

    assert statuses(answer) == ["DONE"] * BACKLOG, answer["outcomes"][:3]
    assert answer["stored"] == BACKLOG
    positions = [o["result"]["position"] for o in answer["outcomes"]]
    assert positions == sorted(set(positions)), "each command's events land after the one before"
    assert ledger_size(service) == positions[-1] == BACKLOG  # one event per command here
    assert stored_commands(service) == BACKLOG
    # Every command ran through its rules: the batch made from the donation holds its steps.
    data = await gql.data('query { batch(id: "B-1") { status donationId } }')
    assert data["batch"] == {"status": "IN_PROCESS", "donationId": "A999921000001"}
    print(f"{BACKLOG:,} commands in one call: {elapsed:.1f}s")  # shown with -s

    again = await submit(gql, "UNTIL_FIRST_REFUSAL", commands)

    assert statuses(again) == ["ALREADY_DONE"] * BACKLOG
    assert again["stored"] == 0
    assert [o["result"] for o in again["outcomes"]] == [o["result"] for o in answer["outcomes"]]
    assert ledger_size(service) == BACKLOG
    assert stored_commands(service) == BACKLOG


async def test_until_first_refusal_stores_what_came_before_and_a_corrected_resend_finishes(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    commands = network(t) + lot_commands(t) + batch_commands(t, 1, 3)
    # Step 2 uses a lot the site never received: the single mutation refuses it NOT_FOUND.
    bad = 8 + 5 + 1
    commands[bad] = command("1-step-1", "recordBatchStep", step(t, "B-1", 1, ("LV-NEVER",)))

    answer = await submit(gql, "UNTIL_FIRST_REFUSAL", commands)

    assert statuses(answer) == ["DONE"] * bad + ["REFUSED", "NOT_ATTEMPTED"]
    assert answer["stored"] == bad
    assert ledger_size(service) == bad
    refused = answer["outcomes"][bad]
    assert refused["result"] is None
    # The same command alone, on what the batch stored, is refused the same way.
    single = await gql(mutation("recordBatchStep"), {"input": commands[bad]["input"]})
    assert refused["error"]["code"] == single["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert refused["error"]["message"] == single["errors"][0]["message"]
    before = 0

    commands[bad] = command("1-step-1", "recordBatchStep", step(t, "B-1", 1, (VECTOR_LOT,)))
    resent = await submit(gql, "UNTIL_FIRST_REFUSAL", commands)

    assert statuses(resent) == ["ALREADY_DONE"] * bad + ["DONE", "DONE"]
    assert [o["result"] for o in resent["outcomes"][:bad]] == [
        o["result"] for o in answer["outcomes"][:bad]
    ]
    assert ledger_size(service) == before + bad + 2


async def test_all_or_nothing_stores_nothing_on_a_refusal_and_everything_without_one(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    # The spoke is activated after its registration and its control site's, in the same batch:
    # each command sees what the commands before it did.
    commands = network(t) + lot_commands(t) + batch_commands(t, 1, 2)
    broken = [*commands[:-1], command("late", "recordBatchStep", step(t, "B-404", 0))]
    broken.append(command("after", "recordBatchStep", step(t, "B-1", 5)))

    answer = await submit(gql, "ALL_OR_NOTHING", broken)

    last = len(commands) - 1
    assert statuses(answer) == ["ROLLED_BACK"] * last + ["REFUSED", "NOT_ATTEMPTED"]
    assert answer["outcomes"][last]["error"]["code"] == "NOT_FOUND"
    assert answer["stored"] == 0
    assert all(o["result"] is None for o in answer["outcomes"]), "no position was kept"
    assert ledger_size(service) == 0
    assert stored_commands(service) == 0
    assert (await gql.data('query { site(id: "TW-CTRL-TPE") { id } }'))["site"] is None

    done = await submit(gql, "ALL_OR_NOTHING", commands)

    assert statuses(done) == ["DONE"] * len(commands)
    assert ledger_size(service) == len(commands)
    # The aggregates the rolled-back batch loaded were never seen by the application's own
    # cache: a single command after it decides on what is stored.
    await gql.data(mutation("recordBatchStep"), {"input": step(t, "B-1", 9)})
    assert ledger_size(service) == len(commands) + 1


async def test_a_reused_command_id_is_refused_and_bad_commands_are_named(gql: GraphQL) -> None:
    t = Timeline.ending_weeks_ago()
    first = network(t)[:1]
    await submit(gql, "UNTIL_FIRST_REFUSAL", first)
    other = dict(first[0], input={**first[0]["input"], "name": "Another name"})

    for sent, code, field in [
        (other, "CONFLICT", None),
        (command("x1", "noSuchMutation", {}), "BAD_INPUT", "mutation"),
        (command("x2", "activateSite", {"siteId": CONTROL}), "BAD_INPUT", "input"),
        (command("x3", "activateSite", {"siteId": CONTROL, "reason": 5}), "BAD_INPUT", "reason"),
        (command("bad id!", "activateSite", {"siteId": CONTROL, "reason": "r"}), "BAD_INPUT", None),
    ]:
        answer = await submit(gql, "ALL_OR_NOTHING", [sent])
        assert statuses(answer) == ["REFUSED"], sent
        error = answer["outcomes"][0]["error"]
        assert error["code"] == code, (sent, error)
        if field is not None:
            assert error["field"] == field, (sent, error)


# ------------------------------------------------------------------------------ limits


@pytest.mark.parametrize(
    ("mode", "limits", "message"),
    [
        ("UNTIL_FIRST_REFUSAL", {"batch_max_commands": 3}, "at most 3 are accepted in one call"),
        ("UNTIL_FIRST_REFUSAL", {"batch_max_bytes": 2048}, "over 2,048 bytes as JSON"),
        ("ALL_OR_NOTHING", {"batch_transaction_commands": 5}, "is one transaction: at most 5"),
    ],
)
async def test_a_batch_over_a_size_limit_is_refused_before_anything_runs(
    settings: Settings, service: Regentrace, mode: str, limits: dict[str, int], message: str
) -> None:
    limited = settings.model_copy(update=limits)
    t = Timeline.ending_weeks_ago()
    commands = network(t) + lot_commands(t) + batch_commands(t, 1, 3)  # 16, about 5 kB
    with closing(Regentrace(limited)) as running:
        async with client_for(create_app(limited, running)) as http:
            body = await GraphQL(http)(SUBMIT, {"input": {"mode": mode, "commands": commands}})

    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_INPUT"], body
    assert message in body["errors"][0]["message"]
    assert body["errors"][0]["extensions"]["field"] == "commands"
    assert ledger_size(service) == 0


# ------------------------------------------------------------------------------ access


async def test_access_is_checked_per_command(
    partners: Partners, as_: Callable[[str], Caller]
) -> None:
    operator = as_("a-operator")
    own = command("reach-1", "recordBatchStep", step_input(partners, "A5", A_SPOKE))
    theirs = command("reach-2", "recordBatchStep", step_input(partners, "B3", B_NL_SPOKE))
    single = await operator(mutation("recordBatchStep"), {"input": theirs["input"]})
    before = ledger_size(partners.service)

    answer = await submit(operator.gql, "ALL_OR_NOTHING", [own, theirs])

    assert statuses(answer) == ["ROLLED_BACK", "REFUSED"]
    error = answer["outcomes"][1]["error"]
    assert error["code"] == single["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert error["message"] == single["errors"][0]["message"]
    assert ledger_size(partners.service) == before

    answer = await submit(operator.gql, "UNTIL_FIRST_REFUSAL", [own, theirs])

    assert statuses(answer) == ["DONE", "REFUSED"]
    assert ledger_size(partners.service) == before + 1
    # A role may not send through a batch what it may not send alone.
    lab = as_("a-lab")
    answer = await submit(lab.gql, "UNTIL_FIRST_REFUSAL", [dict(own, commandId="reach-3")])
    assert statuses(answer) == ["REFUSED"]
    assert answer["outcomes"][0]["error"]["code"] == "FORBIDDEN"
    assert ledger_size(partners.service) == before + 1
