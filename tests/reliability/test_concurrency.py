"""Eight partners race conflicting commands at one server process over real HTTP.

Each command either lands exactly once or is refused (CONFLICT when a concurrent write won,
RULE_VIOLATION when the one that won made it impossible) and stores nothing: the events the
ledger gained are exactly the acknowledged ones, and the chain verifies.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from api.settings import Settings
from tests.api import chain_documents as docs
from tests.api.client import GraphQL
from tests.integration.chain import din_with_check
from tests.reliability.harness import (
    REQUEST_TIMEOUT,
    Acknowledged,
    Refused,
    ServerProcess,
    acknowledged_rows,
    ledger_rows,
    outcome,
)

CLIENTS = 8
STEP_ROUNDS = 3
DECIDED = "B-RACE-DECIDED"  # QC passed: release, rejection and destruction race for it
MAKING = "B-RACE-MAKING"  # in process: steps and one deviation race for it
REFUSALS = {"CONFLICT", "RULE_VIOLATION"}
# The order a batch's decisions may follow: released, then rejected, then destroyed.
DECISIONS = {
    "releaseBatch": "Batch.Released",
    "rejectBatch": "Batch.Rejected",
    "destroyBatch": "Batch.Destroyed",
}

Command = tuple[str, dict[str, Any]]
Results = dict[str, list[Acknowledged | Refused]]


async def race(clients: list[GraphQL], commands: list[Command]) -> list[Acknowledged | Refused]:
    """Send command i from client i, all released at once by a barrier."""
    barrier = asyncio.Barrier(len(commands))

    async def send(gql: GraphQL, field: str, input: dict[str, Any]) -> Acknowledged | Refused:
        await barrier.wait()
        return outcome(field, await gql(docs.mutation(field), {"input": input}))

    return await asyncio.gather(
        *(send(gql, f, i) for gql, (f, i) in zip(clients, commands, strict=True))
    )


async def setup(gql: GraphQL, t: docs.Timeline) -> None:
    """The network, a released lot, a batch ready for release and a batch in process."""
    await docs.network(gql, t)
    await docs.released_lot(gql, t)
    for n, batch, patient in ((901, DECIDED, "PT-R1"), (902, MAKING, "PT-R2")):
        await docs.donor_with_donation(gql, t, f"DNR-R{n}", din_with_check(n), patient=patient)
        await docs.started_batch(gql, t, batch, din_with_check(n), patient)
    await docs.transduction(gql, t, DECIDED)
    await docs.qc(gql, t, DECIDED)


async def with_clients(base_url: str, body: Callable[[list[GraphQL]], Awaitable[Any]]) -> Any:
    """Eight partners, each over an HTTP connection of its own."""
    https = [httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT) for _ in range(CLIENTS)]
    try:
        return await body([GraphQL(http) for http in https])
    finally:
        for http in https:
            await http.aclose()


async def batch_events(gql: GraphQL, batch_id: str) -> list[dict[str, Any]]:
    data = await gql.data(
        "query E($id: ID!) { events(filter: {aggregateId: $id}, first: 500) "
        "{ nodes { position version type } pageInfo { hasNextPage } } }",
        {"id": f"Batch:{batch_id}"},
    )
    assert data["events"]["pageInfo"]["hasNextPage"] is False
    nodes = data["events"]["nodes"]
    assert isinstance(nodes, list)
    return nodes


async def test_racing_partners_land_each_command_once_or_are_refused_with_a_code(
    settings: Settings, servers: Callable[..., ServerProcess]
):
    url = settings.database_url
    server = servers(url)
    t = docs.Timeline.ending_weeks_ago()
    setup_head = 0

    async def scenario(clients: list[GraphQL]) -> tuple[Results, list[dict[str, Any]], Any]:
        nonlocal setup_head
        await setup(clients[0], t)
        setup_head = ledger_rows(url)[-1].position
        release = {"batchId": DECIDED, "signatureMeaning": "QP certification"}
        decide = [
            ("releaseBatch", release | {"releasedAt": t(-10)}),
            ("rejectBatch", {"batchId": DECIDED, "reason": "racing rejection"}),
            ("destroyBatch", {"batchId": DECIDED, "reason": "racing destruction"}),
        ]
        steps = [
            [
                (
                    "recordBatchStep",
                    {
                        "batchId": MAKING,
                        "step": f"Expansion day {r} by partner {c}",
                        "siteId": docs.SPOKE,
                        "startedAt": t(-19),
                        "completedAt": t(-18),
                        "operator": f"op-{c}",
                    },
                )
                for c in range(CLIENTS)
            ]
            for r in range(STEP_ROUNDS)
        ]
        deviation = {"batchId": MAKING, "deviationId": "DEV-RACE", "description": "racing"}
        site = docs.site_input("TW-MI-RACE", "MEDICAL_INSTITUTION", t)
        results = {
            "decisions": await race(clients, [decide[c % 3] for c in range(CLIENTS)]),
            "deviation": await race(clients, [("openDeviation", deviation)] * CLIENTS),
            "site": await race(clients, [("registerSite", site)] * CLIENTS),
            "steps": [x for round in steps for x in await race(clients, round)],
        }
        events = await batch_events(clients[0], DECIDED)
        return results, events, await docs.batch(clients[0], DECIDED)

    results, decision_events, decided = await with_clients(server.base_url, scenario)
    rows = ledger_rows(url)
    raced = [x for outcomes in results.values() for x in outcomes]
    acknowledged = [x for x in raced if isinstance(x, Acknowledged)]
    refused = [x for x in raced if isinstance(x, Refused)]

    # Every command either landed or was refused with a code and a message that explain it;
    # where no rule could be broken (distinct steps, one new site) only CONFLICT is possible.
    assert len(raced) == CLIENTS * (3 + STEP_ROUNDS)
    assert all(len(r.codes) == 1 and r.codes[0] in REFUSALS for r in refused), refused
    assert all(r.messages[0] for r in refused)
    for race_name in ("steps", "site"):
        assert {r.codes for r in results[race_name] if isinstance(r, Refused)} <= {("CONFLICT",)}
    assert sum(r.codes == ("CONFLICT",) for r in refused) >= CLIENTS - 1
    # Races that only one command may win were won exactly once.
    assert [type(x) for x in results["deviation"]].count(Acknowledged) == 1
    assert [type(x) for x in results["site"]].count(Acknowledged) == 1
    # A batch's decisions land at most once each, in the only order the rules allow.
    landed = [e["type"] for e in decision_events if e["type"] in DECISIONS.values()]
    assert landed == [d for d in DECISIONS.values() if d in landed], landed
    won = Counter(DECISIONS[x.field] for x in results["decisions"] if isinstance(x, Acknowledged))
    assert won == Counter(landed)
    assert decided["status"] == landed[-1].removeprefix("Batch.").upper()
    assert len(refused) >= CLIENTS - 3 + 2 * (CLIENTS - 1), "the races produced no refusals"
    # No event lost or duplicated: what the ledger gained is exactly what was acknowledged.
    gained = [r for r in rows if r.position > setup_head]
    assert [(r.position, r.aggregate_id, r.version) for r in gained] == [
        (r.position, r.aggregate_id, r.version) for r in acknowledged_rows(acknowledged)
    ]
    async with httpx.AsyncClient(base_url=server.base_url, timeout=REQUEST_TIMEOUT) as http:
        verification = await GraphQL(http).data("{ verifyLedger { ok checkedEvents } }")
    assert verification["verifyLedger"] == {"ok": True, "checkedEvents": len(rows)}
