"""Which sites each aggregate belongs to: the basis of every access decision.

A partner sees an aggregate (a batch, a donor, a shipment, an event of them) when one of the sites
it touches is a site the partner may see. The sites come from the events themselves: every field
of an event named ``site_id`` or ending in ``_site_id`` ties its aggregate to that site, so a
batch belongs to where it was made, its control site, the laboratories that tested it and the
sites it was shipped to. A few aggregates inherit the sites of the aggregate they stand on: a
donor those of its donations, a recall those of its origin. The sites named by an aggregate's
first event *own* it (a batch: where it is made and its control site); seeing a record needs a
site it touches, changing a record a site that owns it.

Rows are only ever added; an aggregate never leaves a site's reach once it has touched it.
"""

from __future__ import annotations

import typing
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any
from weakref import WeakKeyDictionary

import orjson

from domain.donation import Donation
from domain.donor import Donor
from domain.recall import Recall, unit_parts
from domain.shared import LedgerEvent
from domain.site import Site
from projections.ledger import Appended
from projections.projection import Projection
from projections.sql import Dialect, Sql

TABLES = ("aggregate_sites",)

# Trace node kinds (and recall origins) by the aggregate type they name.
ORIGIN_TYPES = {
    "CELL_BANK": "CellBank",
    "DONOR": "Donor",
    "DONATION": "Donation",
    "MATERIAL_LOT": "MaterialLot",
    "BATCH": "Batch",
    "SITE": "Site",
    "SHIPMENT": "Shipment",
    "ADVERSE_EVENT": "AdverseEvent",
}


def aggregate_of(kind: str, node_id: str) -> str | None:
    """The aggregate whose sites decide who sees a trace node: a container is seen with its
    batch (``batch/container``)."""
    if kind == "CONTAINER":
        return f"Batch:{node_id.rsplit('/', 1)[0]}"
    return f"{ORIGIN_TYPES[kind]}:{node_id}" if kind in ORIGIN_TYPES else None


@cache
def _site_fields(event_type: type) -> tuple[str, ...]:
    names = typing.get_type_hints(event_type)
    return tuple(sorted(n for n in names if n == "site_id" or n.endswith("_site_id")))


Reach = tuple[str, ...]
"""The sites whose records a reader may see. Queries that list records take it as ``reach``
and cut their answers to it where they are built, so a page is always full; None stands for
every record (the ledger's own readers: commands, rebuilds, exports)."""

# Pairs a transaction remembers having written (one command's events inline, a whole ledger in
# a rebuild); most events repeat their aggregate's site. Kept per cursor, so per transaction.
KNOWN_PAIRS = 50_000
_written: WeakKeyDictionary[Sql, set[tuple[str, str]]] = WeakKeyDictionary()


def add(
    sql: Sql, aggregate_id: str, site_ids: Iterable[str], position: int, owner: bool = False
) -> None:
    conflict = " ON CONFLICT DO NOTHING" if sql.dialect is Dialect.POSTGRES else ""
    verb = "INSERT" if sql.dialect is Dialect.POSTGRES else "INSERT OR IGNORE"
    known = _written.setdefault(sql, set())
    for site_id in sorted(set(site_ids)):
        if (aggregate_id, site_id) in known:
            continue  # written earlier in this transaction; the first row stands
        if len(known) >= KNOWN_PAIRS:
            known.clear()
        known.add((aggregate_id, site_id))
        sql.execute(
            f"{verb} INTO aggregate_sites (aggregate_id, site_id, owner, position)"
            " VALUES (?, ?, ?, ?)" + conflict,
            (aggregate_id, site_id, int(owner), position),
        )


def sites_of(sql: Sql, aggregate_id: str, owners: bool = False) -> list[str]:
    """The sites ``aggregate_id`` touches; with ``owners``, those that own it (the sites its
    first event named), or all it touches when none does."""
    rows = sql.all(
        "SELECT site_id, owner FROM aggregate_sites WHERE aggregate_id = ? ORDER BY site_id",
        (aggregate_id,),
    )
    owning = [r["site_id"] for r in rows if r["owner"]] if owners else []
    return owning or [r["site_id"] for r in rows]


def _own_sites(sql: Sql, a: Appended) -> None:
    event: LedgerEvent = a.event
    found = [getattr(event, f, None) for f in _site_fields(type(event))]
    sites = [s for s in found if isinstance(s, str) and s]
    if isinstance(event, Site.Registered):
        sites.append(event.originator_id.split(":", 1)[1])
    if isinstance(event, Donation.Recorded):
        add(sql, Donor.ledger_id(event.donor_code), sites, a.position)
    if isinstance(event, Recall.Initiated):
        origin_type = ORIGIN_TYPES.get(event.origin_kind)
        if origin_type is not None:
            sites += sites_of(sql, f"{origin_type}:{event.origin_id}", owners=True)
    if sites:
        add(sql, event.originator_id, sites, a.position, owner=event.originator_version == 1)


PROJECTION = Projection(name="scopes", tables=TABLES, handles={LedgerEvent: _own_sites})


def visible_among(sql: Sql, aggregate_ids: Sequence[str], site_ids: Sequence[str]) -> set[str]:
    """Those of ``aggregate_ids`` that touch one of ``site_ids``."""
    visible: set[str] = set()
    if not site_ids:
        return visible
    chunk = 400
    for start in range(0, len(aggregate_ids), chunk):
        ids = aggregate_ids[start : start + chunk]
        rows = sql.all(
            "SELECT DISTINCT aggregate_id FROM aggregate_sites"
            f" WHERE aggregate_id IN ({', '.join('?' * len(ids))})"
            f" AND site_id IN ({', '.join('?' * len(site_ids))})",
            [*ids, *site_ids],
        )
        visible.update(r["aggregate_id"] for r in rows)
    return visible


# The records that name a patient code: the batches given to it and the reactions it had. A
# patient is no aggregate of its own; it is where those records are.
PATIENT_LINKS = """
SELECT from_kind AS kind, from_id AS id FROM lineage_edges
WHERE to_kind = 'PATIENT' AND to_id = ? AND position <= ?
UNION
SELECT to_kind AS kind, to_id AS id FROM lineage_edges
WHERE from_kind = 'PATIENT' AND from_id = ? AND position <= ?
"""


def patient_records(sql: Sql, patient_code: str, position: int | None = None) -> list[str]:
    """The aggregates that name ``patient_code`` by ``position`` (the head when None)."""
    upto = 2**62 if position is None else position
    rows = sql.all(PATIENT_LINKS, (patient_code, upto, patient_code, upto))
    found = (aggregate_of(str(r["kind"]), str(r["id"])) for r in rows)
    return sorted({a for a in found if a is not None})


def origin_within_reach(
    sql: Sql, reach: Reach | None, kind: str, origin_id: str, position: int | None = None
) -> bool:
    """Whether a reader with ``reach`` may see a trace origin: a site within its reach, a
    record touching one, a patient named by such a record."""
    if reach is None:
        return True
    if kind == "SITE":
        return origin_id in reach
    if kind == "PATIENT":
        aggregates = patient_records(sql, origin_id, position)
    elif (aggregate := aggregate_of(kind, origin_id)) is not None:
        aggregates = [aggregate]
    else:
        return False
    return bool(visible_among(sql, aggregates, reach))


def within_reach(reach: Reach | None, column: str) -> tuple[list[str], list[Any]]:
    """WHERE conditions keeping the rows whose aggregate id (``column``, an SQL expression) a
    reader with ``reach`` may see: none when the reach is unrestricted."""
    if reach is None:
        return [], []
    if not reach:
        return ["1 = 0"], []
    marks = ", ".join("?" * len(reach))
    return (
        [
            f"EXISTS (SELECT 1 FROM aggregate_sites reach WHERE reach.aggregate_id = {column}"
            f" AND reach.site_id IN ({marks}))"
        ],
        list(reach),
    )


Node = tuple[str, str]  # (trace node kind, id)
Link = tuple[Node, Node]


def visible_trace(
    sql: Sql, reach: Reach | None, nodes: Sequence[Node], links: Sequence[Link], origin: Node
) -> set[Node]:
    """The nodes of a trace a reader with ``reach`` may see: records within it, sites among
    them, and a patient (a pseudonymous code) only where a link to a visible record shows it."""
    if reach is None:
        return set(nodes)
    by_aggregate: dict[str, list[Node]] = {}
    for k, i in nodes:
        if (aggregate := aggregate_of(k, i)) is not None:
            by_aggregate.setdefault(aggregate, []).append((k, i))
    kept = {n for a in visible_among(sql, list(by_aggregate), reach) for n in by_aggregate[a]}
    shown = {n for a, b in links if a in kept or b in kept for n in (a, b) if n[0] == "PATIENT"}
    return kept | (shown & set(nodes)) | ({origin} if origin[0] == "PATIENT" else set())


def cut_trace(sql: Sql, reach: Reach | None, trace: dict[str, Any], origin: Node) -> dict[str, Any]:
    """A recall's stored trace (domain.recall.Trace as a record) cut to ``reach``."""
    nodes = [(str(k), str(i)) for k, i in trace["nodes"]]
    edges = trace["edges"]
    links = [((str(e[0]), str(e[1])), (str(e[2]), str(e[3]))) for e in edges]
    kept = visible_trace(sql, reach, nodes, links, origin)
    return {
        **trace,
        "nodes": [list(n) for n in nodes if n in kept],
        "edges": [e for e, (a, b) in zip(edges, links, strict=True) if a in kept and b in kept],
        "affected_batches": [b for b in trace["affected_batches"] if ("BATCH", b) in kept],
        "affected_patients": [p for p in trace["affected_patients"] if ("PATIENT", p) in kept],
        "affected_sites": [s for s in trace["affected_sites"] if ("SITE", s) in kept],
    }


def as_seen(sql: Sql, reach: Reach | None, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Event rows as a reader with ``reach`` may see them: a recall's stored trace cut to it (a
    recall reaches every batch its origin reached, whoever they belong to)."""
    if reach is None:
        return rows
    for row in rows:
        if row["event_type"] in ("Recall.Initiated", "Recall.Extended"):
            state = orjson.loads(bytes(row["state"]))
            origin = (str(state["origin_kind"]), str(state["origin_id"]))
            reached = set(state["trace"].get("affected_batches", ()))
            state["trace"] = cut_trace(sql, reach, state["trace"], origin)
            # The units and notifications the recall has: those within the reader's reach (a
            # container is seen with its batch).
            seen = set(state["trace"]["affected_batches"])
            for field in ("units", "destroyed_before"):
                if field in state:
                    state[field] = [u for u in state[field] if unit_parts(u, reached)[0] in seen]
            if "notifications" in state:
                state["notifications"] = [
                    n for n in state["notifications"] if n.get("site_id") in reach
                ]
            row["state"] = orjson.dumps(state, option=orjson.OPT_SORT_KEYS)
    return rows
