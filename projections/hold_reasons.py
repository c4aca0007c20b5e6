"""What the holds view (projections/holds.py) writes and reads back: a hold reason as its source
event states it, its recording on a batch, and the batch's expiry.

A reason's key names the event that raised it, ``KIND:<aggregate id>@<version>`` (an expiry:
``EXPIRED:<batch aggregate id>``), as domain/holds.py names it: the key a lift and an
acknowledgement name, and the one a gate's refusal shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from domain import reference
from domain.batch import Batch
from domain.holds import HoldKind
from domain.shared import LedgerEvent
from projections.sql import Sql
from projections.versioned import VersionedTable

# The kinds domain/holds.py names, which this view writes as text.
LOT_REJECTED = HoldKind.LOT_REJECTED.value
CONSENT_WITHDRAWN = HoldKind.CONSENT_WITHDRAWN.value
ELIGIBILITY_REVOKED = HoldKind.ELIGIBILITY_REVOKED.value
QC_FAILED = HoldKind.QC_FAILED.value
TEMPERATURE_EXCURSION = HoldKind.TEMPERATURE_EXCURSION.value
EXPIRED = HoldKind.EXPIRED.value
SITE_SUSPENDED = HoldKind.SITE_SUSPENDED.value
RELEASE_VALUE_CORRECTED = HoldKind.RELEASE_VALUE_CORRECTED.value


@dataclass(frozen=True)
class Reason:
    """A hold reason as its source event states it (domain.holds.HoldReason's fields)."""

    kind: str
    raised_at: datetime
    description: str
    source_id: str
    source_version: int

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.source_id}@{self.source_version}"

    @classmethod
    def of(cls, kind: str, event: LedgerEvent, at: datetime, description: str) -> Reason:
        return cls(kind, at, description, event.originator_id, event.originator_version)


# What the handlers and the reads need to know of each batch. Its positions (released,
# administered, ended) let one current version answer for any position.
BATCHES = VersionedTable(
    "hold_batches",
    "batch_id",
    (
        "batch_id",
        "product",
        "donor_code",
        "patient_code",
        "started_at",
        "released_position",
        "frozen_expires_at",
        "administered_position",
        "administered_at",
        "administered_site_id",
        "ended_position",
    ),
)


def expiry_key(batch_id: str) -> str:
    return f"{EXPIRED}:{Batch.ledger_id(batch_id)}"


def raise_hold(sql: Sql, batch_id: str, reason: Reason, position: int) -> None:
    """Record ``reason`` on the batch, once; when the batch (or a container of it) was already
    administered, each administering institution owes each patient's physician a notification."""
    if sql.one(
        "SELECT 1 AS found FROM batch_holds WHERE batch_id = ? AND hold_key = ?",
        (batch_id, reason.key),
    ):
        return
    sql.execute(
        "INSERT INTO batch_holds (batch_id, hold_key, position, kind, raised_at, description,"
        " source_id, source_version) VALUES (?,?,?,?,?,?,?,?)",
        (batch_id, reason.key, position, reason.kind, reason.raised_at, reason.description,
         reason.source_id, reason.source_version),
    )  # fmt: skip
    for given in _given_to(sql, batch_id):
        sql.execute(
            "INSERT INTO physician_notifications (batch_id, hold_key, position, raised_at,"
            " site_id, patient_code) VALUES (?,?,?,?,?,?)",
            (batch_id, reason.key, position, reason.raised_at, given["site_id"],
             given["patient_code"]),
        )  # fmt: skip


def _given_to(sql: Sql, batch_id: str) -> list[dict[str, str]]:
    """Each patient given the batch, and where: one per patient a container of a split batch
    went to; else the batch's patient once the batch was given whole."""
    uses = sql.all(
        "SELECT patient_code, MIN(site_id) AS site_id FROM hold_container_uses"
        " WHERE batch_id = ? GROUP BY patient_code ORDER BY patient_code",
        (batch_id,),
    )
    if uses:
        return uses
    return sql.all(
        "SELECT administered_site_id AS site_id, patient_code FROM hold_batches"
        " WHERE batch_id = ? AND valid_to IS NULL AND administered_position IS NOT NULL",
        (batch_id,),
    )


def add_cause(sql: Sql, subject_id: str, reason: Reason, position: int) -> None:
    """A reason standing against a lot or a donor: it also reaches the batches that use the lot
    or come from the donor later (projections/holds.py says which)."""
    sql.execute(
        "INSERT INTO hold_causes (subject_id, hold_key, position, kind, raised_at, description,"
        " source_id, source_version) VALUES (?,?,?,?,?,?,?,?)",
        (subject_id, reason.key, position, reason.kind, reason.raised_at, reason.description,
         reason.source_id, reason.source_version),
    )  # fmt: skip


def causes(sql: Sql, subject_id: str) -> list[Reason]:
    rows = sql.all(
        "SELECT kind, raised_at, description, source_id, source_version FROM hold_causes"
        " WHERE subject_id = ? ORDER BY position",
        (subject_id,),
    )
    return [Reason(**r) for r in rows]


def derived_expiry(sql: Sql, batch_id: str, position: int) -> datetime:
    """The end of manufacture (the last step's completion, the start while there is none) by
    ``position``, plus the product's shelf life: the batch's expiry until its release fixes it."""
    batch = BATCHES.current(sql, batch_id)
    assert batch is not None, f"no batch {batch_id!r}"
    made = sql.one(
        "SELECT MAX(completed_at) AS completed_at FROM hold_steps"
        " WHERE batch_id = ? AND position <= ?",
        (batch_id, position),
    )
    ended: datetime = made["completed_at"] if made and made["completed_at"] else batch["started_at"]
    if isinstance(ended, str):  # an aggregate over SQLite text comes back as text
        ended = datetime.fromisoformat(ended)
    return ended + timedelta(days=reference.product(batch["product"]).shelf_life_days)
