"""Commands of the donor-to-patient chain, in the order partner systems send them.

Donor and consent (collection centre) → eligibility (physician) → donation (collection site) →
material lots (spoke warehouse) → batch start, steps, QC, deviations (spoke MES, QC laboratory) →
release (control site QP) → dispatch, excursions, receipt (courier, hospital) → administration and
adverse reactions (hospital, pharmacovigilance).

Seeing a record needs one of the sites it touches (``of``); changing it needs one of the sites
that own it (``owned``); a site acted at must be within reach (``site``).
"""

from __future__ import annotations

import strawberry

from api.auth.roles import (
    COURIER,
    MEDICAL_INSTITUTION,
    PHARMACOVIGILANCE,
    PHYSICIAN,
    QC_LABORATORY,
    QUALITY_PERSON,
    SPOKE_OPERATOR,
)
from api.auth.targets import (
    NoReach,
    callers_only_site,
    donation,
    donations,
    of,
    owned,
    signed_by_control_site,
    site,
)
from api.chain import custody_inputs as ci
from api.chain import inputs as i
from api.commands import command
from domain.batch_commands import BatchCommands
from domain.cell_bank_commands import CellBankCommands
from domain.container_commands import ContainerCommands
from domain.custody_commands import CustodyCommands
from domain.distribution_commands import DistributionCommands
from domain.donor_commands import DonorCommands
from domain.hold_commands import HoldCommands

DONOR = {"donor_code": owned("Donor")}
BATCH = {"batch_id": owned("Batch")}


@strawberry.type
class ChainMutations:
    register_donor = command(
        DonorCommands.register_donor,
        input=i.RegisterDonorInput,
        roles=(SPOKE_OPERATOR,),
        targets={"donor_code": NoReach("the donor it registers"), "site_id": site},
        # A partner acting for one site registers its donors there without naming it.
        defaults={"site_id": callers_only_site},
        description="Register a donor under a pseudonymous code.",
    )
    record_consent = command(
        DonorCommands.record_consent,
        input=i.RecordConsentInput,
        roles=(SPOKE_OPERATOR,),
        targets=DONOR,
        description="Record written consent (with legal representative and notarisation for "
        "donors without full capacity).",
    )
    withdraw_consent = command(
        DonorCommands.withdraw_consent,
        input=i.WithdrawConsentInput,
        roles=(SPOKE_OPERATOR,),
        targets=DONOR,
        description="Record the withdrawal of a donor's standing consent.",
    )
    determine_eligibility = command(
        DonorCommands.determine_eligibility,
        input=i.DetermineEligibilityInput,
        roles=(PHYSICIAN,),
        targets=DONOR,
        description="Record an eligibility determination: a physician's decision (physician "
        "role only), ELIGIBLE only with a negative result for every marker of the panel.",
    )
    revoke_eligibility = command(
        DonorCommands.revoke_eligibility,
        input=i.RevokeEligibilityInput,
        # The physician re-decides; the quality unit, told of a look-back result first, may
        # stop the donor's material at once.
        roles=(PHYSICIAN, QUALITY_PERSON),
        targets=DONOR,
        description="Revoke the donor's ELIGIBLE determination (look-back).",
    )
    record_donation = command(
        DonorCommands.record_donation,
        input=i.RecordDonationInput,
        roles=(SPOKE_OPERATOR,),
        targets={
            "donation_id": NoReach("the donation it records"),
            "donor_code": of("Donor"),
            "site_id": site,
            "intended_patient_code": NoReach("the patient it is collected for, named by this act"),
        },
        description="Record an acquisition of tissue or cells from a donor.",
    )
    receive_material_lot = command(
        BatchCommands.receive_material_lot,
        input=i.ReceiveMaterialLotInput,
        roles=(SPOKE_OPERATOR,),
        targets={"lot_id": NoReach("the lot it receives"), "site_id": site},
        description="Receive a reagent or ancillary-material lot into quarantine.",
    )
    release_material_lot = command(
        BatchCommands.release_material_lot,
        input=i.MaterialLotDecisionInput,
        roles=(QUALITY_PERSON,),
        targets={"lot_id": owned("MaterialLot")},
        description="Release a quarantined material lot for use.",
    )
    reject_material_lot = command(
        BatchCommands.reject_material_lot,
        input=i.MaterialLotDecisionInput,
        roles=(QUALITY_PERSON,),
        targets={"lot_id": owned("MaterialLot")},
        description="Reject a material lot; it can never be used.",
    )
    transfer_material_lot = command(
        CustodyCommands.transfer_material_lot,
        input=ci.TransferMaterialLotInput,
        roles=(SPOKE_OPERATOR, COURIER),
        targets={
            "lot_id": of("MaterialLot"),
            "transfer_id": NoReach("a leg of the lot, which it names"),
            "from_site_id": site,
            "to_site_id": NoReach("a lot may go to any registered site"),
        },
        description="Transfer a material lot from the site where it is to another; it is used "
        "only where it is, once received.",
    )
    receive_material_lot_transfer = command(
        CustodyCommands.receive_material_lot_transfer,
        input=ci.ReceiveMaterialLotTransferInput,
        roles=(SPOKE_OPERATOR, COURIER),
        targets={"lot_id": of("MaterialLot"), "transfer_id": NoReach("a leg of the lot")},
        description="Receive a material-lot transfer, once, with the condition found.",
    )
    ship_donation = command(
        CustodyCommands.ship_donation,
        input=ci.ShipDonationInput,
        roles=(SPOKE_OPERATOR, COURIER, MEDICAL_INSTITUTION),
        targets={
            "donation_id": donation,
            "shipment_id": NoReach("a leg of the donation, which it names"),
            "to_site_id": NoReach("starting material may go to any registered site"),
        },
        description="Ship starting material (a donation) from the site where it is; once "
        "shipped, a batch is started from it only where it was received.",
    )
    record_donation_temperature = command(
        CustodyCommands.record_donation_temperature,
        input=ci.DonationTemperatureInput,
        roles=(SPOKE_OPERATOR, COURIER, MEDICAL_INSTITUTION),
        targets={"donation_id": donation, "shipment_id": NoReach("a leg of the donation")},
        description="Record a temperature read on a starting-material leg before its receipt.",
    )
    receive_donation_shipment = command(
        CustodyCommands.receive_donation_shipment,
        input=ci.ReceiveDonationShipmentInput,
        roles=(SPOKE_OPERATOR, COURIER),
        targets={"donation_id": donation, "shipment_id": NoReach("a leg of the donation")},
        description="Receive a starting-material leg, once, with the condition found.",
    )
    record_hand_over = command(
        CustodyCommands.record_hand_over,
        input=ci.RecordHandOverInput,
        roles=(SPOKE_OPERATOR, COURIER),
        targets={
            "shipment_id": of("Shipment"),
            "custodian_site_id": NoReach("the site taking custody, named by this act"),
        },
        description="Record a hand-over on a shipment's way, with the custodian taking it.",
    )
    record_storage = command(
        CustodyCommands.record_storage,
        input=ci.RecordStorageInput,
        roles=(SPOKE_OPERATOR, MEDICAL_INSTITUTION),
        targets={
            "storage_id": NoReach("the storage period it records"),
            "batch_id": of("Batch"),
            "container_id": NoReach("a container of the batch, checked"),
            "site_id": site,
        },
        description="Record that a batch, or one of its containers, is kept in a storage "
        "location (cryostorage) at the site where it is, from a time.",
    )
    end_storage = command(
        CustodyCommands.end_storage,
        input=ci.EndStorageInput,
        roles=(SPOKE_OPERATOR, MEDICAL_INSTITUTION),
        targets={"storage_id": owned("Storage")},
        description="End a storage period, once.",
    )
    bank_master_cells = command(
        CellBankCommands.bank_master_cells,
        input=i.BankMasterCellsInput,
        roles=(SPOKE_OPERATOR,),
        targets={
            "bank_id": NoReach("the bank it lays down"),
            "donation_id": donation,
            "site_id": site,
        },
        description="Lay down a master cell bank (vials at a passage) from an allogeneic donation.",
    )
    bank_working_cells = command(
        CellBankCommands.bank_working_cells,
        input=i.BankWorkingCellsInput,
        roles=(SPOKE_OPERATOR,),
        targets={
            "bank_id": NoReach("the bank it lays down"),
            "master_bank_id": NoReach("a master bank at the site named, checked by the command"),
            "site_id": site,
        },
        description="Lay down a working cell bank from one vial of a master bank.",
    )
    assess_return = command(
        CustodyCommands.assess_return,
        input=ci.AssessReturnInput,
        roles=(QUALITY_PERSON,),
        targets={"batch_id": signed_by_control_site},
        description="The quality unit's assessment of a product received back on a return "
        "shipment: RELEASE_FOR_REUSE (it may be dispatched again; never a recalled one) or "
        "DESTROY (destroyed with the assessment).",
    )
    start_batch = command(
        BatchCommands.start_batch,
        input=i.StartBatchInput,
        roles=(SPOKE_OPERATOR,),
        targets={
            "batch_id": NoReach("the batch it starts"),
            "donation_id": donation,
            "additional_donation_ids": donations,
            "cell_bank_id": NoReach("a working bank at the site named, checked by the command"),
            "patient_code": NoReach("the patient the batch is made for, named by this act"),
            # The control site is the site's own (the command checks it), so a spoke may name
            # it.
            "control_site_id": NoReach("the command requires the spoke's own control site"),
            "site_id": site,
        },
        description="Start a batch from a donation for one patient.",
    )
    record_batch_step = command(
        BatchCommands.record_batch_step,
        input=i.RecordBatchStepInput,
        roles=(SPOKE_OPERATOR,),
        targets={
            **BATCH,
            "site_id": site,
            "material_lots": of("MaterialLot"),
            "material_quantities": NoReach("lots named in materialLots, checked there"),
        },
        description="Record a manufacturing step and the material lots it used.",
    )
    record_qc_result = command(
        BatchCommands.record_qc_result,
        input=i.RecordQcResultInput,
        roles=(QC_LABORATORY,),
        targets={"batch_id": of("Batch"), "laboratory_site_id": site},
        description="Record a QC result from a testing laboratory.",
    )
    open_deviation = command(
        BatchCommands.open_deviation,
        input=i.OpenDeviationInput,
        roles=(SPOKE_OPERATOR, QC_LABORATORY, QUALITY_PERSON),
        targets={**BATCH, "deviation_id": NoReach("the deviation it opens, on the batch checked")},
        description="Open a deviation on a batch; it blocks release until closed.",
    )
    close_deviation = command(
        BatchCommands.close_deviation,
        input=i.CloseDeviationInput,
        roles=(SPOKE_OPERATOR, QUALITY_PERSON),
        targets={**BATCH, "deviation_id": NoReach("a deviation of the batch checked")},
        description="Close an open deviation with its resolution.",
    )
    release_batch = command(
        BatchCommands.release_batch,
        input=i.ReleaseBatchInput,
        roles=(QUALITY_PERSON,),
        targets={"batch_id": signed_by_control_site},
        description="QP certification: release a batch, signed with its meaning. Refused with "
        "every reason that stands in the way.",
    )
    reject_batch = command(
        BatchCommands.reject_batch,
        input=i.BatchDecisionInput,
        roles=(QUALITY_PERSON,),
        targets={"batch_id": signed_by_control_site},
        description="Reject a batch.",
    )
    destroy_batch = command(
        BatchCommands.destroy_batch,
        input=i.BatchDecisionInput,
        roles=(SPOKE_OPERATOR, QUALITY_PERSON),
        targets=BATCH,
        description="Record the destruction of a batch where it is.",
    )
    record_batch_containers = command(
        ContainerCommands.record_batch_containers,
        input=i.RecordBatchContainersInput,
        roles=(SPOKE_OPERATOR,),
        targets={
            **BATCH,
            "site_id": site,
            "containers": NoReach("the containers it fills, of the batch checked"),
        },
        description="Fill a batch into containers (bags, vials), each with its identifier, "
        "volume and dose; before release.",
    )
    destroy_batch_containers = command(
        ContainerCommands.destroy_batch_containers,
        input=i.DestroyBatchContainersInput,
        roles=(SPOKE_OPERATOR, QUALITY_PERSON),
        targets={**BATCH, "container_ids": NoReach("containers of the batch checked")},
        description="Record the destruction of some containers of a batch where they are; the "
        "batch is destroyed with its last container.",
    )
    lift_batch_hold = command(
        HoldCommands.lift_batch_hold,
        input=i.LiftBatchHoldInput,
        roles=(QUALITY_PERSON,),
        targets={
            "batch_id": signed_by_control_site,
            "deviation_id": NoReach("a deviation of the batch checked"),
        },
        description="Lift holds of a batch: the signed decision of its control site's quality "
        "person. An expiry is never lifted; a failed QC result only with its investigation (a "
        "deviation opened after the failure and closed).",
    )
    acknowledge_physician_notification = command(
        HoldCommands.acknowledge_physician_notification,
        input=i.AcknowledgePhysicianNotificationInput,
        roles=(MEDICAL_INSTITUTION,),
        targets={"batch_id": of("Batch"), "site_id": site},
        defaults={"site_id": callers_only_site},
        description="Record that the treating physician was told of holds raised after the "
        "batch was administered; only the administering institution acknowledges.",
    )
    dispatch_shipment = command(
        DistributionCommands.dispatch_shipment,
        input=i.DispatchShipmentInput,
        roles=(SPOKE_OPERATOR, COURIER),
        targets={
            "shipment_id": NoReach("the shipment it dispatches"),
            "batch_ids": of("Batch"),
            "containers": NoReach("containers of the batches checked"),
            "from_site_id": site,
            "to_site_id": NoReach("a shipment may go to any registered site"),
        },
        description="Dispatch released batches from one site to another.",
    )
    record_temperature_excursion = command(
        DistributionCommands.record_temperature_excursion,
        input=i.TemperatureExcursionInput,
        roles=(COURIER,),
        targets={"shipment_id": of("Shipment")},
        description="Record a temperature excursion during a shipment.",
    )
    receive_shipment = command(
        DistributionCommands.receive_shipment,
        input=i.ReceiveShipmentInput,
        roles=(SPOKE_OPERATOR, COURIER, MEDICAL_INSTITUTION),
        targets={"shipment_id": of("Shipment")},
        description="Receive a shipment, once, with the condition found.",
    )
    record_administration = command(
        DistributionCommands.record_administration,
        input=i.RecordAdministrationInput,
        roles=(MEDICAL_INSTITUTION,),
        targets={
            "batch_id": of("Batch"),
            "site_id": site,
            "patient_code": NoReach("the patient treated, named by this act"),
            "container_id": NoReach("a container of the batch checked"),
        },
        description="Record administration after the chain-of-identity check.",
    )
    report_adverse_event = command(
        DistributionCommands.report_adverse_event,
        input=i.ReportAdverseEventInput,
        roles=(MEDICAL_INSTITUTION, PHARMACOVIGILANCE),
        targets={
            "adverse_event_id": NoReach("the report it files"),
            "batch_id": of("Batch"),
            "patient_code": NoReach("the patient of the batch checked"),
            "reported_by_site_id": site,
        },
        description="Report an adverse reaction to the control site; the reporting deadline "
        "follows from the site's jurisdiction.",
    )
    submit_adverse_event_to_authority = command(
        DistributionCommands.submit_adverse_event_to_authority,
        input=i.SubmitAdverseEventInput,
        roles=(PHARMACOVIGILANCE,),
        targets={"adverse_event_id": owned("AdverseEvent")},
        description="Record the submission of an adverse reaction to the authority.",
    )
