"""Donors, donations, material lots and batches, as they stand at any ledger position.

Withdrawing a donor's consent or revoking the donor's eligibility rewrites nothing: it opens a new
version of every batch made from that donor, marked with what affects it, so those batches are
visible as affected from that position on (and not before).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.batch import Batch
from domain.donation import Donation
from domain.donor import Donor
from domain.material_lot import MaterialLot
from projections.ledger import Appended
from projections.projection import Projection
from projections.scopes import Reach, within_reach
from projections.sql import Sql
from projections.versioned import VersionedTable, equal

TABLES = ("batch_versions", "material_lot_versions", "donation_versions", "donor_versions")

DONORS = VersionedTable(
    "donor_versions",
    "donor_code",
    (
        "donor_code",
        "registered_at",
        "consent_reference",
        "consented_at",
        "consent_withdrawn_at",
        "legal_representative",
        "notarised",
        "eligibility_outcome",
        "eligibility_determined_at",
        "eligibility_determined_by",
        "eligibility_criteria_version",
        "eligibility_revoked",
    ),
)
DONATIONS = VersionedTable(
    "donation_versions",
    "donation_id",
    (
        "donation_id",
        "donor_code",
        "donation_type",
        "site_id",
        "material",
        "acquired_at",
        "isbt128_din",
    ),
)
LOTS = VersionedTable(
    "material_lot_versions",
    "lot_id",
    ("lot_id", "material", "supplier", "site_id", "received_at", "expires_at", "status"),
)
BATCHES = VersionedTable(
    "batch_versions",
    "batch_id",
    (
        "batch_id",
        "product",
        "donation_id",
        "donor_code",
        "patient_code",
        "control_site_id",
        "site_id",
        "location",
        "status",
        "started_at",
        "released_at",
        "qualified_person",
        "signature_meaning",
        "affected_by",
        "disposition_kind",
        "disposition_site",
        "disposition_at",
        "recalled_by",
        "return_quarantined_at",
        "return_quarantine_site",
        "return_quarantine_shipment",
        "return_assessment_outcome",
        "return_assessment_reason",
        "return_assessed_at",
        "return_assessed_shipment",
    ),
)

CONSENT_WITHDRAWN = "CONSENT_WITHDRAWN"
ELIGIBILITY_REVOKED = "ELIGIBILITY_REVOKED"


def _key(appended: Appended) -> str:
    return appended.event.originator_id.split(":", 1)[1]


# ------------------------------------------------------------------------------------ donors


def _donor_registered(sql: Sql, a: Appended) -> None:
    row = dict.fromkeys(DONORS.columns)
    DONORS.insert(
        sql, {**row, "donor_code": _key(a), "registered_at": a.event.occurred_at}, a.position
    )


def _consent_recorded(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Donor.ConsentRecorded)
    DONORS.change(
        sql,
        _key(a),
        a.position,
        consent_reference=e.consent_reference,
        consented_at=e.signed_at,
        consent_withdrawn_at=None,
        legal_representative=e.legal_representative,
        notarised=e.notarised,
    )


def _consent_withdrawn(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Donor.ConsentWithdrawn)
    DONORS.change(sql, _key(a), a.position, consent_withdrawn_at=e.withdrawn_at)
    _affect_batches_of(sql, _key(a), a.position, CONSENT_WITHDRAWN)


def _eligibility_determined(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Donor.EligibilityDetermined)
    current = DONORS.current(sql, _key(a))
    in_force = current["eligibility_determined_at"] if current else None
    if in_force is not None and e.determined_at < in_force:
        return  # entered late: the determination in force is the latest by when it was made
    DONORS.change(
        sql,
        _key(a),
        a.position,
        eligibility_outcome=e.outcome,
        eligibility_determined_at=e.determined_at,
        eligibility_determined_by=e.actor,
        eligibility_criteria_version=e.criteria_version,
        eligibility_revoked=False,
    )


def _eligibility_revoked(sql: Sql, a: Appended) -> None:
    DONORS.change(sql, _key(a), a.position, eligibility_revoked=True)
    _affect_batches_of(sql, _key(a), a.position, ELIGIBILITY_REVOKED)


def _affect_batches_of(sql: Sql, donor_code: str, position: int, reason: str) -> None:
    for row in sql.all(
        "SELECT batch_id, affected_by FROM batch_versions"
        " WHERE donor_code = ? AND valid_to IS NULL",
        (donor_code,),
    ):
        reasons = _with(row["affected_by"], reason)
        if reasons != row["affected_by"]:
            BATCHES.change(sql, row["batch_id"], position, affected_by=reasons)


def _with(affected_by: str, reason: str) -> str:
    return ",".join(sorted({*filter(None, affected_by.split(",")), reason}))


# ------------------------------------------------------------------------ donations and lots


def _donation_recorded(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Donation.Recorded)
    DONATIONS.insert(
        sql,
        {
            "donation_id": _key(a),
            "donor_code": e.donor_code,
            "donation_type": e.donation_type,
            "site_id": e.site_id,
            "material": e.material,
            "acquired_at": e.acquired_at,
            "isbt128_din": e.isbt128_din,
        },
        a.position,
    )


def _lot_received(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, MaterialLot.Received)
    LOTS.insert(
        sql,
        {
            "lot_id": _key(a),
            "material": e.material,
            "supplier": e.supplier,
            "site_id": e.site_id,
            "received_at": e.received_at,
            "expires_at": e.expires_at,
            "status": "QUARANTINED",
        },
        a.position,
    )


def _lot_status(status: str) -> Any:
    def handle(sql: Sql, a: Appended) -> None:
        LOTS.change(sql, _key(a), a.position, status=status)

    return handle


# ----------------------------------------------------------------------------------- batches


def _batch_started(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Batch.Started)
    donation = DONATIONS.current(sql, e.donation_id)
    assert donation is not None, f"batch {e.originator_id} names unknown donation"
    donor = DONORS.current(sql, donation["donor_code"]) or {}
    affected = ""
    if donor.get("consent_withdrawn_at") is not None:
        affected = _with(affected, CONSENT_WITHDRAWN)
    if donor.get("eligibility_revoked"):
        affected = _with(affected, ELIGIBILITY_REVOKED)
    BATCHES.insert(
        sql,
        {
            "batch_id": _key(a),
            "product": e.product,
            "donation_id": e.donation_id,
            "donor_code": donation["donor_code"],
            "patient_code": e.patient_code,
            "control_site_id": e.control_site_id,
            "site_id": e.site_id,
            "location": e.site_id,
            "status": "IN_PROCESS",
            "started_at": e.started_at,
            "released_at": None,
            "qualified_person": None,
            "signature_meaning": None,
            "affected_by": affected,
            "disposition_kind": None,
            "disposition_site": None,
            "disposition_at": None,
            "recalled_by": "",
            "return_quarantined_at": None,
            "return_quarantine_site": None,
            "return_quarantine_shipment": None,
            "return_assessment_outcome": None,
            "return_assessment_reason": None,
            "return_assessed_at": None,
            "return_assessed_shipment": None,
        },
        a.position,
    )


def _batch_moved(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Batch.StepRecorded | Batch.Received)
    current = BATCHES.current(sql, _key(a))
    if current is not None and current["location"] != e.site_id:
        BATCHES.change(sql, _key(a), a.position, location=e.site_id)


def _batch_released(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Batch.Released)
    BATCHES.change(
        sql,
        _key(a),
        a.position,
        status="RELEASED",
        released_at=e.released_at,
        qualified_person=e.qualified_person,
        signature_meaning=e.signature_meaning,
    )


def _batch_status(status: str) -> Any:
    def handle(sql: Sql, a: Appended) -> None:
        changes: dict[str, Any] = {"status": status}
        e = a.event
        if isinstance(e, Batch.Administered):
            changes |= {
                "location": e.site_id,
                "disposition_kind": "ADMINISTERED",
                "disposition_site": e.site_id,
                "disposition_at": e.administered_at,
            }
        if isinstance(e, Batch.Destroyed):
            changes |= {
                "disposition_kind": "DESTROYED",
                "disposition_site": e.site_id,
                "disposition_at": e.occurred_at,
            }
        BATCHES.change(sql, _key(a), a.position, **changes)

    return handle


def _batch_recalled(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Batch.Recalled)
    current = BATCHES.current(sql, _key(a))
    assert current is not None
    BATCHES.change(sql, _key(a), a.position, recalled_by=_with(current["recalled_by"], e.recall_id))


def _return_quarantined(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Batch.ReturnQuarantined)
    BATCHES.change(
        sql,
        _key(a),
        a.position,
        return_quarantined_at=e.received_at,
        return_quarantine_site=e.site_id,
        return_quarantine_shipment=e.shipment_id,
    )


def _return_assessed(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, Batch.ReturnAssessed)
    BATCHES.change(
        sql,
        _key(a),
        a.position,
        return_quarantined_at=None,
        return_quarantine_site=None,
        return_quarantine_shipment=None,
        return_assessment_outcome=e.outcome,
        return_assessment_reason=e.reason,
        return_assessed_at=e.assessed_at,
        return_assessed_shipment=e.shipment_id,
    )


PROJECTION = Projection(
    name="chain",
    tables=TABLES,
    handles={
        Donor.Registered: _donor_registered,
        Donor.ConsentRecorded: _consent_recorded,
        Donor.ConsentWithdrawn: _consent_withdrawn,
        Donor.EligibilityDetermined: _eligibility_determined,
        Donor.EligibilityRevoked: _eligibility_revoked,
        Donation.Recorded: _donation_recorded,
        MaterialLot.Received: _lot_received,
        MaterialLot.Released: _lot_status("RELEASED"),
        MaterialLot.Rejected: _lot_status("REJECTED"),
        Batch.Started: _batch_started,
        Batch.StepRecorded: _batch_moved,
        Batch.Received: _batch_moved,
        Batch.Released: _batch_released,
        Batch.Rejected: _batch_status("REJECTED"),
        Batch.Destroyed: _batch_status("DESTROYED"),
        Batch.Dispatched: _batch_status("DISTRIBUTED"),
        Batch.Administered: _batch_status("ADMINISTERED"),
        Batch.Recalled: _batch_recalled,
        Batch.ReturnQuarantined: _return_quarantined,
        Batch.ReturnAssessed: _return_assessed,
    },
)


# ------------------------------------------------------------------------------------ reading


@dataclass(frozen=True)
class BatchView:
    batch_id: str
    product: str
    donation_id: str
    donor_code: str
    patient_code: str
    control_site_id: str
    site_id: str
    location: str
    status: str
    started_at: datetime
    released_at: datetime | None
    qualified_person: str | None
    signature_meaning: str | None
    affected_by: str
    disposition_kind: str | None
    disposition_site: str | None
    disposition_at: datetime | None
    recalled_by: str
    # A return awaiting the quality unit's assessment, and the last assessment (None: never).
    return_quarantined_at: datetime | None = None
    return_quarantine_site: str | None = None
    return_quarantine_shipment: str | None = None
    return_assessment_outcome: str | None = None
    return_assessment_reason: str | None = None
    return_assessed_at: datetime | None = None
    return_assessed_shipment: str | None = None

    @property
    def affected_reasons(self) -> list[str]:
        return [r for r in self.affected_by.split(",") if r]

    @property
    def affected(self) -> bool:
        """Whether anything reached the batch after it was made (find_batches filters the same)."""
        return self.affected_by != ""

    @property
    def recalls(self) -> list[str]:
        return [r for r in self.recalled_by.split(",") if r]

    @property
    def shown_status(self) -> str:
        """The status regulators see: RECALLED once any recall reached the batch."""
        return "RECALLED" if self.recalls else self.status


def find_batches(
    sql: Sql,
    position: int,
    *,
    batch_ids: list[str] | None = None,
    donor_code: str | None = None,
    status: str | None = None,
    control_site_id: str | None = None,
    affected: bool | None = None,
    after: str | None = None,
    limit: int | None = None,
    where: list[str] | None = None,
    params: list[Any] | None = None,
    reach: Reach | None,
) -> list[BatchView]:
    """Batches at ``position`` within ``reach``, ordered by id, after the id ``after``, at most
    ``limit``.

    ``where``/``params`` add conditions of the caller's own (other views filter through them).
    """
    where = list(where or [])
    params = list(params or [])
    if status == "RECALLED":
        where.append("recalled_by <> ''")
    elif status is not None:
        where.append("status = ? AND recalled_by = ''")
        params.append(status)
    clauses, values = equal(donor_code=donor_code, control_site_id=control_site_id)
    where += clauses
    params += values
    if batch_ids is not None:
        if not batch_ids:
            return []
        where.append(f"batch_id IN ({', '.join('?' * len(batch_ids))})")
        params.extend(batch_ids)
    if affected is not None:
        where.append("affected_by <> ''" if affected else "affected_by = ''")
    if after is not None:
        where.append("batch_id > ?")
        params.append(after)
    reached, reach_params = within_reach(reach, "'Batch:' || batch_id")
    rows = BATCHES.select(sql, position, where + reached, params + reach_params, limit=limit)
    return [BatchView(**r) for r in rows]


def find_donor(
    sql: Sql, position: int, donor_code: str, *, reach: Reach | None
) -> dict[str, Any] | None:
    reached, reach_params = within_reach(reach, "'Donor:' || donor_code")
    rows = DONORS.select(sql, position, ["donor_code = ?", *reached], [donor_code, *reach_params])
    return rows[0] if rows else None
