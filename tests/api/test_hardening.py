"""Requests that would cost the service or tell an attacker too much are refused with a code, never
a fault: bodies over the limit, documents too deep, too aliased or too long, introspection in
production, more calls a minute than a principal is allowed; and no error, whatever provoked it,
carries a stack trace or a line of SQL. The development principal is off throughout."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from api.auth.keys import ApiKeys
from api.settings import Settings
from tests.api.access import Ledger, lone_site_database, serving
from tests.conftest import DIALECTS, ledger_size

SITES = "{ sites { id } }"
DEEP = """
{ sourceAndFlowRecords { nodes { source { acquisitionSite { history { actor } } } } } }
"""
INTROSPECTION = "{ __schema { queryType { name } types { name } } }"
TYPE_INTROSPECTION = '{ __type(name: "Mutation") { fields { name } } }'
# What a leaked fault looks like: a Python trace, a file path, SQL, a driver's name.
LEAKS = re.compile(
    r"Traceback|File \"|\.py\b|SELECT |INSERT |UPDATE |DELETE |FROM \w|WHERE |"
    r"sqlite3|psycopg|OperationalError|ProgrammingError|IntegrityError|DataError|stored_events",
    re.IGNORECASE,
)


@pytest.fixture(scope="module", params=DIALECTS)
def ledger(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Ledger]:
    with lone_site_database(request, tmp_path_factory, "hardening") as found:
        yield found


@pytest.fixture(scope="module")
def tokens(ledger: Ledger) -> dict[str, str]:
    keys = ApiKeys(ledger.service)
    return {
        "admin": keys.create("hardening-admin", "administrator", [])[1],
        "operator": keys.create("hardening-operator", "spoke_operator", [ledger.site])[1],
        "regulator": keys.create("hardening-regulator", "regulator", [], "TW")[1],
    }


def locked(ledger: Ledger, **more: Any) -> Settings:
    return ledger.settings.model_copy(update={"dev_principal_enabled": False, **more})


@pytest.fixture
async def http(ledger: Ledger) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(locked(ledger), ledger.service) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def send(http: httpx.AsyncClient, token: str, query: str, **variables: Any) -> Any:
    return await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=bearer(token)
    )


def refused(response: httpx.Response) -> list[str]:
    """The codes of a refused request, after checking it is no fault and leaks nothing."""
    assert response.status_code < 500, response.text
    assert not LEAKS.search(response.text), response.text
    body = response.json()
    assert body.get("errors"), body
    found = [(e.get("extensions") or {}).get("code") for e in body["errors"]]
    assert None not in found, body
    assert "INTERNAL" not in found, body
    return found


# ------------------------------------------------------------------------------------ body size


async def test_a_body_over_the_limit_is_refused_413_before_anything_runs(http, ledger, tokens):
    padding = "x" * (ledger.settings.max_body_bytes + 1)
    before = ledger_size(ledger.service)

    response = await http.post(
        "/graphql",
        json={"query": SITES, "variables": {"padding": padding}},
        headers=bearer(tokens["admin"]),
    )

    assert response.status_code == 413
    assert refused(response) == ["BAD_INPUT"]
    assert ledger_size(ledger.service) == before


async def test_a_streamed_body_over_the_limit_is_refused_though_it_declares_no_length(
    http, ledger, tokens
):
    chunk = b" " * 65536
    chunks = ledger.settings.max_body_bytes // len(chunk) + 2

    async def body() -> AsyncIterator[bytes]:
        yield b'{"query": "{ sites { id } }", "x": "'
        for _ in range(chunks):
            yield chunk
        yield b'"}'

    response = await http.post(
        "/graphql",
        content=body(),
        headers=bearer(tokens["admin"]) | {"Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert refused(response) == ["BAD_INPUT"]


# ------------------------------------------------------------------------- document limits


async def test_a_document_deeper_than_the_limit_is_refused_with_a_code(ledger, tokens):
    async with serving(locked(ledger, max_query_depth=4), ledger.service) as http:
        shallow = await send(http, tokens["admin"], "{ sites { id history { actor } } }")
        deep = await send(http, tokens["admin"], DEEP)

    assert shallow.status_code == 200
    assert "errors" not in shallow.json(), shallow.text
    assert refused(deep) == ["BAD_INPUT"]


async def test_a_document_with_too_many_aliases_is_refused_with_a_code(http, ledger, tokens):
    limit = ledger.settings.max_aliases
    aliased = "{ " + " ".join(f"s{i}: sites {{ id }}" for i in range(limit + 1)) + " }"
    allowed = "{ " + " ".join(f"s{i}: sites {{ id }}" for i in range(limit)) + " }"

    too_many = await send(http, tokens["admin"], aliased)
    enough = await send(http, tokens["admin"], allowed)

    assert refused(too_many) == ["BAD_INPUT"]
    assert "errors" not in enough.json(), enough.text


async def test_a_document_of_too_many_tokens_is_refused_with_a_code(http, ledger, tokens):
    fields = " ".join(["id"] * ledger.settings.max_tokens)

    response = await send(http, tokens["admin"], f"{{ sites {{ {fields} }} }}")

    assert refused(response) == ["BAD_INPUT"]


# ------------------------------------------------------------------------------- introspection


def production(ledger: Ledger, **more: Any) -> Settings:
    return locked(
        ledger,
        environment="production",
        personal_data_keys=base64.b64encode(os.urandom(32)).decode(),
        **more,
    )


@pytest.mark.parametrize("query", [INTROSPECTION, TYPE_INTROSPECTION])
async def test_introspection_is_refused_in_production(ledger, tokens, query):
    async with serving(production(ledger), ledger.service) as http:
        response = await send(http, tokens["admin"], query)
        ordinary = await send(http, tokens["admin"], SITES)

    assert set(refused(response)) == {"BAD_INPUT"}
    assert "registerSite" not in response.text
    assert ordinary.json() == {"data": {"sites": [{"id": ledger.site}]}}


async def test_introspection_is_served_in_production_when_switched_on(ledger, tokens):
    async with serving(production(ledger, introspection=True), ledger.service) as http:
        response = await send(http, tokens["admin"], INTROSPECTION)

    assert response.status_code == 200
    assert response.json()["data"]["__schema"]["queryType"] == {"name": "Query"}


async def test_a_get_that_claims_to_be_a_browser_runs_no_query_in_production(ledger):
    async with serving(production(ledger), ledger.service) as http:
        response = await http.get(
            "/graphql", params={"query": SITES}, headers={"Accept": "text/html,application/json"}
        )

    assert ledger.site not in response.text
    assert response.status_code < 500


# ---------------------------------------------------------------------------------- rate limit


async def test_a_principal_over_its_rate_is_refused_429_with_retry_after(ledger, tokens):
    async with serving(locked(ledger, rate_limit_per_minute=3), ledger.service) as http:
        admitted = [await send(http, tokens["admin"], SITES) for _ in range(3)]
        fourth = await send(http, tokens["admin"], SITES)
        someone_else = await send(http, tokens["regulator"], SITES)

    assert [r.status_code for r in admitted] == [200, 200, 200]
    assert fourth.status_code == 429
    assert refused(fourth) == ["RATE_LIMITED"]
    assert int(fourth.headers["retry-after"]) >= 1
    assert someone_else.status_code == 200


# ------------------------------------------------------------------------------ error masking

PROVOCATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "a syntax error": ("{ sites { id ", {}),
    "an unknown field": ("{ sites { id password } }", {}),
    "an unknown root field": ("{ ledgerTables }", {}),
    "a variable of the wrong type": (
        "query ($first: Int) { batches(first: $first) { nodes { id } } }",
        {"first": "'; DROP TABLE ledger; --"},
    ),
    "an integer out of range": (
        "query ($first: Int) { batches(first: $first) { nodes { id } } }",
        {"first": 2**40},
    ),
    "a forged cursor": (
        "query ($after: String) { batches(after: $after) { nodes { id } } }",
        {"after": "' OR 1=1 --"},
    ),
    "a forged events cursor": (
        "query ($after: String) { events(after: $after) { nodes { position } } }",
        {"after": "MTsgRFJPUCBUQUJMRSBsZWRnZXI="},
    ),
    "a date that is no date": (
        "query ($asOf: DateTime) { batches(asOf: $asOf) { nodes { id } } }",
        {"asOf": "2025-13-45T99:99:99"},
    ),
    "a date without an offset": (
        "query ($asOf: DateTime) { batches(asOf: $asOf) { nodes { id } } }",
        {"asOf": "2025-01-01T00:00:00"},
    ),
    "a position out of range": (
        "query ($to: Int) { verifyLedger(fromPosition: -5, toPosition: $to) { ok } }",
        {"to": 2**31 - 1},
    ),
    "an unknown enum value": (
        'query { recallTrace(origin: {kind: TABLE, id: "ledger"}) { nodes { id } } }',
        {},
    ),
}


@pytest.mark.parametrize("case", list(PROVOCATIONS))
async def test_no_error_carries_a_trace_or_sql(http, tokens, case):
    query, variables = PROVOCATIONS[case]

    response = await send(http, tokens["regulator"], query, **variables)

    if response.json().get("errors"):
        refused(response)
    else:
        assert response.status_code == 200, response.text
