"""Recalls, from initiation to closure: trace forward from the origin, record the scope, mark
every batch, notify every site reached and the treating institution of every exposed patient;
then acknowledgements, actions on each recalled unit, extensions, reports to the authority, an
effectiveness check and the closure (domain/recall.py holds the rules)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from domain.adverse_event import AdverseEvent
from domain.batch import Batch, BatchStatus
from domain.cell_bank import CellBank
from domain.donation import Donation
from domain.donor import Donor
from domain.isbt128 import normalise_donation_id
from domain.ledger import LedgerApplication, UnitOfWork, actor
from domain.material_lot import MaterialLot
from domain.recall import (
    ACTION_KINDS,
    DESTROYED_BEFORE_RECALL,
    EFFECTIVENESS_OUTCOMES,
    NODE_KINDS,
    PHYSICIAN_PARTY,
    REPORT_KINDS,
    SITE_PARTY,
    Recall,
    RecallClass,
    TraceOrigin,
    default_authority,
    notification_record,
    origin_not_found,
    recall_class,
    unit_id,
    unit_parts,
)
from domain.shared import (
    BadInputError,
    CommandResult,
    ConflictError,
    LedgerAggregate,
    NotFoundError,
    Principal,
    RuleViolationError,
    require_identifier,
    require_offset,
    require_text,
    require_time,
    utcnow,
)
from domain.shipment import Shipment
from domain.site import Site

AGGREGATE_OF_KIND: dict[str, type[LedgerAggregate]] = {
    "DONOR": Donor,
    "DONATION": Donation,
    "CELL_BANK": CellBank,
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
        classification: str | None = None,
        authority: str | None = None,
        jurisdiction: str | None = None,
        initiated_at: datetime | None = None,
    ) -> CommandResult:
        recall_id = require_identifier(recall_id, "recallId")
        reason = require_text(reason, "reason")
        now = utcnow() if initiated_at is None else require_time(initiated_at, "initiatedAt")
        origin = self.trace_origin(origin_kind, origin_id, window_from, window_to)
        with self.ledger.unit_of_work() as uow:
            if uow.exists(Recall, recall_id):
                raise ConflictError(f"recall {recall_id!r} is already initiated", id=recall_id)
            record = self._trace(origin)
            batches = [uow.load(Batch, b) for b in _recalled_batches(origin, record)]
            where = _jurisdiction(uow, jurisdiction, batches, record["affected_sites"])
            if where is None:
                if classification:
                    raise BadInputError(
                        "the recall reaches no site whose jurisdiction could place its class; "
                        "name the jurisdiction",
                        field="jurisdiction",
                    )
                chosen, defaulted = None, False
            else:
                chosen, defaulted = recall_class(where, classification)
            by = actor(principal)
            units, destroyed_before = _units(batches, now)
            recall = Recall.create(
                recall_id=recall_id,
                reason=reason,
                origin_kind=origin.kind,
                origin_id=origin.id,
                window_from=origin.window_from,
                window_to=origin.window_to,
                trace=record,
                occurred_at=now,
                jurisdiction=where,
                classification=chosen.code if chosen else None,
                classification_defaulted=defaulted,
                authority=_authority(authority, where),
                units=units,
                notifications=_notifications(recall_id, 0, record, batches, chosen, now),
                destroyed_before=destroyed_before,
                **by,
            )
            for batch in batches:
                batch.mark_recalled(recall_id, occurred_at=now, **by)
            return uow.save(recall, *batches)

    def extend_recall(
        self,
        principal: Principal,
        recall_id: str,
        extension_id: str,
        origin_kind: str,
        origin_id: str,
        reason: str,
        extended_at: datetime,
        window_from: datetime | None = None,
        window_to: datetime | None = None,
    ) -> CommandResult:
        extension_id = require_identifier(extension_id, "extensionId")
        reason = require_text(reason, "reason")
        at = require_time(extended_at, "extendedAt")
        origin = self.trace_origin(origin_kind, origin_id, window_from, window_to)
        with self.ledger.unit_of_work() as uow:
            recall = uow.load(Recall, recall_id)
            record = self._trace(origin)
            batches = [uow.load(Batch, b) for b in _recalled_batches(origin, record)]
            chosen = _class_of(recall)
            known = {
                (n["party_kind"], n["site_id"], n["patient_code"])
                for n in recall.notifications.values()
            }
            fresh = [
                n
                for n in _notifications(recall.key, 0, record, batches, chosen, at)
                if (n["party_kind"], n["site_id"], n["patient_code"]) not in known
            ]
            start = len(recall.notifications)
            numbered = [
                {**n, "id": f"{recall.key}/N{start + i}"} for i, n in enumerate(fresh, start=1)
            ]
            by = actor(principal)
            units, destroyed_before = _units(batches, at)
            recall.extend(
                extension_id,
                origin,
                reason,
                record,
                units,
                numbered,
                destroyed_before,
                occurred_at=at,
                **by,
            )
            for batch in batches:
                batch.mark_recalled(recall.key, occurred_at=at, **by)
            return uow.save(recall, *batches)

    def acknowledge_recall_notification(
        self,
        principal: Principal,
        recall_id: str,
        notification_id: str,
        site_id: str,
        acknowledged_at: datetime,
        note: str | None = None,
    ) -> CommandResult:
        notification_id = require_text(notification_id, "notificationId")
        site_id = require_text(site_id, "siteId")
        at = require_time(acknowledged_at, "acknowledgedAt")
        with self.ledger.unit_of_work() as uow:
            recall = uow.load(Recall, recall_id)
            recall.acknowledge(
                notification_id, site_id, _note(note), occurred_at=at, **actor(principal)
            )
            return uow.save(recall)

    def record_recall_action(
        self,
        principal: Principal,
        recall_id: str,
        batch_id: str,
        kind: str,
        at: datetime,
        shipment_id: str | None = None,
        container_id: str | None = None,
        note: str | None = None,
    ) -> CommandResult:
        if kind not in ACTION_KINDS:
            raise BadInputError(f"kind must be one of {', '.join(ACTION_KINDS)}", field="kind")
        batch_id = require_text(batch_id, "batchId")
        at = require_time(at, "at")
        shipment, note = _note(shipment_id), _note(note)
        if kind == "RETURNED" and shipment is None:
            raise BadInputError("a return names the shipment back", field="shipmentId")
        if kind == "ALREADY_ADMINISTERED" and note is None:
            raise BadInputError(
                "an administered unit needs the follow-up of the patient as its note",
                field="note",
            )
        container = _note(container_id)
        with self.ledger.unit_of_work() as uow:
            recall = uow.load(Recall, recall_id)
            batch = uow.load(Batch, batch_id) if uow.exists(Batch, batch_id) else None
            if batch is None:
                raise BadInputError(f"batch {batch_id!r} not found", field="batchId")
            if container is not None and container not in batch.containers:
                raise NotFoundError(
                    f"batch {batch_id!r} has no container {container!r}",
                    batch_id=batch_id,
                    container_id=container,
                )
            recall.require_open("recording an action")
            unit = recall.unit_in_scope(batch_id, container)
            if kind in ("RETURNED", "QUARANTINED"):
                _require_not_destroyed(recall, batch, unit, kind)
            if unit != batch_id:
                return self._container_action(
                    uow, principal, recall, batch, unit, kind, at, shipment, note
                )
            if kind == "RETURNED" and shipment is not None and uow.exists(Shipment, shipment):
                _require_return_of(uow.load(Shipment, shipment), batch_id)
            if kind == "ALREADY_ADMINISTERED" and batch.administered_site_id is None:
                raise RuleViolationError(
                    f"batch {batch_id!r} was not administered; account for it otherwise",
                    batch_id=batch_id,
                    rule="RECALL_UNIT_NOT_ADMINISTERED",
                )
            by = actor(principal)
            site = batch.administered_site_id if kind == "ALREADY_ADMINISTERED" else None
            recall.record_action(
                kind,
                batch_id,
                container,
                site or batch.location,
                shipment,
                note,
                occurred_at=at,
                **by,
            )
            changed: list[LedgerAggregate] = [recall]
            if kind == "DESTROYED" and batch.status is not BatchStatus.DESTROYED:
                # The recall's destruction is the batch's own: it leaves the chain for good.
                batch.destroy(f"recall {recall.key}: {note or 'destroyed'}", occurred_at=at, **by)
                changed.append(batch)
            return uow.save(*changed)

    @staticmethod
    def _container_action(
        uow: UnitOfWork,
        principal: Principal,
        recall: Recall,
        batch: Batch,
        unit: str,
        kind: str,
        at: datetime,
        shipment: str | None,
        note: str | None,
    ) -> CommandResult:
        """An action on one container of a split batch: a container given to a patient is
        accounted for only as ALREADY_ADMINISTERED (at the institution that gave it), one not
        given is returned, quarantined or destroyed where it is (its destruction the container's
        own, the batch's once no container is left); one destroyed is neither returned nor
        quarantined (_require_not_destroyed)."""
        container = batch.containers[unit_parts(unit, recall.batches_reached)[1] or ""]
        given = container.administered_to is not None
        if kind == "ALREADY_ADMINISTERED" and not given:
            raise RuleViolationError(
                f"container {unit!r} was not given to a patient; account for it otherwise",
                batch_id=batch.key,
                container_id=container.container_id,
                rule="RECALL_UNIT_NOT_ADMINISTERED",
            )
        if kind != "ALREADY_ADMINISTERED" and given:
            raise RuleViolationError(
                f"container {unit!r} was given to a patient; account for it as "
                "ALREADY_ADMINISTERED with the patient's follow-up",
                batch_id=batch.key,
                container_id=container.container_id,
                rule="RECALL_UNIT_ADMINISTERED",
            )
        if kind == "RETURNED" and shipment is not None and uow.exists(Shipment, shipment):
            _require_return_of(uow.load(Shipment, shipment), batch.key, unit)
        by = actor(principal)
        recall.record_action(
            kind,
            batch.key,
            container.container_id,
            container.location,
            shipment,
            note,
            occurred_at=at,
            **by,
        )
        changed: list[LedgerAggregate] = [recall]
        if kind == "DESTROYED" and not container.destroyed:
            batch.destroy_containers(
                (container.container_id,),
                f"recall {recall.key}: {note or 'destroyed'}",
                occurred_at=at,
                **by,
            )
            changed.append(batch)
        return uow.save(*changed)

    def report_recall_to_authority(
        self,
        principal: Principal,
        recall_id: str,
        kind: str,
        summary: str,
        reported_at: datetime,
        authority: str | None = None,
        reference: str | None = None,
    ) -> CommandResult:
        if kind not in REPORT_KINDS:
            raise BadInputError(f"kind must be one of {', '.join(REPORT_KINDS)}", field="kind")
        summary = require_text(summary, "summary")
        at = require_time(reported_at, "reportedAt")
        with self.ledger.unit_of_work() as uow:
            recall = uow.load(Recall, recall_id)
            to = _note(authority) or recall.authority
            if to is None:
                raise BadInputError("recall has no authority to inform; name it", field="authority")
            recall.report(kind, to, _note(reference), summary, occurred_at=at, **actor(principal))
            return uow.save(recall)

    def record_recall_effectiveness_check(
        self,
        principal: Principal,
        recall_id: str,
        outcome: str,
        method: str,
        checked_at: datetime,
        note: str | None = None,
    ) -> CommandResult:
        if outcome not in EFFECTIVENESS_OUTCOMES:
            raise BadInputError(
                f"outcome must be one of {', '.join(EFFECTIVENESS_OUTCOMES)}", field="outcome"
            )
        method = require_text(method, "method")
        at = require_time(checked_at, "checkedAt")
        with self.ledger.unit_of_work() as uow:
            recall = uow.load(Recall, recall_id)
            recall.check_effectiveness(
                outcome, method, _note(note), occurred_at=at, **actor(principal)
            )
            return uow.save(recall)

    def close_recall(
        self, principal: Principal, recall_id: str, conclusion: str, closed_at: datetime
    ) -> CommandResult:
        conclusion = require_text(conclusion, "conclusion")
        at = require_time(closed_at, "closedAt")
        with self.ledger.unit_of_work() as uow:
            recall = uow.load(Recall, recall_id)
            recall.close(conclusion, occurred_at=at, **actor(principal))
            return uow.save(recall)

    def _container_exists(self, node: str) -> bool:
        """Whether ``node`` (``batchId/containerId``) names a container of its batch."""
        batch_id, _, container_id = node.rpartition("/")
        if not container_id or not self.ledger.exists(Batch, batch_id):
            return False
        with self.ledger.unit_of_work() as uow:
            return container_id in uow.load(Batch, batch_id).containers

    def _trace(self, origin: TraceOrigin) -> dict[str, Any]:
        if self.ledger.tracer is None:
            raise BadInputError("recalls need the lineage tracer, which is not configured")
        return self.ledger.tracer.trace(origin, "FORWARD").as_record()

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
        if kind == "CONTAINER" and not self._container_exists(origin_id):
            raise origin_not_found(kind, origin_id)
        return TraceOrigin(kind, origin_id, window_from, window_to)


# -------------------------------------------------------------------------------- internals


def _note(text: str | None) -> str | None:
    return text.strip() if text and text.strip() else None


def _recalled_batches(origin: TraceOrigin, record: dict[str, Any]) -> list[str]:
    """The batches a recall marks and accounts for: those its trace reached and, for a container
    origin, the container's own batch (a trace forward from a container reaches only what came
    after it; the batch is the unit a recall returns, quarantines or destroys)."""
    found = list(record["affected_batches"])
    if origin.kind == "CONTAINER":
        batch_id = origin.id.rpartition("/")[0]
        if batch_id not in found:
            found.append(batch_id)
    return found


def _units(batches: list[Batch], at: datetime) -> tuple[list[str], list[str]]:
    """The units to account for, and those of them already destroyed at ``at``, the scope's
    business time (accounted for by the scope itself; one destroyed later is accounted for by
    a DESTROYED action like any other). A batch filled into containers counts each of its containers
    (``batchId/containerId``), given, destroyed or still in the chain; unless it was rejected
    (none of them ever left). Any other batch counts as one unit while it still existed to
    recall (not rejected or destroyed)."""
    units: list[str] = []
    destroyed: list[str] = []
    for b in batches:
        if b.status is BatchStatus.REJECTED:
            continue
        if b.containers:
            for c in b.containers.values():
                units.append(unit_id(b.key, c.container_id))
                if c.destroyed and (c.destroyed_at is None or c.destroyed_at <= at):
                    destroyed.append(units[-1])
        elif b.status is not BatchStatus.DESTROYED:
            units.append(b.key)
    return units, destroyed


def _jurisdiction(
    uow: UnitOfWork, named: str | None, batches: list[Batch], site_ids: list[str]
) -> str | None:
    """The jurisdiction whose recall classes apply: the one named, else that of the control
    site of the first batch reached, else that of the first site reached."""
    if named and named.strip():
        return named.strip().upper()
    for site_id in [*(b.control_site_id for b in batches), *site_ids]:
        if uow.exists(Site, site_id):
            return uow.load(Site, site_id).jurisdiction
    return None


def _authority(named: str | None, jurisdiction: str | None) -> str | None:
    if named and named.strip():
        return named.strip()
    return default_authority(jurisdiction) if jurisdiction else None


def _class_of(recall: Recall) -> RecallClass | None:
    if recall.jurisdiction is None or recall.classification is None:
        return None
    return recall_class(recall.jurisdiction, recall.classification)[0]


def _notifications(
    recall_id: str,
    start: int,
    record: dict[str, Any],
    batches: list[Batch],
    chosen: RecallClass | None,
    at: datetime,
) -> list[dict[str, Any]]:
    """One notification per site reached, then one per exposed patient to the institution
    that treated them (the treating physician is told there); due by the class's limit."""
    due = at + (chosen.acknowledge_within if chosen else timedelta(hours=24))
    parties: list[tuple[str, str, str | None, list[str]]] = [
        (SITE_PARTY, site_id, None, []) for site_id in record["affected_sites"]
    ]
    treated: dict[tuple[str, str], list[str]] = {}
    for batch in batches:
        # Every patient given the batch, at the institution that gave it: for a batch filled
        # into containers, each container given (several patients, several institutions, some
        # while others of the batch are still unused).
        given = {
            (c.location, c.administered_to)
            for c in batch.containers.values()
            if c.administered_to is not None
        }
        if not batch.containers and batch.administered_site_id is not None:
            given = {(batch.administered_site_id, p) for p in batch.administered_patients}
        for site_patient in sorted(given):
            treated.setdefault(site_patient, []).append(batch.key)
    parties += [(PHYSICIAN_PARTY, s, p, b) for (s, p), b in sorted(treated.items())]
    return [
        notification_record(recall_id, start + i, kind, site, due, patient, batch_ids)
        for i, (kind, site, patient, batch_ids) in enumerate(parties, start=1)
    ]


def _require_not_destroyed(recall: Recall, batch: Batch, unit: str, kind: str) -> None:
    """A destroyed unit (a container, or a batch recalled whole) is neither returned nor
    quarantined (RECALL_UNIT_DESTROYED): destroyed since the scope was taken and not yet
    accounted for, its destruction accounts for it (DESTROYED naming it); already accounted for
    (by that destruction, or a return before it), it stays so. A container destroyed before the
    scope was taken is accounted for by the scope itself (record_action: CONFLICT)."""
    container_id = unit_parts(unit, recall.batches_reached)[1]
    if container_id is None:
        destroyed, destroyed_at = batch.status is BatchStatus.DESTROYED, batch.used_at
    else:
        container = batch.containers[container_id]
        destroyed, destroyed_at = container.destroyed, container.destroyed_at
    done = recall.accounted_by(unit)
    if not destroyed or done == DESTROYED_BEFORE_RECALL:
        return
    what = "container" if container_id else "batch"
    if done is None:
        then = f"account for it as DESTROYED naming that {what} (its destruction)"
    elif done == "DESTROYED":
        then = f"it is already accounted for in recall {recall.key!r} by its destruction"
    else:
        then = f"it is already accounted for in recall {recall.key!r} ({done})"
    raise RuleViolationError(
        f"{what} {unit!r} was destroyed"
        + (f" at {destroyed_at.isoformat()}" if destroyed_at else "")
        + f"; it cannot be {kind.lower()}: {then}",
        batch_id=batch.key,
        container_id=container_id,
        unit_id=unit,
        rule="RECALL_UNIT_DESTROYED",
    )


def _require_return_of(shipment: Shipment, batch_id: str, unit: str | None = None) -> None:
    """A RETURNED action naming a shipment of the ledger names a controlled return carrying
    the batch (dispatchShipment with isReturn), and the container when the unit is one. A
    shipment id the ledger does not know stays what it was before returns were recorded: the
    consignment reference of a return made outside the ledger."""
    carried = shipment.is_return and batch_id in shipment.batch_ids
    if unit is not None and unit not in shipment.containers:
        carried = False
    if not carried:
        raise RuleViolationError(
            f"shipment {shipment.key!r} is not a return carrying "
            f"{'container' if unit else 'batch'} {unit or batch_id!r}",
            batch_id=batch_id,
            shipment_id=shipment.key,
            rule="RECALL_RETURN_SHIPMENT",
        )
