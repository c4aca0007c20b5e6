"""GraphQL types of a recall carried out (projections/recalls.py): notifications and their
acknowledgements, units and the actions accounting for them, reports to the authority,
effectiveness checks and the recall's progress. The ``Recall`` type itself is in
api/views/types.py (it is the partner contract's)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from projections.recalls import NotificationView


@strawberry.enum(description="Where a recall stands")
class RecallStatus(Enum):
    OPEN = "OPEN"
    CLOSED = "CLOSED"


@strawberry.enum(description="Who a recall notification goes to")
class RecallPartyKind(Enum):
    SITE = "SITE"
    PHYSICIAN = "PHYSICIAN"


@strawberry.enum(description="What was done with a recalled unit")
class RecallActionKind(Enum):
    RETURNED = "RETURNED"
    QUARANTINED = "QUARANTINED"
    DESTROYED = "DESTROYED"
    ALREADY_ADMINISTERED = "ALREADY_ADMINISTERED"


@strawberry.enum(description="A report to the competent authority")
class RecallReportKind(Enum):
    INITIAL = "INITIAL"
    PROGRESS = "PROGRESS"
    FINAL = "FINAL"


@strawberry.enum(description="What an effectiveness check found")
class EffectivenessOutcome(Enum):
    EFFECTIVE = "EFFECTIVE"
    NOT_EFFECTIVE = "NOT_EFFECTIVE"


@strawberry.type(
    description="A notification the recall sent: to a site it reached (SITE), or to the "
    "institution that treated an exposed patient, for the treating physician (PHYSICIAN)"
)
class RecallNotification:
    id: strawberry.ID = strawberry.field(description="<recallId>/N<n>")
    party_kind: RecallPartyKind
    site_id: strawberry.ID = strawberry.field(description="the notified site or institution")
    patient_code: strawberry.ID | None = strawberry.field(
        description="the exposed patient (PHYSICIAN notifications)"
    )
    batch_ids: list[strawberry.ID] = strawberry.field(
        description="the recalled batches the patient was given (PHYSICIAN notifications)"
    )
    notified_at: datetime
    due_at: datetime = strawberry.field(
        description="acknowledge by then: notifiedAt plus the class's time limit "
        "(domain/data/recall_classes.json)"
    )
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    note: str | None
    overdue: bool = strawberry.field(
        description="not acknowledged and past its due time, now or at `asOf`"
    )

    @classmethod
    def of(cls, v: NotificationView) -> RecallNotification:
        return cls(
            id=strawberry.ID(v.notification_id),
            party_kind=RecallPartyKind(v.party_kind),
            site_id=strawberry.ID(v.site_id),
            patient_code=strawberry.ID(v.patient_code) if v.patient_code else None,
            batch_ids=[strawberry.ID(b) for b in v.batch_ids],
            notified_at=v.notified_at,
            due_at=v.due_at,
            acknowledged_at=v.acknowledged_at,
            acknowledged_by=v.acknowledged_by,
            note=v.note,
            overdue=v.overdue,
        )


@strawberry.type(description="What was done with a recalled unit, where, when, by whom")
class RecallAction:
    id: strawberry.ID = strawberry.field(description="<recallId>/A<n>")
    kind: RecallActionKind
    batch_id: strawberry.ID
    container_id: strawberry.ID | None
    site_id: strawberry.ID | None = strawberry.field(
        description="where the unit was (the administering institution for ALREADY_ADMINISTERED)"
    )
    shipment_id: strawberry.ID | None = strawberry.field(description="the shipment back")
    note: str | None = strawberry.field(
        description="for ALREADY_ADMINISTERED: the follow-up of the patient"
    )
    at: datetime
    recorded_by: str
    position: int

    @classmethod
    def of(cls, r: dict[str, Any]) -> RecallAction:
        return cls(
            id=strawberry.ID(r["action_id"]),
            kind=RecallActionKind(r["kind"]),
            batch_id=strawberry.ID(r["batch_id"]),
            container_id=_id(r["container_id"]),
            site_id=_id(r["site_id"]),
            shipment_id=_id(r["shipment_id"]),
            note=r["note"],
            at=r["acted_at"],
            recorded_by=r["recorded_by"],
            position=r["position"],
        )


def _id(value: str | None) -> strawberry.ID | None:
    return None if value is None else strawberry.ID(value)


@strawberry.enum(description="What accounts for a recalled unit")
class RecallUnitAccountedBy(Enum):
    RETURNED = "RETURNED"
    DESTROYED = "DESTROYED"
    ALREADY_ADMINISTERED = "ALREADY_ADMINISTERED"
    DESTROYED_BEFORE_RECALL = "DESTROYED_BEFORE_RECALL"


@strawberry.type(
    description="A recalled unit and whether it is accounted for: a batch, or for a batch "
    "filled into containers each of its containers (containerId)"
)
class RecallUnit:
    batch_id: strawberry.ID
    scope_id: str = strawberry.field(description="'' for the initiation, else the extension")
    accounted_for: bool = strawberry.field(
        description="returned, destroyed or already administered (quarantine only secures it)"
    )
    quarantined: bool
    container_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="added: the container, when the unit is one (null: the batch recalled whole)",
    )
    accounted_by: RecallUnitAccountedBy | None = strawberry.field(
        default=None,
        description="added: what accounts for the unit (DESTROYED_BEFORE_RECALL: a container "
        "already destroyed when the recall reached it); null while it is outstanding",
    )
    action_id: strawberry.ID | None = strawberry.field(
        default=None, description="added: the action that accounted for it"
    )

    @classmethod
    def of(cls, u: dict[str, Any]) -> RecallUnit:
        """From a unit row of the recalls view with its status (projections.recalls)."""
        by = u["accounted_by"]
        return cls(
            batch_id=strawberry.ID(u["batch_id"]),
            scope_id=u["scope_id"],
            accounted_for=by is not None,
            quarantined=u["quarantined"],
            container_id=_id(u["container_id"] or None),
            accounted_by=None if by is None else RecallUnitAccountedBy(by),
            action_id=_id(u["action_id"]),
        )


@strawberry.type(description="A report to the competent authority")
class RecallReport:
    id: strawberry.ID = strawberry.field(description="<recallId>/R<n>")
    kind: RecallReportKind
    authority: str
    reference: str | None = strawberry.field(description="the authority's reference, if any")
    summary: str
    reported_at: datetime
    reported_by: str
    position: int

    @classmethod
    def of(cls, r: dict[str, Any]) -> RecallReport:
        return cls(
            id=strawberry.ID(r["report_id"]),
            kind=RecallReportKind(r["kind"]),
            authority=r["authority"],
            reference=r["reference"],
            summary=r["summary"],
            reported_at=r["reported_at"],
            reported_by=r["reported_by"],
            position=r["position"],
        )


@strawberry.type(description="An effectiveness check of the recall")
class RecallEffectivenessCheck:
    id: strawberry.ID = strawberry.field(description="<recallId>/E<n>")
    outcome: EffectivenessOutcome
    method: str
    note: str | None
    checked_at: datetime
    checked_by: str
    position: int

    @classmethod
    def of(cls, r: dict[str, Any]) -> RecallEffectivenessCheck:
        return cls(
            id=strawberry.ID(r["check_id"]),
            outcome=EffectivenessOutcome(r["outcome"]),
            method=r["method"],
            note=r["note"],
            checked_at=r["checked_at"],
            checked_by=r["checked_by"],
            position=r["position"],
        )


@strawberry.type(description="How far a recall has got (over every notification and unit)")
class RecallProgress:
    notified: int
    acknowledged: int
    overdue_acknowledgements: int
    units_in_scope: int
    units_accounted_for: int
    units_quarantined: int = strawberry.field(
        description="secured in quarantine, not yet returned or destroyed"
    )


@strawberry.input
class RecallFilter:
    status: RecallStatus | None = None
    site_id: strawberry.ID | None = strawberry.field(
        default=None, description="recalls that notified this site or institution"
    )
    overdue: bool | None = strawberry.field(
        default=None, description="with (true) or without (false) an overdue acknowledgement"
    )


@strawberry.input
class AcknowledgeRecallNotificationInput:
    recall_id: strawberry.ID
    notification_id: strawberry.ID
    acknowledged_at: datetime
    note: str | None = None
    site_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="the notified site; a partner acting for one site may leave it out",
    )


@strawberry.input
class RecordRecallActionInput:
    recall_id: strawberry.ID
    batch_id: strawberry.ID
    kind: RecallActionKind
    at: datetime
    shipment_id: strawberry.ID | None = strawberry.field(
        default=None, description="RETURNED: the shipment back (your consignment reference)"
    )
    container_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="the container of the batch (its id within the batch): required when the "
        "recall's units are the batch's containers",
    )
    note: str | None = strawberry.field(
        default=None, description="ALREADY_ADMINISTERED: the follow-up of the patient (required)"
    )


@strawberry.input
class ReportRecallToAuthorityInput:
    recall_id: strawberry.ID
    kind: RecallReportKind
    summary: str
    reported_at: datetime
    authority: str | None = strawberry.field(
        default=None, description="by default the recall's authority"
    )
    reference: str | None = None


@strawberry.input
class RecordRecallEffectivenessCheckInput:
    recall_id: strawberry.ID
    outcome: EffectivenessOutcome
    method: str = strawberry.field(description="how it was checked (e.g. every consignee called)")
    checked_at: datetime
    note: str | None = None


@strawberry.input
class CloseRecallInput:
    recall_id: strawberry.ID
    conclusion: str
    closed_at: datetime
