"""The Recall aggregate (召回) and the trace it rests on.

A recall is initiated on a scope (a batch, a material lot, a donor, a site over a time window...).
The initiation event stores the lineage trace as it was computed at that moment, with the ledger
position it reflects, so the recall's scope is itself part of the audit record: what later
investigations find can be compared with what was known when the decision was taken.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any, Protocol

from domain.shared import (
    BadInputError,
    ConflictError,
    LedgerAggregate,
    LedgerCreated,
    NotFoundError,
    RuleViolationError,
    require_order,
)

NODE_KINDS = (
    "DONOR",
    "DONATION",
    "CELL_BANK",
    "MATERIAL_LOT",
    "BATCH",
    "CONTAINER",
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


# ------------------------------------------------------------------------ recall lifecycle

OPEN, CLOSED = "OPEN", "CLOSED"
ACTION_KINDS = ("RETURNED", "QUARANTINED", "DESTROYED", "ALREADY_ADMINISTERED")
# What accounts for a recalled unit: it left the chain for good. Quarantine secures it only.
FINAL_ACTIONS = frozenset({"RETURNED", "DESTROYED", "ALREADY_ADMINISTERED"})
# How a container destroyed before the recall reached it is accounted for: by the scope itself.
DESTROYED_BEFORE_RECALL = "DESTROYED_BEFORE_RECALL"
REPORT_KINDS = ("INITIAL", "PROGRESS", "FINAL")
EFFECTIVENESS_OUTCOMES = ("EFFECTIVE", "NOT_EFFECTIVE")
SITE_PARTY, PHYSICIAN_PARTY = "SITE", "PHYSICIAN"


@dataclass(frozen=True)
class RecallClass:
    """A recall class (urgency) of one jurisdiction, the text defining it, and the time a
    notified party has to acknowledge (domain/data/recall_classes.json)."""

    jurisdiction: str
    code: str
    label: str
    acknowledge_within: timedelta
    source: str


@cache
def _class_data() -> dict[str, Any]:
    text = resources.files("domain.data").joinpath("recall_classes.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return {k: v for k, v in data.items() if not k.startswith("_")}


def recall_classes(jurisdiction: str) -> list[RecallClass]:
    """The classes of ``jurisdiction``, most urgent first."""
    spec = _class_data().get(jurisdiction)
    if spec is None:
        raise BadInputError(
            f"no recall classes are configured for {jurisdiction}; configured: "
            f"{', '.join(sorted(_class_data()))}",
            field="classification",
        )
    return [
        RecallClass(
            jurisdiction,
            code,
            c["label"],
            timedelta(hours=int(c["acknowledge_within_hours"])),
            c["source"],
        )
        for code, c in spec["classes"].items()
    ]


def recall_class(jurisdiction: str, code: str | None) -> tuple[RecallClass, bool]:
    """The class named ``code`` in ``jurisdiction``, or the most urgent when none is named;
    and whether it was so defaulted."""
    classes = recall_classes(jurisdiction)
    if code is None or not code.strip():
        return classes[0], True
    found = next((c for c in classes if c.code == code.strip().upper()), None)
    if found is None:
        raise BadInputError(
            f"recall class {code!r} is not one of {jurisdiction}'s: "
            f"{', '.join(c.code for c in classes)}",
            field="classification",
        )
    return found, False


def default_authority(jurisdiction: str) -> str:
    return str(_class_data()[jurisdiction]["authority"])


def notification_record(
    recall_id: str,
    number: int,
    party_kind: str,
    site_id: str,
    due_at: datetime,
    patient_code: str | None = None,
    batch_ids: list[str] | None = None,
) -> dict[str, Any]:
    """A notification as plain data kept in the event that creates it."""
    return {
        "id": f"{recall_id}/N{number}",
        "party_kind": party_kind,
        "site_id": site_id,
        "patient_code": patient_code,
        "batch_ids": sorted(batch_ids or []),
        "due_at": due_at.isoformat(),
    }


def unit_id(batch_id: str, container_id: str | None = None) -> str:
    """A recalled unit's identifier: the batch's, or for a batch filled into containers the
    container's across the ledger (``batchId/containerId``, domain.batch.container_node)."""
    return f"{batch_id}/{container_id}" if container_id else batch_id


def unit_parts(unit: str, whole: Collection[str] = ()) -> tuple[str, str | None]:
    """The batch and container (None for a whole batch) a unit identifier names. A container id
    never holds '/', but a batch id may: a batch recalled whole is named by its own id, so
    ``whole`` gives the batches the recall's traces reached (a unit that is one of them is that
    batch), and otherwise the container is what follows the last '/'."""
    if unit in whole or "/" not in unit:
        return unit, None
    batch_id, _, container_id = unit.rpartition("/")
    return batch_id, container_id


class Recall(LedgerAggregate):
    """A recall and the units it must account for.

    A unit is a batch, or, for a batch filled into containers when the scope was taken, each of
    its containers (``batchId/containerId``): an investigator accounts for every vial, not for
    the batch. A container given to a patient before the recall is accounted for by
    ALREADY_ADMINISTERED naming it (with the patient's follow-up); one returned or destroyed by
    RETURNED or DESTROYED naming it; QUARANTINED alone secures a unit without accounting for it.
    A container already destroyed when the scope was taken is in scope and accounted for from the
    start: the initiation (or extension) lists it in ``destroyed_before``, its units' status then
    reads DESTROYED_BEFORE_RECALL, and no action is taken on it. An action naming only the batch
    of a batch whose units are its containers is refused (RECALL_CONTAINER_REQUIRED, naming the
    containers still unaccounted for): each container is at its own site and ends its own way.
    """

    TYPE = "Recall"

    class Initiated(LedgerAggregate.Event, LedgerCreated):
        class_version = 3

        reason: str
        origin_kind: str
        origin_id: str
        window_from: datetime | None
        window_to: datetime | None
        trace: dict[str, Any]
        # Since the lifecycle (issue 17): the class and whether it was defaulted, the
        # jurisdiction whose classes it is of, the authority to inform, the units to account
        # for (batches reached that still existed) and the notifications sent.
        jurisdiction: str | None
        classification: str | None
        classification_defaulted: bool
        authority: str | None
        units: list[str]
        notifications: list[dict[str, Any]]
        # Version 3 (issue 18): units may be containers (``batchId/containerId``); those
        # already destroyed when the scope was taken are accounted for by it.
        destroyed_before: list[str]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Recalls initiated before the lifecycle: no class, no authority, nothing sent;
            their units are the batches their trace reached."""
            state["jurisdiction"] = None
            state["classification"] = None
            state["classification_defaulted"] = False
            state["authority"] = None
            state["units"] = list(state["trace"].get("affected_batches", []))
            state["notifications"] = []

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            """Recalls initiated before containers were units: every unit a batch."""
            state["destroyed_before"] = []

        def apply(self, recall: Recall) -> None:
            recall.initiated_by = self.actor
            recall.initiated_at = self.occurred_at
            recall.add_scope(self.units, self.notifications, self.destroyed_before, self.trace)

    class Extended(LedgerAggregate.Event):
        class_version = 2

        extension_id: str
        reason: str
        origin_kind: str
        origin_id: str
        window_from: datetime | None
        window_to: datetime | None
        trace: dict[str, Any]
        units: list[str]
        notifications: list[dict[str, Any]]
        destroyed_before: list[str]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Extensions made before containers were units: every unit a batch."""
            state["destroyed_before"] = []

        def apply(self, recall: Recall) -> None:
            recall.extensions.append(self.extension_id)
            recall.add_scope(self.units, self.notifications, self.destroyed_before, self.trace)

    class NotificationAcknowledged(LedgerAggregate.Event):
        notification_id: str
        site_id: str
        note: str | None

        def apply(self, recall: Recall) -> None:
            recall.acknowledged[self.notification_id] = self.occurred_at

    class ActionRecorded(LedgerAggregate.Event):
        action_id: str
        kind: str
        batch_id: str
        container_id: str | None
        site_id: str | None
        shipment_id: str | None
        note: str | None

        def apply(self, recall: Recall) -> None:
            unit = recall.unit_acted_on(self.batch_id, self.container_id)
            recall.actions.setdefault(unit, []).append(self.kind)
            recall.action_count += 1

    class ReportedToAuthority(LedgerAggregate.Event):
        report_id: str
        kind: str
        authority: str
        reference: str | None
        summary: str

        def apply(self, recall: Recall) -> None:
            recall.reports.append(self.kind)

    class EffectivenessChecked(LedgerAggregate.Event):
        check_id: str
        outcome: str
        method: str
        note: str | None

        def apply(self, recall: Recall) -> None:
            recall.checks.append(self.outcome)

    class Closed(LedgerAggregate.Event):
        conclusion: str

        def apply(self, recall: Recall) -> None:
            recall.status = CLOSED
            recall.closed_at = self.occurred_at

    def __init__(
        self,
        reason: str,
        origin_kind: str,
        origin_id: str,
        window_from: datetime | None,
        window_to: datetime | None,
        trace: dict[str, Any],
        jurisdiction: str | None = None,
        classification: str | None = None,
        classification_defaulted: bool = False,
        authority: str | None = None,
        units: list[str] | None = None,  # noqa: ARG002 (applied by the event)
        notifications: list[dict[str, Any]] | None = None,  # noqa: ARG002
        destroyed_before: list[str] | None = None,  # noqa: ARG002
    ) -> None:
        self.reason = reason
        self.initiated_by = ""
        self.initiated_at: datetime | None = None
        self.origin = TraceOrigin(origin_kind, origin_id, window_from, window_to)
        self.trace = trace
        self.jurisdiction = jurisdiction
        self.classification = classification
        self.classification_defaulted = classification_defaulted
        self.authority = authority
        self.status = OPEN
        self.closed_at: datetime | None = None
        self.units: list[str] = []
        self.destroyed_before: set[str] = set()
        self.batches_reached: set[str] = set()  # by any of its traces (unit_parts)
        self.notifications: dict[str, dict[str, Any]] = {}
        self.acknowledged: dict[str, datetime] = {}
        self.actions: dict[str, list[str]] = {}
        self.action_count = 0
        self.reports: list[str] = []
        self.checks: list[str] = []
        self.extensions: list[str] = []

    def add_scope(
        self,
        units: list[str],
        notifications: list[dict[str, Any]],
        destroyed_before: list[str],
        trace: dict[str, Any],
    ) -> None:
        self.units += [u for u in units if u not in self.units]
        self.batches_reached.update(trace.get("affected_batches", ()))
        self.destroyed_before.update(destroyed_before)
        for n in notifications:
            self.notifications[n["id"]] = n

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
        jurisdiction: str | None = None,
        classification: str | None = None,
        classification_defaulted: bool = False,
        authority: str | None = None,
        units: list[str] | None = None,
        notifications: list[dict[str, Any]] | None = None,
        destroyed_before: list[str] | None = None,
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
            jurisdiction=jurisdiction,
            classification=classification,
            classification_defaulted=classification_defaulted,
            authority=authority,
            units=list(trace["affected_batches"]) if units is None else units,
            notifications=notifications or [],
            destroyed_before=destroyed_before or [],
        )

    # ------------------------------------------------------------------------ rules

    @property
    def unacknowledged(self) -> list[str]:
        return [n for n in self.notifications if n not in self.acknowledged]

    @property
    def unaccounted(self) -> list[str]:
        return [u for u in self.units if self.accounted_by(u) is None]

    def accounted_by(self, unit: str) -> str | None:
        """What accounts for ``unit``: its first final action, DESTROYED_BEFORE_RECALL for a
        container destroyed before the scope reached it, None while it is outstanding."""
        if unit in self.destroyed_before:
            return DESTROYED_BEFORE_RECALL
        return next((k for k in self.actions.get(unit, []) if k in FINAL_ACTIONS), None)

    def unit_acted_on(self, batch_id: str, container_id: str | None) -> str:
        """The unit an action on ``batch_id`` (and ``container_id``) accounts for: the container
        when it is a unit, else the batch (a batch recalled whole, the container named for the
        record only)."""
        node = unit_id(batch_id, container_id)
        return node if node in self.units else batch_id

    def unit_in_scope(self, batch_id: str, container_id: str | None) -> str:
        """The unit an action names, refused when it names none of the recall's units, or only
        the batch of a batch whose units are its containers."""
        unit = self.unit_acted_on(batch_id, container_id)
        if unit in self.units:
            return unit
        containers = [
            u
            for u in self.units
            if unit_parts(u, self.batches_reached)[0] == batch_id and u != batch_id
        ]
        if container_id is None and containers:
            open_ = [u for u in containers if self.accounted_by(u) is None]
            raise RuleViolationError(
                f"batch {batch_id!r} is recalled container by container; name the container "
                f"(containerId) the action is on; not yet accounted for: "
                f"{', '.join(open_) or 'none'}",
                recall_id=self.key,
                batch_id=batch_id,
                unit_ids=open_,
                rule="RECALL_CONTAINER_REQUIRED",
            )
        named = unit_id(batch_id, container_id)
        raise RuleViolationError(
            f"{'container' if container_id else 'batch'} {named!r} is not a unit of recall "
            f"{self.key!r}; its units: {', '.join(self.units) or 'none'}",
            recall_id=self.key,
            batch_id=batch_id,
            container_id=container_id,
            rule="RECALL_UNIT_NOT_IN_SCOPE",
        )

    def require_open(self, act: str) -> None:
        if self.status == CLOSED:
            raise RuleViolationError(
                f"recall {self.key!r} is closed; {act} is refused",
                recall_id=self.key,
                rule="RECALL_CLOSED",
            )

    def require_after_initiation(self, at: datetime, field: str) -> None:
        if self.initiated_at is not None:
            require_order(self.initiated_at, at, "the recall's initiation", field)

    def require_nothing_outstanding(self, act: str) -> None:
        """Refused while a notification is unacknowledged or a recalled unit unaccounted for,
        naming every one."""
        if self.unacknowledged:
            raise RuleViolationError(
                f"{act} of recall {self.key!r} is refused: notifications not acknowledged: "
                f"{', '.join(self.unacknowledged)}",
                recall_id=self.key,
                rule="RECALL_NOTIFICATIONS_UNACKNOWLEDGED",
                notification_ids=self.unacknowledged,
            )
        if self.unaccounted:
            raise RuleViolationError(
                f"{act} of recall {self.key!r} is refused: recalled units not accounted for "
                f"(returned, destroyed or already administered): {', '.join(self.unaccounted)}",
                recall_id=self.key,
                rule="RECALL_UNITS_UNACCOUNTED",
                batch_ids=list(
                    dict.fromkeys(unit_parts(u, self.batches_reached)[0] for u in self.unaccounted)
                ),
                unit_ids=self.unaccounted,
            )

    # --------------------------------------------------------------------- commands

    def extend(
        self,
        extension_id: str,
        origin: TraceOrigin,
        reason: str,
        trace: dict[str, Any],
        units: list[str],
        notifications: list[dict[str, Any]],
        destroyed_before: list[str],
        **context: Any,
    ) -> None:
        """Widen the scope. A batch already in scope whole stays one unit (its containers,
        filled since, are not added beside it)."""
        self.require_open("an extension")
        self.require_after_initiation(context["occurred_at"], "extendedAt")
        if extension_id in self.extensions:
            raise ConflictError(
                f"recall {self.key!r} already has extension {extension_id!r}", id=extension_id
            )
        if "FINAL" in self.reports:
            raise RuleViolationError(
                f"recall {self.key!r} has its FINAL report filed; a wider scope is a new recall",
                recall_id=self.key,
                rule="RECALL_FINAL_REPORTED",
            )
        fresh = [
            u
            for u in units
            if u not in self.units and unit_parts(u, self.batches_reached)[0] not in self.units
        ]
        self.trigger_event(
            self.Extended,
            extension_id=extension_id,
            reason=reason,
            origin_kind=origin.kind,
            origin_id=origin.id,
            window_from=origin.window_from,
            window_to=origin.window_to,
            trace=trace,
            units=fresh,
            notifications=notifications,
            destroyed_before=[u for u in destroyed_before if u in fresh],
            **context,
        )

    def notification(self, notification_id: str, site_id: str | None) -> dict[str, Any]:
        """The notification ``notification_id`` sent to ``site_id``; one sent elsewhere reads
        as one that does not exist."""
        found = self.notifications.get(notification_id)
        if found is None or (site_id is not None and found["site_id"] != site_id):
            raise NotFoundError(
                f"recall {self.key!r} has no notification {notification_id!r}"
                + (f" to site {site_id!r}" if site_id else ""),
                notification_id=notification_id,
            )
        return found

    def acknowledge(
        self, notification_id: str, site_id: str, note: str | None, **context: Any
    ) -> None:
        self.require_open("acknowledging a notification")
        self.notification(notification_id, site_id)
        if notification_id in self.acknowledged:
            raise ConflictError(
                f"notification {notification_id!r} was acknowledged at "
                f"{self.acknowledged[notification_id].isoformat()}",
                notification_id=notification_id,
            )
        self.require_after_initiation(context["occurred_at"], "acknowledgedAt")
        self.trigger_event(
            self.NotificationAcknowledged,
            notification_id=notification_id,
            site_id=site_id,
            note=note,
            **context,
        )

    def record_action(
        self,
        kind: str,
        batch_id: str,
        container_id: str | None,
        site_id: str | None,
        shipment_id: str | None,
        note: str | None,
        **context: Any,
    ) -> None:
        self.require_open("recording an action")
        unit = self.unit_in_scope(batch_id, container_id)
        done = self.accounted_by(unit)
        if done == DESTROYED_BEFORE_RECALL or (done and kind in FINAL_ACTIONS):
            raise ConflictError(
                f"{'container' if '/' in unit else 'batch'} {unit!r} is already accounted for "
                f"in recall {self.key!r} ({done})",
                batch_id=batch_id,
                unit_id=unit,
            )
        self.require_after_initiation(context["occurred_at"], "at")
        self.trigger_event(
            self.ActionRecorded,
            action_id=f"{self.key}/A{self.action_count + 1}",
            kind=kind,
            batch_id=batch_id,
            container_id=container_id,
            site_id=site_id,
            shipment_id=shipment_id,
            note=note,
            **context,
        )

    def report(
        self, kind: str, authority: str, reference: str | None, summary: str, **context: Any
    ) -> None:
        self.require_open("a report to the authority")
        self.require_after_initiation(context["occurred_at"], "reportedAt")
        if kind != "INITIAL" and "INITIAL" not in self.reports:
            raise RuleViolationError(
                f"recall {self.key!r} has no INITIAL report yet; file it before a {kind} report",
                recall_id=self.key,
                rule="RECALL_INITIAL_REPORT_MISSING",
            )
        if kind in ("INITIAL", "FINAL") and kind in self.reports:
            raise ConflictError(f"recall {self.key!r} already has its {kind} report", kind=kind)
        if kind == "FINAL":
            self.require_nothing_outstanding("the FINAL report")
        self.trigger_event(
            self.ReportedToAuthority,
            report_id=f"{self.key}/R{len(self.reports) + 1}",
            kind=kind,
            authority=authority,
            reference=reference,
            summary=summary,
            **context,
        )

    def check_effectiveness(
        self, outcome: str, method: str, note: str | None, **context: Any
    ) -> None:
        self.require_open("an effectiveness check")
        self.require_after_initiation(context["occurred_at"], "checkedAt")
        self.trigger_event(
            self.EffectivenessChecked,
            check_id=f"{self.key}/E{len(self.checks) + 1}",
            outcome=outcome,
            method=method,
            note=note,
            **context,
        )

    def close(self, conclusion: str, **context: Any) -> None:
        """Closed once nothing is outstanding, the FINAL report filed and the last
        effectiveness check found the recall EFFECTIVE."""
        self.require_open("closing")
        self.require_after_initiation(context["occurred_at"], "closedAt")
        self.require_nothing_outstanding("closure")
        if "FINAL" not in self.reports:
            raise RuleViolationError(
                f"recall {self.key!r} cannot close before its FINAL report to the authority",
                recall_id=self.key,
                rule="RECALL_FINAL_REPORT_MISSING",
            )
        if not self.checks or self.checks[-1] != "EFFECTIVE":
            raise RuleViolationError(
                f"recall {self.key!r} cannot close without an effectiveness check that found "
                "it EFFECTIVE (the last one decides)",
                recall_id=self.key,
                rule="RECALL_EFFECTIVENESS_NOT_SHOWN",
            )
        self.trigger_event(self.Closed, conclusion=conclusion, **context)
