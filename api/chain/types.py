"""GraphQL types of donors and batches as the ledger shows them."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import anyio.to_thread
import orjson
import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON

from api.chain.custody_inputs import ReturnOutcome
from api.chain.holds import BatchHold
from api.chain.inputs import EligibilityOutcome
from api.common import PageInfo
from api.context import Info
from api.wiring import Regentrace
from domain.donor import Donor as DonorAggregate
from domain.isbt128 import (
    chain_of_identity_for,
    is_chain_of_identity,
    normalise_donation_id,
    parse_chain_of_identity,
)
from domain.shared import BadInputError
from projections.chain import BatchView
from projections.hold_views import HoldView

CHAIN_OF_IDENTITY_ID = (
    "the chain-of-identity identifier binding donor, donation and intended patient, assigned at "
    "collection: CH + facility code + year + 6 characters for an ISBT 128 DIN, COI- + the "
    "donation identifier otherwise; checked at start, dispatch, receipt and the bedside"
)


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

    @strawberry.field(
        description="identifying details given at registration, opened only for roles that "
        "need them (FORBIDDEN for the others); null when none were given"
    )
    async def personal_data(self, info: Info) -> JSON | None:
        if not info.context.identity.role.personal_data:
            raise GraphQLError(
                f"the role {info.context.identity.role.name} may not read personal data",
                extensions={"code": "FORBIDDEN"},
            )
        service = info.context.service
        return await anyio.to_thread.run_sync(open_personal_data, service, str(self.code))

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


@strawberry.type(description="An ISBT 128 Donation Identification Number and what it says")
class DinParts:
    din: str = strawberry.field(description="the 13 characters the ledger keeps")
    facility_code: str = strawberry.field(description="the collection facility (5 characters)")
    year: str = strawberry.field(description="the year of collection, 2 digits")
    sequence_number: str = strawberry.field(description="6 digits, unique per facility and year")
    check_character: str = strawberry.field(description="ISO/IEC 7064 mod 37-2 over the 13")
    labelled: str = strawberry.field(description="eye-readable form: DIN and check character")
    check_flags: str = strawberry.field(
        description="flag digits 60-96 that carry the check character (60 + its value); the "
        "flags a particular label printed are not part of the donation's identity"
    )

    @classmethod
    def of(cls, donation_id: str) -> DinParts | None:
        """The parts of a donation identifier that is a DIN; None for a local identifier."""
        try:
            din = normalise_donation_id(donation_id)[1]
        except BadInputError:
            return None  # recorded before DINs were checked: shown as a local identifier
        if din is None:
            return None
        return cls(
            din=din.din,
            facility_code=din.facility_code,
            year=din.year,
            sequence_number=din.sequence,
            check_character=din.check,
            labelled=din.labelled,
            check_flags=din.check_flags,
        )


@strawberry.type(description="An ISBT 128 Chain of Identity identifier and what it says")
class ChainOfIdentityParts:
    value: str
    facility_code: str = strawberry.field(description="the facility that assigned it")
    year: str = strawberry.field(description="2 digits")
    identifier: str = strawberry.field(description="6 letters or digits naming one therapy")

    @classmethod
    def of(cls, code: str) -> ChainOfIdentityParts | None:
        if not is_chain_of_identity(code):
            return None
        found = parse_chain_of_identity(code)
        return cls(
            value=found.value,
            facility_code=found.facility_code,
            year=found.year,
            identifier=found.identifier,
        )


@strawberry.type(description="The QP's signed certification")
class BatchRelease:
    qualified_person: str
    signature_meaning: str
    released_at: datetime


@strawberry.type(
    description="added: a batch received back on a return shipment, in quarantine until the "
    "quality unit assesses it (assessReturn): it is not dispatched or administered meanwhile"
)
class ReturnQuarantine:
    since: datetime = strawberry.field(description="added: when the return was received")
    site_id: strawberry.ID = strawberry.field(description="added: the site that received it")
    shipment_id: strawberry.ID = strawberry.field(description="added: the return shipment")


@strawberry.type(description="added: the quality unit's assessment of a product received back")
class ReturnAssessment:
    outcome: ReturnOutcome = strawberry.field(description="added: RELEASE_FOR_REUSE or DESTROY")
    reason: str = strawberry.field(description="added: the quality unit's reason")
    at: datetime = strawberry.field(description="added: when the quality unit assessed it")
    shipment_id: strawberry.ID | None = strawberry.field(
        description="added: the return shipment the assessment cleared (null when not known)"
    )


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
    affected: bool = strawberry.field(
        description="true when anything in affectedBy reached the batch"
    )
    holds: list[BatchHold] = strawberry.field(
        description="every reason the batch is or was held, in the order raised, with its lift "
        "(expiry included once reached, at `asOf` or now)"
    )
    held: bool = strawberry.field(
        description="true while any hold is active: release, dispatch, acceptance on receipt "
        "and administration are refused"
    )
    return_quarantine: ReturnQuarantine | None = strawberry.field(
        default=None,
        description="added: the quarantine of a batch received back on a return shipment, "
        "awaiting the quality unit's assessment (at `asOf` or now); null when it is not in one",
    )
    last_return_assessment: ReturnAssessment | None = strawberry.field(
        default=None,
        description="added: the quality unit's latest assessment of a return of this batch "
        "(at `asOf` or now); null when none was assessed",
    )

    @strawberry.field(description="the parts of donationId when it is an ISBT 128 DIN")
    def din(self) -> DinParts | None:
        return DinParts.of(self.donation_id)

    @strawberry.field(
        description="the parts of patientCode when it is an ISBT 128 Chain of Identity identifier"
    )
    def chain_of_identity(self) -> ChainOfIdentityParts | None:
        return ChainOfIdentityParts.of(self.patient_code)

    @strawberry.field(description=CHAIN_OF_IDENTITY_ID)
    def chain_of_identity_id(self) -> str:
        return chain_of_identity_for(self.donation_id)

    @classmethod
    def of(cls, view: BatchView, holds: list[HoldView]) -> Batch:
        release = None
        if view.released_at is not None:
            release = BatchRelease(
                qualified_person=view.qualified_person or "",
                signature_meaning=view.signature_meaning or "",
                released_at=view.released_at,
            )
        quarantine = None
        if view.return_quarantined_at is not None:
            quarantine = ReturnQuarantine(
                since=view.return_quarantined_at,
                site_id=strawberry.ID(view.return_quarantine_site or ""),
                shipment_id=strawberry.ID(view.return_quarantine_shipment or ""),
            )
        assessment = None
        if view.return_assessed_at is not None and view.return_assessment_outcome is not None:
            shipment = view.return_assessed_shipment
            assessment = ReturnAssessment(
                outcome=ReturnOutcome(view.return_assessment_outcome),
                reason=view.return_assessment_reason or "",
                at=view.return_assessed_at,
                shipment_id=strawberry.ID(shipment) if shipment is not None else None,
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
            affected=view.affected,
            recalls=[strawberry.ID(r) for r in view.recalls],
            holds=[BatchHold.of(h) for h in holds],
            held=any(h.active for h in holds),
            return_quarantine=quarantine,
            last_return_assessment=assessment,
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
    held: bool | None = strawberry.field(
        default=None, description="true: batches with an active hold; false: without one"
    )


def open_personal_data(service: Regentrace, donor_code: str) -> Any:
    """The donor's identifying details, unsealed from the registration event."""
    donor_id = DonorAggregate.ledger_id(donor_code)
    with service.read() as sql:
        state = sql.scalar(
            "SELECT state FROM stored_events WHERE originator_id = ? AND originator_version = 1",
            (donor_id,),
        )
    sealed = orjson.loads(bytes(state)).get("sealed_personal_data") if state else None
    if sealed is None or service.app.sealer is None:
        return None
    return orjson.loads(service.app.sealer.open(sealed, donor_id))
