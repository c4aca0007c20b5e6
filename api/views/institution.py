"""Taiwan's 2025 source-and-flow additions (issue 18, item 3): import declarations, and a medical
institution's own record of what it received and the patient each batch was used on, the
patient's identity sealed and opened only for that institution and the regulators reaching it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import anyio.to_thread
import orjson
import strawberry
from strawberry.scalars import JSON

from api.auth.identity import Identity
from api.auth.roles import MEDICAL_INSTITUTION, QUALITY_PERSON, REGULATOR
from api.auth.targets import NoReach, of, site
from api.commands import command
from api.common import AsOf
from api.context import Info
from api.resolve import read
from api.sites.types import Site
from api.wiring import Regentrace
from domain import records as rules
from domain.institution_records import InstitutionPatient, InstitutionRecordCommands, patient_key
from domain.isbt128 import chain_of_identity_for
from projections.institution_records import adult_on, recorded_patients
from projections.scopes import Reach
from projections.sites import find_sites
from projections.source_and_flow import SourceAndFlowView, UseView, find_records
from projections.sql import Sql


@strawberry.input
class DeclareImportInput:
    declaration_number: strawberry.ID = strawberry.field(
        description="the customs-declaration (import entry) number"
    )
    batch_ids: list[strawberry.ID]
    quantity: int = strawberry.field(description="units imported under the declaration")
    declared_at: datetime = strawberry.field(description="when customs accepted the declaration")
    site_id: strawberry.ID = strawberry.field(description="the importing site")


@strawberry.input
class RecordPatientIdentityInput:
    site_id: strawberry.ID = strawberry.field(description="the medical institution")
    patient_code: strawberry.ID
    identity: JSON = strawberry.field(
        description="the patient's identifying details (name, chart number, dateOfBirth as "
        "YYYY-MM-DD...); sealed, never projected, opened only for this institution and the "
        "regulators who reach it"
    )
    recorded_at: datetime | None = strawberry.field(
        default=None, description="when it was recorded (default: now)"
    )


@strawberry.type
class InstitutionMutations:
    declare_import = command(
        InstitutionRecordCommands.declare_import,
        input=DeclareImportInput,
        roles=(QUALITY_PERSON,),
        targets={
            "site_id": site,
            "batch_ids": of("Batch"),
            "declaration_number": NoReach("the declaration it records"),
        },
        description="Record an import: the customs declaration (number and date), the quantity "
        "imported and the batches it brought in (a batch made in the importer's own country is "
        "refused).",
    )
    record_patient_identity = command(
        InstitutionRecordCommands.record_patient_identity,
        input=RecordPatientIdentityInput,
        roles=(MEDICAL_INSTITUTION,),
        targets={"site_id": site, "patient_code": NoReach("a patient of the institution named")},
        description="Record, sealed, who a patient code stands for at a medical institution; "
        "a dateOfBirth makes a minor's record kept until years after adulthood.",
    )


@strawberry.type
class InstitutionReceipt:
    shipment_id: strawberry.ID
    supplier: Site = strawberry.field(description="the dispatching site")
    quantity: int
    received_at: datetime | None
    received_on: date | None = strawberry.field(description="in the jurisdiction's calendar")
    condition_acceptable: bool | None


@strawberry.type
class InstitutionRecordEntry:
    batch_id: strawberry.ID
    product: str
    licence_number: str | None
    chain_of_identity_id: str
    receipts: list[InstitutionReceipt]
    expires_on: date
    patient_code: strawberry.ID | None = strawberry.field(
        description="the patient the batch was used on here (null until used)"
    )
    used_at: datetime | None
    used_on: date | None
    retention_until: date | None = strawberry.field(
        description="the last day the institution keeps this entry: from use (or expiry) by the "
        "jurisdiction's years, a minor's until years after adulthood"
    )
    patient_identity: JSON | None = strawberry.field(
        description="the patient's sealed identity, opened only for this institution and the "
        "regulators who reach it (null for anyone else, or when none was recorded)"
    )
    container_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="the container used, for a batch split into containers (one entry per "
        "container used here)",
    )


@strawberry.type
class InstitutionRecord:
    site: Site
    entries: list[InstitutionRecordEntry]


def may_open(identity: Identity, site_id: str) -> bool:
    """The institution itself, or a regulator (the guard has checked the site is within its
    jurisdiction)."""
    role = identity.role.name
    return (role == MEDICAL_INSTITUTION and site_id in identity.sites) or role == REGULATOR


def open_identity(service: Regentrace, site_id: str, patient_code: str) -> Any:
    aggregate_id = InstitutionPatient.ledger_id(patient_key(site_id, patient_code))
    with service.read() as sql:
        state = sql.scalar(
            "SELECT state FROM stored_events WHERE originator_id = ? AND originator_version = 1",
            (aggregate_id,),
        )
    sealed = orjson.loads(bytes(state)).get("sealed_identity") if state else None
    if sealed is None or service.app.sealer is None:
        return None
    return orjson.loads(service.app.sealer.open(sealed, aggregate_id))


def _entries(
    r: SourceAndFlowView, site_id: str, adult: dict[str, date]
) -> list[InstitutionRecordEntry]:
    """One entry per container of a split batch used here; else one for the batch."""
    here = [u for u in r.uses if u.site_id == site_id]
    if not here:
        return [_entry(r, site_id, adult)]
    return [_entry(r, site_id, adult, u) for u in here]


def _entry(
    r: SourceAndFlowView, site_id: str, adult: dict[str, date], use: UseView | None = None
) -> InstitutionRecordEntry:
    b = r.batch
    used = b.disposition_kind == "ADMINISTERED" and b.disposition_site == site_id
    used_at = b.disposition_at if used else None
    patient = b.patient_code if used else None
    if use is not None:
        used_at, patient = use.administered_at, use.patient_code
    retention = None
    if used_at is not None and patient is not None:
        retention = rules.institution_retention_until(
            r.jurisdiction, used_at, r.expires_at, adult.get(patient)
        )
    return InstitutionRecordEntry(
        batch_id=strawberry.ID(b.batch_id),
        product=b.product,
        licence_number=r.licence.number if r.licence else None,
        chain_of_identity_id=chain_of_identity_for(b.donation_id),
        receipts=[
            InstitutionReceipt(
                shipment_id=strawberry.ID(f.shipment_id),
                supplier=Site.of(r.sites[f.from_site_id]),
                quantity=getattr(f, "quantity", 1),
                received_at=f.received_at,
                received_on=r.local_day(f.received_at) if f.received_at else None,
                condition_acceptable=f.condition_acceptable,
            )
            for f in r.flow
            if f.to_site_id == site_id
        ],
        expires_on=r.expires_on,
        patient_code=strawberry.ID(patient) if patient else None,
        used_at=used_at,
        used_on=r.local_day(used_at) if used_at else None,
        retention_until=retention,
        patient_identity=None,
        container_id=strawberry.ID(use.container_id) if use else None,
    )


@strawberry.type
class InstitutionQueries:
    @strawberry.field(
        description="A medical institution's own record (Taiwan, 2025 source-and-flow rules): "
        "each batch delivered to it, its supplier and receipts, expiry, the patient it was used "
        "on and until when the entry is kept; the patient's identity only for the institution "
        "and the regulators who reach it."
    )
    async def institution_record(
        self, info: Info, site_id: strawberry.ID, as_of: AsOf = None
    ) -> InstitutionRecord | None:
        where = str(site_id)

        def query(
            sql: Sql, p: int, reach: Reach | None
        ) -> tuple[Site, list[InstitutionRecordEntry], set[str]] | None:
            found = find_records(sql, p, site_id=where, reach=reach)
            received = [r for r in found if any(f.to_site_id == where for f in r.flow)]
            patients = sorted(
                {r.batch.patient_code for r in received}
                | {u.patient_code for r in received for u in r.uses}
            )
            adult = adult_on(sql, p, where, patients)
            entries = [e for r in received for e in _entries(r, where, adult)]
            sites = find_sites(sql, p, site_ids=[where])
            if not sites:
                return None
            return Site.of(sites[0]), entries, recorded_patients(sql, p, where)

        answer = await read(info, as_of, query)
        if answer is None:
            return None
        the_site, entries, recorded = answer
        if may_open(info.context.identity, where):
            service = info.context.service
            for entry in entries:
                code = str(entry.patient_code) if entry.patient_code else None
                if code is not None and code in recorded:
                    entry.patient_identity = await anyio.to_thread.run_sync(
                        open_identity, service, where, code
                    )
        return InstitutionRecord(site=the_site, entries=entries)
