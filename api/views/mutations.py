"""A recall, from initiation to closure: initiation (with its class and authority), extensions,
acknowledgements of its notifications, actions on its units, reports to the authority, an
effectiveness check, and the closure."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import strawberry

from api.auth.identity import Identity
from api.auth.roles import (
    MEDICAL_INSTITUTION,
    PHYSICIAN,
    QUALITY_PERSON,
    RECALL_INVESTIGATOR,
    SPOKE_OPERATOR,
)
from api.auth.targets import NoReach, callers_only_site, container_of, of, origin, owned, site
from api.commands import command
from api.views.recall_types import (
    AcknowledgeRecallNotificationInput,
    CloseRecallInput,
    RecordRecallActionInput,
    RecordRecallEffectivenessCheckInput,
    ReportRecallToAuthorityInput,
)
from api.views.types import InitiateRecallInput, Recall, TraceOrigin
from api.wiring import Regentrace
from domain.recall_commands import RecallCommands
from domain.shared import CommandResult, NotFoundError
from projections.recalls import cut_to, find_recalls
from projections.scopes import cut_trace

RECALL = {"recall_id": owned("Recall")}


def _origin(origin: dict[str, Any]) -> dict[str, Any]:
    window = origin["window"] or {}
    return {
        "origin_kind": origin["kind"],
        "origin_id": origin["id"],
        "window_from": window.get("from_"),
        "window_to": window.get("to"),
    }


def recall_parameters(content: dict[str, Any]) -> dict[str, Any]:
    """The origin's kind, id and window as the command's own parameters."""
    rest = {k: v for k, v in content.items() if k != "origin"}
    return {**rest, **_origin(content["origin"])}


def answer(
    service: Regentrace,
    identity: Identity,
    result: CommandResult,
    content: dict[str, Any],
) -> Recall:
    """The recall as the caller may see it, as the command left it: the whole trace is kept in
    the recall's event (it reaches every batch its origin reached), the answer is built of the
    part within reach."""
    with service.read() as sql:
        reach = identity.reach(sql)
        found = find_recalls(
            sql,
            result.position,
            datetime.now(UTC),
            reach=None,
            recall_ids=[str(content["recall_id"])],
            details=True,
        )
        if not found:
            raise NotFoundError(f"recall {content['recall_id']!r} not found")
        view = found[0]
        # What the caller's reach shows of it; no visibility test: the caller just acted on it.
        cut_to(view, reach, sql)
        return Recall.of(view, lambda kind, key, trace: cut_trace(sql, reach, trace, (kind, key)))


@strawberry.input
class ExtendRecallInput:
    recall_id: strawberry.ID
    extension_id: strawberry.ID = strawberry.field(description="your name for the extension")
    origin: TraceOrigin = strawberry.field(description="the later finding the scope widens to")
    reason: str
    extended_at: datetime


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
        "recall's own event, mark every batch it reached RECALLED, and notify every site it "
        "reached and the institution that treated each exposed patient (for the treating "
        "physician), each to acknowledge within its class's time limit.",
    )
    extend_recall = command(
        RecallCommands.extend_recall,
        input=ExtendRecallInput,
        roles=(QUALITY_PERSON, RECALL_INVESTIGATOR),
        targets={**RECALL, "extension_id": NoReach("the extension it adds"), "origin": origin},
        parameters=recall_parameters,
        returns=Recall,
        answer=answer,
        description="Widen a recall to a later finding: its own trace, kept in its own event; "
        "new batches marked RECALLED, new parties notified.",
    )
    acknowledge_recall_notification = command(
        RecallCommands.acknowledge_recall_notification,
        input=AcknowledgeRecallNotificationInput,
        roles=(SPOKE_OPERATOR, MEDICAL_INSTITUTION, PHYSICIAN, QUALITY_PERSON),
        targets={
            "recall_id": NoReach("the notification's own site is checked"),
            "notification_id": NoReach("a notification of the recall, to siteId"),
            "site_id": site,
        },
        defaults={"site_id": callers_only_site},
        description="Acknowledge a recall notification: only for the notified site (a key "
        "whose reach covers it), recording who and when.",
    )
    record_recall_action = command(
        RecallCommands.record_recall_action,
        input=RecordRecallActionInput,
        roles=(SPOKE_OPERATOR, MEDICAL_INSTITUTION, QUALITY_PERSON),
        targets={
            "recall_id": NoReach("the batch acted on is checked"),
            "batch_id": of("Batch"),
            "shipment_id": NoReach("the consignment reference of the return"),
            # A site accounts only for the containers it holds (or gave, or destroyed).
            "container_id": container_of("batch_id"),
        },
        description="Account for a recalled unit (a batch, or for a batch filled into "
        "containers one of its containers, named by containerId): RETURNED (with the shipment "
        "back: a return dispatched through the ledger must carry the unit; an id the ledger "
        "does not know is kept as the consignment reference, as before), "
        "QUARANTINED, DESTROYED (the unit's destruction, recorded with it) or "
        "ALREADY_ADMINISTERED (with the follow-up of the patient).",
    )
    report_recall_to_authority = command(
        RecallCommands.report_recall_to_authority,
        input=ReportRecallToAuthorityInput,
        roles=(QUALITY_PERSON, RECALL_INVESTIGATOR),
        targets=RECALL,
        description="Report the recall to the authority: INITIAL first, PROGRESS any number, "
        "FINAL once nothing is outstanding.",
    )
    record_recall_effectiveness_check = command(
        RecallCommands.record_recall_effectiveness_check,
        input=RecordRecallEffectivenessCheckInput,
        roles=(QUALITY_PERSON, RECALL_INVESTIGATOR),
        targets=RECALL,
        description="Record an effectiveness check of the recall and what it found.",
    )
    close_recall = command(
        RecallCommands.close_recall,
        input=CloseRecallInput,
        roles=(QUALITY_PERSON,),
        targets=RECALL,
        description="Close a recall with its conclusion: refused while a notification is "
        "unacknowledged or a unit unaccounted for, before the FINAL report, and unless the "
        "last effectiveness check found it EFFECTIVE.",
    )
