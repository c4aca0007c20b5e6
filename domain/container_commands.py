"""Commands on a batch's containers: filling the batch into bags or vials, destroying some.

A container is named within its batch (``containerId``; across the ledger ``batch/container``,
see domain.batch.container_node). Shipments, receipts and administrations name containers in
domain/distribution_commands.py.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from domain.batch import CONTAINER_KINDS, DOSE_UNITS, Batch
from domain.ledger import LedgerApplication, actor
from domain.shared import (
    BadInputError,
    CommandResult,
    Principal,
    RuleViolationError,
    require_identifier,
    require_text,
    require_time,
    utcnow,
)
from domain.site import Site, operating_site


class ContainerCommands:
    """Containers of a batch: filled before release, each later shipped, given or destroyed."""

    def __init__(self, ledger: LedgerApplication) -> None:
        self.ledger = ledger

    def record_batch_containers(
        self,
        principal: Principal,
        batch_id: str,
        site_id: str,
        filled_at: datetime,
        containers: list[dict[str, Any]],
    ) -> CommandResult:
        filled_at = require_time(filled_at, "filledAt")
        filled = tuple(_checked(c) for c in containers)
        if not filled:
            raise BadInputError("a fill names at least one container", field="containers")
        ids = [c["container_id"] for c in filled]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise BadInputError(
                f"containerId {', '.join(twice)} named more than once", field="containers"
            )
        with self.ledger.unit_of_work() as uow:
            batch = uow.load(Batch, batch_id)
            control = uow.load(Site, batch.control_site_id)
            site = operating_site(uow, site_id, filled_at)
            if control.key not in (site.key, site.control_site_id):
                raise RuleViolationError(
                    f"site {site_id!r} does not operate under control site {control.key!r}",
                    site_id=site_id,
                )
            batch.fill_containers(filled, site_id, filled_at, **actor(principal))
            return uow.save(batch)

    def destroy_batch_containers(
        self,
        principal: Principal,
        batch_id: str,
        container_ids: list[str],
        reason: str,
        decided_at: datetime | None = None,
    ) -> CommandResult:
        reason = require_text(reason, "reason")
        ids = tuple(dict.fromkeys(require_identifier(c, "containerIds") for c in container_ids))
        if not ids:
            raise BadInputError("name at least one container", field="containerIds")
        at = utcnow() if decided_at is None else require_time(decided_at, "decidedAt")
        with self.ledger.unit_of_work() as uow:
            batch = uow.load(Batch, batch_id)
            batch.destroy_containers(ids, reason, occurred_at=at, **actor(principal))
            return uow.save(batch)


def _checked(fill: dict[str, Any]) -> dict[str, Any]:
    """One container as a partner names it: identifier, kind, volume and dose."""
    container_id = require_identifier(fill.get("container_id", ""), "containerId")
    kind, dose_unit = fill.get("kind"), fill.get("dose_unit")
    volume_ml, dose = fill.get("volume_ml"), fill.get("dose")
    if "/" in container_id:
        raise BadInputError(
            f"containerId {container_id!r} may not contain '/' (it separates the batch and the "
            "container in a container's full identifier)",
            field="containerId",
        )
    if kind not in CONTAINER_KINDS:
        raise BadInputError(
            f"kind {kind!r} is not one of {', '.join(CONTAINER_KINDS)}", field="kind"
        )
    if dose_unit not in DOSE_UNITS:
        raise BadInputError(
            f"doseUnit {dose_unit!r} is not one of {', '.join(DOSE_UNITS)}",
            field="doseUnit",
        )
    for field, value in (("volumeMl", volume_ml), ("dose", dose)):
        if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
            raise BadInputError(f"{field} must be a positive number", field=field)
    return {
        "container_id": container_id,
        "kind": kind,
        "volume_ml": float(volume_ml),  # type: ignore[arg-type]
        "dose": float(dose),  # type: ignore[arg-type]
        "dose_unit": dose_unit,
    }
