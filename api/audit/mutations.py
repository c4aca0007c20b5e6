"""Corrections: a new event that names what it corrects; the original is never edited."""

from __future__ import annotations

import strawberry

from api.audit.types import CorrectEventInput
from api.auth.roles import QUALITY_PERSON, SPOKE_OPERATOR
from api.auth.targets import at_position
from api.commands import command
from domain.correction_commands import CorrectionCommands


@strawberry.type
class AuditMutations:
    correct_event = command(
        CorrectionCommands.correct_event,
        input=CorrectEventInput,
        roles=(SPOKE_OPERATOR, QUALITY_PERSON),
        # The event's position names the aggregate corrected, which the caller must own.
        targets={"position": at_position},
        description="Correct a descriptive field of a recorded event (or an earlier correction, "
        "field newValue). The history keeps both; views show the corrected value from then on.",
    )
