"""Business time on the decisions that had none (issue 18, item 2): rejectBatch, destroyBatch,
openDeviation and closeDeviation take an optional time (decidedAt, openedAt, closedAt), checked as
every business time is (an offset, not in the future, not before what it follows); without one
they are dated when sent, as before. On both databases, through the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from api.wiring import Regentrace
from domain.batch import Batch
from domain.shared import LedgerEvent
from tests.api.chain_documents import (
    Timeline,
    donor_with_donation,
    network,
    refused,
    released_lot,
    run,
    started_batch,
    transduction,
)
from tests.api.client import GraphQL

BATCH = "B-TIMES"
RECORD = """
query ($id: ID!) {
  sourceAndFlow(batchId: $id) {
    release { decision decidedAt }
    finalDisposition { kind at }
  }
}
"""


def _stored(service: Regentrace, batch: str, kind: type[LedgerEvent]) -> list[datetime]:
    """When each stored event of ``kind`` on ``batch`` took effect (its business time)."""
    found = []
    for stored in service.app.recorder.select_events(Batch.ledger_id(batch)):
        event = service.app.mapper.to_domain_event(stored)
        if isinstance(event, kind):
            found.append(event.occurred_at)
    return found


async def _made(gql: GraphQL, t: Timeline) -> None:
    await network(gql, t)
    await donor_with_donation(gql, t)
    await released_lot(gql, t)
    await started_batch(gql, t, BATCH)
    await transduction(gql, t, BATCH)


def _at(t: Timeline, days: float) -> datetime:
    return datetime.fromisoformat(t(days))


async def test_deviation_rejection_and_destruction_keep_the_times_stated(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await _made(gql, t)
    opened = {"batchId": BATCH, "deviationId": "DEV-1", "description": "CO2 alarm"}
    await run(gql, "openDeviation", opened | {"openedAt": t(-18.5)})
    closed = {"batchId": BATCH, "deviationId": "DEV-1", "resolution": "no impact"}
    taipei = timezone(timedelta(hours=8))
    in_taipei = t.at(-18).astimezone(taipei).isoformat()
    await run(gql, "closeDeviation", closed | {"closedAt": in_taipei})
    await run(gql, "rejectBatch", {"batchId": BATCH, "reason": "sterility", "decidedAt": t(-12)})
    await run(gql, "destroyBatch", {"batchId": BATCH, "reason": "SOP", "decidedAt": t(-11)})

    assert _stored(service, BATCH, Batch.DeviationOpened) == [_at(t, -18.5)]
    assert _stored(service, BATCH, Batch.DeviationClosed) == [_at(t, -18)]
    record = (await gql.data(RECORD, {"id": BATCH}))["sourceAndFlow"]
    assert record["release"] == {"decision": "REJECTED", "decidedAt": t(-12)}
    assert record["finalDisposition"] == {"kind": "DESTROYED", "at": t(-11)}


async def test_without_a_time_each_is_dated_when_sent(gql: GraphQL, service: Regentrace) -> None:
    t = Timeline.ending_weeks_ago()
    await _made(gql, t)
    before = datetime.now(UTC)
    opened = {"batchId": BATCH, "deviationId": "DEV-1", "description": "CO2 alarm"}
    await run(gql, "openDeviation", opened)
    closed = {"batchId": BATCH, "deviationId": "DEV-1", "resolution": "no impact"}
    await run(gql, "closeDeviation", closed)
    await run(gql, "rejectBatch", {"batchId": BATCH, "reason": "sterility"})
    await run(gql, "destroyBatch", {"batchId": BATCH, "reason": "SOP"})
    after = datetime.now(UTC)
    for kind in (Batch.DeviationOpened, Batch.DeviationClosed, Batch.Rejected, Batch.Destroyed):
        (at,) = _stored(service, BATCH, kind)
        assert before <= at <= after, kind


async def test_times_are_checked_and_a_refusal_stores_nothing(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await _made(gql, t)
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    opened = {"batchId": BATCH, "deviationId": "DEV-1", "description": "CO2 alarm"}
    # Before the batch's start (t(-20)), in the future, without an offset.
    await refused(gql, service, "openDeviation", opened | {"openedAt": t(-21)}, "RULE_VIOLATION")
    await refused(gql, service, "openDeviation", opened | {"openedAt": future}, "BAD_INPUT")
    naive = t(-19)[: -len("+00:00")]
    await refused(gql, service, "openDeviation", opened | {"openedAt": naive}, "BAD_INPUT")
    await run(gql, "openDeviation", opened | {"openedAt": t(-18)})
    closed = {"batchId": BATCH, "deviationId": "DEV-1", "resolution": "no impact"}
    # A deviation is not closed before it was opened.
    error = await refused(
        gql, service, "closeDeviation", closed | {"closedAt": t(-18.5)}, "RULE_VIOLATION"
    )
    assert "precedes the opening of deviation 'DEV-1'" in error["message"]
    await refused(gql, service, "closeDeviation", closed | {"closedAt": future}, "BAD_INPUT")
    await run(gql, "closeDeviation", closed | {"closedAt": t(-17)})
    decision = {"batchId": BATCH, "reason": "sterility"}
    for field in ("rejectBatch", "destroyBatch"):
        error = await refused(
            gql, service, field, decision | {"decidedAt": t(-20.5)}, "RULE_VIOLATION"
        )
        assert "precedes the batch's start" in error["message"]
        await refused(gql, service, field, decision | {"decidedAt": future}, "BAD_INPUT")
    await run(gql, "rejectBatch", decision | {"decidedAt": t(-12)})
    assert _stored(service, BATCH, Batch.Rejected) == [_at(t, -12)]
