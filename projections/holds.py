"""Holds on batches, kept inline: every reason that stops a batch, the position that raised it
for that batch, its signed lift, and the treating institution's duty to tell the physician when
a reason arises after the batch was administered.

A hold is derived from facts already in the ledger; domain/holds.py decides the same from the
aggregates, and this view records each reason the moment a fact makes it apply to a batch: a lot
rejected before or after a step used it; the donor's consent withdrawn or eligibility revoked
once the batch is under way; a failed QC result; an excursion outside the product's storage
range on a shipment carrying it; a suspension or termination of a site whose effective time
covers a step done there (recorded before or after the step); a correction, after release, of a
QC result or step recorded before it. Expiry has no event: it is computed when read
(projections/hold_views.py). Keys and texts: projections/hold_reasons.py.

The rows are append-only and carry their position (ADR 3). The ``hold_*`` tables keep what the
handlers need to know at the head, so this view reads no other view's rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain import reference
from domain.batch import Batch
from domain.donation import Donation
from domain.donor import Donor
from domain.holds import starting_material_excursion
from domain.material_lot import MaterialLot
from domain.shipment import Shipment
from domain.site import Site
from projections.hold_reasons import (
    BATCHES,
    CONSENT_WITHDRAWN,
    ELIGIBILITY_REVOKED,
    LOT_REJECTED,
    QC_FAILED,
    RELEASE_VALUE_CORRECTED,
    SITE_SUSPENDED,
    TEMPERATURE_EXCURSION,
    Reason,
    add_cause,
    causes,
    derived_expiry,
    raise_hold,
)
from projections.ledger import Appended
from projections.projection import Projection
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
    "hold_pool_donors",
    "hold_container_uses",
)

# What a correction of these re-writes supported a release (the results and the steps).
RELEASE_EVENTS = frozenset({"Batch.QcResultRecorded", "Batch.StepRecorded"})
# Site changes that stop a site from making anything from their effective time on.
STOPS = frozenset({"SUSPENDED", "TERMINATED"})


def _key(a: Appended) -> str:
    return a.event.originator_id.split(":", 1)[1]


# ------------------------------------------------------------------------- donors and lots


def _consent_withdrawn(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Donor.ConsentWithdrawn)
    text = f"donor {_key(a)} withdrew consent {e.consent_reference}: {e.reason}"
    _donor_cause(sql, a, Reason.of(CONSENT_WITHDRAWN, e, e.withdrawn_at, text))


def _eligibility_revoked(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Donor.EligibilityRevoked)
    text = f"eligibility of donor {_key(a)} revoked: {e.reason}"
    _donor_cause(sql, a, Reason.of(ELIGIBILITY_REVOKED, e, e.occurred_at, text))


def _donor_cause(sql: Sql, a: Appended, reason: Reason) -> None:
    add_cause(sql, a.event.originator_id, reason, a.position)
    for row in sql.all(
        "SELECT batch_id FROM hold_batches WHERE donor_code = ? AND valid_to IS NULL"
        " UNION SELECT batch_id FROM hold_pool_donors WHERE donor_code = ?"
        " ORDER BY batch_id",
        (_key(a), _key(a)),
    ):
        raise_hold(sql, row["batch_id"], reason, a.position)


def _lot_rejected(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, MaterialLot.Rejected)
    said = f": {e.reason}" if e.reason else ""
    reason = Reason.of(LOT_REJECTED, e, e.occurred_at, f"material lot {_key(a)} rejected{said}")
    add_cause(sql, e.originator_id, reason, a.position)
    for row in sql.all(
        "SELECT DISTINCT batch_id FROM hold_lot_uses WHERE lot_id = ? ORDER BY batch_id",
        (_key(a),),
    ):
        raise_hold(sql, row["batch_id"], reason, a.position)


# ----------------------------------------------------------------------------------- batches


def _donation_recorded(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Donation.Recorded)
    sql.execute(
        "INSERT INTO hold_donations (donation_id, donor_code, position) VALUES (?,?,?)",
        (_key(a), e.donor_code, a.position),
    )


def _batch_started(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Batch.Started)
    donor_code = sql.scalar(
        "SELECT donor_code FROM hold_donations WHERE donation_id = ?", (e.donation_id,)
    )
    assert donor_code is not None, f"batch {e.originator_id} names unknown donation"
    row = dict.fromkeys(BATCHES.columns) | {
        "batch_id": _key(a),
        "product": e.product,
        "donor_code": donor_code,
        "patient_code": e.patient_code,
        "started_at": e.started_at,
    }
    BATCHES.insert(sql, row, a.position)
    # A withdrawal or revocation recorded earlier reaches the batch only if it states a time
    # at or after the batch's start (one before it refused the start).
    for reason in causes(sql, Donor.ledger_id(donor_code)):
        if reason.raised_at >= e.started_at:
            raise_hold(sql, _key(a), reason, a.position)
    # Excursions on legs of its starting material, all read before its start.
    for reason in causes(sql, Donation.ledger_id(e.donation_id)):
        if reason.raised_at <= e.started_at:
            raise_hold(sql, _key(a), reason, a.position)


def _pooled(sql: Sql, a: Appended) -> None:
    """Donations pooled into the batch after its first: each donor's withdrawals and
    revocations reach the batch as its first donor's do."""
    e = a.event
    assert isinstance(e, Batch.Pooled)
    for donation_id in e.donation_ids:
        donor_code = sql.scalar(
            "SELECT donor_code FROM hold_donations WHERE donation_id = ?", (donation_id,)
        )
        assert donor_code is not None, f"batch {e.originator_id} pools unknown donation"
        sql.execute(
            "INSERT INTO hold_pool_donors (batch_id, donation_id, donor_code, position)"
            " VALUES (?,?,?,?)",
            (_key(a), donation_id, donor_code, a.position),
        )
        for reason in causes(sql, Donor.ledger_id(donor_code)):
            if reason.raised_at >= e.pooled_at:
                raise_hold(sql, _key(a), reason, a.position)
        # Excursions on legs of the pooled donation, all read before the start.
        for reason in causes(sql, Donation.ledger_id(donation_id)):
            if reason.raised_at <= e.pooled_at:
                raise_hold(sql, _key(a), reason, a.position)


def _step_recorded(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Batch.StepRecorded)
    sql.execute(
        "INSERT INTO hold_steps (batch_id, position, step, site_id, started_at, completed_at)"
        " VALUES (?,?,?,?,?,?)",
        (_key(a), a.position, e.step, e.site_id, e.started_at, e.completed_at),
    )
    for lot in dict.fromkeys(e.material_lots):
        sql.execute(
            "INSERT INTO hold_lot_uses (lot_id, batch_id, position) VALUES (?,?,?)",
            (lot, _key(a), a.position),
        )
    for lot in sorted(set(e.material_lots)):
        for reason in causes(sql, MaterialLot.ledger_id(lot)):
            raise_hold(sql, _key(a), reason, a.position)
    step = {"step": e.step, "started_at": e.started_at, "completed_at": e.completed_at}
    for change in _stops_covering(sql, e.site_id, e.started_at, e.completed_at):
        raise_hold(sql, _key(a), _stop(e.site_id, change, step), a.position)


def _qc_result(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Batch.QcResultRecorded)
    if e.passed:
        return
    text = f"{e.test} failed at {e.laboratory_site_id}: {e.result!r} against {e.specification!r}"
    raise_hold(sql, _key(a), Reason.of(QC_FAILED, e, e.tested_at, text), a.position)


def _released(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Batch.Released)
    # Releases recorded before the expiry was frozen into them: the product data tells.
    frozen = e.expires_at or derived_expiry(sql, _key(a), a.position)
    BATCHES.change(sql, _key(a), a.position, released_position=a.position, frozen_expires_at=frozen)


def _container_given(sql: Sql, a: Appended) -> None:
    """A container of a split batch given: its patient's physician is owed every later hold."""
    e = a.event
    assert isinstance(e, Batch.Administered | Batch.ContainerAdministered)
    assert e.container_id is not None
    sql.execute(
        "INSERT INTO hold_container_uses (batch_id, container_id, position, patient_code,"
        " site_id) VALUES (?,?,?,?,?)",
        (_key(a), e.container_id, a.position, e.patient_code, e.site_id),
    )


def _administered(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Batch.Administered)
    if e.container_id is not None:
        _container_given(sql, a)
    BATCHES.change(
        sql,
        _key(a),
        a.position,
        administered_position=a.position,
        administered_at=e.administered_at,
        administered_site_id=e.site_id,
        ended_position=a.position,
    )


def _ended(sql: Sql, a: Appended) -> None:
    BATCHES.change(sql, _key(a), a.position, ended_position=a.position)


def _corrected(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Batch.Corrected)
    if e.corrected_event_type not in RELEASE_EVENTS:
        return
    batch = BATCHES.current(sql, _key(a))
    released = batch["released_position"] if batch else None
    if released is None or e.corrected_position > released:
        return  # not released yet, or a result recorded after the release: it supported nothing
    text = (
        f"after release, {e.field} of the {e.corrected_event_type} at ledger position "
        f"{e.corrected_position} was corrected from {e.old_value!r} to {e.new_value!r}: "
        f"{e.reason}"
    )
    reason = Reason.of(RELEASE_VALUE_CORRECTED, e, e.occurred_at, text)
    raise_hold(sql, _key(a), reason, a.position)


# -------------------------------------------------------------------------- lifts and duties


def _hold_lifted(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Batch.HoldLifted)
    for key in e.keys:
        sql.execute(
            "INSERT INTO batch_hold_lifts (batch_id, hold_key, position, lifted_at, reason,"
            " signature_meaning, signed_by, role, deviation_id) VALUES (?,?,?,?,?,?,?,?,?)",
            (_key(a), key, a.position, e.lifted_at, e.reason, e.signature_meaning, e.actor,
             e.actor_role, e.deviation_id),
        )  # fmt: skip


def _notification_acknowledged(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Batch.PhysicianNotificationAcknowledged)
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
            "INSERT INTO hold_shipment_batches (shipment_id, batch_id, position) VALUES (?,?,?)",
            (_key(a), batch_id, a.position),
        )


def _excursion(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Shipment.TemperatureExcursionRecorded)
    for row in sql.all(
        "SELECT s.batch_id, b.product FROM hold_shipment_batches s"
        " JOIN hold_batches b ON b.batch_id = s.batch_id AND b.valid_to IS NULL"
        " WHERE s.shipment_id = ? ORDER BY s.batch_id",
        (_key(a),),
    ):
        storage = reference.product(row["product"]).storage
        if storage.allows(e.temperature_celsius):
            continue
        text = (
            f"shipment {_key(a)}: {e.temperature_celsius:g} °C for {e.duration_minutes} min, "
            f"outside {storage.describe()}"
        )
        reason = Reason.of(TEMPERATURE_EXCURSION, e, e.observed_at, text)
        raise_hold(sql, row["batch_id"], reason, a.position)


def _starting_material_temperature(sql: Sql, a: Appended) -> None:
    """A temperature outside a starting-material leg's range: a cause the batches started from
    the donation later take (its legs are received before any is)."""
    e = a.event
    assert isinstance(e, Donation.TemperatureRecorded)
    if e.outside_range:
        text = starting_material_excursion(e)
        reason = Reason.of(TEMPERATURE_EXCURSION, e, e.observed_at, text)
        add_cause(sql, e.originator_id, reason, a.position)


# ------------------------------------------------------------------------------------ sites


def _site_status(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Site.StatusChanged)
    change = {
        "status": e.STATUS.value,
        "effective_at": e.occurred_at,
        "reason": e.reason,
        "source_id": e.originator_id,
        "source_version": e.originator_version,
    }
    sql.execute(
        "INSERT INTO hold_site_changes (site_id, position, status, effective_at, reason,"
        " source_id, source_version) VALUES (?,?,?,?,?,?,?)",
        (_key(a), a.position, *change.values()),
    )
    if change["status"] not in STOPS:
        return
    # A change takes effect no earlier than the site's last one: every step done there that was
    # still under way at its effective time, recorded before it, fell in the stopped window.
    for step in sql.all(
        "SELECT batch_id, step, started_at, completed_at FROM hold_steps"
        " WHERE site_id = ? AND completed_at >= ? ORDER BY position",
        (_key(a), e.occurred_at),
    ):
        raise_hold(sql, step["batch_id"], _stop(_key(a), change, step), a.position)


def _stop(site_id: str, change: dict[str, Any], step: dict[str, Any]) -> Reason:
    at: datetime = change["effective_at"]
    text = (
        f"site {site_id} {change['status'].lower()} from {at.isoformat()} ({change['reason']}), "
        f"covering step {step['step']!r} of {step['started_at'].isoformat()}"
    )
    return Reason(SITE_SUSPENDED, at, text, change["source_id"], int(change["source_version"]))


def _stops_covering(
    sql: Sql, site_id: str, started_at: datetime, completed_at: datetime
) -> list[dict[str, Any]]:
    """The suspensions and terminations of ``site_id`` in force at some moment of a step done
    from ``started_at`` to ``completed_at``: the change in force at its start, and those that
    took effect while it was under way."""
    changes = sql.all(
        "SELECT status, effective_at, reason, source_id, source_version FROM hold_site_changes"
        " WHERE site_id = ? ORDER BY position",
        (site_id,),
    )
    in_force = [c for c in changes if c["effective_at"] <= started_at][-1:]
    during = [c for c in changes if started_at < c["effective_at"] <= completed_at]
    return [c for c in in_force + during if c["status"] in STOPS]


PROJECTION = Projection(
    name="holds",
    tables=TABLES,
    handles={
        Donor.ConsentWithdrawn: _consent_withdrawn,
        Donor.EligibilityRevoked: _eligibility_revoked,
        Donation.Recorded: _donation_recorded,
        MaterialLot.Rejected: _lot_rejected,
        Batch.Started: _batch_started,
        Batch.StepRecorded: _step_recorded,
        Batch.QcResultRecorded: _qc_result,
        Batch.Released: _released,
        Batch.Administered: _administered,
        Batch.ContainerAdministered: _container_given,
        Batch.Pooled: _pooled,
        Batch.Rejected: _ended,
        Batch.Destroyed: _ended,
        Batch.Corrected: _corrected,
        Shipment.Dispatched: _dispatched,
        Shipment.TemperatureExcursionRecorded: _excursion,
        Donation.TemperatureRecorded: _starting_material_temperature,
        Site.StatusChanged: _site_status,
        Batch.HoldLifted: _hold_lifted,
        Batch.PhysicianNotificationAcknowledged: _notification_acknowledged,
    },
)
