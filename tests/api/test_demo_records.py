"""The demo's source-and-flow CSV, read through HTTP as an inspector's tool would fetch it (issue
18): every Taiwanese batch carries its licence number, rows come grouped by it, dates are Taiwan's
calendar days, and the decisions the demo dates in its story (the sterility failure's rejection and
destruction in January 2026) are dated then, not on the day the demo was seeded."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta, timezone

from api.wiring import Regentrace
from demo.network import seed
from domain import records
from tests.api.client import GraphQL

TAIPEI = timezone(timedelta(hours=8))
CSV = "query ($filter: SourceAndFlowFilter) { sourceAndFlowCsv(filter: $filter) }"
RECORDS = """
query {
  sourceAndFlowRecords(first: 200) {
    nodes { batchId jurisdiction licenceNumber manufacturedAt manufacturedOn }
  }
}
"""
LICENCE = "許可證字號 / Licence or conditional-approval number"
BATCH = "批號 / Batch number"
MADE_ON = "製造日期 / Manufacture date"
DISPOSITION = "最終處置 / Final disposition"
DISPOSED_AT = "處置時間 / Disposition at"
DECIDED_AT = "放行時間 / Decided at"


async def test_the_demo_csv_shows_licence_numbers_local_days_and_story_dates(
    gql: GraphQL, service: Regentrace
) -> None:
    seed(service.app)
    text = (await gql.data(CSV, {"filter": {"siteId": "TW-CTRL-TPE"}}))["sourceAndFlowCsv"]
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows

    # Every Taiwanese batch is filed under its product's Taiwanese licence number, grouped.
    numbers = [r[LICENCE] for r in rows]
    assert all(numbers), "a Taiwanese batch without its licence number"
    assert numbers == sorted(numbers)
    expected = {
        code: found.number
        for (code, jurisdiction), found in records.licences().items()
        if jurisdiction == "TW"
    }
    for row in rows:
        product = row["製劑 / Product"].split(" — ", 1)[0]
        assert row[LICENCE] == expected[product], row[BATCH]

    # Manufacture dates are Taiwan's days; in the demo some fall on another UTC day.
    nodes = (await gql.data(RECORDS))["sourceAndFlowRecords"]["nodes"]
    made = {n["batchId"]: n for n in nodes if n["jurisdiction"] == "TW"}
    moved = 0
    for row in rows:
        node = made[row[BATCH]]
        at = datetime.fromisoformat(node["manufacturedAt"])
        assert row[MADE_ON] == at.astimezone(TAIPEI).date().isoformat() == node["manufacturedOn"]
        moved += at.astimezone(UTC).date() != at.astimezone(TAIPEI).date()
    assert moved > 0, "the demo should show a batch whose UTC and Taiwan days differ"

    # The sterility failure (CART-26005, made in the Netherlands under the EU central site) was
    # rejected and destroyed in January 2026, in the story's time; the EU has no one calendar
    # configured, so its times are written in UTC.
    every = (await gql.data(CSV, {}))["sourceAndFlowCsv"]
    failed = [r for r in csv.DictReader(io.StringIO(every)) if r[BATCH] == "CART-26005"]
    assert failed, "CART-26005 is the demo's sterility failure"
    assert failed[0][LICENCE] == records.licences()[("CART-CD19-AUTO", "EU")].number
    assert failed[0][DISPOSITION] == "DESTROYED"
    assert failed[0][DISPOSED_AT].startswith("2026-01-")
    assert failed[0][DISPOSED_AT].endswith("+00:00")
    assert failed[0][DECIDED_AT].startswith("2026-01-")
