"""GraphQL types of holds on batches and of the duty to tell the physician
(projections/hold_views.py)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.common import PageInfo
from domain.holds import HoldKind
from projections.hold_views import HoldLiftView, HoldView, NotificationView

# The kinds domain/holds.py names, shown as they are.
strawberry.enum(HoldKind, description="Why a batch is held (docs/partner-guide.md, Holds)")


@strawberry.type(description="The control site's signed decision that lifted a hold")
class HoldLift:
    at: datetime
    reason: str
    signature_meaning: str
    signed_by: str
    role: str
    deviation_id: str | None = strawberry.field(
        description="the closed deviation whose conclusion supports lifting a QC_FAILED hold"
    )
    position: int = strawberry.field(description="ledger position of the lift")

    @classmethod
    def of(cls, v: HoldLiftView) -> HoldLift:
        return cls(
            at=v.at,
            reason=v.reason,
            signature_meaning=v.signature_meaning,
            signed_by=v.signed_by,
            role=v.role,
            deviation_id=v.deviation_id,
            position=v.position,
        )


@strawberry.type(description="One reason a batch is (or was) held, with its lift if lifted")
class BatchHold:
    key: str = strawberry.field(
        description="KIND:<aggregate id>@<version> of the event that raised it "
        "(EXPIRED:<batch aggregate id> for expiry): what liftBatchHold and "
        "acknowledgePhysicianNotification name"
    )
    kind: HoldKind
    raised_at: datetime = strawberry.field(
        description="the time the raising fact states (for expiry: the expiry)"
    )
    raised_position: int | None = strawberry.field(
        description="ledger position at which the reason reached this batch; null for expiry"
    )
    description: str
    active: bool = strawberry.field(description="false once lifted")
    lift: HoldLift | None

    @classmethod
    def of(cls, v: HoldView) -> BatchHold:
        return cls(
            key=v.key,
            kind=HoldKind(v.kind),
            raised_at=v.raised_at,
            raised_position=v.raised_position,
            description=v.description,
            active=v.active,
            lift=HoldLift.of(v.lift) if v.lift else None,
        )


@strawberry.type(
    description="The administering institution's duty to tell the treating physician of hold "
    "reasons raised after a batch was administered; open until every one is acknowledged"
)
class PhysicianNotification:
    batch_id: strawberry.ID
    patient_code: strawberry.ID
    site_id: strawberry.ID = strawberry.field(description="the administering institution")
    hold_keys: list[str] = strawberry.field(
        description="every hold reason raised after the administration"
    )
    raised_at: datetime = strawberry.field(
        description="when the earliest reason still unacknowledged was raised (once all are "
        "acknowledged: the earliest reason)"
    )
    acknowledged_at: datetime | None = strawberry.field(
        description="when the last reason was acknowledged; null while the duty is open"
    )
    acknowledged_by: str | None
    open: bool

    @classmethod
    def of(cls, v: NotificationView) -> PhysicianNotification:
        return cls(
            batch_id=strawberry.ID(v.batch_id),
            patient_code=strawberry.ID(v.patient_code),
            site_id=strawberry.ID(v.site_id),
            hold_keys=list(v.hold_keys),
            raised_at=v.raised_at,
            acknowledged_at=v.acknowledged_at,
            acknowledged_by=v.acknowledged_by,
            open=v.open,
        )


@strawberry.type
class PhysicianNotificationConnection:
    nodes: list[PhysicianNotification]
    page_info: PageInfo


@strawberry.input
class PhysicianNotificationFilter:
    site_id: strawberry.ID | None = strawberry.field(
        default=None, description="the administering institution"
    )
    open: bool | None = strawberry.field(
        default=None, description="true: duties still open; false: fully acknowledged"
    )
