"""Import declarations per batch and institutions' patients (domain/institution_records.py): the
rows the source-and-flow records and an institution's own record read. A patient's identity is
never projected: it stays sealed in the ledger, opened on request for those who may see it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from domain.institution_records import ImportDeclaration, InstitutionPatient
from projections.ledger import Appended
from projections.projection import Projection
from projections.sql import Sql

TABLES = ("import_declarations", "institution_patients")


def _key(a: Appended) -> str:
    return a.event.originator_id.split(":", 1)[1]


def _declared(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, ImportDeclaration.Declared)
    for batch_id in e.batch_ids:
        sql.execute(
            "INSERT INTO import_declarations (declaration_number, batch_id, position, quantity,"
            " declared_at, site_id) VALUES (?,?,?,?,?,?)",
            (_key(a), batch_id, a.position, e.quantity, e.declared_at, e.site_id),
        )


def _patient(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, InstitutionPatient.Recorded)
    sql.execute(
        "INSERT INTO institution_patients (site_id, patient_code, position, adult_on)"
        " VALUES (?,?,?,?)",
        (e.site_id, e.patient_code, a.position, e.adult_on),
    )


PROJECTION = Projection(
    name="institution_records",
    tables=TABLES,
    handles={ImportDeclaration.Declared: _declared, InstitutionPatient.Recorded: _patient},
)


@dataclass(frozen=True)
class ImportView:
    declaration_number: str
    quantity: int
    declared_at: datetime
    site_id: str


def imports_of(sql: Sql, position: int, batch_ids: list[str]) -> dict[str, list[ImportView]]:
    """The import declarations of each batch at ``position``, in the order declared."""
    found: dict[str, list[ImportView]] = {b: [] for b in batch_ids}
    for start in range(0, len(batch_ids), 500):
        chunk = batch_ids[start : start + 500]
        for row in sql.all(
            "SELECT declaration_number, batch_id, quantity, declared_at, site_id"
            f" FROM import_declarations WHERE position <= ? AND batch_id IN"
            f" ({', '.join('?' * len(chunk))}) ORDER BY position",
            (position, *chunk),
        ):
            batch_id = row.pop("batch_id")
            found[batch_id].append(ImportView(**row))
    return found


def adult_on(sql: Sql, position: int, site_id: str, patient_codes: list[str]) -> dict[str, date]:
    """The day each known patient of ``site_id`` comes of age (those with a birth date)."""
    if not patient_codes:
        return {}
    rows = sql.all(
        "SELECT patient_code, adult_on FROM institution_patients WHERE site_id = ?"
        f" AND position <= ? AND patient_code IN ({', '.join('?' * len(patient_codes))})",
        (site_id, position, *patient_codes),
    )
    return {r["patient_code"]: date.fromisoformat(r["adult_on"]) for r in rows if r["adult_on"]}


def recorded_patients(sql: Sql, position: int, site_id: str) -> set[str]:
    rows = sql.all(
        "SELECT patient_code FROM institution_patients WHERE site_id = ? AND position <= ?",
        (site_id, position),
    )
    return {r["patient_code"] for r in rows}
