"""Taiwan source-and-flow records (來源及流向資料): per batch, where it came from and where it went.

Source (donor code, donation, consent, eligibility, acquisition site and time), manufacture (site,
step, times, material lots), the QP's decision, every movement, and the final disposition. The
rows behind it are written inline; a record is assembled for any position from rows valid then.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from domain import records as record_rules
from domain import reference
from domain.batch import Batch
from domain.donation import Donation
from domain.shipment import Shipment
from projections.chain import DONATIONS, DONORS, BatchView, find_batches
from projections.institution_records import ImportView, imports_of
from projections.ledger import Appended
from projections.projection import Projection
from projections.scopes import Reach
from projections.sites import SiteView, find_sites
from projections.sql import Sql
from projections.versioned import VersionedTable

TABLES = (
    "batch_steps",
    "batch_decisions",
    "batch_sites",
    "shipment_batches",
    "shipment_versions",
    "batch_containers",
    "shipment_containers",
    "container_uses",
)

SHIPMENTS = VersionedTable(
    "shipment_versions",
    "shipment_id",
    (
        "shipment_id",
        "from_site_id",
        "to_site_id",
        "courier",
        "dispatched_at",
        "received_at",
        "condition_acceptable",
        "excursions",
    ),
)


STEPS = VersionedTable(
    "batch_steps",
    "position",
    (
        "position",
        "batch_id",
        "step",
        "site_id",
        "started_at",
        "completed_at",
        "operator",
        "equipment",
        "material_lots",
    ),
)


def _key(a: Appended) -> str:
    return a.event.originator_id.split(":", 1)[1]


def _involve(sql: Sql, batch_id: str, site_id: str, position: int, role: str) -> None:
    sql.execute(
        "INSERT INTO batch_sites (batch_id, site_id, position, role) VALUES (?,?,?,?)",
        (batch_id, site_id, position, role),
    )


def _started(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Batch.Started)
    donation = DONATIONS.current(sql, e.donation_id)
    if donation is not None:
        _involve(sql, _key(a), donation["site_id"], a.position, "COLLECTION")
    _involve(sql, _key(a), e.control_site_id, a.position, "CONTROL")
    _involve(sql, _key(a), e.site_id, a.position, "MANUFACTURE")


def _pooled(sql: Sql, a: Appended) -> None:
    """Each donation pooled into the batch: its collection site is a source too."""
    e = a.event
    assert isinstance(e, Batch.Pooled)
    for donation_id in e.donation_ids:
        donation = DONATIONS.current(sql, donation_id)
        if donation is not None:
            _involve(sql, _key(a), donation["site_id"], a.position, "COLLECTION")


def _step(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Batch.StepRecorded)
    STEPS.insert(
        sql,
        {
            "position": a.position,
            "batch_id": _key(a),
            "step": e.step,
            "site_id": e.site_id,
            "started_at": e.started_at,
            "completed_at": e.completed_at,
            "operator": e.operator,
            "equipment": e.equipment,
            "material_lots": json.dumps(list(e.material_lots)),
        },
        a.position,
    )
    _involve(sql, _key(a), e.site_id, a.position, "MANUFACTURE")


def _filled(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Batch.ContainersFilled)
    for c in e.containers:
        sql.execute(
            "INSERT INTO batch_containers (batch_id, container_id, position, kind, volume_ml,"
            " dose, dose_unit, filled_at) VALUES (?,?,?,?,?,?,?,?)",
            (
                _key(a),
                c["container_id"],
                a.position,
                c["kind"],
                c["volume_ml"],
                c["dose"],
                c["dose_unit"],
                e.filled_at,
            ),
        )


def _tested(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Batch.QcResultRecorded)
    _involve(sql, _key(a), e.laboratory_site_id, a.position, "TESTING")


def _decision(sql: Sql, a: Appended) -> None:
    e = a.event
    row: tuple[str, str, datetime, str | None, str | None]
    if isinstance(e, Batch.Released):
        row = ("RELEASED", e.qualified_person, e.released_at, e.signature_meaning, None)
    else:
        assert isinstance(e, Batch.Rejected)
        row = ("REJECTED", e.actor, e.occurred_at, None, e.reason)
    sql.execute(
        "INSERT INTO batch_decisions (batch_id, position, decision, decided_by, decided_at,"
        " meaning, reason) VALUES (?,?,?,?,?,?,?)",
        (_key(a), a.position, *row),
    )


def _administered(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Batch.Administered | Batch.ContainerAdministered)
    _involve(sql, _key(a), e.site_id, a.position, "ADMINISTRATION")
    if e.container_id is not None:
        sql.execute(
            "INSERT INTO container_uses (batch_id, container_id, position, patient_code,"
            " site_id, administered_at) VALUES (?,?,?,?,?,?)",
            (_key(a), e.container_id, a.position, e.patient_code, e.site_id, e.administered_at),
        )


def _dispatched(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Shipment.Dispatched)
    SHIPMENTS.insert(
        sql,
        {
            "shipment_id": _key(a),
            "from_site_id": e.from_site_id,
            "to_site_id": e.to_site_id,
            "courier": e.courier,
            "dispatched_at": e.dispatched_at,
            "received_at": None,
            "condition_acceptable": None,
            "excursions": 0,
        },
        a.position,
    )
    for batch_id in e.batch_ids:
        sql.execute(
            "INSERT INTO shipment_batches (shipment_id, batch_id, position) VALUES (?,?,?)",
            (_key(a), batch_id, a.position),
        )
        _involve(sql, batch_id, e.from_site_id, a.position, "DISPATCH")
        _involve(sql, batch_id, e.to_site_id, a.position, "DESTINATION")
    for node in e.containers:
        batch_id, container_id = node.rsplit("/", 1)
        sql.execute(
            "INSERT INTO shipment_containers (shipment_id, batch_id, container_id, position)"
            " VALUES (?,?,?,?)",
            (_key(a), batch_id, container_id, a.position),
        )


def _excursion(sql: Sql, a: Appended) -> None:
    current = SHIPMENTS.current(sql, _key(a))
    assert current is not None
    SHIPMENTS.change(sql, _key(a), a.position, excursions=current["excursions"] + 1)


def _received(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Shipment.Received)
    SHIPMENTS.change(
        sql,
        _key(a),
        a.position,
        received_at=e.received_at,
        condition_acceptable=e.condition_acceptable,
    )


PROJECTION = Projection(
    name="source_and_flow",
    tables=TABLES,
    handles={
        Batch.Started: _started,
        Batch.StepRecorded: _step,
        Batch.QcResultRecorded: _tested,
        Batch.ContainersFilled: _filled,
        Batch.Released: _decision,
        Batch.Rejected: _decision,
        Batch.Administered: _administered,
        Batch.ContainerAdministered: _administered,
        Batch.Pooled: _pooled,
        Shipment.Dispatched: _dispatched,
        Shipment.TemperatureExcursionRecorded: _excursion,
        Shipment.Received: _received,
    },
    # A batch's collection site comes from the chain's donations.
    borrows=(("chain", Donation),),
)


# ------------------------------------------------------------------------------------ reading


@dataclass(frozen=True)
class StepView:
    step: str
    site_id: str
    started_at: datetime
    completed_at: datetime
    operator: str
    equipment: str | None
    material_lots: list[str]


@dataclass(frozen=True)
class DecisionView:
    decision: str
    decided_by: str
    decided_at: datetime
    meaning: str | None
    reason: str | None


@dataclass(frozen=True)
class ContainerView:
    container_id: str
    kind: str
    volume_ml: float
    dose: float
    dose_unit: str
    filled_at: datetime


@dataclass(frozen=True)
class UseView:
    """A container of a split batch given to a patient."""

    container_id: str
    patient_code: str
    site_id: str
    administered_at: datetime


@dataclass(frozen=True)
class FlowView:
    shipment_id: str
    from_site_id: str
    to_site_id: str
    courier: str
    dispatched_at: datetime
    received_at: datetime | None
    condition_acceptable: bool | None
    excursions: int
    quantity: int = 1  # the batch's containers carried; a batch shipped whole counts one


@dataclass
class SourceAndFlowView:
    """One batch's record, and the facts derived from it: the GraphQL record and the inspectors'
    exports both read these, so the two never disagree on a date."""

    batch: BatchView
    donation: dict[str, Any]
    donor: dict[str, Any]
    manufacture: list[StepView] = field(default_factory=list)
    decision: DecisionView | None = None
    flow: list[FlowView] = field(default_factory=list)
    sites: dict[str, SiteView] = field(default_factory=dict)
    imports: list[ImportView] = field(default_factory=list)  # customs declarations, if imported

    containers: list[ContainerView] = field(default_factory=list)
    uses: list[UseView] = field(default_factory=list)  # containers given, in the order given

    @property
    def quantity_made(self) -> int:
        """The containers the batch was filled into; a batch never filled is one unit."""
        return len(self.containers) or 1

    @property
    def product(self) -> reference.Product:
        """The batch's product as configured (domain/data/products.json)."""
        return reference.product(self.batch.product)

    @property
    def manufactured_at(self) -> datetime:
        """Completion of the last manufacturing step; the batch's start while it has none."""
        return max((s.completed_at for s in self.manufacture), default=self.batch.started_at)

    @property
    def expires_at(self) -> datetime:
        """The manufacture date plus the product's configured shelf life."""
        return self.manufactured_at + timedelta(days=self.product.shelf_life_days)

    @property
    def material_lots(self) -> list[str]:
        """Every lot any step used, once each, in the order first used."""
        return list(dict.fromkeys(lot for s in self.manufacture for lot in s.material_lots))

    @property
    def administered_to(self) -> str | None:
        """The patient the batch was used on: known once, and only if, it was administered; a
        split batch names each patient a container was used on (``; ``-separated, in the order
        given), as soon as the first container is given."""
        if self.uses:
            return "; ".join(dict.fromkeys(u.patient_code for u in self.uses))
        b = self.batch
        return b.patient_code if b.disposition_kind == "ADMINISTERED" else None

    @property
    def final_patient(self) -> str | None:
        """The patient named by the final disposition: the one given the last container of a
        split batch, else the batch's own patient; ``None`` unless the batch was administered."""
        b = self.batch
        if b.disposition_kind != "ADMINISTERED":
            return None
        return self.uses[-1].patient_code if self.uses else b.patient_code

    # The records an inspector files (issue 18): by licence number, in the jurisdiction's days.

    @property
    def jurisdiction(self) -> str | None:
        """The batch's jurisdiction: its control site's (whose law its records answer to)."""
        control = self.sites.get(self.batch.control_site_id)
        return control.jurisdiction if control else None

    @property
    def licence(self) -> record_rules.Licence | None:
        """The licence or conditional approval (許可證字號) the product has there."""
        return record_rules.licence(self.batch.product, self.jurisdiction)

    def local_day(self, moment: datetime) -> date:
        """The calendar day of ``moment`` in the batch's jurisdiction."""
        return record_rules.local_day(moment, self.jurisdiction)

    def local_time(self, moment: datetime) -> datetime:
        return record_rules.local_time(moment, self.jurisdiction)

    @property
    def manufactured_on(self) -> date:
        return self.local_day(self.manufactured_at)

    @property
    def expires_on(self) -> date:
        return self.local_day(self.expires_at)

    @property
    def retention_until(self) -> date | None:
        """The last day the manufacturer keeps this record (30 years after expiry in Taiwan)."""
        return record_rules.firm_retention_until(self.jurisdiction, self.expires_at)

    @property
    def institution_retention_until(self) -> date | None:
        """The last day the institution that used the batch keeps its record (15 years from
        use in Taiwan; a minor's longer, see the institution's record)."""
        b = self.batch
        if b.disposition_kind != "ADMINISTERED" or b.disposition_at is None:
            return None
        return record_rules.institution_retention_until(
            self.jurisdiction, b.disposition_at, self.expires_at
        )


def find_records(
    sql: Sql,
    position: int,
    *,
    batch_ids: list[str] | None = None,
    donor_code: str | None = None,
    site_id: str | None = None,
    product: str | None = None,
    licence_number: str | None = None,
    released_from: datetime | None = None,
    released_to: datetime | None = None,
    after: str | None = None,
    limit: int | None = None,
    reach: Reach | None,
) -> list[SourceAndFlowView]:
    """Source-and-flow records at ``position`` of the batches within ``reach``, ordered by
    batch id, one page at a time."""
    where: list[str] = []
    params: list[Any] = []
    if product is not None:
        where.append("product = ?")
        params.append(product)
    if licence_number is not None:
        clause, values = licence_clause(record_rules.licensed_as(licence_number), position)
        where.append(clause)
        params += values
    if released_from is not None:
        where.append("released_at >= ?")
        params.append(released_from)
    if released_to is not None:
        where.append("released_at <= ?")
        params.append(released_to)
    if site_id is not None:
        where.append(
            "EXISTS (SELECT 1 FROM batch_sites s WHERE s.batch_id = batch_versions.batch_id"
            " AND s.site_id = ? AND s.position <= ?)"
        )
        params += [site_id, position]
    batches = find_batches(
        sql,
        position,
        batch_ids=batch_ids,
        donor_code=donor_code,
        after=after,
        limit=limit,
        where=where,
        params=params,
        reach=reach,
    )
    return _assemble(sql, position, batches)


def licence_clause(pairs: list[tuple[str, str]], position: int) -> tuple[str, list[Any]]:
    """Batches of these (product, jurisdiction) pairs, a jurisdiction being the control site's
    at ``position``; none when there are no pairs (an unknown licence number)."""
    if not pairs:
        return "1 = 0", []
    one = (
        "(product = ? AND control_site_id IN (SELECT s.site_id FROM site_versions s"
        " WHERE s.jurisdiction = ? AND s.valid_from <= ? AND (s.valid_to IS NULL"
        " OR s.valid_to > ?)))"
    )
    values: list[Any] = []
    for product, jurisdiction in pairs:
        values += [product, jurisdiction, position, position]
    return "(" + " OR ".join([one] * len(pairs)) + ")", values


def _assemble(sql: Sql, position: int, batches: list[BatchView]) -> list[SourceAndFlowView]:
    if not batches:
        return []
    ids = [b.batch_id for b in batches]
    donations = _by_key(DONATIONS, sql, position, "donation_id", [b.donation_id for b in batches])
    donors = _by_key(DONORS, sql, position, "donor_code", [b.donor_code for b in batches])
    records = {
        b.batch_id: SourceAndFlowView(b, donations[b.donation_id], donors[b.donor_code])
        for b in batches
    }
    marks = ", ".join("?" * len(ids))
    for row in STEPS.select(sql, position, [f"batch_id IN ({marks})"], ids, order="position"):
        row["material_lots"] = json.loads(row["material_lots"])
        del row["position"]
        batch_id = row.pop("batch_id")
        records[batch_id].manufacture.append(StepView(**row))
    for row in sql.all(
        "SELECT batch_id, decision, decided_by, decided_at, meaning, reason FROM batch_decisions"
        f" WHERE position <= ? AND batch_id IN ({marks}) ORDER BY position",
        (position, *ids),
    ):
        batch_id = row.pop("batch_id")
        records[batch_id].decision = DecisionView(**row)
    for row in sql.all(
        "SELECT batch_id, container_id, kind, volume_ml, dose, dose_unit, filled_at"
        f" FROM batch_containers WHERE position <= ? AND batch_id IN ({marks})"
        " ORDER BY position, container_id",
        (position, *ids),
    ):
        batch_id = row.pop("batch_id")
        at = row["filled_at"]
        row["filled_at"] = datetime.fromisoformat(at) if isinstance(at, str) else at
        records[batch_id].containers.append(ContainerView(**row))
    for row in sql.all(
        "SELECT batch_id, container_id, patient_code, site_id, administered_at"
        f" FROM container_uses WHERE position <= ? AND batch_id IN ({marks})"
        " ORDER BY position",
        (position, *ids),
    ):
        batch_id = row.pop("batch_id")
        at = row["administered_at"]
        row["administered_at"] = datetime.fromisoformat(at) if isinstance(at, str) else at
        records[batch_id].uses.append(UseView(**row))
    _add_flows(sql, position, ids, records)
    for batch_id, declared in imports_of(sql, position, ids).items():
        records[batch_id].imports = declared
    site_ids = sorted(
        {
            *(d["site_id"] for d in donations.values()),
            *(s for r in records.values() for s in _sites_named(r)),
        }
    )
    sites = {s.site_id: s for s in find_sites(sql, position, site_ids=site_ids)}
    for record in records.values():
        record.sites = sites
    return [records[i] for i in ids]


def _add_flows(
    sql: Sql, position: int, ids: list[str], records: dict[str, SourceAndFlowView]
) -> None:
    links = sql.all(
        "SELECT shipment_id, batch_id FROM shipment_batches"
        f" WHERE position <= ? AND batch_id IN ({', '.join('?' * len(ids))})",
        (position, *ids),
    )
    shipment_ids = sorted({link["shipment_id"] for link in links})
    shipments = _by_key(SHIPMENTS, sql, position, "shipment_id", shipment_ids)
    carried: dict[tuple[str, str], int] = {}
    for row in sql.all(
        "SELECT shipment_id, batch_id, COUNT(*) AS n FROM shipment_containers"
        f" WHERE position <= ? AND batch_id IN ({', '.join('?' * len(ids))})"
        " GROUP BY shipment_id, batch_id",
        (position, *ids),
    ):
        carried[(row["shipment_id"], row["batch_id"])] = int(row["n"])
    for link in links:
        row = shipments[link["shipment_id"]]
        acceptable = row["condition_acceptable"]
        records[link["batch_id"]].flow.append(
            FlowView(
                **{**row, "condition_acceptable": None if acceptable is None else bool(acceptable)},
                quantity=carried.get((link["shipment_id"], link["batch_id"]), 1),
            )
        )
    for record in records.values():
        record.flow.sort(key=lambda f: (f.dispatched_at, f.shipment_id))


def _sites_named(record: SourceAndFlowView) -> set[str]:
    named = {record.batch.site_id, record.batch.control_site_id}
    named |= {s.site_id for s in record.manufacture}
    named |= {f.from_site_id for f in record.flow} | {f.to_site_id for f in record.flow}
    if record.batch.disposition_site:
        named.add(record.batch.disposition_site)
    named |= {u.site_id for u in record.uses}
    return named


def _by_key(
    table: VersionedTable, sql: Sql, position: int, key: str, values: list[str]
) -> dict[str, dict[str, Any]]:
    unique = sorted(set(values))
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(unique), 500):
        chunk = unique[start : start + 500]
        rows = table.select(sql, position, [f"{key} IN ({', '.join('?' * len(chunk))})"], chunk)
        found.update({r[key]: r for r in rows})
    return found
