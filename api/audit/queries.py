"""The audit trail: every event in ledger order, and verification of the hash chain."""

from __future__ import annotations

import anyio.to_thread
import strawberry

from api.audit.types import (
    Checkpoint,
    CheckpointConnection,
    EventFilter,
    LedgerEvent,
    LedgerEventConnection,
    LedgerVerification,
)
from api.checkpoint import Checkpoint as SignedCheckpoint
from api.checkpoint import find_checkpoints
from api.common import decode_cursor, decode_position, page_info, page_size
from api.context import Info
from api.errors import from_domain
from api.resolve import read
from domain.shared import BadInputError, require_offset
from projections.audit import verify


@strawberry.type
class AuditQueries:
    @strawberry.field(description="The ledger's events in order, filtered, a page at a time.")
    async def events(
        self,
        info: Info,
        filter: EventFilter | None = None,
        first: int | None = 100,
        after: str | None = None,
    ) -> LedgerEventConnection:
        size = page_size(first)
        start = decode_position(after)
        f = filter or EventFilter()
        try:
            for name in ("recorded_from", "recorded_to"):
                value = getattr(f, name)
                if value is not None:
                    require_offset(value, name)
        except BadInputError as error:
            raise from_domain(error) from error
        rows = await read(
            info,
            None,
            lambda sql, _, reach: f.find(sql, reach, start, size + 1),
        )
        personal = info.context.identity.role.personal_data
        nodes = [LedgerEvent.of(r, personal) for r in rows[:size]]
        last = str(nodes[-1].position) if nodes else None
        return LedgerEventConnection(nodes=nodes, page_info=page_info(len(rows), size, last))

    @strawberry.field(
        description="Recompute the hash chain over a range of positions (the whole ledger by "
        "default; from a position N, the link into N from the event before it too) and name the "
        "first position that fails."
    )
    async def verify_ledger(
        self, info: Info, from_position: int | None = None, to_position: int | None = None
    ) -> LedgerVerification:
        service = info.context.service
        result = await anyio.to_thread.run_sync(
            lambda: verify(service.read, from_position, to_position)
        )
        return LedgerVerification(
            ok=result.ok,
            checked_events=result.checked_events,
            head_position=result.head_position,
            head_hash=result.head_hash.strip(),
            first_mismatch_position=result.first_mismatch_position,
            problem=result.problem,
        )

    @strawberry.field(
        description="The signed checkpoints taken (`regentrace checkpoint`), oldest first, a "
        "page at a time: each a ledger position and hash the ledger must extend from then on."
    )
    async def checkpoints(
        self, info: Info, first: int | None = 50, after: str | None = None
    ) -> CheckpointConnection:
        size = page_size(first)
        start = decode_cursor(after)
        if start is not None and not (start.isascii() and start.isdigit() and len(start) < 19):
            raise from_domain(BadInputError("after is not a cursor of checkpoints", field="after"))
        service = info.context.service

        def page() -> list[SignedCheckpoint]:
            with service.read() as sql:
                return find_checkpoints(sql, int(start) if start else None, size + 1)

        found = await anyio.to_thread.run_sync(page)
        nodes = [Checkpoint.of(c) for c in found[:size]]
        return CheckpointConnection(
            nodes=nodes, page_info=page_info(len(found), size, nodes[-1].id if nodes else None)
        )
