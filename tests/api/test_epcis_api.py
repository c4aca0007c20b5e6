"""The EPCIS 2.0 export through GraphQL: a partner asks for the document of a batch, a shipment,
a recall or a window and gets JSON-LD that GS1's schema accepts; a scope that is not exactly one
thing is BAD_INPUT, one that names nothing is NOT_FOUND."""

from __future__ import annotations

import pytest

from demo.network import seed
from tests.api.client import GraphQL
from tests.epcis import events, violations

pytestmark = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)

EPCIS = """
query Epcis($scope: EpcisScopeInput!, $asOf: DateTime) {
  epcisDocument(scope: $scope, asOf: $asOf)
}
"""
SCOPES = {
    "batch": {"batchId": "CART-26008"},
    "shipment": {"shipmentId": "SHP-CART-26008"},
    "recall": {"recallId": "RCL-2026-003"},
    "window": {"window": {"from": "2025-12-01T00:00:00+00:00", "to": "2025-12-31T23:59:00+00:00"}},
}


@pytest.fixture
def demo(service):
    seed(service.app)
    return service


@pytest.mark.parametrize("kind", SCOPES)
async def test_a_partner_gets_an_epcis_document_gs1s_schema_accepts(gql: GraphQL, demo, kind):
    data = await gql.data(EPCIS, {"scope": SCOPES[kind]})

    document = data["epcisDocument"]
    assert document["type"] == "EPCISDocument"
    assert events(document)
    assert violations(document) == []


async def test_as_of_before_the_batch_existed_the_batch_is_not_found(gql: GraphQL, demo):
    body = await gql(EPCIS, {"scope": SCOPES["batch"], "asOf": "2020-01-01T00:00:00+00:00"})

    assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]


@pytest.mark.parametrize(
    "scope",
    [
        {},
        {"batchId": "CART-26008", "recallId": "RCL-2026-003"},
        {"window": {"from": "2025-12-31T00:00:00+00:00", "to": "2025-12-01T00:00:00+00:00"}},
    ],
)
async def test_a_scope_that_is_not_exactly_one_thing_is_bad_input(gql: GraphQL, demo, scope):
    body = await gql(EPCIS, {"scope": scope})

    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_INPUT"]
    assert body["data"] is None


async def test_a_recall_that_does_not_exist_is_not_found(gql: GraphQL, demo):
    body = await gql(EPCIS, {"scope": {"recallId": "RCL-NONE"}})

    assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]
    assert "RCL-NONE" in body["errors"][0]["message"]
