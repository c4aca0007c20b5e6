"""``checkpoints(first, after)`` through the partner contract, on each database: the signed
checkpoints in the order taken, a page at a time, each with the document to hand over. Who may
list them is in tests/api/test_access_matrix.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from api.checkpoint import Checkpoint, signing_key, take
from api.common import encode_cursor
from api.settings import Settings
from api.wiring import Regentrace
from tests.api.client import GraphQL
from tests.integration import chain as c
from tests.integration.chain import LAB, NETWORK

CHECKPOINTS = """
query Checkpoints($first: Int, $after: String) {
  checkpoints(first: $first, after: $after) {
    nodes { id position headHash signedAt keyId publicKey signature document }
    pageInfo { hasNextPage endCursor }
  }
}
"""


@pytest.fixture
def taken(settings: Settings, service: Regentrace) -> list[Checkpoint]:
    """Three checkpoints, the ledger growing between them."""
    c.build(service, "released")
    key = signing_key(settings)
    found = [take(service, key, lambda _d, _t: None)]
    for reason in ("audit finding", "second audit"):
        service.app.sites.suspend_site(NETWORK, LAB, reason)
        service.app.sites.reinstate_site(NETWORK, LAB, "closed")
        found.append(take(service, key, lambda _d, _t: None))
    return found


def stored(service: Regentrace) -> list[dict[str, Any]]:
    with service.read() as sql:
        return sql.all("SELECT * FROM checkpoints ORDER BY checkpoint_id")


async def test_the_checkpoints_are_listed_in_the_order_taken_a_page_at_a_time(
    gql: GraphQL, service, taken
):
    first = (await gql.data(CHECKPOINTS, {"first": 2}))["checkpoints"]
    rest = (await gql.data(CHECKPOINTS, {"first": 2, "after": first["pageInfo"]["endCursor"]}))[
        "checkpoints"
    ]

    nodes = first["nodes"] + rest["nodes"]
    assert (first["pageInfo"]["hasNextPage"], rest["pageInfo"]["hasNextPage"]) == (True, False)
    rows = stored(service)
    assert [n["id"] for n in nodes] == [str(r["checkpoint_id"]) for r in rows] == ["1", "2", "3"]
    assert [n["position"] for n in nodes] == [int(r["position"]) for r in rows]
    assert [n["position"] for n in nodes] == [c.position for c in taken]
    assert nodes[0]["position"] < nodes[1]["position"] < nodes[2]["position"]
    for node, checkpoint in zip(nodes, taken, strict=True):
        document = json.loads(node["document"])
        assert document == checkpoint.document()
        assert Checkpoint.of_document(document).signature_holds()
        assert (node["headHash"], node["keyId"], node["publicKey"], node["signature"]) == (
            document["head_hash"],
            document["key_id"],
            document["public_key"],
            document["signature"],
        )
        with service.read() as sql:
            at = sql.scalar("SELECT hash FROM ledger WHERE position = ?", (node["position"],))
        assert node["headHash"] == str(at).strip()


async def test_no_checkpoint_yet_is_an_empty_list(gql: GraphQL, service):
    found = (await gql.data(CHECKPOINTS))["checkpoints"]

    assert found == {"nodes": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}


@pytest.mark.parametrize(
    "after", [encode_cursor("x"), encode_cursor("9" * 30), encode_cursor("²"), "not base64!"]
)
async def test_a_cursor_that_is_not_a_checkpoints_is_bad_input(gql: GraphQL, service, after):
    body = await gql(CHECKPOINTS, {"after": after})

    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_INPUT"]
