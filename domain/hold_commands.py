"""Commands on holds (domain/holds.py): the quality person's lift, the institution's
acknowledgement that the treating physician was told."""

from __future__ import annotations

from datetime import datetime

from domain.batch import Batch, BatchStatus
from domain.holds import NOT_LIFTABLE, BatchHolds, HoldKind, HoldReason, batch_holds, events_of
from domain.ledger import LedgerApplication, UnitOfWork, actor
from domain.shared import (
    BadInputError,
    CommandResult,
    NotFoundError,
    Principal,
    RuleViolationError,
    require_order,
    require_text,
    require_time,
)


class HoldCommands:
    """Lifting a batch's holds, and acknowledging the notify-the-physician duty."""

    def __init__(self, ledger: LedgerApplication) -> None:
        self.ledger = ledger

    def lift_batch_hold(
        self,
        principal: Principal,
        batch_id: str,
        hold_keys: list[str],
        reason: str,
        signature_meaning: str,
        lifted_at: datetime,
        deviation_id: str | None = None,
    ) -> CommandResult:
        keys = _keys(hold_keys)
        reason = require_text(reason, "reason")
        meaning = require_text(signature_meaning, "signatureMeaning")
        lifted_at = require_time(lifted_at, "liftedAt")
        deviation = deviation_id.strip() if deviation_id and deviation_id.strip() else None
        with self.ledger.unit_of_work() as uow:
            batch = uow.load(Batch, batch_id)
            batch.require_status(
                set(BatchStatus) - {BatchStatus.REJECTED, BatchStatus.DESTROYED}, "lifting a hold"
            )
            holds = batch_holds(uow, batch, lifted_at)
            for key in keys:
                hold = _liftable(holds, key)
                require_order(hold.raised_at, lifted_at, f"the raising of {key}", "liftedAt")
                _require_investigation(uow, batch, hold, deviation)
            batch.lift_holds(
                keys,
                lifted_at,
                reason=reason,
                signature_meaning=meaning,
                deviation_id=deviation,
                **actor(principal),
            )
            return uow.save(batch)

    def acknowledge_physician_notification(
        self,
        principal: Principal,
        batch_id: str,
        hold_keys: list[str],
        acknowledged_at: datetime,
        note: str | None = None,
        site_id: str | None = None,
    ) -> CommandResult:
        keys = _keys(hold_keys)
        acknowledged_at = require_time(acknowledged_at, "acknowledgedAt")
        note = note.strip() if note and note.strip() else None
        with self.ledger.unit_of_work() as uow:
            batch = uow.load(Batch, batch_id)
            holds = batch_holds(uow, batch, acknowledged_at)
            open_keys = {r.key for r in holds.open_duties}
            for key in keys:
                if key not in open_keys:
                    raise RuleViolationError(
                        f"{key!r} is not an open notify-the-physician duty of batch "
                        f"{batch.key!r}; open: {', '.join(sorted(open_keys)) or 'none'}",
                        batch_id=batch.key,
                        hold_key=key,
                    )
            site = site_id or batch.administered_site_id or min(batch.given_at_sites, default="")
            told = sorted(k for k in keys if site in batch.acknowledged.get(k, set()))
            if told:
                raise RuleViolationError(
                    f"{site!r} already acknowledged {', '.join(told)} for batch {batch.key!r}",
                    batch_id=batch.key,
                    hold_key=told[0],
                )
            batch.acknowledge_notification(
                keys,
                site,
                acknowledged_at,
                note=note,
                **actor(principal),
            )
            return uow.save(batch)


def _keys(hold_keys: list[str]) -> tuple[str, ...]:
    keys = tuple(dict.fromkeys(k.strip() for k in hold_keys if k and k.strip()))
    if not keys:
        raise BadInputError("name at least one hold key", field="holdKeys")
    return keys


def _liftable(holds: BatchHolds, key: str) -> HoldReason:
    hold = holds.find(key)
    if hold is None:
        raise NotFoundError(
            f"batch {holds.batch_id!r} has no hold {key!r}; its holds: "
            f"{', '.join(r.key for r in holds.raised) or 'none'}",
            hold_key=key,
        )
    if key in holds.lifted:
        raise RuleViolationError(f"hold {key!r} is already lifted", hold_key=key)
    if hold.kind in NOT_LIFTABLE:
        raise RuleViolationError(
            f"hold {key!r} cannot be lifted: an expired batch is rejected or destroyed",
            hold_key=key,
        )
    return hold


def _require_investigation(
    uow: UnitOfWork, batch: Batch, hold: HoldReason, deviation_id: str | None
) -> None:
    """A named deviation is the batch's; a failed QC result needs one opened after the failure
    was recorded and closed with its conclusion, so a retest alone never lifts it."""
    if deviation_id is None:
        if hold.kind is HoldKind.QC_FAILED:
            raise RuleViolationError(
                f"hold {hold.key!r} is an out-of-specification result: lifting it needs the "
                "deviationId of the investigation, opened after the failure and closed with "
                "its conclusion; a passing retest alone is testing into compliance",
                hold_key=hold.key,
            )
        return
    if deviation_id not in batch.deviations:
        raise NotFoundError(
            f"deviation {deviation_id!r} is not recorded on batch {batch.key!r}",
            deviation_id=deviation_id,
        )
    if hold.kind is not HoldKind.QC_FAILED:
        return
    opened = next(
        e
        for e in events_of(uow, batch)
        if isinstance(e, Batch.DeviationOpened) and e.deviation_id == deviation_id
    )
    if opened.originator_version < hold.source_version or batch.deviations[deviation_id]:
        raise RuleViolationError(
            f"deviation {deviation_id!r} cannot conclude the investigation of {hold.key!r}: it "
            "must be opened after the failed result was recorded and closed with its conclusion",
            hold_key=hold.key,
            deviation_id=deviation_id,
        )
