"""Corrections: a new event that names what it corrects; the original is never edited."""

from __future__ import annotations

import strawberry

from api.audit.types import CorrectEventInput
from api.common import CommandResult
from api.context import Info
from api.resolve import CommandId, arguments, command, ledger
from domain.correction_commands import CorrectionCommands


@strawberry.type
class AuditMutations:
    @strawberry.mutation(
        description="Correct a descriptive field of a recorded event (or an earlier correction, "
        "field newValue). The history keeps both; views show the corrected value from then on."
    )
    async def correct_event(
        self, info: Info, input: CorrectEventInput, command_id: CommandId = None
    ) -> CommandResult:
        result = await command(
            info,
            ledger(info).bind(CorrectionCommands.correct_event),
            identified_by=(command_id, input),
            **arguments(input),
        )
        return CommandResult.of(result)
