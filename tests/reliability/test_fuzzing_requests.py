"""Whole requests fuzzed through the ASGI app, on both databases: request bodies (bytes, broken
and deeply nested JSON, JSON that is not an object), variables of every shape against the
commands with JSON arguments, and cursors of every paginated query.

Whatever arrives, the answer is JSON, never a 5xx and never INTERNAL; every error carries a
code; and a refused request leaves the ledger exactly as long as it was (test_fuzzing.py fuzzes
each mutation's input fields from the schema; this one fuzzes what sits around them).
A keep-alive connection to a real server process survives a refused request.
"""

from __future__ import annotations

import base64
import http.client
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as run
from hypothesis import strategies as st

from api.settings import parse_database_url
from api.wiring import migrate
from tests.api import chain_documents as docs
from tests.conftest import DIALECTS, ledger_size, reset_postgres
from tests.integration import chain as ch
from tests.reliability.harness import Seeded, ServerProcess, encode

EXAMPLES = {"sqlite": 60, "postgresql": 30}  # per test, of generated requests
CODES = {"BAD_INPUT", "NOT_FOUND", "CONFLICT", "RULE_VIOLATION", "FORBIDDEN"}


def examples(seeded: Seeded) -> Any:
    return run(
        max_examples=EXAMPLES[seeded.settings.database.dialect],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def answered(seeded: Seeded, body: bytes) -> tuple[dict[str, Any], int]:
    """Send ``body``; check the answer is JSON with a code on every error and no fault; answer
    it and by how many events the ledger grew (none when anything was refused)."""
    before = ledger_size(seeded.service)
    response = seeded.post(body)
    grown = ledger_size(seeded.service) - before
    assert response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/json"), response.text
    answer = response.json()
    assert isinstance(answer, dict), answer
    codes = [(e.get("extensions") or {}).get("code") for e in answer.get("errors") or []]
    assert set(codes) <= CODES, answer
    if codes:
        assert grown == 0, f"a refused request stored {grown} event(s): {answer}"
    return answer, grown


def _outcome(answer: dict[str, Any]) -> str:
    return "refused" if answer.get("errors") else "served"


# -------------------------------------------------------------------------------- bodies

VALID = {"query": "{ sites { id } }"}


def json_values(depth: int = 3) -> st.SearchStrategy[Any]:
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=20),
    )
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=8 * depth,
    )


def nested_text() -> st.SearchStrategy[str]:
    """JSON text nested to any depth, up to far past every limit."""
    return st.tuples(st.integers(1, 3000), st.sampled_from(["[", '{"a":'])).map(
        lambda x: x[1] * x[0] + "1" + ("]" if x[1] == "[" else "}") * x[0]
    )


def nested_values() -> st.SearchStrategy[Any]:
    """Lists and objects nested up to 600 levels (past every limit, within what this process's
    own encoder writes)."""

    def build(levels: int) -> Any:
        value: Any = "deepest"
        for level in range(levels):
            value = {"a": value} if level % 2 else [value]
        return value

    return st.integers(1, 600).map(build)


def bodies() -> st.SearchStrategy[bytes]:
    valid = json.dumps(VALID).encode()
    return st.one_of(
        st.binary(max_size=64),
        st.text(max_size=64).map(str.encode),
        json_values().map(lambda v: json.dumps(v).encode()),
        st.dictionaries(
            st.sampled_from(["query", "variables", "operationName", "extensions", "x"]),
            json_values(),
        ).map(lambda d: json.dumps(d).encode()),
        nested_text().map(lambda t: ('{"query": "{ __typename }", "x": ' + t + "}").encode()),
        st.tuples(st.integers(0, len(valid)), st.binary(max_size=4)).map(
            lambda x: valid[: x[0]] + x[1] + valid[x[0] :]
        ),
        st.integers(0, len(valid)).map(lambda n: valid[:n]),
    )


def test_no_request_body_breaks_the_api(seeded: Seeded):
    outcomes: Counter[str] = Counter()

    @examples(seeded)
    @given(body=bodies())
    def fuzz(body: bytes) -> None:
        outcomes[_outcome(answered(seeded, body)[0])] += 1

    fuzz()

    assert outcomes["refused"] > outcomes["served"] > 0, outcomes


# ----------------------------------------------------------------------------- variables

CORRECT = "mutation ($input: CorrectEventInput!) { correctEvent(input: $input) { position } }"


def commands(seeded: Seeded) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    """The commands with JSON arguments, those arguments (or whole inputs) of any shape."""
    at = seeded.now.isoformat()
    step = {
        "batchId": ch.BATCH,
        "step": "fuzzed step",
        "siteId": ch.SPOKE,
        "startedAt": at,
        "completedAt": at,
        "operator": "op",
    }
    anything = json_values() | nested_values()
    return st.one_of(
        anything.map(
            lambda v: (docs.mutation("recordBatchStep"), {"input": step | {"parameters": v}})
        ),
        anything.map(
            lambda v: (
                docs.mutation("registerDonor"),
                {"input": {"donorCode": "DNR-FUZZ", "siteId": ch.HOSPITAL, "personalData": v}},
            )
        ),
        st.tuples(st.integers(-5, 40), anything).map(
            lambda x: (
                CORRECT,
                {"input": {"position": x[0], "field": "name", "newValue": x[1], "reason": "r"}},
            )
        ),
        st.tuples(st.sampled_from(sorted(docs.INPUT_TYPES)), anything).map(
            lambda x: (docs.mutation(x[0]), {"input": x[1]})
        ),
    )


def _encode(document: str, variables: dict[str, Any]) -> bytes | None:
    try:
        return encode({"query": document, "variables": variables})
    except (RecursionError, ValueError):  # deeper than this process's own encoder goes
        return None


def test_no_variables_break_the_api_or_store_a_refused_command(seeded: Seeded):
    outcomes: Counter[str] = Counter()

    @examples(seeded)
    @given(command=commands(seeded))
    def fuzz(command: tuple[str, dict[str, Any]]) -> None:
        body = _encode(*command)
        if body is not None:
            outcomes[_outcome(answered(seeded, body)[0])] += 1

    fuzz()

    assert outcomes["refused"] > 0, outcomes


# ------------------------------------------------------------------------------- cursors

PAGES = {
    "events": "query ($after: String) { events(first: 2, after: $after) { nodes { position } } }",
    "batches": "query ($after: String) { batches(first: 2, after: $after) { nodes { id } } }",
    "sourceAndFlowRecords": (
        "query ($after: String) { sourceAndFlowRecords(first: 2, after: $after) "
        "{ nodes { batchId } } }"
    ),
}


def cursors() -> st.SearchStrategy[Any]:
    encoded: Callable[[bytes], str] = lambda b: base64.urlsafe_b64encode(b).decode()  # noqa: E731
    return st.one_of(
        st.integers(-(2**70), 2**70).map(lambda n: encoded(str(n).encode())),
        st.binary(max_size=80).map(encoded),
        st.text(max_size=70).map(lambda t: encoded(t.encode("utf-8", "surrogatepass"))),
        st.text(max_size=40),
        st.integers(),
        st.none(),
        json_values(),
    )


def test_no_cursor_breaks_a_paginated_query(seeded: Seeded):
    @examples(seeded)
    @given(page=st.sampled_from(sorted(PAGES)), after=cursors())
    def fuzz(page: str, after: Any) -> None:
        answer, grown = answered(
            seeded, encode({"query": PAGES[page], "variables": {"after": after}})
        )
        assert grown == 0
        outcomes[_outcome(answer)] += 1
        if not answer.get("errors"):
            assert isinstance(answer["data"][page]["nodes"], list)

    outcomes: Counter[str] = Counter()
    fuzz()

    assert outcomes["refused"] > 0, outcomes
    assert outcomes["served"] > 0, outcomes


# ---------------------------------------------------------------------------- keep-alive

REFUSED_BODIES = [
    b'{"query": "{ __typename \xff }"}',
    b"null",
    b'{"query": "{ __typename }", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    b'{"query": "subscription { ledgerEvents(after: 0) { position } }"}',
    b'{"query": "{ sites { id ',
]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_keep_alive_connection_survives_a_refused_request(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    servers: Callable[..., ServerProcess],
    dialect: str,
):
    if dialect == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_database")
        reset_postgres(url)
    migrate(parse_database_url(url))
    server = servers(url)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=15)
    try:
        connection.connect()
        socket_used = connection.sock
        local = socket_used.getsockname()
        for bad in REFUSED_BODIES:
            refused = _exchange(connection, bad)
            good = _exchange(connection, json.dumps(VALID).encode())

            assert refused[0] in (200, 400), refused
            assert refused[1]["errors"][0]["extensions"]["code"] == "BAD_INPUT", refused
            assert good == (200, {"data": {"sites": []}}), good
            assert connection.sock is socket_used, "the connection was closed and opened again"
            assert connection.sock.getsockname() == local
    finally:
        connection.close()


def _exchange(connection: http.client.HTTPConnection, body: bytes) -> tuple[int, Any]:
    connection.request("POST", "/graphql", body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    payload = response.read()
    assert not response.will_close, response.getheaders()
    return response.status, json.loads(payload)
