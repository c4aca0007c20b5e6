"""Types every feature shares: scalars and the result of a command."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from domain.shared import CommandResult as CommandResultData


@strawberry.enum(description="Legal system whose law governs a site")
class Jurisdiction(Enum):
    TW = "TW"
    EU = "EU"
    UK = "UK"
    US = "US"


@strawberry.type
class CommandResult:
    position: int = strawberry.field(
        description="ledger position of the last event this command recorded"
    )
    aggregate_id: strawberry.ID
    version: int

    @classmethod
    def of(cls, result: CommandResultData) -> CommandResult:
        return cls(
            position=result.position,
            aggregate_id=strawberry.ID(result.aggregate_id),
            version=result.version,
        )


AsOf = Annotated[
    datetime | None,
    strawberry.argument(
        description="answer as a replay of the ledger up to this moment would (default: now)"
    ),
]
