"""Initiating a recall: trace forward from the origin, record the scope, mark every batch."""

from __future__ import annotations

from datetime import datetime

from domain.adverse_event import AdverseEvent
from domain.batch import Batch
from domain.donation import Donation
from domain.donor import Donor
from domain.isbt128 import normalise_donation_id
from domain.ledger import LedgerApplication, actor
from domain.material_lot import MaterialLot
from domain.recall import NODE_KINDS, Recall, TraceOrigin, origin_not_found
from domain.shared import (
    BadInputError,
    CommandResult,
    ConflictError,
    LedgerAggregate,
    Principal,
    require_identifier,
    require_offset,
    require_text,
    utcnow,
)
from domain.shipment import Shipment
from domain.site import Site

AGGREGATE_OF_KIND: dict[str, type[LedgerAggregate]] = {
    "DONOR": Donor,
    "DONATION": Donation,
    "MATERIAL_LOT": MaterialLot,
    "BATCH": Batch,
    "SHIPMENT": Shipment,
    "SITE": Site,
    "ADVERSE_EVENT": AdverseEvent,
}


class RecallCommands:
    """Recalls: scoped by tracing forward from their origin over the lineage."""

    def __init__(self, ledger: LedgerApplication) -> None:
        self.ledger = ledger

    def initiate_recall(
        self,
        principal: Principal,
        recall_id: str,
        origin_kind: str,
        origin_id: str,
        reason: str,
        window_from: datetime | None = None,
        window_to: datetime | None = None,
    ) -> CommandResult:
        recall_id = require_identifier(recall_id, "recallId")
        reason = require_text(reason, "reason")
        origin = self.trace_origin(origin_kind, origin_id, window_from, window_to)
        with self.ledger.unit_of_work() as uow:
            if uow.exists(Recall, recall_id):
                raise ConflictError(f"recall {recall_id!r} is already initiated", id=recall_id)
            if self.ledger.tracer is None:
                raise BadInputError("recalls need the lineage tracer, which is not configured")
            record = self.ledger.tracer.trace(origin, "FORWARD").as_record()
            batches = [uow.load(Batch, b) for b in record["affected_batches"]]
            by, now = actor(principal), utcnow()
            recall = Recall.create(
                recall_id=recall_id,
                reason=reason,
                origin_kind=origin.kind,
                origin_id=origin.id,
                window_from=origin.window_from,
                window_to=origin.window_to,
                trace=record,
                occurred_at=now,
                **by,
            )
            for batch in batches:
                batch.mark_recalled(recall_id, occurred_at=now, **by)
            return uow.save(recall, *batches)

    def trace_origin(
        self,
        kind: str,
        origin_id: str,
        window_from: datetime | None = None,
        window_to: datetime | None = None,
    ) -> TraceOrigin:
        """A checked trace origin: a known kind, an existing record, a sensible window."""
        if kind not in NODE_KINDS:
            raise BadInputError(f"origin kind must be one of {', '.join(NODE_KINDS)}", field="kind")
        origin_id = require_text(origin_id, "id")
        if (window_from is None) != (window_to is None):
            raise BadInputError("a window needs both from and to", field="window")
        if window_from is not None and window_to is not None:
            if kind != "SITE":
                raise BadInputError("a time window applies to a SITE origin only", field="window")
            require_offset(window_from, "window.from")
            require_offset(window_to, "window.to")
            if window_to < window_from:
                raise BadInputError("window.to precedes window.from", field="window")
        if kind == "DONATION":
            origin_id = normalise_donation_id(origin_id)[0]
        aggregate = AGGREGATE_OF_KIND.get(kind)
        if aggregate is not None and not self.ledger.exists(aggregate, origin_id):
            raise origin_not_found(kind, origin_id)
        return TraceOrigin(kind, origin_id, window_from, window_to)
