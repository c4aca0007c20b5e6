"""The recall lineage graph, kept inline, and traces over it.

Edges run upstream to downstream (donor -> donation -> batch -> shipment -> site, material lot ->
batch, site -> batch per step, batch -> patient, batch -> adverse event). A FORWARD trace follows
them from the origin (what it reached), BACKWARD against them (what it came from), BOTH does both.
Sites and patients are where a trace stops unless they are its origin: reaching a hospital does
not pull in everything else that hospital ever handled, and a patient's other treatments are not
behind one adverse reaction. Each step of a trace is one indexed query per kind of node, so its
cost grows with the answer, not with the ledger.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from domain.adverse_event import AdverseEvent
from domain.batch import Batch
from domain.donation import Donation
from domain.recall import Trace, TraceEdge, TraceOrigin
from domain.shipment import Shipment
from projections.ledger import Appended
from projections.registry import Handlers
from projections.sql import Sql

TABLES = ("lineage_edges",)
TERMINAL = frozenset({"SITE", "PATIENT"})
CHUNK = 500

Edge = tuple[str, str, str, str, str, Any]  # from kind, from id, to kind, to id, relation, at


def _edges_of(event: Any) -> Iterator[Edge]:
    key = event.originator_id.split(":", 1)[1]
    if isinstance(event, Donation.Recorded):
        yield ("DONOR", event.donor_code, "DONATION", key, "donated", event.acquired_at)
        yield ("SITE", event.site_id, "DONATION", key, "collected", event.acquired_at)
    elif isinstance(event, Batch.Started):
        yield ("DONATION", event.donation_id, "BATCH", key, "starting material", event.started_at)
        yield ("SITE", event.site_id, "BATCH", key, "manufacture started", event.started_at)
    elif isinstance(event, Batch.StepRecorded):
        yield ("SITE", event.site_id, "BATCH", key, f"step: {event.step}", event.started_at)
        for lot in event.material_lots:
            yield ("MATERIAL_LOT", lot, "BATCH", key, f"used in: {event.step}", event.started_at)
    elif isinstance(event, Batch.QcResultRecorded):
        site = event.laboratory_site_id
        yield ("SITE", site, "BATCH", key, f"tested: {event.test}", event.tested_at)
    elif isinstance(event, Batch.Administered):
        at = event.administered_at
        yield ("BATCH", key, "PATIENT", event.patient_code, "administered to", at)
        yield ("SITE", event.site_id, "BATCH", key, "administered at", at)
    elif isinstance(event, Shipment.Dispatched):
        at = event.dispatched_at
        yield ("SITE", event.from_site_id, "SHIPMENT", key, "dispatched from", at)
        # Named at dispatch, so a trace made while the shipment travels knows who to warn.
        yield ("SHIPMENT", key, "SITE", event.to_site_id, "destined for", at)
        for batch_id in event.batch_ids:
            yield ("BATCH", batch_id, "SHIPMENT", key, "shipped in", at)
    elif isinstance(event, AdverseEvent.Reported):
        at = event.aware_at
        yield ("BATCH", event.batch_id, "ADVERSE_EVENT", key, "adverse reaction", at)
        yield ("PATIENT", event.patient_code, "ADVERSE_EVENT", key, "experienced", event.onset_at)
        yield ("SITE", event.reported_by_site_id, "ADVERSE_EVENT", key, "reported by", at)


def _receipt_edges(sql: Sql, event: Shipment.Received) -> Iterator[Edge]:
    # The receipt names no site: the destination was fixed at dispatch (see source_and_flow).
    key = event.originator_id.split(":", 1)[1]
    destination = sql.scalar(
        "SELECT to_site_id FROM shipment_versions WHERE shipment_id = ? AND valid_to IS NULL",
        (key,),
    )
    at = event.received_at
    yield ("SHIPMENT", key, "SITE", destination, "received at", at)
    for row in sql.all("SELECT batch_id FROM shipment_batches WHERE shipment_id = ?", (key,)):
        # The receiving site handled the batch: a SITE origin over a window finds it.
        yield ("SITE", destination, "BATCH", row["batch_id"], "received", at)


def _record(sql: Sql, appended: Appended) -> None:
    event = appended.event
    if isinstance(event, Shipment.Received):
        edges = list(_receipt_edges(sql, event))
    else:
        edges = list(_edges_of(event))
    for seq, (fk, fi, tk, ti, relation, at) in enumerate(edges):
        sql.execute(
            "INSERT INTO lineage_edges (position, seq, from_kind, from_id, to_kind, to_id,"
            " relation, happened_at) VALUES (?,?,?,?,?,?,?,?)",
            (appended.position, seq, fk, fi, tk, ti, relation, at),
        )


HANDLERS: Handlers = {
    Donation.Recorded: _record,
    Batch.Started: _record,
    Batch.StepRecorded: _record,
    Batch.QcResultRecorded: _record,
    Batch.Administered: _record,
    Shipment.Dispatched: _record,
    Shipment.Received: _record,
    AdverseEvent.Reported: _record,
}


# ------------------------------------------------------------------------------------ tracing


def trace(sql: Sql, position: int, origin: TraceOrigin, direction: str) -> Trace:
    """Everything reachable from ``origin`` in ``direction`` over edges recorded by ``position``."""
    result = Trace(origin=origin, direction=direction, position=position)
    nodes: dict[tuple[str, str], None] = {(origin.kind, origin.id): None}
    edges: dict[tuple[Any, ...], TraceEdge] = {}
    for forward in _directions(direction):
        _walk(sql, position, origin, forward, nodes, edges)
    result.nodes = list(nodes)
    result.edges = sorted(edges.values(), key=lambda e: (e.at, e.from_id, e.to_id, e.relation))
    return result


def _directions(direction: str) -> tuple[bool, ...]:
    return {"FORWARD": (True,), "BACKWARD": (False,), "BOTH": (True, False)}[direction]


def _walk(
    sql: Sql,
    position: int,
    origin: TraceOrigin,
    forward: bool,
    nodes: dict[tuple[str, str], None],
    edges: dict[tuple[Any, ...], TraceEdge],
) -> None:
    seen = {(origin.kind, origin.id)}
    frontier = [(origin.kind, origin.id)]
    first = True
    while frontier:
        found = _step(sql, position, frontier, forward, origin if first else None)
        first = False
        frontier = []
        for edge in found:
            edges[
                (edge.from_kind, edge.from_id, edge.to_kind, edge.to_id, edge.relation, edge.at)
            ] = edge
            node = (edge.to_kind, edge.to_id) if forward else (edge.from_kind, edge.from_id)
            nodes.setdefault(node, None)
            if node not in seen:
                seen.add(node)
                if node[0] not in TERMINAL:
                    frontier.append(node)


def _step(
    sql: Sql,
    position: int,
    frontier: list[tuple[str, str]],
    forward: bool,
    origin: TraceOrigin | None,
) -> list[TraceEdge]:
    near_kind, near_id = ("from_kind", "from_id") if forward else ("to_kind", "to_id")
    by_kind: dict[str, list[str]] = defaultdict(list)
    for kind, node_id in frontier:
        by_kind[kind].append(node_id)
    found: list[TraceEdge] = []
    for kind, ids in by_kind.items():
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            where = [
                "position <= ?",
                f"{near_kind} = ?",
                f"{near_id} IN ({', '.join('?' * len(chunk))})",
            ]
            params: list[Any] = [position, kind, *chunk]
            if origin is not None and origin.window_from is not None:
                where.append("happened_at >= ? AND happened_at <= ?")
                params += [origin.window_from, origin.window_to]
            rows = sql.all(
                "SELECT from_kind, from_id, to_kind, to_id, relation, happened_at"
                f" FROM lineage_edges WHERE {' AND '.join(where)}",
                params,
            )
            for row in rows:
                at = row.pop("happened_at")
                found.append(TraceEdge(**row, at=at))
    return found
