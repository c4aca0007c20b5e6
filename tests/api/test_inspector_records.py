"""Records an inspector files as they are (issue 18, items 3 and 4), through the API on both
databases: each product's licence or conditional-approval number (許可證字號) per jurisdiction,
filtering and grouping the source-and-flow records by it, dates as the jurisdiction's calendar
days, retention-until dates, and the label a batch carries in each jurisdiction."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import domain
from api.wiring import Regentrace
from tests.api.chain_documents import (
    CONTROL,
    HOSPITAL,
    PATIENT,
    SPOKE,
    Timeline,
    delivered,
    donor_with_donation,
    network,
    qc,
    release,
    released_lot,
    run,
    started_batch,
    transduction,
)
from tests.api.client import GraphQL

TAIPEI = timezone(timedelta(hours=8))
DATA = Path(domain.__file__).parent / "data"
PRODUCTS = json.loads((DATA / "products.json").read_text(encoding="utf-8"))
CD19_TW = PRODUCTS["CART-CD19-AUTO"]["licences"]["TW"]["number"]
BCMA_TW = PRODUCTS["CART-BCMA-AUTO"]["licences"]["TW"]["number"]
CD19_US_STATEMENTS = ["FOR AUTOLOGOUS USE ONLY"]

RECORD = """
query ($id: ID!) {
  sourceAndFlow(batchId: $id) {
    batchId jurisdiction licenceNumber licenceKind manufacturedAt manufacturedOn expiresAt
    expiresOn retentionUntil institutionRetentionUntil
  }
}
"""
RECORDS = """
query ($filter: SourceAndFlowFilter) {
  sourceAndFlowRecords(filter: $filter) { nodes { batchId licenceNumber } }
}
"""
CSV = """
query ($filter: SourceAndFlowFilter, $byLicence: Boolean) {
  sourceAndFlowCsv(filter: $filter, byLicence: $byLicence)
}
"""
LABEL = """
query ($id: ID!, $jurisdiction: String, $container: ID) {
  label(batchId: $id, jurisdiction: $jurisdiction, containerId: $container) {
    jurisdiction batchId containerId product productName chainOfIdentityId din licenceNumber
    expiresAt expiresOn storage isbt128ProductCode statements { text source } particularsSource
  }
}
"""


def finished_at_seven_in_taipei(t: Timeline) -> datetime:
    """07:00 in Taipei on a day of the timeline: 23:00 UTC the day before."""
    return datetime.combine(t.at(-16).date(), time(7, 0), tzinfo=TAIPEI)


async def cryopreserved(gql: GraphQL, t: Timeline, batch: str) -> datetime:
    """The batch's last manufacturing step, finished at 07:00 Taipei time."""
    done = finished_at_seven_in_taipei(t)
    await run(
        gql,
        "recordBatchStep",
        {
            "batchId": batch,
            "step": "Cryopreservation",
            "siteId": SPOKE,
            "startedAt": (done - timedelta(hours=2)).isoformat(),
            "completedAt": done.isoformat(),
            "operator": "op-tw-mu-hsinchu",
            "materialLots": [],
        },
    )
    return done


async def administered(gql: GraphQL, t: Timeline, batch: str, patient: str = PATIENT) -> None:
    await run(
        gql,
        "recordAdministration",
        {
            "batchId": batch,
            "siteId": HOSPITAL,
            "patientCode": patient,
            "administeredAt": t(-9),
            "identityVerified": True,
            "chainOfIdentityId": "CHA999921123456",
        },
    )


async def used_batch(gql: GraphQL, t: Timeline, batch: str = "B-TW-1") -> datetime:
    """The small Taiwanese network's batch, made, released, delivered and administered."""
    await network(gql, t)
    await donor_with_donation(gql, t)
    await released_lot(gql, t)
    await started_batch(gql, t, batch)
    await transduction(gql, t, batch)
    done = await cryopreserved(gql, t, batch)
    await qc(gql, t, batch)
    await release(gql, t, batch)
    await delivered(gql, t, batch)
    await administered(gql, t, batch)
    return done


async def test_the_record_carries_the_licence_local_days_and_retention(
    gql: GraphQL, service: Regentrace
) -> None:
    del service
    t = Timeline.ending_weeks_ago()
    done = await used_batch(gql, t)
    record = (await gql.data(RECORD, {"id": "B-TW-1"}))["sourceAndFlow"]

    assert record["jurisdiction"] == "TW"
    assert (record["licenceNumber"], record["licenceKind"]) == (CD19_TW, "LICENCE")
    # Finished 07:00 in Taipei: that day in Taiwan, though the day before in UTC.
    assert datetime.fromisoformat(record["manufacturedAt"]) == done
    assert record["manufacturedOn"] == done.date().isoformat()
    assert datetime.fromisoformat(record["manufacturedAt"]).astimezone(UTC).date() != (done.date())
    expires_on = (done + timedelta(days=365)).date()
    assert record["expiresOn"] == expires_on.isoformat()
    # 30 years after expiry for the firm, 15 years from use for the institution.
    assert record["retentionUntil"] == expires_on.replace(year=expires_on.year + 30).isoformat()
    used_on = t.at(-9).astimezone(TAIPEI).date()
    assert record["institutionRetentionUntil"] == (
        used_on.replace(year=used_on.year + 15).isoformat()
    )


async def test_records_filter_by_licence_number(gql: GraphQL, service: Regentrace) -> None:
    del service
    t = Timeline.ending_weeks_ago()
    await used_batch(gql, t)

    async def found(number: str) -> list[dict[str, Any]]:
        data = await gql.data(RECORDS, {"filter": {"licenceNumber": number}})
        return data["sourceAndFlowRecords"]["nodes"]  # type: ignore[no-any-return]

    assert await found(CD19_TW) == [{"batchId": "B-TW-1", "licenceNumber": CD19_TW}]
    assert await found(BCMA_TW) == []  # another product's number
    eu = PRODUCTS["CART-CD19-AUTO"]["licences"]["EU"]["number"]
    assert await found(eu) == []  # the product's number in another jurisdiction
    assert await found("NO-SUCH-NUMBER") == []


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def two_products(gql: GraphQL, t: Timeline) -> None:
    """B-B of CART-CD19-AUTO, used; B-A of CART-BCMA-AUTO (another donor), only started."""
    await used_batch(gql, t, "B-B")
    await donor_with_donation(gql, t, "DNR-0002", "A999921123457", patient="PT-0002")
    await run(
        gql,
        "startBatch",
        {
            "batchId": "B-A",
            "product": "CART-BCMA-AUTO",
            "donationId": "A999921123457",
            "patientCode": "PT-0002",
            "controlSiteId": CONTROL,
            "siteId": SPOKE,
            "startedAt": t(-20),
        },
    )


async def test_the_csv_is_grouped_by_licence_with_local_days(
    gql: GraphQL, service: Regentrace
) -> None:
    del service
    t = Timeline.ending_weeks_ago()
    await two_products(gql, t)
    done = finished_at_seven_in_taipei(t)

    grouped = rows((await gql.data(CSV, {}))["sourceAndFlowCsv"])
    by_id = rows((await gql.data(CSV, {"byLicence": False}))["sourceAndFlowCsv"])

    licence = "許可證字號 / Licence or conditional-approval number"
    batch = "批號 / Batch number"
    assert [(r[licence], r[batch]) for r in grouped] == sorted([(CD19_TW, "B-B"), (BCMA_TW, "B-A")])
    assert [r[batch] for r in by_id] == ["B-A", "B-B"]
    row = next(r for r in grouped if r[batch] == "B-B")
    assert row["製造日期 / Manufacture date"] == done.date().isoformat()
    assert row["有效期限 / Expiry date"] == (done + timedelta(days=365)).date().isoformat()
    assert row["交付日期 / Delivery date"] == t.at(-9.5).astimezone(TAIPEI).date().isoformat()
    assert row["出貨時間 / Dispatched at"] == t.at(-9.9).astimezone(TAIPEI).isoformat()
    assert row["製造者國別 / Manufacturer country"] == "TW"
    assert row["廠商保存期限 / Kept by the firm until"].startswith(str(done.year + 31))
    assert row["醫療機構保存期限 / Kept by the institution until"] != ""
    assert "僅供自體使用 FOR AUTOLOGOUS USE ONLY" in row["標籤警語 / Label statements"]

    only = rows((await gql.data(CSV, {"filter": {"licenceNumber": BCMA_TW}}))["sourceAndFlowCsv"])
    assert [r[batch] for r in only] == ["B-A"]


async def test_the_label_says_what_each_jurisdiction_requires(
    gql: GraphQL, service: Regentrace
) -> None:
    del service
    t = Timeline.ending_weeks_ago()
    done = await used_batch(gql, t)

    tw = (await gql.data(LABEL, {"id": "B-TW-1"}))["label"]
    assert tw["jurisdiction"] == "TW"
    assert tw["product"] == "CART-CD19-AUTO"
    assert tw["chainOfIdentityId"] == "CHA999921123456"
    assert tw["din"] == "A9999211234563"
    assert tw["licenceNumber"] == CD19_TW
    assert tw["expiresOn"] == (done + timedelta(days=365)).date().isoformat()
    assert "-196 to -150 °C" in tw["storage"]
    assert tw["containerId"] is None
    # The donor was tested (an ELIGIBLE determination): only the autologous statement.
    assert [s["text"] for s in tw["statements"]] == ["僅供自體使用 FOR AUTOLOGOUS USE ONLY"]

    us = (await gql.data(LABEL, {"id": "B-TW-1", "jurisdiction": "US"}))["label"]
    assert [s["text"] for s in us["statements"]] == CD19_US_STATEMENTS
    assert us["statements"][0]["source"] == "21 CFR 1271.90(c)(1)"
    assert us["licenceNumber"] is None
    assert us["containerId"] is None
    assert us["expiresOn"] == (done + timedelta(days=365)).astimezone(UTC).date().isoformat()

    # A look-back revocation does not make the donor untested: the label keeps its statements.
    revoked = {"donorCode": "DNR-0001", "reason": "look-back: HBV NAT positive"}
    await run(gql, "revokeEligibility", revoked)
    again = (await gql.data(LABEL, {"id": "B-TW-1"}))["label"]
    assert again["statements"] == tw["statements"]

    body = await gql(LABEL, {"id": "B-TW-1", "jurisdiction": "JP"})
    assert body["errors"][0]["extensions"]["code"] == "BAD_INPUT", body
    assert (await gql.data(LABEL, {"id": "NO-SUCH-BATCH"}))["label"] is None


async def test_an_untested_donors_batch_is_labelled_not_evaluated(
    gql: GraphQL, service: Regentrace
) -> None:
    """An autologous donor needs no eligibility determination: without one, the label says the
    cells were not evaluated for infectious substances."""
    del service
    t = Timeline.ending_weeks_ago()
    await network(gql, t)
    await released_lot(gql, t)
    await run(gql, "registerDonor", {"donorCode": "DNR-U", "siteId": HOSPITAL})
    consent = {"donorCode": "DNR-U", "consentReference": "ICF-U", "signedAt": t(-40)}
    await run(gql, "recordConsent", consent)
    await run(
        gql,
        "recordDonation",
        {
            "donationId": "A999921123458",
            "donorCode": "DNR-U",
            "donationType": "AUTOLOGOUS",
            "siteId": HOSPITAL,
            "material": "Leukapheresis product",
            "sourceTissue": "PERIPHERAL_BLOOD_APHERESIS",
            "acquiredAt": t(-38),
            "intendedPatientCode": "PT-U",
        },
    )
    await started_batch(gql, t, "B-U", "A999921123458", "PT-U")

    us = (await gql.data(LABEL, {"id": "B-U", "jurisdiction": "US"}))["label"]
    assert [s["text"] for s in us["statements"]] == [
        "FOR AUTOLOGOUS USE ONLY",
        "NOT EVALUATED FOR INFECTIOUS SUBSTANCES",
        "WARNING: Advise patient of communicable disease risks",
    ]
    tw = (await gql.data(LABEL, {"id": "B-U"}))["label"]
    assert "未經傳染性物質檢驗 NOT EVALUATED FOR INFECTIOUS SUBSTANCES" in [
        s["text"] for s in tw["statements"]
    ]


CONTAINER_LABEL = """
query ($id: ID!, $container: ID) {
  label(batchId: $id, containerId: $container) {
    batchId containerId containerKind containerVolumeMl containerDose containerDoseUnit
    statements { text }
  }
}
"""


async def test_a_containers_label_carries_its_own_fill(gql: GraphQL, service: Regentrace) -> None:
    del service
    t = Timeline.ending_weeks_ago()
    await network(gql, t)
    await donor_with_donation(gql, t)
    await released_lot(gql, t)
    await started_batch(gql, t, "B-BAGS")
    await transduction(gql, t, "B-BAGS")
    bag = {"kind": "BAG", "volumeMl": 50.0, "dose": 1.0e8, "doseUnit": "CELLS"}
    fill = {
        "batchId": "B-BAGS",
        "siteId": SPOKE,
        "filledAt": t(-12),
        "containers": [bag | {"containerId": "BAG-1"}, bag | {"containerId": "BAG-2"}],
    }
    await run(gql, "recordBatchContainers", fill)

    label = (await gql.data(CONTAINER_LABEL, {"id": "B-BAGS", "container": "BAG-2"}))["label"]
    assert label["containerId"] == "BAG-2"
    assert (label["containerKind"], label["containerVolumeMl"]) == ("BAG", 50.0)
    assert (label["containerDose"], label["containerDoseUnit"]) == (1.0e8, "CELLS")
    assert [s["text"] for s in label["statements"]] == ["僅供自體使用 FOR AUTOLOGOUS USE ONLY"]
    body = await gql(CONTAINER_LABEL, {"id": "B-BAGS", "container": "BAG-9"})
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND", body
