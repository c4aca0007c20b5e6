"""The worked example of docs/partner-guide.md, replayed document by document.

If the guide and the service ever disagree, this test fails: partners copy from the guide.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from api.wiring import Regentrace
from demo import network as demo
from tests.api.client import GraphQL
from tests.conftest import ledger_size

GUIDE = Path(__file__).parents[2] / "docs" / "partner-guide.md"
STEP = re.compile(
    r"```graphql\n(?P<document>.*?)```\n```json\n(?P<variables>.*?)```(?P<after>.*?)(?=```graphql|\Z)",
    re.DOTALL,
)
EXPECTED = re.compile(r"Expected: `(?P<code>[A-Z_]+)`")


def guide_steps() -> list[tuple[str, dict, str | None]]:
    steps = []
    for match in STEP.finditer(GUIDE.read_text(encoding="utf-8")):
        expected = EXPECTED.search(match["after"])
        steps.append(
            (match["document"], json.loads(match["variables"]), expected and expected["code"])
        )
    return steps


def test_the_guide_has_a_step_for_every_partner_from_donor_to_adverse_event():
    documents = " ".join(document for document, _, _ in guide_steps())
    for field in (
        "registerDonor",
        "recordConsent",
        "determineEligibility",
        "recordDonation",
        "receiveMaterialLot",
        "releaseMaterialLot",
        "startBatch",
        "recordBatchStep",
        "recordQcResult",
        "releaseBatch",
        "dispatchShipment",
        "receiveShipment",
        "recordAdministration",
        "reportAdverseEvent",
        "submitAdverseEventToAuthority",
    ):
        assert f"{field}(" in documents, field


async def test_the_worked_example_of_the_partner_guide_runs_as_written(
    gql: GraphQL, service: Regentrace
):
    demo.seed(service.app, flows=False)
    for document, variables, expected_code in guide_steps():
        before = ledger_size(service)
        body = await gql(document, variables)
        if expected_code is None:
            assert "errors" not in body, (document, body)
        else:
            codes = [e["extensions"]["code"] for e in body["errors"]]
            assert codes == [expected_code], body
            assert ledger_size(service) == before

    final = await gql(
        "query($id: ID!) { batch(id: $id) { status location affected } }", {"id": "CART-29001"}
    )
    assert final["data"]["batch"] == {
        "status": "ADMINISTERED",
        "location": "TW-MI-NTUH",
        "affected": False,
    }
