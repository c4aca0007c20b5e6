"""One structured access-log line per request: its id, principal, operation, outcome, duration and
ledger position; the id is answered in X-Request-ID and is the reference of an INTERNAL error."""

from __future__ import annotations

import logging
import re
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


# ----------------------------------------------------------------- request id and principal


async def test_a_request_id_sent_is_answered_and_logged_with_the_principal(
    http: httpx.AsyncClient, access_log
):
    response = await http.post(
        "/graphql",
        json={"query": "query Sites { sites { id } }"},
        headers={"X-Request-ID": "plant-7.req:0042_a-b"},
    )

    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == "plant-7.req:0042_a-b"
    [line] = lines(access_log)
    assert line["request_id"] == "plant-7.req:0042_a-b"
    assert line["principal"] == "dev-operator"
    assert line["operation"] == "Sites"


async def test_without_a_request_id_one_is_made_answered_and_logged(
    http: httpx.AsyncClient, access_log
):
    first = await http.post("/graphql", json={"query": "{ sites { id } }"})
    second = await http.post("/graphql", json={"query": "{ sites { id } }"})

    made = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert all(re.fullmatch(r"[0-9a-f]{32}", x) for x in made), made
    assert made[0] != made[1]
    assert [x["request_id"] for x in lines(access_log)] == made


@pytest.mark.parametrize(
    "sent",
    ["", "x" * 129, "two words", "line\\nbreak", 'quote"d', "ünïcode", "semi;colon"],
)
async def test_a_request_id_that_is_not_plain_is_replaced_by_one_of_ours(
    http: httpx.AsyncClient, access_log, sent
):
    response = await http.get("/healthz", headers={"X-Request-ID": sent.encode()})

    answered = response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", answered), answered
    [line] = lines(access_log)
    assert line["request_id"] == answered


async def test_the_longest_plain_request_id_is_kept(http: httpx.AsyncClient, access_log):
    sent = "A1._:-" * 21 + "Zz"  # 128 characters

    response = await http.get("/healthz", headers={"X-Request-ID": sent})

    assert response.headers["x-request-id"] == sent
    assert lines(access_log)[0]["request_id"] == sent


async def test_a_health_check_names_no_principal(http: httpx.AsyncClient, access_log):
    response = await http.get("/healthz")

    [line] = lines(access_log)
    assert line["principal"] is None
    assert line["request_id"] == response.headers["x-request-id"]


async def test_a_refused_credential_is_logged_with_its_request_id_and_no_principal(
    http: httpx.AsyncClient, access_log
):
    response = await http.post(
        "/graphql",
        json={"query": "{ sites { id } }"},
        headers={"Authorization": "Bearer not-a-key", "X-Request-ID": "refused-1"},
    )

    assert response.status_code == 401
    assert response.headers["x-request-id"] == "refused-1"
    [line] = lines(access_log)
    assert line["request_id"] == "refused-1"
    assert line["status"] == 401
    assert line["principal"] is None


async def test_an_internal_error_is_referenced_by_the_request_id(
    http: httpx.AsyncClient, service, access_log, caplog
):
    """A fault of ours (here a projection table gone from under the running service) answers
    INTERNAL with the request id as its reference, so the line a client quotes can be found."""
    caplog.set_level(logging.INFO, logger="regentrace.api")
    with service.recorder.write() as sql:
        sql.execute("ALTER TABLE site_versions RENAME TO site_versions_gone")

    response = await http.post(
        "/graphql",
        json={"query": "{ sites { id } }"},
        headers={"X-Request-ID": "quote-me-123"},
    )

    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "INTERNAL", "reference": "quote-me-123"}
    assert "quote-me-123" in error["message"]
    assert "site_versions" not in error["message"]
    [line] = lines(access_log)
    assert line["request_id"] == "quote-me-123"
    assert line["error_codes"] == ["INTERNAL"]
    [fault] = [r for r in caplog.records if r.name == "regentrace.api"]
    assert fault.getMessage() == "internal error quote-me-123"
    assert fault.exc_info is not None
