"""Commands of the donor-to-patient chain, in the order partner systems send them.

Donor and consent (collection centre) → eligibility (physician) → donation (collection site) →
material lots (spoke warehouse) → batch start, steps, QC, deviations (spoke MES, QC laboratory) →
release (control site QP) → dispatch, excursions, receipt (courier, hospital) → administration and
adverse reactions (hospital, pharmacovigilance).
"""

from __future__ import annotations

import strawberry

from api.chain import inputs as i
from api.resolve import command_mutation


@strawberry.type
class ChainMutations:
    register_donor = command_mutation(
        "register_donor", i.RegisterDonorInput, "Register a donor under a pseudonymous code."
    )
    record_consent = command_mutation(
        "record_consent",
        i.RecordConsentInput,
        "Record written consent (with legal representative and notarisation for donors "
        "without full capacity).",
    )
    withdraw_consent = command_mutation(
        "withdraw_consent",
        i.WithdrawConsentInput,
        "Record the withdrawal of a donor's standing consent.",
    )
    determine_eligibility = command_mutation(
        "determine_eligibility",
        i.DetermineEligibilityInput,
        "Record an eligibility determination by the physician.",
    )
    revoke_eligibility = command_mutation(
        "revoke_eligibility",
        i.RevokeEligibilityInput,
        "Revoke the donor's ELIGIBLE determination (look-back).",
    )
    record_donation = command_mutation(
        "record_donation",
        i.RecordDonationInput,
        "Record an acquisition of tissue or cells from a donor.",
    )
    receive_material_lot = command_mutation(
        "receive_material_lot",
        i.ReceiveMaterialLotInput,
        "Receive a reagent or ancillary-material lot into quarantine.",
    )
    release_material_lot = command_mutation(
        "release_material_lot",
        i.MaterialLotDecisionInput,
        "Release a quarantined material lot for use.",
    )
    reject_material_lot = command_mutation(
        "reject_material_lot",
        i.MaterialLotDecisionInput,
        "Reject a material lot; it can never be used.",
    )
    start_batch = command_mutation(
        "start_batch", i.StartBatchInput, "Start a batch from a donation for one patient."
    )
    record_batch_step = command_mutation(
        "record_batch_step",
        i.RecordBatchStepInput,
        "Record a manufacturing step and the material lots it used.",
    )
    record_qc_result = command_mutation(
        "record_qc_result", i.RecordQcResultInput, "Record a QC result from a testing laboratory."
    )
    open_deviation = command_mutation(
        "open_deviation",
        i.OpenDeviationInput,
        "Open a deviation on a batch; it blocks release until closed.",
    )
    close_deviation = command_mutation(
        "close_deviation", i.CloseDeviationInput, "Close an open deviation with its resolution."
    )
    release_batch = command_mutation(
        "release_batch",
        i.ReleaseBatchInput,
        "QP certification: release a batch, signed with its meaning. Refused with every reason "
        "that stands in the way.",
    )
    reject_batch = command_mutation("reject_batch", i.BatchDecisionInput, "Reject a batch.")
    destroy_batch = command_mutation(
        "destroy_batch", i.BatchDecisionInput, "Record the destruction of a batch where it is."
    )
    dispatch_shipment = command_mutation(
        "dispatch_shipment",
        i.DispatchShipmentInput,
        "Dispatch released batches from one site to another.",
    )
    record_temperature_excursion = command_mutation(
        "record_temperature_excursion",
        i.TemperatureExcursionInput,
        "Record a temperature excursion during a shipment.",
    )
    receive_shipment = command_mutation(
        "receive_shipment",
        i.ReceiveShipmentInput,
        "Receive a shipment, once, with the condition found.",
    )
    record_administration = command_mutation(
        "record_administration",
        i.RecordAdministrationInput,
        "Record administration after the chain-of-identity check.",
    )
    report_adverse_event = command_mutation(
        "report_adverse_event",
        i.ReportAdverseEventInput,
        "Report an adverse reaction to the control site; the reporting deadline follows from "
        "the site's jurisdiction.",
    )
    submit_adverse_event_to_authority = command_mutation(
        "submit_adverse_event_to_authority",
        i.SubmitAdverseEventInput,
        "Record the submission of an adverse reaction to the authority.",
    )
