"""The database lost while a request is authenticated (issue 14, row 9): the API key cannot be
looked up, so the answer is 503 with ``extensions.code`` UNAVAILABLE and a Retry-After, in JSON,
never an HTTP 500; /readyz says not ready meanwhile; and the service serves again once the
database is back, without a restart.

On PostgreSQL, for real: a private instance stopped under a running app, and the sessions of the
shared server ended by an administrator (pg_terminate_backend). Through the ASGI app, with an API
key (the development principal is off and keys are not cached, so every request reads the key
table).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import psycopg
import pytest

from api.app import create_app
from api.auth.keys import ApiKeys
from api.settings import Settings, parse_database_url
from api.wiring import Regentrace, migrate
from tests.api.client import client_for
from tests.conftest import reset_postgres
from tests.reliability.conftest import PrivatePostgres

SITES = {"query": "{ sites { id } }"}
BACK_WITHIN = 30.0  # seconds the pool may take to reconnect once the database is back


@asynccontextmanager
async def keyed_client(
    database_url: str,
) -> AsyncIterator[tuple[httpx.AsyncClient, dict, Regentrace]]:
    settings = Settings(
        database_url=database_url,
        dev_principal_enabled=False,
        api_key_cache_seconds=0,
        _env_file=None,
    )
    migrate(settings.database)
    service = Regentrace(settings)
    try:
        token = ApiKeys(service).create("unavailable-probe", "regulator", [], "TW")[1]
        async with client_for(create_app(settings, service)) as http:
            yield http, {"Authorization": f"Bearer {token}"}, service
    finally:
        service.close()


def unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/json"), response.text
    assert int(response.headers["retry-after"]) >= 1
    body = response.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAVAILABLE"], body


async def served_again(http: httpx.AsyncClient, headers: dict) -> httpx.Response:
    """The first answer that is not UNAVAILABLE, within BACK_WITHIN seconds."""
    deadline = time.monotonic() + BACK_WITHIN
    while True:
        response = await http.post("/graphql", json=SITES, headers=headers)
        if response.status_code != 503 or time.monotonic() > deadline:
            return response
        unavailable(response)
        await asyncio.sleep(0.5)


@pytest.mark.postgres
async def test_a_stopped_database_during_the_key_lookup_is_503_unavailable_and_not_ready(
    private_postgres: PrivatePostgres,
):
    async with keyed_client(private_postgres.url) as (http, headers, _):
        before = await http.post("/graphql", json=SITES, headers=headers)
        assert before.status_code == 200, before.text

        private_postgres.stop("fast")
        during = await http.post("/graphql", json=SITES, headers=headers)
        ready = await http.get("/readyz")

        unavailable(during)
        assert ready.status_code == 503, ready.text
        assert ready.json()["status"] == "unavailable"

        private_postgres.start()
        after = await served_again(http, headers)
        assert after.status_code == 200, after.text
        assert (await http.get("/readyz")).status_code == 200


@pytest.mark.postgres
async def test_sessions_ended_by_an_administrator_never_make_the_key_lookup_a_fault(
    postgres_database: str,
):
    reset_postgres(postgres_database)
    async with keyed_client(postgres_database) as (http, headers, service):
        assert (await http.post("/graphql", json=SITES, headers=headers)).status_code == 200
        conninfo = parse_database_url(service.settings.database_url).conninfo
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )

        answers = [await http.post("/graphql", json=SITES, headers=headers) for _ in range(3)]

        for answer in answers:  # a lost session is replaced, or the answer says to retry
            if answer.status_code != 200:
                unavailable(answer)
        assert answers[-1].status_code == 200, answers[-1].text
