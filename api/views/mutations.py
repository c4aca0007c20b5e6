"""Initiating a recall."""

from __future__ import annotations

import anyio.to_thread
import strawberry

from api.context import Info
from api.resolve import CommandId, command, ledger
from api.views.queries import checked_origin
from api.views.types import InitiateRecallInput, Recall, RecallTrace
from domain.recall import Recall as RecallAggregate
from domain.recall_commands import RecallCommands
from projections.scopes import cut_trace


@strawberry.type
class ViewMutations:
    @strawberry.mutation(
        description="Initiate a recall: trace FORWARD from the origin, keep that trace in the "
        "recall's own event, and mark every batch it reached RECALLED."
    )
    async def initiate_recall(
        self, info: Info, input: InitiateRecallInput, command_id: CommandId = None
    ) -> Recall:
        origin = await checked_origin(info, input.origin)
        await command(
            info,
            ledger(info).bind(RecallCommands.initiate_recall),
            input.recall_id,
            origin.kind,
            origin.id,
            input.reason,
            origin.window_from,
            origin.window_to,
            identified_by=(command_id, input),
        )
        return await anyio.to_thread.run_sync(answer, info, input.recall_id)


def answer(info: Info, recall_id: str) -> Recall:
    """The recall as its initiator may see it: the whole trace is kept in the recall's event
    (it reaches every batch its origin reached), the answer only the part within reach."""
    recall: object = ledger(info).repository.get(RecallAggregate.ledger_id(recall_id))
    assert isinstance(recall, RecallAggregate)
    origin = recall.origin
    with info.context.service.read() as sql:
        sql.reach = info.context.identity.reach(sql)
        trace = cut_trace(sql, recall.trace, (origin.kind, origin.id))
    return Recall(
        id=strawberry.ID(recall.key),
        reason=recall.reason,
        trace=RecallTrace.from_record(origin.kind, origin.id, trace),
        initiated_at=recall.created_on,
        initiated_by=recall.initiated_by,
    )
