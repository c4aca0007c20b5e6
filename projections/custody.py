"""Custody from vein to vein (issue 18, item 2): each leg, hand-over, receipt and storage period
of a batch, its containers, its starting material and material lots, one row each, in the order
the ledger recorded them.

A batch's timeline is its own rows (dispatches, hand-overs, receipts, storage; a container's rows
are those naming it and those of its whole batch) and those of every donation it was made from
(each one's shipment from the collection site: the first donation, and for a pooled batch every
donation pooled with it, as the lineage's DONATION -> BATCH edges name them). Rows are append-only
and carry their position, so the timeline answers as of any moment; reach is the batch's (or the
donation's, the lot's).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from domain.donation import Donation
from domain.material_lot import MaterialLot
from domain.shipment import Shipment
from domain.storage import Storage
from projections.ledger import Appended
from projections.projection import Projection
from projections.scopes import Reach, visible_among
from projections.sql import Sql

TABLES = ("custody_timeline",)

COLUMNS = (
    "position",
    "seq",
    "subject_kind",
    "subject_id",
    "container_id",
    "kind",
    "occurred_at",
    "site_id",
    "to_site_id",
    "custodian",
    "location",
    "leg_id",
    "detail",
)


@dataclass(frozen=True)
class CustodyEntry:
    subject_kind: str  # BATCH, DONATION or MATERIAL_LOT
    subject_id: str
    container_id: str | None
    kind: str  # DISPATCHED, HANDED_OVER, TEMPERATURE, RECEIVED, STORED, STORAGE_ENDED
    occurred_at: datetime
    site_id: str | None
    to_site_id: str | None
    custodian: str | None
    location: str | None
    leg_id: str | None
    detail: str | None
    position: int


def _key(a: Appended) -> str:
    return a.event.originator_id.split(":", 1)[1]


def _row(sql: Sql, a: Appended, seq: int, **values: Any) -> None:
    row = dict.fromkeys(COLUMNS) | {"position": a.position, "seq": seq} | values
    marks = ", ".join("?" * len(COLUMNS))
    sql.execute(
        f"INSERT INTO custody_timeline ({', '.join(COLUMNS)}) VALUES ({marks})",
        [row[c] for c in COLUMNS],
    )


def _legs(sql: Sql, leg_id: str, kind: str) -> list[dict[str, Any]]:
    """The subjects a leg (or a storage period) carried, as its first rows named them."""
    return sql.all(
        "SELECT subject_kind, subject_id, container_id, site_id, to_site_id, location"
        " FROM custody_timeline WHERE leg_id = ? AND kind = ? ORDER BY position, seq",
        (leg_id, kind),
    )


# ---------------------------------------------------------------------------- finished product


def _dispatched(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Shipment.Dispatched)
    seq = 0
    for batch_id in dict.fromkeys(e.batch_ids):
        named: list[str | None] = [
            c.rsplit("/", 1)[1] for c in e.containers if c.rsplit("/", 1)[0] == batch_id
        ]
        for container_id in named or [None]:
            _row(
                sql,
                a,
                seq,
                subject_kind="BATCH",
                subject_id=batch_id,
                container_id=container_id,
                kind="DISPATCHED",
                occurred_at=e.dispatched_at,
                site_id=e.from_site_id,
                to_site_id=e.to_site_id,
                custodian=e.courier,
                leg_id=_key(a),
            )
            seq += 1


def _shipment_follow_up(sql: Sql, a: Appended) -> None:
    e = a.event
    if isinstance(e, Shipment.HandedOver):
        values: dict[str, str | None] = {"custodian": e.custodian}
        kind, at = "HANDED_OVER", e.handed_over_at
        values["site_id"] = e.custodian_site_id
        values["detail"] = e.custodian_kind
    elif isinstance(e, Shipment.Received):
        kind, at, values = "RECEIVED", e.received_at, {}
        values["detail"] = "acceptable" if e.condition_acceptable else "not acceptable"
    else:
        return
    for seq, leg in enumerate(_legs(sql, _key(a), "DISPATCHED")):
        where = {"site_id": leg["to_site_id"]} if kind == "RECEIVED" else {}
        _row(
            sql,
            a,
            seq,
            subject_kind="BATCH",
            subject_id=leg["subject_id"],
            container_id=leg["container_id"],
            kind=kind,
            occurred_at=at,
            leg_id=_key(a),
            **(values | where),
        )


def _stored(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Storage.Started)
    _row(
        sql,
        a,
        0,
        subject_kind="BATCH",
        subject_id=e.batch_id,
        container_id=e.container_id,
        kind="STORED",
        occurred_at=e.stored_from,
        site_id=e.site_id,
        location=e.location,
        leg_id=_key(a),
    )


def _storage_ended(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Storage.Ended)
    for seq, period in enumerate(_legs(sql, _key(a), "STORED")):
        _row(
            sql,
            a,
            seq,
            subject_kind="BATCH",
            subject_id=period["subject_id"],
            container_id=period["container_id"],
            kind="STORAGE_ENDED",
            occurred_at=e.stored_until,
            site_id=period["site_id"],
            location=period["location"],
            leg_id=_key(a),
        )


# ---------------------------------------------------------- starting material and material lots


def _moved(sql: Sql, a: Appended) -> None:
    e = a.event
    if isinstance(e, Donation.Shipped):
        subject, leg = "DONATION", e.shipment_id
        detail = f"kept between {e.min_celsius:g} and {e.max_celsius:g} °C"
    elif isinstance(e, MaterialLot.Transferred):
        subject, leg, detail = "MATERIAL_LOT", e.transfer_id, None
    else:
        return
    _row(
        sql,
        a,
        0,
        subject_kind=subject,
        subject_id=_key(a),
        kind="DISPATCHED",
        occurred_at=e.dispatched_at,
        site_id=e.from_site_id,
        to_site_id=e.to_site_id,
        custodian=e.courier,
        leg_id=leg,
        detail=detail,
    )


def _arrived(sql: Sql, a: Appended) -> None:
    e = a.event
    if isinstance(e, Donation.ShipmentReceived):
        subject, leg = "DONATION", e.shipment_id
    elif isinstance(e, MaterialLot.TransferReceived):
        subject, leg = "MATERIAL_LOT", e.transfer_id
    else:
        return
    to_site = sql.scalar(
        "SELECT to_site_id FROM custody_timeline WHERE subject_kind = ? AND subject_id = ?"
        " AND leg_id = ? AND kind = 'DISPATCHED'",
        (subject, _key(a), leg),
    )
    _row(
        sql,
        a,
        0,
        subject_kind=subject,
        subject_id=_key(a),
        kind="RECEIVED",
        occurred_at=e.received_at,
        site_id=to_site,
        leg_id=leg,
        detail="acceptable" if e.condition_acceptable else "not acceptable",
    )


def _temperature(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Donation.TemperatureRecorded)
    verdict = "outside the range" if e.outside_range else "within the range"
    _row(
        sql,
        a,
        0,
        subject_kind="DONATION",
        subject_id=_key(a),
        kind="TEMPERATURE",
        occurred_at=e.observed_at,
        leg_id=e.shipment_id,
        detail=f"{e.temperature_celsius:g} °C for {e.duration_minutes} min, {verdict}",
    )


PROJECTION = Projection(
    name="custody",
    tables=TABLES,
    handles={
        Shipment.Dispatched: _dispatched,
        Shipment.HandedOver: _shipment_follow_up,
        Shipment.Received: _shipment_follow_up,
        Storage.Started: _stored,
        Storage.Ended: _storage_ended,
        Donation.Shipped: _moved,
        MaterialLot.Transferred: _moved,
        Donation.ShipmentReceived: _arrived,
        MaterialLot.TransferReceived: _arrived,
        Donation.TemperatureRecorded: _temperature,
    },
)


# --------------------------------------------------------------------------------------- reads

AGGREGATE_TYPES = {"BATCH": "Batch", "DONATION": "Donation", "MATERIAL_LOT": "MaterialLot"}


def custody_timeline(
    sql: Sql,
    position: int,
    subject_kind: str,
    subject_id: str,
    container_id: str | None = None,
    reach: Reach | None = None,
) -> list[CustodyEntry] | None:
    """The custody timeline of a batch (with its donations' legs; cut to one container when
    ``container_id`` is given), a donation or a material lot, as of ``position``; None when the
    subject is beyond ``reach`` or has no timeline."""
    aggregate = f"{AGGREGATE_TYPES[subject_kind]}:{subject_id}"
    if reach is not None and not visible_among(sql, [aggregate], reach):
        return None
    subjects = [(subject_kind, subject_id)]
    if subject_kind == "BATCH":
        subjects += [("DONATION", d) for d in _donations_of(sql, subject_id, position)]
    rows: list[dict[str, Any]] = []
    for kind, key in subjects:
        rows += sql.all(
            f"SELECT {', '.join(COLUMNS)} FROM custody_timeline"
            " WHERE subject_kind = ? AND subject_id = ? AND position <= ?",
            (kind, key, position),
        )
    if container_id is not None:
        rows = [r for r in rows if r["container_id"] in (None, container_id)]
    entries = [
        CustodyEntry(
            **{c: r[c] for c in COLUMNS if c != "seq"},
        )
        for r in rows
    ]
    return sorted(entries, key=lambda x: (x.occurred_at, x.position))


def _donations_of(sql: Sql, batch_id: str, position: int) -> list[str]:
    """The donations a batch was made from by ``position``: its first and those pooled with it,
    as the lineage's DONATION -> BATCH edges name them (written inline at the same positions, so
    live, rebuilt and as of any moment alike)."""
    rows = sql.all(
        "SELECT from_id FROM lineage_edges WHERE to_kind = 'BATCH' AND to_id = ?"
        " AND from_kind = 'DONATION' AND position <= ?",
        (batch_id, position),
    )
    return sorted({str(r["from_id"]) for r in rows})


def container_site(sql: Sql, batch_id: str, container_id: str) -> str | None:
    """Where a container of a batch is, at the head: the institution that gave it, once given;
    else the site that last received it, or the one it left while it travels (its sender still
    answers for it); else where it was filled. A container is given and destroyed where it is,
    so this is also where it was given or destroyed. None when the batch has no such container.
    """
    given = sql.scalar(
        "SELECT site_id FROM container_uses WHERE batch_id = ? AND container_id = ?",
        (batch_id, container_id),
    )
    if given is not None:
        return str(given)
    # A dispatch's row names the site it left (site_id), a receipt's the site it reached.
    moved = sql.one(
        "SELECT site_id FROM custody_timeline WHERE subject_kind = 'BATCH' AND subject_id = ?"
        " AND container_id = ? AND kind IN ('DISPATCHED', 'RECEIVED')"
        " ORDER BY position DESC, seq DESC LIMIT 1",
        (batch_id, container_id),
    )
    if moved is not None:
        return str(moved["site_id"])
    # Never moved: where the fill that made it was, as that fill's event (the one at the
    # position its batch_containers row carries) names it.
    filled = sql.one(
        "SELECT e.state FROM batch_containers c"
        " JOIN stored_events e ON e.notification_id = c.position"
        " WHERE c.batch_id = ? AND c.container_id = ?",
        (batch_id, container_id),
    )
    if filled is None:
        return None
    return str(orjson.loads(bytes(filled["state"]))["site_id"])
