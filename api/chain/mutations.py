"""Commands of the donor-to-patient chain, in the order partner systems send them.

Donor and consent (collection centre) → eligibility (physician) → donation (collection site) →
material lots (spoke warehouse) → batch start, steps, QC, deviations (spoke MES, QC laboratory) →
release (control site QP) → dispatch, excursions, receipt (courier, hospital) → administration and
adverse reactions (hospital, pharmacovigilance).
"""

from __future__ import annotations

import strawberry

from api.chain import inputs as i
from api.common import CommandResult
from api.context import Info
from api.resolve import arguments, command, ledger


async def _run(info: Info, name: str, input: object) -> CommandResult:
    method = getattr(ledger(info), name)
    return CommandResult.of(await command(info, method, **arguments(input)))


@strawberry.type
class ChainMutations:
    @strawberry.mutation(description="Register a donor under a pseudonymous code.")
    async def register_donor(self, info: Info, input: i.RegisterDonorInput) -> CommandResult:
        return await _run(info, "register_donor", input)

    @strawberry.mutation(
        description="Record written consent (with legal representative and "
        "notarisation for donors without full capacity)."
    )
    async def record_consent(self, info: Info, input: i.RecordConsentInput) -> CommandResult:
        return await _run(info, "record_consent", input)

    @strawberry.mutation(description="Record the withdrawal of a donor's standing consent.")
    async def withdraw_consent(self, info: Info, input: i.WithdrawConsentInput) -> CommandResult:
        return await _run(info, "withdraw_consent", input)

    @strawberry.mutation(description="Record an eligibility determination by the physician.")
    async def determine_eligibility(
        self, info: Info, input: i.DetermineEligibilityInput
    ) -> CommandResult:
        return await _run(info, "determine_eligibility", input)

    @strawberry.mutation(description="Revoke the donor's ELIGIBLE determination (look-back).")
    async def revoke_eligibility(
        self, info: Info, input: i.RevokeEligibilityInput
    ) -> CommandResult:
        return await _run(info, "revoke_eligibility", input)

    @strawberry.mutation(description="Record an acquisition of tissue or cells from a donor.")
    async def record_donation(self, info: Info, input: i.RecordDonationInput) -> CommandResult:
        return await _run(info, "record_donation", input)

    @strawberry.mutation(description="Receive a reagent or ancillary-material lot into quarantine.")
    async def receive_material_lot(
        self, info: Info, input: i.ReceiveMaterialLotInput
    ) -> CommandResult:
        return await _run(info, "receive_material_lot", input)

    @strawberry.mutation(description="Release a quarantined material lot for use.")
    async def release_material_lot(
        self, info: Info, input: i.MaterialLotDecisionInput
    ) -> CommandResult:
        return await _run(info, "release_material_lot", input)

    @strawberry.mutation(description="Reject a material lot; it can never be used.")
    async def reject_material_lot(
        self, info: Info, input: i.MaterialLotDecisionInput
    ) -> CommandResult:
        return await _run(info, "reject_material_lot", input)

    @strawberry.mutation(description="Start a batch from a donation for one patient.")
    async def start_batch(self, info: Info, input: i.StartBatchInput) -> CommandResult:
        return await _run(info, "start_batch", input)

    @strawberry.mutation(description="Record a manufacturing step and the material lots it used.")
    async def record_batch_step(self, info: Info, input: i.RecordBatchStepInput) -> CommandResult:
        return await _run(info, "record_batch_step", input)

    @strawberry.mutation(description="Record a QC result from a testing laboratory.")
    async def record_qc_result(self, info: Info, input: i.RecordQcResultInput) -> CommandResult:
        return await _run(info, "record_qc_result", input)

    @strawberry.mutation(description="Open a deviation on a batch; it blocks release until closed.")
    async def open_deviation(self, info: Info, input: i.OpenDeviationInput) -> CommandResult:
        return await _run(info, "open_deviation", input)

    @strawberry.mutation(description="Close an open deviation with its resolution.")
    async def close_deviation(self, info: Info, input: i.CloseDeviationInput) -> CommandResult:
        return await _run(info, "close_deviation", input)

    @strawberry.mutation(
        description="QP certification: release a batch, signed with its meaning. "
        "Refused with every reason that stands in the way."
    )
    async def release_batch(self, info: Info, input: i.ReleaseBatchInput) -> CommandResult:
        return await _run(info, "release_batch", input)

    @strawberry.mutation(description="Reject a batch.")
    async def reject_batch(self, info: Info, input: i.BatchDecisionInput) -> CommandResult:
        return await _run(info, "reject_batch", input)

    @strawberry.mutation(description="Record the destruction of a batch where it is.")
    async def destroy_batch(self, info: Info, input: i.BatchDecisionInput) -> CommandResult:
        return await _run(info, "destroy_batch", input)

    @strawberry.mutation(description="Dispatch released batches from one site to another.")
    async def dispatch_shipment(self, info: Info, input: i.DispatchShipmentInput) -> CommandResult:
        return await _run(info, "dispatch_shipment", input)

    @strawberry.mutation(description="Record a temperature excursion during a shipment.")
    async def record_temperature_excursion(
        self, info: Info, input: i.TemperatureExcursionInput
    ) -> CommandResult:
        return await _run(info, "record_temperature_excursion", input)

    @strawberry.mutation(description="Receive a shipment, once, with the condition found.")
    async def receive_shipment(self, info: Info, input: i.ReceiveShipmentInput) -> CommandResult:
        return await _run(info, "receive_shipment", input)

    @strawberry.mutation(description="Record administration after the chain-of-identity check.")
    async def record_administration(
        self, info: Info, input: i.RecordAdministrationInput
    ) -> CommandResult:
        return await _run(info, "record_administration", input)

    @strawberry.mutation(
        description="Report an adverse reaction to the control site; the "
        "reporting deadline follows from the site's jurisdiction."
    )
    async def report_adverse_event(
        self, info: Info, input: i.ReportAdverseEventInput
    ) -> CommandResult:
        return await _run(info, "report_adverse_event", input)

    @strawberry.mutation(
        description="Record the submission of an adverse reaction to the authority."
    )
    async def submit_adverse_event_to_authority(
        self, info: Info, input: i.SubmitAdverseEventInput
    ) -> CommandResult:
        return await _run(info, "submit_adverse_event_to_authority", input)
