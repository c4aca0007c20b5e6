"""One structured access-log line per request: operation, outcome, duration, ledger position."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from tests.api.client import GraphQL
from tests.api.documents import (
    CONTROL,
    REGISTER_SITE,
    SITE,
    control_site,
    register,
)


@pytest.fixture
def access_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="regentrace.access")
    return caplog


def lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    found = []
    for record in caplog.records:
        if record.name == "regentrace.access":
            fields = record.fields  # type: ignore[attr-defined]
            assert isinstance(fields, dict)
            found.append(fields)
    return found


async def test_a_mutation_logs_one_line_with_its_name_outcome_duration_and_ledger_position(
    gql: GraphQL, access_log
):
    await register(gql, control_site("TW-CTRL-0"))
    access_log.clear()

    body = await gql(REGISTER_SITE, {"input": control_site()}, operation_name="RegisterSite")

    [line] = lines(access_log)
    assert line["operation"] == "RegisterSite"
    assert line["outcome"] == "ok"
    assert line["method"] == "POST"
    assert line["path"] == "/graphql"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] >= 0
    assert line["ledger_position"] == body["data"]["registerSite"]["position"] == 2
    assert "error_codes" not in line


async def test_a_query_logs_its_name_and_no_ledger_position_written(gql: GraphQL, access_log):
    await register(gql, control_site())
    access_log.clear()

    await gql.data(SITE, {"id": CONTROL})

    [line] = lines(access_log)
    assert line["operation"] == "Site"
    assert line["outcome"] == "ok"
    assert "ledger_position" not in line


async def test_an_anonymous_operation_is_logged_by_its_type(gql: GraphQL, access_log):
    await gql.data("{ sites { id } }")

    [line] = lines(access_log)
    assert line["operation"] == "query"


async def test_a_refused_command_logs_an_error_outcome_with_its_code(gql: GraphQL, access_log):
    await register(gql, control_site())
    access_log.clear()

    await gql(REGISTER_SITE, {"input": control_site()})

    [line] = lines(access_log)
    assert line["operation"] == "RegisterSite"
    assert line["outcome"] == "error"
    assert line["error_codes"] == ["CONFLICT"]
    assert "ledger_position" not in line


async def test_an_answer_with_data_and_errors_logs_a_partial_outcome(gql: GraphQL, access_log):
    await register(gql, control_site())
    access_log.clear()

    body = await gql(
        "query Both($t: DateTime) {"
        f' now: site(id: "{CONTROL}") {{ id }}'
        f' then: site(id: "{CONTROL}", asOf: $t) {{ id }} }}',
        {"t": "2026-01-01T00:00:00"},
    )

    assert body["data"]["now"] == {"id": CONTROL}
    [line] = lines(access_log)
    assert line["operation"] == "Both"
    assert line["outcome"] == "partial"
    assert line["error_codes"] == ["BAD_INPUT"]


async def test_a_syntax_error_logs_an_error_outcome_as_bad_input(gql: GraphQL, access_log):
    await gql("query { site(id: ")

    [line] = lines(access_log)
    assert line["outcome"] == "error"
    assert line["error_codes"] == ["BAD_INPUT"]


async def test_a_health_check_logs_one_line_without_an_operation(
    http: httpx.AsyncClient, access_log
):
    await http.get("/healthz")

    [line] = lines(access_log)
    assert line["path"] == "/healthz"
    assert line["status"] == 200
    assert line["operation"] is None
    assert line["outcome"] == "ok"


async def test_each_request_gets_its_own_line(gql: GraphQL, access_log):
    await register(gql, control_site())
    await gql.data(SITE, {"id": CONTROL})
    await gql(REGISTER_SITE, {"input": control_site()})

    assert [(x["operation"], x["outcome"]) for x in lines(access_log)] == [
        ("RegisterSite", "ok"),
        ("Site", "ok"),
        ("RegisterSite", "error"),
    ]
