"""A command's declaration decides everything before it runs, in the one worker-thread call that
runs it: a partner acting for one site registers donors there without naming it (a declared
default, part of what a commandId stands for); one acting for several must name it; and a
mutation's checks, command and answer leave the event loop once. On SQLite and PostgreSQL."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import anyio.to_thread
import pytest

from tests.api.access import (
    A_HOSPITAL,
    A_SPOKE,
    INITIATE_RECALL,
    RECORD_BATCH_STEP,
    REGISTER_DONOR,
    Partners,
    codes,
    step_input,
)
from tests.conftest import ledger_size

REGISTER_DONOR_ONCE = REGISTER_DONOR.replace("($input:", "($id: String, $input:").replace(
    "(input: $input)", "(input: $input, commandId: $id)"
)


def sites_of(partners: Partners, aggregate_id: str) -> list[str]:
    with partners.service.read() as sql:
        rows = sql.all(
            "SELECT site_id FROM aggregate_sites WHERE aggregate_id = ? ORDER BY site_id",
            (aggregate_id,),
        )
    return [r["site_id"] for r in rows]


async def test_a_partner_of_one_site_registers_a_donor_there_without_naming_it(as_, partners):
    written = await as_("a-operator").data(REGISTER_DONOR, {"input": {"donorCode": "DNR-ONE"}})

    assert written["registerDonor"]["aggregateId"] == "Donor:DNR-ONE"
    assert sites_of(partners, "Donor:DNR-ONE") == [A_SPOKE]


async def test_the_site_filled_in_is_part_of_what_the_command_id_stands_for(as_, partners):
    caller = as_("a-operator")
    unnamed = {"donorCode": "DNR-ONCE"}
    named = {"donorCode": "DNR-ONCE", "siteId": A_SPOKE}

    first = await caller.data(REGISTER_DONOR_ONCE, {"input": unnamed, "id": "donor-once"})
    size = ledger_size(partners.service)
    again = await caller.data(REGISTER_DONOR_ONCE, {"input": named, "id": "donor-once"})
    other = await caller(
        REGISTER_DONOR_ONCE, {"input": {**named, "donorCode": "DNR-TWICE"}, "id": "donor-once"}
    )

    assert again == first
    assert codes(other) == ["CONFLICT"]
    assert ledger_size(partners.service) == size


async def test_a_partner_of_several_sites_must_name_the_donors_site(as_, partners):
    caller = as_("a-maker")
    size = ledger_size(partners.service)

    unnamed = await caller(REGISTER_DONOR, {"input": {"donorCode": "DNR-TWO"}})

    assert codes(unnamed) == ["BAD_INPUT"]
    assert unnamed["errors"][0]["extensions"]["field"] == "siteId"
    assert "several sites" in unnamed["errors"][0]["message"]
    assert ledger_size(partners.service) == size
    named = {"donorCode": "DNR-TWO", "siteId": A_HOSPITAL}
    await caller.data(REGISTER_DONOR, {"input": named})
    assert sites_of(partners, "Donor:DNR-TWO") == [A_HOSPITAL]


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The module of every call into a worker thread (the real call still runs)."""
    calls: list[str] = []
    real = anyio.to_thread.run_sync

    async def run_sync(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        calls.append(sys._getframe(1).f_globals["__name__"])
        return await real(function, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", run_sync)
    return calls


def beyond_authentication(calls: list[str]) -> list[str]:
    return [c for c in calls if c not in ("api.auth.middleware", "api.app")]


async def test_a_scoped_command_checks_runs_and_answers_in_one_worker_thread_call(
    as_, partners, hops
):
    step = step_input(partners, "A5", A_SPOKE, ("LV-A",))
    await as_("a-operator").data(RECORD_BATCH_STEP, {"input": step})
    recall = {"recallId": "RC-ONE-CALL", "origin": {"kind": "BATCH", "id": "A5"}, "reason": "x"}
    recalled = await as_("a-qp").data(INITIATE_RECALL, {"input": recall})

    assert beyond_authentication(hops) == ["api.commands", "api.commands"]
    assert recalled["initiateRecall"]["id"] == "RC-ONE-CALL"


async def test_a_refused_command_is_refused_in_that_same_call_before_it_runs(as_, partners, hops):
    step = step_input(partners, "B3", A_SPOKE)

    await as_("a-operator").forbidden(RECORD_BATCH_STEP, {"input": step})

    assert beyond_authentication(hops) == ["api.commands"]
