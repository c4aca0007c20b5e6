"""GraphQL types of donors and batches as the ledger shows them."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from api.chain.inputs import EligibilityOutcome
from api.common import PageInfo
from projections.chain import BatchView


@strawberry.enum(description="Where a batch stands; RECALLED is shown by recall views")
class BatchStatus(Enum):
    IN_PROCESS = "IN_PROCESS"
    RELEASED = "RELEASED"
    REJECTED = "REJECTED"
    DISTRIBUTED = "DISTRIBUTED"
    ADMINISTERED = "ADMINISTERED"
    DESTROYED = "DESTROYED"
    RECALLED = "RECALLED"


@strawberry.type
class EligibilityDetermination:
    outcome: EligibilityOutcome
    determined_at: datetime
    determined_by: str
    criteria_version: str
    revoked: bool


@strawberry.type
class Consent:
    reference: str
    signed_at: datetime
    legal_representative: str | None
    notarised: bool
    withdrawn_at: datetime | None


@strawberry.type(description="A donor as the ledger knows them: by pseudonymous code only")
class Donor:
    code: strawberry.ID
    registered_at: datetime
    consent: Consent | None
    eligibility: EligibilityDetermination | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> Donor:
        consent = None
        if row["consent_reference"] is not None:
            consent = Consent(
                reference=row["consent_reference"],
                signed_at=row["consented_at"],
                legal_representative=row["legal_representative"],
                notarised=bool(row["notarised"]),
                withdrawn_at=row["consent_withdrawn_at"],
            )
        eligibility = None
        if row["eligibility_outcome"] is not None:
            eligibility = EligibilityDetermination(
                outcome=EligibilityOutcome(row["eligibility_outcome"]),
                determined_at=row["eligibility_determined_at"],
                determined_by=row["eligibility_determined_by"],
                criteria_version=row["eligibility_criteria_version"],
                revoked=bool(row["eligibility_revoked"]),
            )
        return cls(
            code=strawberry.ID(row["donor_code"]),
            registered_at=row["registered_at"],
            consent=consent,
            eligibility=eligibility,
        )


@strawberry.type(description="The QP's signed certification")
class BatchRelease:
    qualified_person: str
    signature_meaning: str
    released_at: datetime


@strawberry.type
class Batch:
    id: strawberry.ID
    product: str
    status: BatchStatus
    donation_id: strawberry.ID
    donor_code: strawberry.ID
    patient_code: strawberry.ID
    control_site_id: strawberry.ID
    site_id: strawberry.ID = strawberry.field(description="where manufacture started")
    location: strawberry.ID = strawberry.field(description="the last site that held the batch")
    started_at: datetime
    release: BatchRelease | None
    recalls: list[strawberry.ID] = strawberry.field(description="recalls that reached it")
    affected_by: list[str] = strawberry.field(
        description="what reached this batch after it was made: CONSENT_WITHDRAWN, "
        "ELIGIBILITY_REVOKED; further release is blocked"
    )

    @strawberry.field(description="true when anything in affectedBy reached the batch")
    def affected(self) -> bool:
        return bool(self.affected_by)

    @classmethod
    def of(cls, view: BatchView) -> Batch:
        release = None
        if view.released_at is not None:
            release = BatchRelease(
                qualified_person=view.qualified_person or "",
                signature_meaning=view.signature_meaning or "",
                released_at=view.released_at,
            )
        return cls(
            id=strawberry.ID(view.batch_id),
            product=view.product,
            status=BatchStatus(view.shown_status),
            donation_id=strawberry.ID(view.donation_id),
            donor_code=strawberry.ID(view.donor_code),
            patient_code=strawberry.ID(view.patient_code),
            control_site_id=strawberry.ID(view.control_site_id),
            site_id=strawberry.ID(view.site_id),
            location=strawberry.ID(view.location),
            started_at=view.started_at,
            release=release,
            affected_by=view.affected_reasons,
            recalls=[strawberry.ID(r) for r in view.recalls],
        )


@strawberry.type
class BatchConnection:
    nodes: list[Batch]
    page_info: PageInfo


@strawberry.input
class BatchFilter:
    donor_code: strawberry.ID | None = None
    status: BatchStatus | None = None
    control_site_id: strawberry.ID | None = None
    affected: bool | None = None
