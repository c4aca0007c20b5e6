"""The Recall aggregate (召回) and the trace it rests on.

A recall is initiated on a scope (a batch, a material lot, a donor, a site over a time window...).
The initiation event stores the lineage trace as it was computed at that moment, with the ledger
position it reflects, so the recall's scope is itself part of the audit record: what later
investigations find can be compared with what was known when the decision was taken.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from domain.shared import LedgerAggregate, LedgerCreated, NotFoundError

NODE_KINDS = (
    "DONOR",
    "DONATION",
    "MATERIAL_LOT",
    "BATCH",
    "SHIPMENT",
    "SITE",
    "PATIENT",
    "ADVERSE_EVENT",
)
DIRECTIONS = ("FORWARD", "BACKWARD", "BOTH")


def origin_not_found(kind: str, origin_id: str) -> NotFoundError:
    """The one answer for an origin that names nothing, or nothing the caller may see: the two
    must read alike, or the answer tells an outsider that a record exists."""
    return NotFoundError(f"{kind.lower().replace('_', ' ')} {origin_id!r} not found")


@dataclass(frozen=True)
class TraceOrigin:
    kind: str
    id: str
    window_from: datetime | None = None
    window_to: datetime | None = None


@dataclass(frozen=True)
class TraceEdge:
    from_kind: str
    from_id: str
    to_kind: str
    to_id: str
    relation: str
    at: datetime


@dataclass
class Trace:
    """What a trace reached: nodes, the edges between them, and the affected batches, patients
    and sites, as of ledger ``position``."""

    origin: TraceOrigin
    direction: str
    position: int
    nodes: list[tuple[str, str]] = field(default_factory=list)
    edges: list[TraceEdge] = field(default_factory=list)

    def ids_of(self, kind: str) -> list[str]:
        return sorted(i for k, i in self.nodes if k == kind)

    def as_record(self) -> dict[str, Any]:
        """The trace as plain data, to be kept in the recall's event."""
        return {
            "position": self.position,
            "direction": self.direction,
            "nodes": [[k, i] for k, i in self.nodes],
            "edges": [
                [e.from_kind, e.from_id, e.to_kind, e.to_id, e.relation, e.at.isoformat()]
                for e in self.edges
            ],
            "affected_batches": self.ids_of("BATCH"),
            "affected_patients": self.ids_of("PATIENT"),
            "affected_sites": self.ids_of("SITE"),
        }


class Tracer(Protocol):
    def trace(self, origin: TraceOrigin, direction: str) -> Trace: ...


class Recall(LedgerAggregate):
    TYPE = "Recall"

    class Initiated(LedgerAggregate.Event, LedgerCreated):
        reason: str
        origin_kind: str
        origin_id: str
        window_from: datetime | None
        window_to: datetime | None
        trace: dict[str, Any]

        def apply(self, recall: Recall) -> None:
            recall.initiated_by = self.actor

    def __init__(
        self,
        reason: str,
        origin_kind: str,
        origin_id: str,
        window_from: datetime | None,
        window_to: datetime | None,
        trace: dict[str, Any],
    ) -> None:
        self.reason = reason
        self.initiated_by = ""
        self.origin = TraceOrigin(origin_kind, origin_id, window_from, window_to)
        self.trace = trace

    @classmethod
    def create(
        cls,
        *,
        recall_id: str,
        reason: str,
        origin_kind: str,
        origin_id: str,
        window_from: datetime | None = None,
        window_to: datetime | None = None,
        trace: dict[str, Any],
        occurred_at: datetime,
        actor: str,
        actor_role: str,
    ) -> Recall:
        """A new recall named ``recall_id``: its Initiated event, pending until saved."""
        return cls._create(
            cls.Initiated,
            id=cls.ledger_id(recall_id),
            reason=reason,
            origin_kind=origin_kind,
            origin_id=origin_id,
            window_from=window_from,
            window_to=window_to,
            trace=trace,
            occurred_at=occurred_at,
            actor=actor,
            actor_role=actor_role,
        )
