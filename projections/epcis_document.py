"""EPCIS 2.0 documents over a scope: a batch, a shipment, a recall, or a window of business time.

A scope is resolved to the ledger events behind it at one ledger position, so a document never
mixes two moments:

    batch     the batch's events, those of its donation and every donation pooled with it, of
              every material lot a step used and of every shipment that carried it; for a batch
              made from a cell bank, the banking of that working bank and of its master bank and
              the vials taken from each on the way to the batch
    shipment  the scope of every batch it carried
    recall    the scope of every batch in the trace the recall kept when it was initiated (and
              each extension's), with an origin container's own batch, and the banking of
              every cell bank in that trace with the vials taken for what it holds
    window    every mapped event whose business time (EPCIS eventTime) falls in [from, to]; this
              reads the ledger from its start, a page at a time

A correction of a mapped field becomes, per EPCIS 2.0, an error declaration (a copy of the event
as it stood, with ``errorDeclaration``) followed by the corrective event, which has its own eventID.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from domain.shared import BadInputError, NotFoundError, require_offset
from projections.audit import find_events
from projections.epcis import (
    CONTAINERS_LEFT,
    EPCIS_CONTEXT,
    VOCABULARY,
    Event,
    Fact,
    Shipment,
    ShipmentOf,
    epcis_event,
    event_id,
    urn,
)
from projections.scopes import Reach, visible_among
from projections.source_and_flow import SHIPMENTS
from projections.sql import Sql, iso_utc

PAGE = 2000
MAPPED_TYPES = ("Donation", "MaterialLot", "Batch", "Shipment", "Recall", "Storage", "CellBank")


@dataclass(frozen=True)
class EpcisScope:
    """What to export: exactly one of a batch, a shipment, a recall, or a window."""

    batch_id: str | None = None
    shipment_id: str | None = None
    recall_id: str | None = None
    window_from: datetime | None = None
    window_to: datetime | None = None

    @classmethod
    def of(
        cls,
        batch_id: str | None = None,
        shipment_id: str | None = None,
        recall_id: str | None = None,
        window_from: datetime | None = None,
        window_to: datetime | None = None,
    ) -> EpcisScope:
        """A scope from what a caller gave; anything but exactly one kind is refused."""
        kinds = [batch_id, shipment_id, recall_id, window_from or window_to]
        if sum(k is not None for k in kinds) != 1:
            raise BadInputError(
                "give exactly one of batchId, shipmentId, recallId or a window (from and to)",
                field="scope",
            )
        if (window_from is None) != (window_to is None):
            raise BadInputError("a window needs both from and to", field="window")
        if window_from is not None and window_to is not None:
            require_offset(window_from, "from")
            require_offset(window_to, "to")
            if window_to < window_from:
                raise BadInputError("the window ends before it begins", field="window")
        return cls(batch_id, shipment_id, recall_id, window_from, window_to)

    def describe(self) -> str:
        if self.batch_id is not None:
            return f"batch {self.batch_id}"
        if self.shipment_id is not None:
            return f"shipment {self.shipment_id}"
        if self.recall_id is not None:
            return f"recall {self.recall_id}"
        assert self.window_from is not None
        assert self.window_to is not None
        return f"events from {iso_utc(self.window_from)} to {iso_utc(self.window_to)}"


def epcis_document(
    sql: Sql, position: int, scope: EpcisScope, created_at: datetime, *, reach: Reach | None
) -> Event:
    """The EPCISDocument of ``scope`` as the ledger stood at ``position``, holding only the
    events a reader with ``reach`` may see."""
    shipments = _Shipments(sql, position)
    events: list[Event] = []
    for fact in _facts(sql, position, scope, reach):
        if fact.event_type.endswith(".Corrected"):
            events.extend(_correction(sql, reach, fact, shipments.of))
            continue
        mapped = _with_containers_left(sql, fact) if fact.event_type == "Batch.Destroyed" else fact
        event = epcis_event(mapped, shipments.of)
        if event is not None:
            events.append(event)
    return {
        "@context": [EPCIS_CONTEXT, {"regentrace": VOCABULARY}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": iso_utc(created_at),
        "instanceIdentifier": f"regentrace {scope.describe()} at ledger position {position}",
        "regentrace:scope": scope.describe(),
        "regentrace:ledgerPosition": position,
        "epcisBody": {"eventList": events},
    }


# ------------------------------------------------------------------------------------ scopes


def _facts(sql: Sql, position: int, scope: EpcisScope, reach: Reach | None) -> Iterator[Fact]:
    if scope.window_from is not None and scope.window_to is not None:
        yield from _window(sql, position, reach, scope.window_from, scope.window_to)
        return
    batch_ids, banks = _batches_of(sql, position, scope, reach)
    banks |= _banks_of(sql, position, batch_ids)
    aggregates = _aggregates_of(sql, position, reach, batch_ids)
    if scope.recall_id is not None:  # and the recall's own actions on its units
        aggregates.add(f"Recall:{scope.recall_id}")
    rows = _rows(sql, position, reach, aggregates)
    banked = _rows(sql, position, reach, {f"CellBank:{bank}" for bank in banks})
    # A bank's donation (a batch made from the bank names it too; a bank in a trace may have
    # made no batch yet).
    donations = {
        f"Donation:{_fact(r).payload['donation_id']}"
        for r in banked
        if r["event_type"] == "CellBank.Banked"
    }
    rows += banked + _rows(sql, position, reach, donations - aggregates)
    # A bank's vials taken for what the scope holds, not those for another bank or batch.
    held = {("BATCH", b) for b in batch_ids} | {("CELL_BANK", b) for b in banks}
    for row in sorted(rows, key=lambda r: int(r["position"])):
        fact = _fact(row)
        taken_for = (fact.payload.get("for_kind"), fact.payload.get("for_id"))
        if fact.event_type == "CellBank.VialsTaken" and taken_for not in held:
            continue
        yield fact


def _rows(sql: Sql, position: int, reach: Reach | None, aggregates: set[str]) -> list[Any]:
    return [
        row
        for aggregate_id in sorted(aggregates)
        for row in find_events(
            sql, aggregate_id=aggregate_id, to_position=position, limit=10**6, reach=reach
        )
    ]


def _batches_of(
    sql: Sql, position: int, scope: EpcisScope, reach: Reach | None
) -> tuple[list[str], set[str]]:
    """The scope's batches, and the cell banks it names itself (a recall's trace)."""
    if scope.batch_id is not None:
        _require(sql, position, reach, f"Batch:{scope.batch_id}", f"batch {scope.batch_id!r}")
        return [scope.batch_id], set()
    if scope.shipment_id is not None:
        shipment = _Shipments(sql, position).of(scope.shipment_id)
        # One beyond the reader's reach reads as one that does not exist, as batches and
        # recalls do through find_events.
        if shipment is None or not _visible(sql, reach, f"Shipment:{scope.shipment_id}"):
            raise NotFoundError(f"no shipment {scope.shipment_id!r}", id=scope.shipment_id)
        return list(shipment.batch_ids), set()
    assert scope.recall_id is not None
    recall = f"Recall:{scope.recall_id}"
    rows = find_events(sql, aggregate_id=recall, to_position=position, limit=10**6, reach=reach)
    if not rows:
        raise NotFoundError(f"no recall {scope.recall_id!r}", id=scope.recall_id)
    # The initiation's trace and each extension's, each as the reader may see it.
    scoped = [
        _fact(row).payload
        for row in rows
        if row["event_type"] in ("Recall.Initiated", "Recall.Extended")
    ]
    traces: list[dict[str, Any]] = [p["trace"] for p in scoped]
    # A trace forward from a container does not list the container's own batch, whose fill
    # made the container; the recall reaches it (domain.recall_commands._recalled_batches).
    # Only for a reader who may see that batch (as the stored trace is cut to the reader's
    # reach, projections.scopes.as_seen); its events are then read as every batch's are.
    origins = {
        batch_id
        for p in scoped
        if p["origin_kind"] == "CONTAINER"
        for batch_id in [p["origin_id"].rpartition("/")[0]]
        if _visible(sql, reach, f"Batch:{batch_id}")
    }
    batches = sorted({b for trace in traces for b in trace["affected_batches"]} | origins)
    banks = {i for trace in traces for k, i in trace["nodes"] if k == "CELL_BANK"}
    return batches, banks


def _banks_of(sql: Sql, position: int, batch_ids: list[str]) -> set[str]:
    """The cell banks the batches were made from: the working bank each vial was taken from,
    and its master bank (the lineage's CELL_BANK edges, as of ``position``)."""
    found: set[str] = set()
    looking = [("BATCH", b) for b in batch_ids]
    while looking:
        kind, key = looking.pop()
        for row in sql.all(
            "SELECT from_id FROM lineage_edges WHERE to_kind = ? AND to_id = ?"
            " AND from_kind = 'CELL_BANK' AND position <= ?",
            (kind, key, position),
        ):
            bank = str(row["from_id"])
            if bank not in found:
                found.add(bank)
                looking.append(("CELL_BANK", bank))
    return found


def _visible(sql: Sql, reach: Reach | None, aggregate_id: str) -> bool:
    return reach is None or bool(visible_among(sql, [aggregate_id], reach))


def _require(sql: Sql, position: int, reach: Reach | None, aggregate_id: str, what: str) -> None:
    if not find_events(sql, aggregate_id=aggregate_id, to_position=position, limit=1, reach=reach):
        raise NotFoundError(f"no {what} in the ledger", id=aggregate_id.split(":", 1)[1])


def _aggregates_of(sql: Sql, position: int, reach: Reach | None, batch_ids: list[str]) -> set[str]:
    """The batches, and every donation (pooled ones too), lot and shipment their events name."""
    found: set[str] = set()
    for batch_id in batch_ids:
        found.add(f"Batch:{batch_id}")
        batch = f"Batch:{batch_id}"
        for row in find_events(
            sql, aggregate_id=batch, to_position=position, limit=10**6, reach=reach
        ):
            payload = _fact(row).payload
            if "donation_id" in payload:
                found.add(f"Donation:{payload['donation_id']}")
            if row["event_type"] == "Batch.Pooled":
                found.update(f"Donation:{d}" for d in payload["donation_ids"])
            found.update(f"MaterialLot:{lot}" for lot in payload.get("material_lots", ()))
            if row["event_type"] == "Batch.Dispatched":
                found.add(f"Shipment:{payload['shipment_id']}")
        # Its storage periods (projections/custody.py keeps which are the batch's).
        for row in sql.all(
            "SELECT DISTINCT leg_id FROM custody_timeline WHERE subject_kind = 'BATCH'"
            " AND subject_id = ? AND kind = 'STORED' AND position <= ?",
            (batch_id, position),
        ):
            found.add(f"Storage:{row['leg_id']}")
    return found


def _window(
    sql: Sql, position: int, reach: Reach | None, start: datetime, end: datetime
) -> Iterator[Fact]:
    after = 0
    while True:
        rows = find_events(sql, to_position=position, after=after, limit=PAGE, reach=reach)
        for row in rows:
            if row["aggregate_type"] in MAPPED_TYPES:
                fact = _fact(row)
                if start <= fact.occurred_at <= end:
                    yield fact
        if len(rows) < PAGE:
            return
        after = int(rows[-1]["position"])


def _with_containers_left(sql: Sql, fact: Fact) -> Fact:
    """A batch's destruction with the containers it destroyed: those filled and neither given
    nor destroyed before it (domain.batch.Batch.Destroyed), read from the batch's events."""
    left: dict[str, None] = {}
    for row in find_events(
        sql,
        aggregate_id=f"Batch:{fact.key}",
        to_position=fact.position - 1,
        limit=10**6,
        reach=None,  # the reader sees the destruction, so the batch: its containers are its own
    ):
        kind, p = row["event_type"], _fact(row).payload
        if kind == "Batch.ContainersFilled":
            left.update((c["container_id"], None) for c in p["containers"])
        elif kind in ("Batch.ContainerAdministered", "Batch.Administered"):
            left.pop(p.get("container_id") or "", None)
        elif kind == "Batch.ContainersDestroyed":
            for container_id in p["container_ids"]:
                left.pop(container_id, None)
    if not left:
        return fact
    return _with(fact, CONTAINERS_LEFT, list(left))


def _fact(row: dict[str, Any]) -> Fact:
    originator: str = row["originator_id"]
    aggregate_type, key = originator.split(":", 1)
    return Fact(
        position=int(row["position"]),
        aggregate_type=aggregate_type,
        key=key,
        event_type=row["event_type"],
        recorded_at=row["recorded_at"],
        payload=orjson.loads(bytes(row["state"])),
    )


class _Shipments:
    """Where each shipment goes and what it carries, as of the document's position."""

    def __init__(self, sql: Sql, position: int) -> None:
        self.sql = sql
        self.position = position
        self.known: dict[str, Shipment | None] = {}

    def of(self, shipment_id: str) -> Shipment | None:
        if shipment_id not in self.known:
            self.known[shipment_id] = self._load(shipment_id)
        return self.known[shipment_id]

    def _load(self, shipment_id: str) -> Shipment | None:
        rows = SHIPMENTS.select(self.sql, self.position, ["shipment_id = ?"], [shipment_id])
        if not rows:
            return None
        batches = self.sql.all(
            "SELECT batch_id FROM shipment_batches WHERE shipment_id = ? AND position <= ?"
            " ORDER BY batch_id",
            (shipment_id, self.position),
        )
        containers = self.sql.all(
            "SELECT batch_id, container_id FROM shipment_containers"
            " WHERE shipment_id = ? AND position <= ? ORDER BY batch_id, container_id",
            (shipment_id, self.position),
        )
        return Shipment(
            rows[0]["from_site_id"],
            rows[0]["to_site_id"],
            tuple(r["batch_id"] for r in batches),
            tuple(f"{r['batch_id']}/{r['container_id']}" for r in containers),
        )


# ------------------------------------------------------------------------------- corrections


def _correction(sql: Sql, reach: Reach | None, fact: Fact, shipment_of: ShipmentOf) -> list[Event]:
    """The corrected event declared in error, then the corrective event that replaces it."""
    p = fact.payload
    at = int(p["corrected_position"])
    rows = find_events(sql, from_position=at, to_position=at, limit=1, reach=reach)
    if not rows:
        return []
    original = _fact(rows[0])
    as_was = epcis_event(_with(original, p["field"], p["old_value"]), shipment_of)
    corrected = epcis_event(_with(original, p["field"], p["new_value"]), shipment_of)
    if as_was is None or corrected is None:
        return []  # the corrected field belongs to a record EPCIS does not show (a site)
    # A correction of a correction declares the earlier corrective event in error.
    declared = event_id(at if p["correction_of"] is None else int(p["correction_of"]))
    corrective = event_id(fact.position)
    declaration = as_was | {
        "eventID": declared,
        "errorDeclaration": {
            "declarationTime": iso_utc(fact.recorded_at),
            "reason": "incorrect_data",
            "correctiveEventIDs": [corrective],
            "regentrace:reason": p["reason"],
            "regentrace:field": p["field"],
        },
    }
    return [declaration, corrected | _corrective(fact, corrective, declared)]


def _corrective(fact: Fact, corrective: str, declared: str) -> Event:
    return {
        "eventID": corrective,
        "recordTime": iso_utc(fact.recorded_at),
        "regentrace:corrects": declared,
        "regentrace:correctedBy": urn("actor", fact.payload["actor"]),
    }


def _with(fact: Fact, field: str, value: Any) -> Fact:
    return Fact(
        fact.position,
        fact.aggregate_type,
        fact.key,
        fact.event_type,
        fact.recorded_at,
        {**fact.payload, field: value},
    )
