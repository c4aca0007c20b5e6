"""Inputs of the donor-to-patient chain, exactly as the partner contract names them.

Each input's fields carry the names of the ledger command's parameters, so resolvers pass them on
unchanged (see ``api.commands.arguments``).
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from domain.donation import DonationType
from domain.donor_protection import protection

strawberry.enum(DonationType)

# The coded source-tissue types, as the data file lists them (domain/data/donor_protection.json).
_SOURCE_TISSUE: type[Enum] = Enum(  # type: ignore[misc]
    "SourceTissue", {code: code for code in protection().source_tissues}
)
SourceTissue = strawberry.enum(
    _SOURCE_TISSUE,
    description="the coded type of tissue or cells a donation is taken from; which types a "
    "jurisdiction forbids (Taiwan: FETAL_TISSUE) and which tests each needs are data",
)

READ_CHAIN_OF_IDENTITY = (
    "the chain-of-identity identifier read from the label; when given it must be the batch's"
)


@strawberry.enum
class EligibilityOutcome(Enum):
    ELIGIBLE = "ELIGIBLE"
    INELIGIBLE = "INELIGIBLE"


@strawberry.input
class RegisterDonorInput:
    donor_code: strawberry.ID
    personal_data: JSON | None = strawberry.field(
        default=None,
        description="identifying details; stored encrypted, never returned to roles that do "
        "not need them",
    )
    site_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="the site registering the donor (it must be ACTIVE); a partner scoped to "
        "one site may leave it out, and it is then that site",
    )


@strawberry.input
class RecordConsentInput:
    donor_code: strawberry.ID
    consent_reference: str
    signed_at: datetime
    legal_representative: str | None = None
    notarised: bool | None = False


@strawberry.input
class ScreeningResultInput:
    test: str
    result: str
    reactive: bool


@strawberry.input
class DetermineEligibilityInput:
    donor_code: strawberry.ID
    outcome: EligibilityOutcome
    criteria_version: str
    screening: list[ScreeningResultInput]
    determined_at: datetime


@strawberry.input
class RevokeEligibilityInput:
    donor_code: strawberry.ID
    reason: str


@strawberry.input
class WithdrawConsentInput:
    donor_code: strawberry.ID
    reason: str
    withdrawn_at: datetime


@strawberry.input
class RecordDonationInput:
    donation_id: strawberry.ID
    donor_code: strawberry.ID
    donation_type: DonationType
    site_id: strawberry.ID
    material: str
    acquired_at: datetime
    intended_patient_code: strawberry.ID | None = strawberry.field(
        default=None,
        description="the patient the donation is collected for: required for an AUTOLOGOUS "
        "donation (the donor's own patient code); for an ALLOGENEIC one only when directed to "
        "one patient. Bound under the donation's chain-of-identity identifier",
    )
    source_tissue: SourceTissue | None = strawberry.field(  # type: ignore[valid-type]
        default=None,
        description="the coded source-tissue type: required (a donation without it is refused "
        "with BAD_INPUT; optional in the schema only so the contract keeps its shape). "
        "`material` stays the free-text description and is never read as a code",
    )


@strawberry.input
class ReceiveMaterialLotInput:
    lot_id: strawberry.ID
    material: str
    supplier: str
    site_id: strawberry.ID
    received_at: datetime
    expires_at: datetime | None = None
    quantity: float | None = strawberry.field(
        default=None,
        description="the quantity received, in unit; with it each step's consumption is counted "
        "and never exceeds it",
    )
    unit: str | None = strawberry.field(
        default=None, description="the unit of quantity (e.g. mL, vials), given with it"
    )


@strawberry.input(description="the quantity of one lot a step consumed, in the lot's unit")
class MaterialQuantityInput:
    lot_id: strawberry.ID
    quantity: float


@strawberry.input
class MaterialLotDecisionInput:
    lot_id: strawberry.ID
    reason: str | None = None
    decided_at: datetime | None = strawberry.field(
        default=None, description="when the decision took effect (default: now)"
    )


@strawberry.input
class StartBatchInput:
    batch_id: strawberry.ID
    product: str
    donation_id: strawberry.ID
    patient_code: strawberry.ID
    control_site_id: strawberry.ID
    site_id: strawberry.ID
    started_at: datetime
    chain_of_identity_id: str | None = strawberry.field(
        default=None, description=READ_CHAIN_OF_IDENTITY.replace("batch's", "donation's")
    )
    additional_donation_ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description="further donations pooled with donationId as the starting material of an "
        "allogeneic batch (each donor's eligibility, consent and look-back apply; refused for an "
        "autologous product)",
    )
    cell_bank_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="a working cell bank at the manufacturing site whose cells (of donationId) "
        "the batch starts from: one vial is taken, refused once every banked vial is used",
    )


@strawberry.input
class RecordBatchStepInput:
    batch_id: strawberry.ID
    step: str
    site_id: strawberry.ID
    started_at: datetime
    completed_at: datetime
    operator: str
    equipment: str | None = None
    material_lots: list[strawberry.ID] | None = strawberry.field(default_factory=list)
    parameters: JSON | None = None
    material_quantities: list[MaterialQuantityInput] | None = strawberry.field(
        default=None,
        description="the quantity of each lot used, of lots named in materialLots and received "
        "with a quantity",
    )


@strawberry.input
class RecordQcResultInput:
    batch_id: strawberry.ID
    test: str
    method: str
    specification: str
    result: str
    passed: bool
    tested_at: datetime
    laboratory_site_id: strawberry.ID


@strawberry.input
class OpenDeviationInput:
    batch_id: strawberry.ID
    deviation_id: strawberry.ID
    description: str
    opened_at: datetime | None = strawberry.field(
        default=None,
        description="when the deviation was found (default: now); not before the batch's start",
    )


@strawberry.input
class CloseDeviationInput:
    batch_id: strawberry.ID
    deviation_id: strawberry.ID
    resolution: str
    closed_at: datetime | None = strawberry.field(
        default=None,
        description="when the deviation was closed (default: now); not before its openedAt",
    )


@strawberry.input
class ReleaseBatchInput:
    batch_id: strawberry.ID
    signature_meaning: str = strawberry.field(
        description="the meaning of the signature, e.g. 'QP certification'"
    )
    released_at: datetime


@strawberry.input
class BatchDecisionInput:
    batch_id: strawberry.ID
    reason: str
    decided_at: datetime | None = strawberry.field(
        default=None,
        description="when the rejection or destruction took effect (default: now); not before "
        "the batch's start or its last movement",
    )


@strawberry.input
class LiftBatchHoldInput:
    batch_id: strawberry.ID
    hold_keys: list[str] = strawberry.field(
        description="the keys of the holds lifted, as the batch's holds list them"
    )
    reason: str = strawberry.field(description="the decision and why the batch may be used")
    signature_meaning: str = strawberry.field(
        description="the meaning of the signature, e.g. 'QP decision: hold lifted'"
    )
    lifted_at: datetime
    deviation_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="the deviation that investigated the cause; required for a failed QC "
        "result (opened after the failure, closed with its conclusion)",
    )


@strawberry.input
class AcknowledgePhysicianNotificationInput:
    batch_id: strawberry.ID
    hold_keys: list[str] = strawberry.field(
        description="the keys of the holds the treating physician was told of"
    )
    acknowledged_at: datetime
    note: str | None = None
    site_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="the administering institution; a partner acting for one site may leave "
        "it out, and it is then that site",
    )


@strawberry.enum(description="what a batch is filled into")
class ContainerKind(Enum):
    BAG = "BAG"
    VIAL = "VIAL"


@strawberry.enum(description="what a container's dose counts")
class DoseUnit(Enum):
    CELLS = "CELLS"
    VECTOR_GENOMES = "VECTOR_GENOMES"


@strawberry.input(description="one container a batch is filled into")
class ContainerFillInput:
    container_id: strawberry.ID = strawberry.field(
        description="the container's identifier within its batch (no '/'); across the ledger "
        "it is batchId/containerId"
    )
    kind: ContainerKind
    volume_ml: float = strawberry.field(description="the volume filled, in millilitres")
    dose: float = strawberry.field(description="the dose the container holds, in doseUnit")
    dose_unit: DoseUnit


@strawberry.input
class RecordBatchContainersInput:
    batch_id: strawberry.ID
    site_id: strawberry.ID = strawberry.field(
        description="where the batch is filled (a site making for the batch's control site)"
    )
    filled_at: datetime
    containers: list[ContainerFillInput]


@strawberry.input
class DestroyBatchContainersInput:
    batch_id: strawberry.ID
    container_ids: list[strawberry.ID]
    reason: str
    decided_at: datetime | None = strawberry.field(
        default=None, description="when the destruction took effect (default: now)"
    )


@strawberry.input(description="a container of a batch the shipment carries")
class ContainerRefInput:
    batch_id: strawberry.ID
    container_id: strawberry.ID


@strawberry.input
class DispatchShipmentInput:
    shipment_id: strawberry.ID
    batch_ids: list[strawberry.ID]
    from_site_id: strawberry.ID
    to_site_id: strawberry.ID
    courier: str
    dispatched_at: datetime
    chain_of_identity_id: str | None = strawberry.field(
        default=None, description=READ_CHAIN_OF_IDENTITY + " (every batch of the shipment)"
    )
    containers: list[ContainerRefInput] | None = strawberry.field(
        default=None,
        description="the containers shipped, of batches filled into containers; a batch none "
        "of whose containers is named ships every container it has left at fromSiteId (a "
        "batch never filled ships whole, as before)",
    )
    is_return: bool | None = strawberry.field(
        default=None,
        description="a controlled return to each batch's control or manufacturing site: the "
        "one dispatch a recalled or held batch may have; received, it is quarantined until the "
        "quality unit's assessReturn",
    )


@strawberry.input
class TemperatureExcursionInput:
    shipment_id: strawberry.ID
    observed_at: datetime
    temperature_celsius: float
    duration_minutes: int


@strawberry.input
class ReceiveShipmentInput:
    shipment_id: strawberry.ID
    received_at: datetime
    condition_acceptable: bool
    chain_of_identity_id: str | None = strawberry.field(
        default=None, description=READ_CHAIN_OF_IDENTITY + " (every batch of the shipment)"
    )


@strawberry.input
class RecordAdministrationInput:
    batch_id: strawberry.ID
    site_id: strawberry.ID
    patient_code: strawberry.ID
    administered_at: datetime
    identity_verified: bool
    chain_of_identity_id: str | None = strawberry.field(
        default=None,
        description=READ_CHAIN_OF_IDENTITY + "; required for an autologous product",
    )
    container_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="the container given, of a batch filled into containers (each container "
        "of an allogeneic batch may go to another patient); none: the batch given whole",
    )


@strawberry.enum(description="why an adverse reaction is serious (ICH E2A)")
class SeriousnessCriterion(Enum):
    DEATH = "DEATH"
    LIFE_THREATENING = "LIFE_THREATENING"
    HOSPITALISATION = "HOSPITALISATION"
    DISABILITY = "DISABILITY"
    CONGENITAL_ANOMALY = "CONGENITAL_ANOMALY"
    OTHER_MEDICALLY_IMPORTANT = "OTHER_MEDICALLY_IMPORTANT"


@strawberry.enum(description="where the product was used: in a clinical trial or marketed")
class AdverseEventContext(Enum):
    CLINICAL_TRIAL = "CLINICAL_TRIAL"
    MARKETED = "MARKETED"


@strawberry.enum(
    description="Taiwan: a regenerative-medicine technology performed by an institution, or a "
    "regenerative-medicine product"
)
class TaiwanRegime(Enum):
    TECHNOLOGY = "TECHNOLOGY"
    PRODUCT = "PRODUCT"


@strawberry.enum(description="an initial report of a case, or a follow-up report of it")
class SubmissionKind(Enum):
    INITIAL = "INITIAL"
    FOLLOW_UP = "FOLLOW_UP"


@strawberry.input
class ReportAdverseEventInput:
    adverse_event_id: strawberry.ID
    batch_id: strawberry.ID
    patient_code: strawberry.ID
    reported_by_site_id: strawberry.ID
    serious: bool
    description: str
    onset_at: datetime
    aware_at: datetime
    criteria: list[SeriousnessCriterion] | None = strawberry.field(
        default=None,
        description="the seriousness criteria met; only with serious: true (BAD_INPUT, reason "
        "SERIOUSNESS_CONTRADICTION, otherwise). A serious case without criteria is held to the "
        "strictest rule that could apply.",
    )
    expected: bool | None = strawberry.field(
        default=None,
        description="whether the reaction is listed in the reference safety information; "
        "unknown counts as unexpected",
    )
    context: AdverseEventContext | None = strawberry.field(
        default=None, description="CLINICAL_TRIAL or MARKETED; MARKETED when left out"
    )
    taiwan_regime: TaiwanRegime | None = strawberry.field(
        default=None,
        description="for a case reported in Taiwan: TECHNOLOGY (the default) or PRODUCT",
    )
    also_report_to: list[str] | None = strawberry.field(
        default=None,
        description="further jurisdictions whose authority must receive the case (e.g. US for "
        "a trial also run under an IND); the reporting site's own always does",
    )


@strawberry.input
class SubmitAdverseEventInput:
    adverse_event_id: strawberry.ID
    authority: str
    submitted_at: datetime
    kind: SubmissionKind | None = strawberry.field(
        default=None, description="INITIAL (the default) or FOLLOW_UP"
    )
    report_to: str | None = strawberry.field(
        default=None,
        description="the jurisdiction whose required report this is; the reporting site's "
        "when left out",
    )


@strawberry.input(description="A master cell bank laid down from an allogeneic donation")
class BankMasterCellsInput:
    bank_id: strawberry.ID
    donation_id: strawberry.ID
    passage: int
    vials: int = strawberry.field(description="the vials banked")
    site_id: strawberry.ID = strawberry.field(description="where the vials are kept")
    banked_at: datetime


@strawberry.input(description="A working cell bank expanded from one vial of a master bank")
class BankWorkingCellsInput:
    bank_id: strawberry.ID
    master_bank_id: strawberry.ID
    passage: int = strawberry.field(description="after the master bank's passage")
    vials: int
    site_id: strawberry.ID = strawberry.field(description="the master bank's site")
    banked_at: datetime
