"""Malformed requests, each answered with a JSON GraphQL error carrying ``extensions.code`` and
storing nothing; never an HTTP 500, never INTERNAL (issue 14, rows 1-7 and 13-15).

Through the ASGI app on both databases: JSON arguments nested too deep, request bodies that are
not one UTF-8 JSON object or nest too deep, a subscription over HTTP, cursors the service never
issued, a document too costly to run, one of several operations without a name, and text beyond
its field's length limit.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from api.common import MAX_POSITION
from api.graphql_http import MAX_REQUEST_DEPTH
from domain.shared import MAX_JSON_DEPTH, TEXT_LIMITS, utcnow
from tests.api import chain_documents as docs
from tests.api.access import Ledger, lone_site_database, serving
from tests.api.test_hardening import LEAKS
from tests.conftest import DIALECTS, ledger_size


@pytest.fixture(scope="module", params=DIALECTS)
def ledger(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Ledger]:
    with lone_site_database(request, tmp_path_factory, "malformed") as found:
        yield found


@pytest.fixture
async def http(ledger: Ledger) -> AsyncIterator[httpx.AsyncClient]:
    # The development principal (the module's settings) may send every command.
    async with serving(ledger.settings, ledger.service) as client:
        yield client


def refused(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    """The one error of a refused request: JSON, BAD_INPUT, nothing leaked."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.text
    assert not LEAKS.search(response.text), response.text
    body = response.json()
    assert body.get("data") is None or all(v is None for v in body["data"].values()), body
    codes = [(e.get("extensions") or {}).get("code") for e in body["errors"]]
    assert codes == ["BAD_INPUT"], body
    error: dict[str, Any] = body["errors"][0]
    return error


async def post(http: httpx.AsyncClient, content: bytes | str, **headers: str) -> httpx.Response:
    return await http.post(
        "/graphql",
        content=content.encode() if isinstance(content, str) else content,
        headers={"content-type": "application/json", **headers},
    )


def nested(levels: int, leaf: Any = 1) -> Any:
    """``leaf`` inside ``levels`` levels of alternating objects and lists."""
    value = leaf
    for level in range(levels):
        value = {"k": value} if level % 2 else [value]
    return value


def deep_text(levels: int) -> str:
    """JSON text of ``levels`` nested arrays, written without a recursive encoder."""
    return "[" * levels + "1" + "]" * levels


# ------------------------------------------------------------------ row 1: JSON arguments


def step_input(ledger: Ledger, parameters: Any) -> dict[str, Any]:
    at = (utcnow() - timedelta(hours=1)).isoformat()
    return {
        "batchId": "NO-SUCH-BATCH",  # the depth is refused before the batch is looked for
        "step": "transduction",
        "siteId": ledger.site,
        "startedAt": at,
        "completedAt": at,
        "operator": "op",
        "parameters": parameters,
    }


CORRECT = "mutation ($input: CorrectEventInput!) { correctEvent(input: $input) { position } }"


def json_arguments(ledger: Ledger, value: Any) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each command with a JSON argument, holding ``value`` there."""
    return {
        "recordBatchStep.parameters": (
            docs.mutation("recordBatchStep"),
            {"input": step_input(ledger, {"deep": value})},
        ),
        "registerDonor.personalData": (
            docs.mutation("registerDonor"),
            {"input": {"donorCode": "DNR-DEEP", "siteId": ledger.site, "personalData": value}},
        ),
        "correctEvent.newValue": (
            CORRECT,
            {"input": {"position": 1, "field": "name", "newValue": value, "reason": "typo"}},
        ),
    }


ARGUMENTS = ["recordBatchStep.parameters", "registerDonor.personalData", "correctEvent.newValue"]


@pytest.mark.parametrize("argument", ARGUMENTS)
@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH + 1, MAX_REQUEST_DEPTH - 8])
async def test_a_json_argument_nested_beyond_the_limit_is_bad_input_naming_it(
    http, ledger, argument, levels
):
    document, variables = json_arguments(ledger, nested(levels))[argument]
    before = ledger_size(ledger.service)

    error = refused(await http.post("/graphql", json={"query": document, "variables": variables}))

    assert f"{MAX_JSON_DEPTH} levels" in error["message"], error
    assert ledger_size(ledger.service) == before


@pytest.mark.parametrize("levels", [300, 474, 2000])
async def test_a_json_argument_nested_hundreds_of_levels_is_refused_before_anything_runs(
    http, ledger, levels
):
    """The depths that broke storing (254-473) and input checking (474 on): refused with the
    body's limit, named, before GraphQL sees the request."""
    document, variables = json_arguments(ledger, "DEEP")["recordBatchStep.parameters"]
    body = f'{{"query": {_quoted(document)}, "variables": {{"input": '
    body += _json(variables["input"]).replace('{"deep":"DEEP"}', deep_text(levels)) + "}}"
    before = ledger_size(ledger.service)

    error = refused(await post(http, body), status=400)

    assert f"{MAX_REQUEST_DEPTH} levels" in error["message"], error
    assert ledger_size(ledger.service) == before


async def test_a_json_literal_nested_beyond_the_limit_in_the_document_is_bad_input(http, ledger):
    literal = "{a: " * (MAX_JSON_DEPTH + 1) + "1" + "}" * (MAX_JSON_DEPTH + 1)
    document = (
        f'mutation {{ correctEvent(input: {{position: 1, field: "name", newValue: {literal}, '
        'reason: "typo"}) { position } }'
    )
    before = ledger_size(ledger.service)

    error = refused(await http.post("/graphql", json={"query": document}))

    assert f"{MAX_JSON_DEPTH} levels" in error["message"], error
    assert ledger_size(ledger.service) == before


async def test_a_json_argument_at_the_limit_is_stored_whole(http, ledger):
    value = nested(MAX_JSON_DEPTH, "deepest")
    document = docs.mutation("registerDonor")
    donor = {"donorCode": "DNR-AT-LIMIT", "siteId": ledger.site, "personalData": value}
    before = ledger_size(ledger.service)

    response = await http.post("/graphql", json={"query": document, "variables": {"input": donor}})

    assert "errors" not in response.json(), response.text
    assert ledger_size(ledger.service) == before + 1


# --------------------------------------------------------------- rows 2-4: request bodies


BODIES = {
    "a variable nested 959 levels": (
        '{"query": "{ __typename }", "variables": {"x": ' + deep_text(959) + "}}"
    ),
    "a variable nested 5000 levels": (
        '{"query": "{ __typename }", "variables": {"x": ' + deep_text(5000) + "}}"
    ),
    "a member nested 100,000 levels": '{"query": "{ __typename }", "x": '
    + deep_text(100_000)
    + "}",
    "a member nested one level over the limit": (
        '{"query": "{ __typename }", "x": ' + deep_text(MAX_REQUEST_DEPTH) + "}"
    ),
}


@pytest.mark.parametrize("case", list(BODIES))
async def test_a_body_nested_too_deep_is_400_bad_input_in_json(http, case):
    error = refused(await post(http, BODIES[case]), status=400)

    assert f"{MAX_REQUEST_DEPTH} levels" in error["message"]


async def test_a_body_nested_to_the_limit_is_served(http):
    body = '{"query": "{ __typename }", "x": ' + deep_text(MAX_REQUEST_DEPTH - 1) + "}"

    response = await post(http, body)

    assert response.json() == {"data": {"__typename": "Query"}}, response.text


@pytest.mark.parametrize(
    "body",
    [
        b'{"query": "{ __typename \xff }"}',
        b'{"query": "{ sites { id } }", "x": "\xc3\x28"}',
        b"\xfe\xff\x00{",
        '{"query": "{ __typename }"}'.encode("utf-16"),
    ],
)
async def test_a_body_that_is_not_utf8_is_400_bad_input(http, body):
    error = refused(await post(http, body), status=400)

    assert "UTF-8" in error["message"]


@pytest.mark.parametrize(
    "body", ["null", "123", '"str"', "true", "[]", '[{"query": "{ sites { id } }"}]']
)
async def test_a_body_that_is_not_one_json_object_is_400_bad_input(http, body):
    error = refused(await post(http, body), status=400)

    assert "one JSON object" in error["message"]


@pytest.mark.parametrize("body", ["", "{", '{"query": }', "NaN}", '{"query": "{ sites }"'])
async def test_a_body_that_is_not_json_is_400_bad_input(http, body):
    refused(await post(http, body), status=400)


# ------------------------------------------------------------- row 5: subscriptions over HTTP

SUBSCRIPTION = "subscription { ledgerEvents(after: 0) { position } }"


async def test_a_subscription_over_post_is_bad_input_pointing_at_the_websocket(http):
    error = refused(await http.post("/graphql", json={"query": SUBSCRIPTION}), status=400)

    assert "WebSocket" in error["message"]
    assert "graphql-transport-ws" in error["message"]


async def test_a_subscription_over_get_is_bad_input_too(http):
    response = await http.get(
        "/graphql", params={"query": SUBSCRIPTION}, headers={"accept": "application/json"}
    )

    assert "WebSocket" in refused(response, status=400)["message"]


# ------------------------------------------------------------------------ rows 6-7: cursors


def cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


PAGES = {
    "events": "query ($after: String) { events(first: 2, after: $after) { nodes { position } } }",
    "batches": "query ($after: String) { batches(first: 2, after: $after) { nodes { id } } }",
    "sourceAndFlowRecords": (
        "query ($after: String) { sourceAndFlowRecords(first: 2, after: $after) "
        "{ nodes { batchId } } }"
    ),
}
FORGED = {
    "a position of 2^63": cursor(str(2**63)),
    "a position of 10^30": cursor("1" + "0" * 30),
    "a position of -1": cursor("-1"),
    "a NUL byte": "AA==",
    "a key holding NUL": cursor("B-1\x00"),
    "a key of 65 characters": cursor("B" * 65),
    "a key with a space": cursor("B 1"),
    "a key with a colon": cursor("Batch:B-1"),
    "a control character": cursor("B\x1b[31m"),
    "not UTF-8": base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    "not base64": "!!!",
    "a very long cursor": "QUFB" * 1000,
    "empty": "",
}


@pytest.mark.parametrize("query", list(PAGES))
@pytest.mark.parametrize("forged", list(FORGED))
async def test_a_cursor_this_service_never_issued_is_bad_input_on_every_page(http, query, forged):
    response = await http.post(
        "/graphql", json={"query": PAGES[query], "variables": {"after": FORGED[forged]}}
    )

    if query != "events" and forged.startswith("a position"):
        # digits are a well-formed key for batches; a page after it is simply empty
        assert response.json() == {"data": {query: {"nodes": []}}}, response.text
        return
    error = refused(response)
    assert error["extensions"]["field"] == "after"


async def test_the_largest_position_both_databases_store_is_a_cursor_of_an_empty_page(http):
    response = await http.post(
        "/graphql",
        json={"query": PAGES["events"], "variables": {"after": cursor(str(MAX_POSITION))}},
    )

    assert response.json() == {"data": {"events": {"nodes": []}}}, response.text


async def test_an_issued_cursor_still_pages_on(http, ledger):
    first = (await http.post("/graphql", json={"query": _paged_events(None)})).json()
    end = first["data"]["events"]["pageInfo"]["endCursor"]

    second = (await http.post("/graphql", json={"query": _paged_events(end)})).json()

    positions = [n["position"] for n in second["data"]["events"]["nodes"]]
    assert positions
    assert positions[0] == first["data"]["events"]["nodes"][-1]["position"] + 1


def _paged_events(after: str | None) -> str:
    argument = f', after: "{after}"' if after else ""
    return f"{{ events(first: 1{argument}) {{ nodes {{ position }} pageInfo {{ endCursor }} }} }}"


# ------------------------------------------------------------------------- row 13: cost

REPEATED = "{ " + " ".join(["sites { id }"] * 1240) + " }"


async def test_a_document_repeating_a_field_1240_times_is_refused_for_its_cost(http, ledger):
    error = refused(await http.post("/graphql", json={"query": REPEATED}))

    limit = ledger.settings.max_query_cost
    assert error["extensions"]["limit"] == limit
    assert error["extensions"]["cost"] > limit
    assert f"{limit:,}" in error["message"]
    assert "cost" in error["message"]


async def test_validation_of_a_document_over_the_cost_stops_at_the_cost(http):
    """Validation stops there: the unknown fields that would each be an error are not looked at."""
    unknown = " ".join(f"nothing{i}" for i in range(200))
    document = "{ " + " ".join(["sites { id }"] * 1000) + f" {unknown} }}"

    response = await http.post("/graphql", json={"query": document})

    assert len(response.json()["errors"]) == 1
    assert "cost" in refused(response)["message"]


async def test_a_demo_sized_query_is_within_the_cost(http, ledger):
    document = """
    query {
      batches(first: 50) {
        nodes { id status donorCode affected affectedBy } pageInfo { endCursor }
      }
      events(first: 100) { nodes { position aggregateId type recordedAt actor payload hash } }
      dmMasterFile(controlSiteId: "TW-CTRL-SOLO") {
        controlSite { id status history { status at reason actor position } }
        sites { id kind status history { status at reason actor position } }
      }
      unionDatabaseSiteLinks(centralSiteId: "TW-CTRL-SOLO") {
        decentralisedSite { id name country status } history { status at reason actor position }
      }
    }
    """

    response = await http.post("/graphql", json={"query": document})

    assert "errors" not in response.json(), response.text


async def test_the_cost_limit_is_a_setting(ledger):
    settings = ledger.settings.model_copy(update={"max_query_cost": 50})
    async with serving(settings, ledger.service) as http:
        small = await http.post("/graphql", json={"query": "{ sites { id name } }"})
        paged = await http.post(
            "/graphql", json={"query": "{ batches(first: 20) { nodes { id status } } }"}
        )

    assert "errors" not in small.json(), small.text  # 1 + 10 x (1 + 1)
    # batches 1, then 20 of each of nodes, id and status
    assert refused(paged)["extensions"] == {"code": "BAD_INPUT", "cost": 61, "limit": 50}


# ----------------------------------------------------------- row 14: several operations

TWO = "query A { sites { id } } query B { __typename }"


async def test_two_operations_without_an_operation_name_are_bad_input(http):
    error = refused(await http.post("/graphql", json={"query": TWO}))

    assert "operationName" in error["message"]


async def test_two_operations_run_the_one_named(http):
    response = await http.post("/graphql", json={"query": TWO, "operationName": "B"})

    assert response.json() == {"data": {"__typename": "Query"}}


async def test_an_unknown_operation_name_is_bad_input(http):
    refused(await http.post("/graphql", json={"query": TWO, "operationName": "C"}), status=400)


# ------------------------------------------------------------------ row 15: text lengths


def site(site_id: str, name: str) -> dict[str, Any]:
    return {
        "id": site_id,
        "name": name,
        "kind": "MEDICAL_INSTITUTION",
        "jurisdiction": "TW",
        "country": "TW",
        "supervisingAuthority": "TFDA",
    }


async def test_a_site_name_of_999000_characters_is_bad_input_naming_the_limit(http, ledger):
    before = ledger_size(ledger.service)

    response = await http.post(
        "/graphql",
        json={
            "query": docs.mutation("registerSite"),
            "variables": {"input": site("TW-MI-LONG", "N" * 999_000)},
        },
    )

    error = refused(response)
    assert f"{TEXT_LIMITS['name']:,}" in error["message"]
    assert ledger_size(ledger.service) == before


@pytest.mark.parametrize(
    ("field", "over"),
    [("name", "name"), ("supervisingAuthority", "supervisingAuthority"), ("id", "id")],
)
async def test_each_kind_of_text_is_held_to_its_own_limit(http, ledger, field, over):
    limit = TEXT_LIMITS[over]
    at_limit = site("TW-MI-EDGE-" + field[:4], "Edge hospital") | {field: "X" * limit}
    beyond = site("TW-MI-OVER-" + field[:4], "Over hospital") | {field: "X" * (limit + 1)}
    before = ledger_size(ledger.service)

    too_long = await http.post(
        "/graphql", json={"query": docs.mutation("registerSite"), "variables": {"input": beyond}}
    )

    assert f"{limit:,}" in refused(too_long)["message"]
    assert ledger_size(ledger.service) == before
    if field != "id":  # an identifier has its own, shorter rule (64 characters)
        fits = await http.post(
            "/graphql",
            json={"query": docs.mutation("registerSite"), "variables": {"input": at_limit}},
        )
        assert "errors" not in fits.json(), fits.text
        assert ledger_size(ledger.service) == before + 1


async def test_text_inside_a_query_argument_is_held_to_the_limit_too(http):
    response = await http.post(
        "/graphql",
        json={
            "query": "query ($id: ID!) { site(id: $id) { id } }",
            "variables": {"id": "S" * 100_000},
        },
    )

    refused(response)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _quoted(text: str) -> str:
    return _json(text)
