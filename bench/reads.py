"""Reads over HTTP: recall traces next to the same answer from hand-written SQL, and
source-and-flow records."""

from __future__ import annotations

from typing import Any

from bench.baselines import SqlTracer
from bench.server import Client
from bench.timing import timed

SCOPE = "position affectedBatches affectedPatients affectedSites"
GRAPH = SCOPE + " nodes { kind id } edges { fromKind fromId toKind toId relation at }"
TRACE = """query($origin: TraceOrigin!, $direction: TraceDirection!) {
  recallTrace(origin: $origin, direction: $direction) { %s }
}"""

SITE = "id name kind status"
RECORD = f"""batchId product status manufacturedAt expiresAt quantity
  source {{ donorCode donationId donationType consentReference consentedAt acquiredAt
    acquisitionSite {{ {SITE} }} }}
  manufacture {{ step startedAt completedAt materialLots operator site {{ {SITE} }} }}
  release {{ decision qualifiedPerson decidedAt }}
  flow {{ shipmentId dispatchedAt receivedAt courier fromSite {{ {SITE} }} toSite {{ {SITE} }} }}
  finalDisposition {{ kind at patientCode site {{ {SITE} }} }}
  manufacturerSite {{ {SITE} }}"""
ONE_RECORD = "query($id: ID!) { sourceAndFlow(batchId: $id) { " + RECORD + " } }"
PAGE = (
    "query { sourceAndFlowRecords(first: 50) { nodes { "
    + RECORD
    + " } pageInfo { hasNextPage } } }"
)


def recall_trace(
    client: Client, tracer: SqlTracer, kind: str, node_id: str, direction: str, runs: int
) -> dict[str, Any]:
    """p50/p99 of the product's answer (the recall scope alone, and the whole graph) and of the
    SQL's, after checking the two agree on every node reached."""
    variables = {"origin": {"kind": kind, "id": node_id}, "direction": direction}
    graph = client.post(TRACE % GRAPH, variables)["recallTrace"]
    position = int(graph["position"])
    expected = tracer.trace(kind, node_id, direction, position)
    _check(graph, expected, (kind, node_id, direction))
    return {
        "batches_reached": len(graph["affectedBatches"]),
        "nodes": len(graph["nodes"]),
        "edges": len(graph["edges"]),
        "answers_agree": True,
        "scope": client.timed(runs, TRACE % SCOPE, variables),
        "graph": client.timed(runs, TRACE % GRAPH, variables),
        "sql": timed(runs, lambda: tracer.trace(kind, node_id, direction, position)),
    }


def _check(graph: dict[str, Any], expected: dict[str, Any], what: tuple[str, ...]) -> None:
    # A correctness guard: a fast answer that differs from the plain SQL one is no answer.
    nodes = {(n["kind"], n["id"]) for n in graph["nodes"]}
    for key, field in (
        ("affected_batches", "affectedBatches"),
        ("affected_patients", "affectedPatients"),
        ("affected_sites", "affectedSites"),
    ):
        if graph[field] != expected[key]:
            raise AssertionError(f"recallTrace {what}: {field} differs from the SQL answer")
    if nodes != expected["nodes"]:
        raise AssertionError(f"recallTrace {what}: nodes differ from the SQL answer")


def source_and_flow(client: Client, batch_id: str, runs: int) -> dict[str, Any]:
    found = client.post(ONE_RECORD, {"id": batch_id})["sourceAndFlow"]
    if found is None or found["batchId"] != batch_id:
        raise AssertionError(f"sourceAndFlow found no record of {batch_id}")
    page = client.post(PAGE)["sourceAndFlowRecords"]["nodes"]
    return {
        "one_batch": client.timed(runs, ONE_RECORD, {"id": batch_id}),
        "page_of_50": {"records": len(page), **client.timed(runs, PAGE, {})},
    }
