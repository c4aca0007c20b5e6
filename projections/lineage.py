"""The recall lineage graph, kept inline, and traces over it.

Edges run upstream to downstream (donor -> donation -> batch -> shipment -> site, donation ->
master cell bank -> working cell bank -> batch, material lot ->
batch, site -> batch per step, batch -> patient, batch -> adverse event; a batch filled into
containers also batch -> container -> shipment and container -> patient, the container named
``batch/container``). A FORWARD trace follows
them from the origin (what it reached), BACKWARD against them (what it came from), BOTH does both.
Sites and patients are where a trace stops unless they are its origin: reaching a hospital does
not pull in everything else that hospital ever handled, and a patient's other treatments are not
behind one adverse reaction. A trace is one recursive query walking the edge indexes, so its
cost grows with the answer, not with the ledger.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from domain.adverse_event import AdverseEvent
from domain.batch import Batch, container_node
from domain.cell_bank import CellBank
from domain.donation import Donation
from domain.recall import NODE_KINDS, Trace, TraceEdge, TraceOrigin, origin_not_found
from domain.shipment import Shipment
from projections.ledger import Appended
from projections.projection import Projection
from projections.scopes import Link, Reach, origin_within_reach, visible_trace
from projections.sql import Sql

TABLES = ("lineage_edges",)
TERMINAL = frozenset({"SITE", "PATIENT"})
KIND_ORDER = {kind: rank for rank, kind in enumerate(NODE_KINDS)}

GENEALOGY = (Batch.Pooled, CellBank.Banked, CellBank.VialsTaken)
GIVEN_OR_FILLED = (Batch.ContainersFilled, Batch.Administered, Batch.ContainerAdministered)
Edge = tuple[str, str, str, str, str, Any]  # from kind, from id, to kind, to id, relation, at


def _edges_of(event: Any) -> Iterator[Edge]:
    key = event.originator_id.split(":", 1)[1]
    if isinstance(event, Donation.Recorded):
        yield ("DONOR", event.donor_code, "DONATION", key, "donated", event.acquired_at)
        yield ("SITE", event.site_id, "DONATION", key, "collected", event.acquired_at)
    elif isinstance(event, Batch.Started):
        yield ("DONATION", event.donation_id, "BATCH", key, "starting material", event.started_at)
        yield ("SITE", event.site_id, "BATCH", key, "manufacture started", event.started_at)
    elif isinstance(event, GENEALOGY):
        yield from _genealogy_edges(key, event)
    elif isinstance(event, Batch.StepRecorded):
        yield ("SITE", event.site_id, "BATCH", key, f"step: {event.step}", event.started_at)
        for lot in event.material_lots:
            yield ("MATERIAL_LOT", lot, "BATCH", key, f"used in: {event.step}", event.started_at)
    elif isinstance(event, Batch.QcResultRecorded):
        site = event.laboratory_site_id
        yield ("SITE", site, "BATCH", key, f"tested: {event.test}", event.tested_at)
    elif isinstance(event, GIVEN_OR_FILLED):
        yield from _container_edges(key, event)
    elif isinstance(event, Shipment.Dispatched):
        at = event.dispatched_at
        yield ("SITE", event.from_site_id, "SHIPMENT", key, "dispatched from", at)
        # Named at dispatch, so a trace made while the shipment travels knows who to warn.
        yield ("SHIPMENT", key, "SITE", event.to_site_id, "destined for", at)
        for batch_id in event.batch_ids:
            yield ("BATCH", batch_id, "SHIPMENT", key, "shipped in", at)
        for node in event.containers:
            yield ("CONTAINER", node, "SHIPMENT", key, "shipped in", at)
    elif isinstance(event, AdverseEvent.Reported):
        at = event.aware_at
        yield ("BATCH", event.batch_id, "ADVERSE_EVENT", key, "adverse reaction", at)
        yield ("PATIENT", event.patient_code, "ADVERSE_EVENT", key, "experienced", event.onset_at)
        yield ("SITE", event.reported_by_site_id, "ADVERSE_EVENT", key, "reported by", at)


def _genealogy_edges(key: str, event: Any) -> Iterator[Edge]:
    """Donations pooled into a batch; a cell bank laid down, and each vial taken from it."""
    if isinstance(event, Batch.Pooled):
        for donation_id in event.donation_ids:
            at = event.pooled_at
            yield ("DONATION", donation_id, "BATCH", key, "pooled starting material", at)
    elif isinstance(event, CellBank.Banked):
        at = event.banked_at
        if event.parent_bank_id is None:
            yield ("DONATION", event.donation_id, "CELL_BANK", key, "banked", at)
        yield ("SITE", event.site_id, "CELL_BANK", key, "banked at", at)
    else:
        yield ("CELL_BANK", key, event.for_kind, event.for_id, "vial taken", event.taken_at)


def _container_edges(key: str, event: Any) -> Iterator[Edge]:
    if isinstance(event, Batch.ContainersFilled):
        for c in event.containers:
            node = container_node(key, c["container_id"])
            yield ("BATCH", key, "CONTAINER", node, "filled into", event.filled_at)
        return
    at = event.administered_at
    if event.container_id is None:
        yield ("BATCH", key, "PATIENT", event.patient_code, "administered to", at)
    else:
        # The container given, not the batch: a trace from another of its containers reaches
        # only the patient that container went to.
        node = container_node(key, event.container_id)
        yield ("CONTAINER", node, "PATIENT", event.patient_code, "administered to", at)
    yield ("SITE", event.site_id, "BATCH", key, "administered at", at)


def _receipt_edges(sql: Sql, event: Shipment.Received) -> Iterator[Edge]:
    # The receipt names no site: the destination was fixed at dispatch (see source_and_flow).
    key = event.originator_id.split(":", 1)[1]
    destination = sql.scalar(
        "SELECT to_site_id FROM shipment_versions WHERE shipment_id = ? AND valid_to IS NULL",
        (key,),
    )
    at = event.received_at
    yield ("SHIPMENT", key, "SITE", destination, "received at", at)
    # Ordered, so the edges' sequence numbers do not depend on a plan (a rebuild projects through
    # SQLite whatever the database).
    for row in sql.all(
        "SELECT batch_id FROM shipment_batches WHERE shipment_id = ? ORDER BY batch_id", (key,)
    ):
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


PROJECTION = Projection(
    name="lineage",
    tables=TABLES,
    handles={
        Donation.Recorded: _record,
        Batch.Started: _record,
        Batch.Pooled: _record,
        CellBank.Banked: _record,
        CellBank.VialsTaken: _record,
        Batch.StepRecorded: _record,
        Batch.QcResultRecorded: _record,
        Batch.Administered: _record,
        Batch.ContainersFilled: _record,
        Batch.ContainerAdministered: _record,
        Shipment.Dispatched: _record,
        Shipment.Received: _record,
        AdverseEvent.Reported: _record,
    },
    # A receipt's destination comes from source-and-flow's shipments.
    borrows=(("source_and_flow", Shipment),),
)


# ------------------------------------------------------------------------------------ tracing


def trace(
    sql: Sql,
    position: int,
    origin: TraceOrigin,
    direction: str,
    with_edges: bool = True,
    *,
    reach: Reach | None,
) -> Trace:
    """Everything reachable from ``origin`` in ``direction`` over edges recorded by ``position``.

    Without ``with_edges`` the answer leaves its edges list empty: a caller that only wants
    what was reached (a query selecting no edges) is spared fetching, making and sorting
    thousands. Nodes come origin first, then by kind and id, whichever the database.

    A reader with a ``reach`` gets the trace cut to it here, the same whatever it selects; an
    origin beyond that reach is answered exactly as one that does not exist.
    """
    if not origin_within_reach(sql, reach, origin.kind, origin.id, position):
        raise origin_not_found(origin.kind, origin.id)
    result = _walk(sql, position, origin, direction, with_edges)
    if reach is not None:
        _cut(sql, reach, result, with_edges)
    return result


def _walk(sql: Sql, position: int, origin: TraceOrigin, direction: str, with_edges: bool) -> Trace:
    result = Trace(origin=origin, direction=direction, position=position)
    start = (origin.kind, origin.id)
    nodes: set[tuple[str, str]] = set()
    # Rows as the driver gives them, deduplicated before any object is made: a trace from a lot
    # used by a thousand batches meets thousands of edges, and per-row work is its whole cost.
    rows: dict[tuple[Any, ...], None] = {}
    for forward in _directions(direction):
        if with_edges:
            found = _reachable(sql, position, origin, forward)
            rows.update(dict.fromkeys(found))
            nodes.update(row[2:4] if forward else row[0:2] for row in found)
        else:
            nodes.update(_reached(sql, position, origin, forward))
    nodes.discard(start)
    result.nodes = [start, *sorted(nodes, key=lambda n: (KIND_ORDER[n[0]], n[1]))]
    if with_edges:
        edges = map(_edge, rows)
        result.edges = sorted(edges, key=_edge_order)
    return result


def _cut(sql: Sql, reach: Reach, result: Trace, with_edges: bool) -> None:
    """Keep the nodes the reader may see and the edges between them. Which patients it may
    see depends on the edges to them, so those are fetched even when no edge is asked for."""
    origin = result.origin
    if with_edges:
        edges = [((e.from_kind, e.from_id), (e.to_kind, e.to_id)) for e in result.edges]
    else:
        edges = _patient_links(sql, result.position, origin, result.direction)
    kept = visible_trace(sql, reach, result.nodes, edges, (origin.kind, origin.id))
    result.nodes = [n for n in result.nodes if n in kept]
    result.edges = [
        e for e in result.edges if (e.from_kind, e.from_id) in kept and (e.to_kind, e.to_id) in kept
    ]


def _patient_links(sql: Sql, position: int, origin: TraceOrigin, direction: str) -> list[Link]:
    """The edges the walk takes that end at a patient."""
    links: list[Link] = []
    for forward in _directions(direction):
        near, far = ("from", "to") if forward else ("to", "from")
        takes, params = _takes(position, origin)
        statement = REACHED.format(near=near, far=far, takes=takes) + EDGES.format(
            near=near, takes=f"{takes} AND 'PATIENT' IN (e.from_kind, e.to_kind)"
        )
        rows = sql.tuples(statement, [origin.kind, origin.id, *params, *params])
        links += [((str(r[0]), str(r[1])), (str(r[2]), str(r[3]))) for r in rows]
    return links


def _edge_order(e: TraceEdge) -> tuple[Any, ...]:
    # Time first, as a reader follows a recall; the rest only settles ties the same way always.
    return (e.at, e.from_id, e.to_id, e.relation, e.from_kind, e.to_kind)


def _edge(row: tuple[Any, ...]) -> TraceEdge:
    at = row[5]
    # SQLite hands timestamps over as ISO 8601 text (see projections.sql).
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return TraceEdge(row[0], row[1], row[2], row[3], row[4], at)


def _directions(direction: str) -> tuple[bool, ...]:
    return {"FORWARD": (True,), "BACKWARD": (False,), "BOTH": (True, False)}[direction]


# One query finds every node the walk reaches (then, if asked, every edge it takes from them): the
# database walks its own index, where a walk step by step pays a round trip (and a plan) a step.
REACHED = """
WITH RECURSIVE reached(kind, id) AS (
    SELECT CAST(? AS TEXT), CAST(? AS TEXT)
    UNION
    SELECT e.{far}_kind, e.{far}_id
    FROM reached r JOIN lineage_edges e ON e.{near}_kind = r.kind AND e.{near}_id = r.id
    WHERE {takes}
)
"""
NODES = "SELECT kind, id FROM reached"
EDGES = """
SELECT e.from_kind, e.from_id, e.to_kind, e.to_id, e.relation, e.happened_at
FROM reached r JOIN lineage_edges e ON e.{near}_kind = r.kind AND e.{near}_id = r.id
WHERE {takes}
"""
# An edge is taken from a reached node recorded by the position, unless the node is a stop (a
# site, a patient) other than the origin; from the origin, only within its window if it has one.
TAKES = "e.position <= ? AND (r.kind NOT IN ({stops}) OR (r.kind = ? AND r.id = ?))"
WITHIN = " AND (r.kind <> ? OR r.id <> ? OR (e.happened_at >= ? AND e.happened_at <= ?))"


def _reachable(
    sql: Sql, position: int, origin: TraceOrigin, forward: bool
) -> list[tuple[Any, ...]]:
    """The edges the walk takes: their far ends are the nodes it reaches."""
    near, far = ("from", "to") if forward else ("to", "from")
    takes, params = _takes(position, origin)
    statement = REACHED.format(near=near, far=far, takes=takes) + EDGES.format(
        near=near, takes=takes
    )
    return sql.tuples(statement, [origin.kind, origin.id, *params, *params])


def _reached(sql: Sql, position: int, origin: TraceOrigin, forward: bool) -> list[tuple[str, str]]:
    """The nodes the walk reaches, and its origin."""
    near, far = ("from", "to") if forward else ("to", "from")
    takes, params = _takes(position, origin)
    statement = REACHED.format(near=near, far=far, takes=takes) + NODES
    return [
        (kind, node_id)
        for kind, node_id in sql.tuples(statement, [origin.kind, origin.id, *params])
    ]


def _takes(position: int, origin: TraceOrigin) -> tuple[str, list[Any]]:
    """The condition on an edge the walk takes, and its parameters."""
    takes = TAKES.format(stops=", ".join(f"'{kind}'" for kind in sorted(TERMINAL)))
    params: list[Any] = [position, origin.kind, origin.id]
    if origin.window_from is not None:
        takes += WITHIN
        params += [origin.kind, origin.id, origin.window_from, origin.window_to]
    return takes, params
