"""Holds on batches, kept inline: every reason that stops a batch, the position that raised it
for that batch, its signed lift, and the treating institution's duty to tell the physician when
a reason arises after the batch was administered.

A hold is derived from facts already in the ledger (domain/holds.py decides the same from the
aggregates); this view records each reason the moment a fact makes it apply to a batch: a lot
rejected before or after a step used it, a donor's consent withdrawn or eligibility revoked, a
failed QC result, an excursion outside the product's storage range, a suspension whose effective
time covers a step (recorded before or after the step), a correction of a released batch's QC
result or step. Its key names the event that raised it, ``KIND:<aggregate id>@<version>``, the
key the lift and the acknowledgement name. Expiry has no event: it is computed when read
(projections/hold_views.py).

The rows are append-only and carry their position (ADR 3). The ``hold_*`` tables keep what the
handlers need to know at the head, so this view reads no other view's rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain import reference
from domain.batch import Batch
from domain.donation import Donation
from domain.donor import Donor
from domain.material_lot import MaterialLot
from domain.shared import LedgerEvent
from domain.shipment import Shipment
from domain.site import Site, SiteStatus
from projections.ledger import Appended
from projections.projection import Handler, Projection
from projections.sql import Sql

TABLES = (
    "batch_holds",
    "batch_hold_lifts",
    "physician_notifications",
    "physician_acknowledgements",
    "hold_batches",
    "hold_donations",
    "hold_steps",
    "hold_lot_uses",
    "hold_shipment_batches",
    "hold_causes",
    "hold_site_changes",
)

# The values of domain.holds.HoldKind, which this view writes as text.
LOT_REJECTED = "LOT_REJECTED"
CONSENT_WITHDRAWN = "CONSENT_WITHDRAWN"
ELIGIBILITY_REVOKED = "ELIGIBILITY_REVOKED"
QC_FAILED = "QC_FAILED"
TEMPERATURE_EXCURSION = "TEMPERATURE_EXCURSION"
EXPIRED = "EXPIRED"
SITE_SUSPENDED = "SITE_SUSPENDED"
RELEASE_VALUE_CORRECTED = "RELEASE_VALUE_CORRECTED"

# What a correction of these re-writes supported a release (the results and the steps).
RELEASE_EVENTS = frozenset({"Batch.QcResultRecorded", "Batch.StepRecorded"})


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


def expiry_key(batch_id: str) -> str:
    return f"{EXPIRED}:{Batch.ledger_id(batch_id)}"


def _key(a: Appended) -> str:
    return a.event.originator_id.split(":", 1)[1]


# ---------------------------------------------------------------------------- raising holds


def _raise(sql: Sql, batch_id: str, reason: Reason, position: int) -> None:
    """Record ``reason`` on the batch, once; when the batch was already administered, the
    administering institution owes the physician a notification of it."""
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
    batch = sql.one(
        "SELECT administered_site_id, patient_code FROM hold_batches"
        " WHERE batch_id = ? AND administered_position IS NOT NULL",
        (batch_id,),
    )
    if batch is not None:
        sql.execute(
            "INSERT INTO physician_notifications (batch_id, hold_key, position, raised_at,"
            " site_id, patient_code) VALUES (?,?,?,?,?,?)",
            (batch_id, reason.key, position, reason.raised_at, batch["administered_site_id"],
             batch["patient_code"]),
        )  # fmt: skip


def _cause(sql: Sql, subject_id: str, reason: Reason, position: int) -> None:
    """A reason standing against a lot or a donor: it reaches the batches that use the lot or
    come from the donor later, too."""
    sql.execute(
        "INSERT INTO hold_causes (subject_id, hold_key, position, kind, raised_at, description,"
        " source_id, source_version, standing) VALUES (?,?,?,?,?,?,?,?,?)",
        (subject_id, reason.key, position, reason.kind, reason.raised_at, reason.description,
         reason.source_id, reason.source_version, True),
    )  # fmt: skip


def _standing(sql: Sql, subject_id: str) -> list[Reason]:
    rows = sql.all(
        "SELECT kind, raised_at, description, source_id, source_version FROM hold_causes"
        " WHERE subject_id = ? AND standing = ? ORDER BY position",
        (subject_id, True),
    )
    return [Reason(**r) for r in rows]


def _set_down(sql: Sql, subject_id: str, kind: str) -> None:
    """A new consent or a new determination: the donor's later batches are not held for the
    earlier withdrawal or revocation (those already held stay held until lifted)."""
    sql.execute(
        "UPDATE hold_causes SET standing = ? WHERE subject_id = ? AND kind = ?",
        (False, subject_id, kind),
    )


# ------------------------------------------------------------------------------------ donors


def _consent_withdrawn(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Donor.ConsentWithdrawn)
    reason = Reason.of(
        CONSENT_WITHDRAWN, e, e.withdrawn_at, f"donor {_key(a)} withdrew consent: {e.reason}"
    )
    _donor_cause(sql, a, reason)


def _eligibility_revoked(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Donor.EligibilityRevoked)
    reason = Reason.of(
        ELIGIBILITY_REVOKED,
        e,
        e.occurred_at,
        f"donor {_key(a)}'s eligibility was revoked: {e.reason}",
    )
    _donor_cause(sql, a, reason)


def _donor_cause(sql: Sql, a: Appended, reason: Reason) -> None:
    _cause(sql, a.event.originator_id, reason, a.position)
    for row in sql.all(
        "SELECT batch_id FROM hold_batches WHERE donor_code = ? ORDER BY batch_id", (_key(a),)
    ):
        _raise(sql, row["batch_id"], reason, a.position)


def _consent_recorded(sql: Sql, a: Appended) -> None:
    _set_down(sql, a.event.originator_id, CONSENT_WITHDRAWN)


def _eligibility_determined(sql: Sql, a: Appended) -> None:
    _set_down(sql, a.event.originator_id, ELIGIBILITY_REVOKED)


# -------------------------------------------------------------------------------------- lots


def _lot_rejected(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, MaterialLot.Rejected)
    said = f": {e.reason}" if e.reason else ""
    reason = Reason.of(LOT_REJECTED, e, e.occurred_at, f"material lot {_key(a)} was rejected{said}")
    _cause(sql, e.originator_id, reason, a.position)
    for row in sql.all(
        "SELECT DISTINCT batch_id FROM hold_lot_uses WHERE lot_id = ? ORDER BY batch_id",
        (_key(a),),
    ):
        _raise(sql, row["batch_id"], reason, a.position)


# ----------------------------------------------------------------------------------- batches


def _donation_recorded(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Donation.Recorded)
    sql.execute(
        "INSERT INTO hold_donations (donation_id, donor_code) VALUES (?,?)", (_key(a), e.donor_code)
    )


def _batch_started(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Batch.Started)
    donor_code = sql.scalar(
        "SELECT donor_code FROM hold_donations WHERE donation_id = ?", (e.donation_id,)
    )
    assert donor_code is not None, f"batch {e.originator_id} names unknown donation"
    sql.execute(
        "INSERT INTO hold_batches (batch_id, product, donor_code, patient_code, started_at)"
        " VALUES (?,?,?,?,?)",
        (_key(a), e.product, donor_code, e.patient_code, e.started_at),
    )
    for reason in _standing(sql, Donor.ledger_id(donor_code)):
        _raise(sql, _key(a), reason, a.position)


def _step_recorded(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Batch.StepRecorded)
    sql.execute(
        "INSERT INTO hold_steps (batch_id, position, site_id, started_at, completed_at)"
        " VALUES (?,?,?,?,?)",
        (_key(a), a.position, e.site_id, e.started_at, e.completed_at),
    )
    for lot in dict.fromkeys(e.material_lots):
        sql.execute(
            "INSERT INTO hold_lot_uses (lot_id, batch_id, position) VALUES (?,?,?)",
            (lot, _key(a), a.position),
        )
        for reason in _standing(sql, MaterialLot.ledger_id(lot)):
            _raise(sql, _key(a), reason, a.position)
    for reason in _suspensions_covering(sql, e.site_id, e.started_at, e.completed_at):
        _raise(sql, _key(a), reason, a.position)


def _qc_result(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Batch.QcResultRecorded)
    if e.passed:
        return
    description = (
        f"{e.test} failed: {e.result} against {e.specification} (laboratory {e.laboratory_site_id})"
    )
    _raise(sql, _key(a), Reason.of(QC_FAILED, e, e.tested_at, description), a.position)


def _released(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Batch.Released)
    frozen = getattr(e, "expires_at", None) or derived_expiry(sql, _key(a), a.position)
    sql.execute(
        "UPDATE hold_batches SET released_position = ?, frozen_expires_at = ? WHERE batch_id = ?",
        (a.position, frozen, _key(a)),
    )


def _administered(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Batch.Administered)
    sql.execute(
        "UPDATE hold_batches SET administered_position = ?, administered_at = ?,"
        " administered_site_id = ?, ended_position = ? WHERE batch_id = ?",
        (a.position, e.administered_at, e.site_id, a.position, _key(a)),
    )


def _ended(sql: Sql, a: Appended) -> None:
    sql.execute(
        "UPDATE hold_batches SET ended_position = ? WHERE batch_id = ?", (a.position, _key(a))
    )


def _corrected(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Batch.Corrected)
    if e.corrected_event_type not in RELEASE_EVENTS:
        return
    released = sql.scalar(
        "SELECT released_position FROM hold_batches WHERE batch_id = ?", (_key(a),)
    )
    if released is None or e.corrected_position > released:
        return  # not released yet, or a result recorded after the release: it supported nothing
    description = (
        f"after release, {e.field} of the {e.corrected_event_type} at position "
        f"{e.corrected_position} was corrected from {e.old_value!r} to {e.new_value!r}: {e.reason}"
    )
    _raise(
        sql, _key(a), Reason.of(RELEASE_VALUE_CORRECTED, e, e.occurred_at, description), a.position
    )


def derived_expiry(sql: Sql, batch_id: str, position: int) -> datetime:
    """The end of manufacture (the last step's completion, the start while there is none) by
    ``position``, plus the product's shelf life: the batch's expiry until its release fixes it."""
    batch = sql.one("SELECT product, started_at FROM hold_batches WHERE batch_id = ?", (batch_id,))
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


# -------------------------------------------------------------------------- lifts and duties


def _hold_lifted(sql: Sql, a: Appended) -> None:
    e: Any = a.event
    for key in e.keys:
        sql.execute(
            "INSERT INTO batch_hold_lifts (batch_id, hold_key, position, lifted_at, reason,"
            " signature_meaning, signed_by, role, deviation_id) VALUES (?,?,?,?,?,?,?,?,?)",
            (_key(a), key, a.position, e.lifted_at, e.reason, e.signature_meaning, e.actor,
             e.actor_role, e.deviation_id),
        )  # fmt: skip


def _notification_acknowledged(sql: Sql, a: Appended) -> None:
    e: Any = a.event
    for key in e.keys:
        sql.execute(
            "INSERT INTO physician_acknowledgements (batch_id, hold_key, position, site_id,"
            " acknowledged_at, acknowledged_by, note) VALUES (?,?,?,?,?,?,?)",
            (_key(a), key, a.position, e.site_id, e.acknowledged_at, e.actor, e.note),
        )


# -------------------------------------------------------------------------------- shipments


def _dispatched(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Shipment.Dispatched)
    for batch_id in dict.fromkeys(e.batch_ids):
        sql.execute(
            "INSERT INTO hold_shipment_batches (shipment_id, batch_id) VALUES (?,?)",
            (_key(a), batch_id),
        )


def _excursion(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Shipment.TemperatureExcursionRecorded)
    for row in sql.all(
        "SELECT s.batch_id, b.product FROM hold_shipment_batches s"
        " JOIN hold_batches b ON b.batch_id = s.batch_id"
        " WHERE s.shipment_id = ? ORDER BY s.batch_id",
        (_key(a),),
    ):
        storage = reference.product(row["product"]).storage
        if storage.allows(e.temperature_celsius):
            continue
        description = (
            f"shipment {_key(a)}: {e.temperature_celsius:g} °C for {e.duration_minutes} min, "
            f"outside the product's storage range ({storage.describe()})"
        )
        reason = Reason.of(TEMPERATURE_EXCURSION, e, e.observed_at, description)
        _raise(sql, row["batch_id"], reason, a.position)


# ------------------------------------------------------------------------------------ sites


def _site_status(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Site.StatusChanged)
    sql.execute(
        "INSERT INTO hold_site_changes (site_id, position, status, effective_at, reason,"
        " source_id, source_version) VALUES (?,?,?,?,?,?,?)",
        (_key(a), a.position, e.STATUS.value, e.occurred_at, e.reason, e.originator_id,
         e.originator_version),
    )  # fmt: skip
    if not isinstance(e, Site.Suspended):
        return
    reason = _suspension(
        _key(a),
        {
            **vars(e),
            "effective_at": e.occurred_at,
            "source_id": e.originator_id,
            "source_version": e.originator_version,
        },
    )
    # A suspension takes effect no earlier than the site's last change: every step done there
    # from its effective time on, recorded before it, fell in the suspended window.
    for row in sql.all(
        "SELECT DISTINCT batch_id FROM hold_steps WHERE site_id = ? AND completed_at >= ?"
        " ORDER BY batch_id",
        (_key(a), e.occurred_at),
    ):
        _raise(sql, row["batch_id"], reason, a.position)


def _suspension(site_id: str, change: dict[str, Any]) -> Reason:
    at: datetime = change["effective_at"]
    description = (
        f"site {site_id} is suspended from {at.isoformat()} ({change['reason']}), "
        "a window covering a step of the batch"
    )
    return Reason(
        SITE_SUSPENDED, at, description, change["source_id"], int(change["source_version"])
    )


def _suspensions_covering(
    sql: Sql, site_id: str, started_at: datetime, completed_at: datetime
) -> list[Reason]:
    """The suspensions of ``site_id`` in force at some moment of a step done from
    ``started_at`` to ``completed_at``."""
    changes = sql.all(
        "SELECT status, effective_at, reason, source_id, source_version FROM hold_site_changes"
        " WHERE site_id = ? ORDER BY effective_at, position",
        (site_id,),
    )
    found = []
    for change, following in zip(changes, [*changes[1:], None], strict=True):
        if change["status"] != SiteStatus.SUSPENDED.value or change["effective_at"] > completed_at:
            continue
        if following is None or following["effective_at"] > started_at:
            found.append(_suspension(site_id, change))
    return found


def _handlers() -> dict[type, Handler]:
    handles: dict[type, Handler] = {
        Donor.ConsentRecorded: _consent_recorded,
        Donor.ConsentWithdrawn: _consent_withdrawn,
        Donor.EligibilityDetermined: _eligibility_determined,
        Donor.EligibilityRevoked: _eligibility_revoked,
        Donation.Recorded: _donation_recorded,
        MaterialLot.Rejected: _lot_rejected,
        Batch.Started: _batch_started,
        Batch.StepRecorded: _step_recorded,
        Batch.QcResultRecorded: _qc_result,
        Batch.Released: _released,
        Batch.Administered: _administered,
        Batch.Rejected: _ended,
        Batch.Destroyed: _ended,
        Batch.Corrected: _corrected,
        Shipment.Dispatched: _dispatched,
        Shipment.TemperatureExcursionRecorded: _excursion,
        Site.StatusChanged: _site_status,
    }
    # The lift and the acknowledgement are the write side's events (domain/batch.py).
    for name, handler in (
        ("HoldLifted", _hold_lifted),
        ("PhysicianNotificationAcknowledged", _notification_acknowledged),
    ):
        event_type = getattr(Batch, name, None)
        if event_type is not None:
            handles[event_type] = handler
    return handles


PROJECTION = Projection(name="holds", tables=TABLES, handles=_handlers())
