"""What Taiwan's 2025 source-and-flow rules add (issue 18, item 3), through the API on both
databases: an import's customs declaration and quantity in the export, and the medical
institution's own record, whose patient identity is sealed in the ledger and opened only for that
institution and the regulators who reach it; a minor's entry is kept until 15 years after
adulthood."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta, timezone

from api.auth.keys import ApiKeys
from api.wiring import Regentrace
from projections.rebuild import rebuild
from tests.api.chain_documents import (
    CONTROL,
    HOSPITAL,
    PATIENT,
    SPOKE,
    Timeline,
    refused,
    run,
    site_input,
)
from tests.api.client import GraphQL
from tests.api.test_inspector_records import used_batch
from tests.conftest import ledger_size

TAIPEI = timezone(timedelta(hours=8))
BATCH = "B-TW-1"
IDENTITY = {"name": "王小明", "chartNumber": "NTUH-0042", "dateOfBirth": "2012-05-01"}
RECORD = """
query ($site: ID!) {
  institutionRecord(siteId: $site) {
    site { id }
    entries {
      batchId product licenceNumber chainOfIdentityId expiresOn patientCode usedOn
      retentionUntil patientIdentity
      receipts { shipmentId supplier { id } quantity receivedOn conditionAcceptable }
    }
  }
}
"""
CSV = "query { sourceAndFlowCsv }"
UK_CONTROL = "GB-CTRL-IMPORT"


def caller(gql: GraphQL, service: Regentrace, role: str, sites: list[str], **scope: str) -> GraphQL:
    name = f"{role}-{'-'.join(sites) or scope.get('jurisdiction')}"
    _, token = ApiKeys(service).create(name, role, sites, **scope)
    return gql.as_(token)


async def test_the_institution_keeps_its_record_and_only_it_and_regulators_see_who(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await used_batch(gql, t)
    identity = {"siteId": HOSPITAL, "patientCode": PATIENT, "identity": IDENTITY}
    await run(gql, "recordPatientIdentity", identity)

    with service.read() as sql:
        states = sql.all("SELECT state FROM stored_events")
    assert not any("王小明".encode() in bytes(r["state"]) for r in states), "stored in clear"

    hospital = caller(gql, service, "medical_institution", [HOSPITAL])
    record = (await hospital.data(RECORD, {"site": HOSPITAL}))["institutionRecord"]
    (entry,) = record["entries"]
    assert entry["batchId"] == BATCH
    assert entry["patientCode"] == PATIENT
    assert entry["patientIdentity"] == IDENTITY
    (receipt,) = entry["receipts"]
    assert receipt["supplier"] == {"id": SPOKE}
    assert receipt["receivedOn"] == t.at(-9.5).astimezone(TAIPEI).date().isoformat()
    assert receipt["conditionAcceptable"] is True
    used_on = t.at(-9).astimezone(TAIPEI).date()
    assert entry["usedOn"] == used_on.isoformat()
    # A minor at use (born 2012, of age at 18 in Taiwan): kept until 15 years after adulthood,
    # later than 15 years from use.
    assert entry["retentionUntil"] == "2045-05-01"
    assert date.fromisoformat(entry["retentionUntil"]) > used_on.replace(year=used_on.year + 15)

    regulator = caller(gql, service, "regulator", [], jurisdiction="TW")
    seen = (await regulator.data(RECORD, {"site": HOSPITAL}))["institutionRecord"]
    assert seen["entries"][0]["patientIdentity"] == IDENTITY

    # Anyone else sees the entry without the identity, or not at all.
    entry = (await gql.data(RECORD, {"site": HOSPITAL}))["institutionRecord"]["entries"][0]
    assert entry["patientIdentity"] is None  # the development principal is not the institution
    qp = caller(gql, service, "quality_person", [CONTROL])
    body = await qp(RECORD, {"site": HOSPITAL})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    other = caller(gql, service, "medical_institution", [SPOKE])
    body = await other(RECORD, {"site": HOSPITAL})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body


async def test_an_adult_patients_entry_is_kept_15_years_from_use(
    gql: GraphQL, service: Regentrace
) -> None:
    del service
    t = Timeline.ending_weeks_ago()
    await used_batch(gql, t)
    adult = {"name": "陳大文", "dateOfBirth": "1970-01-31"}
    await run(
        gql,
        "recordPatientIdentity",
        {"siteId": HOSPITAL, "patientCode": PATIENT, "identity": adult},
    )
    entry = (await gql.data(RECORD, {"site": HOSPITAL}))["institutionRecord"]["entries"][0]
    used_on = t.at(-9).astimezone(TAIPEI).date()
    assert entry["retentionUntil"] == used_on.replace(year=used_on.year + 15).isoformat()


async def test_patient_identities_are_checked_and_a_refusal_stores_nothing(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await used_batch(gql, t)
    identity = {"siteId": HOSPITAL, "patientCode": PATIENT, "identity": IDENTITY}
    # Only a medical institution keeps a patient's identity.
    await refused(
        gql, service, "recordPatientIdentity", identity | {"siteId": SPOKE}, "RULE_VIOLATION"
    )
    unreadable = identity | {"identity": {"name": "x", "dateOfBirth": "01/05/2012"}}
    await refused(gql, service, "recordPatientIdentity", unreadable, "BAD_INPUT")
    await refused(gql, service, "recordPatientIdentity", identity | {"identity": {}}, "BAD_INPUT")
    await run(gql, "recordPatientIdentity", identity)
    await refused(gql, service, "recordPatientIdentity", identity, "CONFLICT")


async def test_an_import_declaration_is_in_the_export(gql: GraphQL, service: Regentrace) -> None:
    t = Timeline.ending_weeks_ago()
    await used_batch(gql, t)
    uk = site_input(
        UK_CONTROL,
        "CONTROL_SITE",
        t,
        jurisdiction="UK",
        country="GB",
        supervisingAuthority="MHRA",
        licenceNumber="MIA 12345",
    )
    await run(gql, "registerSite", uk)
    activation = {"siteId": UK_CONTROL, "reason": "qualified", "effectiveAt": t(-59)}
    await run(gql, "activateSite", activation)
    declaration = {
        "declarationNumber": "CD-2026-000123",
        "batchIds": [BATCH],
        "quantity": 2,
        "declaredAt": t(-9.8),
        "siteId": UK_CONTROL,
    }
    # Not imported into the country it was made in; a quantity is at least one unit.
    await refused(
        gql, service, "declareImport", declaration | {"siteId": CONTROL}, "RULE_VIOLATION"
    )
    await refused(gql, service, "declareImport", declaration | {"quantity": 0}, "BAD_INPUT")
    before = ledger_size(service)
    await run(gql, "declareImport", declaration)
    assert ledger_size(service) == before + 1
    await refused(gql, service, "declareImport", declaration, "CONFLICT")

    rows = list(csv.DictReader(io.StringIO((await gql.data(CSV))["sourceAndFlowCsv"])))
    (row,) = [r for r in rows if r["批號 / Batch number"] == BATCH]
    assert row["報單號碼 / Customs declaration number (imported)"] == "CD-2026-000123"
    assert row["輸入數量 / Import quantity"] == "2"
    assert row["報關日期 / Customs declaration date"] == (
        t.at(-9.8).astimezone(TAIPEI).date().isoformat()
    )
    assert row["製造者國別 / Manufacturer country"] == "TW"


async def test_a_rebuild_gives_back_the_live_rows(gql: GraphQL, service: Regentrace) -> None:
    """The import declarations and institutions' patients are rebuilt from the ledger exactly
    as they were written live (in worker processes, as a rebuild runs by default)."""
    t = Timeline.ending_weeks_ago()
    await used_batch(gql, t)
    await run(
        gql,
        "recordPatientIdentity",
        {"siteId": HOSPITAL, "patientCode": PATIENT, "identity": IDENTITY},
    )
    await run(
        gql,
        "registerSite",
        site_input(
            UK_CONTROL,
            "CONTROL_SITE",
            t,
            jurisdiction="UK",
            country="GB",
            supervisingAuthority="MHRA",
            licenceNumber="MIA 12345",
        ),
    )
    await run(
        gql, "activateSite", {"siteId": UK_CONTROL, "reason": "qualified", "effectiveAt": t(-59)}
    )
    declaration = {
        "declarationNumber": "CD-1",
        "batchIds": [BATCH],
        "quantity": 1,
        "declaredAt": t(-9.8),
        "siteId": UK_CONTROL,
    }
    await run(gql, "declareImport", declaration)

    def rows() -> dict[str, list[dict[str, object]]]:
        with service.read() as sql:
            return {
                table: sql.all(f"SELECT * FROM {table} ORDER BY position")
                for table in ("import_declarations", "institution_patients")
            }

    live = rows()
    assert all(live.values())
    rebuild(service.recorder, service.app.mapper, workers=2)
    assert rows() == live
