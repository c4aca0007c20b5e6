"""Initiating a recall."""

from __future__ import annotations

from typing import Any

import strawberry

from api.auth.identity import Identity
from api.auth.roles import QUALITY_PERSON, RECALL_INVESTIGATOR
from api.auth.targets import NoReach, origin
from api.commands import command
from api.views.types import InitiateRecallInput, Recall, RecallTrace
from api.wiring import Regentrace
from domain.recall import Recall as RecallAggregate
from domain.recall_commands import RecallCommands
from domain.shared import CommandResult
from projections.scopes import cut_trace


def recall_parameters(content: dict[str, Any]) -> dict[str, Any]:
    """The origin's kind, id and window as the command's own parameters."""
    origin = content["origin"]
    window = origin["window"] or {}
    return {
        "recall_id": content["recall_id"],
        "origin_kind": origin["kind"],
        "origin_id": origin["id"],
        "reason": content["reason"],
        "window_from": window.get("from_"),
        "window_to": window.get("to"),
    }


def answer(
    service: Regentrace,
    identity: Identity,
    result: CommandResult,  # noqa: ARG001
    content: dict[str, Any],
) -> Recall:
    """The recall as its initiator may see it: the whole trace is kept in the recall's event
    (it reaches every batch its origin reached), the answer is built of the part within reach."""
    recall: object = service.app.repository.get(RecallAggregate.ledger_id(content["recall_id"]))
    assert isinstance(recall, RecallAggregate)
    origin = recall.origin
    with service.read() as sql:
        trace = cut_trace(sql, identity.reach(sql), recall.trace, (origin.kind, origin.id))
    return Recall(
        id=strawberry.ID(recall.key),
        reason=recall.reason,
        trace=RecallTrace.from_record(origin.kind, origin.id, trace),
        initiated_at=recall.created_on,
        initiated_by=recall.initiated_by,
    )


@strawberry.type
class ViewMutations:
    initiate_recall = command(
        RecallCommands.initiate_recall,
        input=InitiateRecallInput,
        roles=(QUALITY_PERSON, RECALL_INVESTIGATOR),
        # An origin of any kind names a record the initiator must reach; the recall itself
        # reaches every batch the origin reached, whoever they belong to.
        targets={"recall_id": NoReach("the recall it initiates"), "origin": origin},
        parameters=recall_parameters,
        returns=Recall,
        answer=answer,
        description="Initiate a recall: trace FORWARD from the origin, keep that trace in the "
        "recall's own event, and mark every batch it reached RECALLED.",
    )
