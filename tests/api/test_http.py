"""The service's HTTP surface besides GraphQL: health, readiness, and GraphiQL in development."""

from __future__ import annotations

import base64
import os

import httpx

from api.app import create_app
from api.auth.keys import ApiKeys
from api.settings import Settings
from tests.api.client import GraphQL, client_for
from tests.api.documents import active_network


async def test_healthz_answers_ok(http: httpx.AsyncClient):
    response = await http.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_answers_ready_at_head_position_zero_on_an_empty_ledger(
    http: httpx.AsyncClient,
):
    response = await http.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "headPosition": 0}


async def test_readyz_reports_the_head_position_of_the_ledger(
    http: httpx.AsyncClient, gql: GraphQL
):
    await active_network(gql)

    response = await http.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "headPosition": 4}


async def test_graphiql_is_served_to_a_browser_in_development(http: httpx.AsyncClient):
    response = await http.get("/graphql", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


async def test_graphiql_is_not_served_in_production(settings: Settings, service):
    production = Settings(
        environment="production",
        database_url=settings.database_url,
        personal_data_keys=base64.b64encode(os.urandom(32)).decode(),  # production needs its own
        _env_file=None,  # type: ignore[call-arg]
    )
    _, token = ApiKeys(service).create("site-admin", "administrator", [])
    async with client_for(create_app(production, service)) as http:
        response = await http.get("/graphql", headers={"Accept": "text/html"})
        graphql = await GraphQL(http, token).data("{ sites { id } }")

    assert not response.headers.get("content-type", "").startswith("text/html")
    assert "graphiql" not in response.text.lower()
    assert graphql == {"sites": []}


async def test_graphiql_can_be_turned_off_in_development(settings: Settings, service):
    quiet = Settings(
        environment="development",
        graphiql=False,
        database_url=settings.database_url,
        _env_file=None,  # type: ignore[call-arg]
    )
    async with client_for(create_app(quiet, service)) as http:
        response = await http.get("/graphql", headers={"Accept": "text/html"})

    assert "graphiql" not in response.text.lower()


async def test_the_app_opens_its_own_ledger_from_settings_when_given_none(
    settings: Settings,
):
    app = create_app(settings)
    async with client_for(app) as http:
        response = await http.get("/readyz")
        body = await GraphQL(http).data("{ sites { id } }")

    assert response.json() == {"status": "ready", "headPosition": 0}
    assert body == {"sites": []}


async def test_readyz_answers_503_while_the_ledger_has_no_tables(tmp_path):
    unmigrated = Settings(
        database_url=f"sqlite:///{tmp_path / 'unmigrated.sqlite3'}",
        _env_file=None,  # type: ignore[call-arg]
    )
    async with client_for(create_app(unmigrated)) as http:
        ready = await http.get("/readyz")
        healthy = await http.get("/healthz")

    assert ready.status_code == 503
    assert ready.json()["status"] == "unavailable"
    assert healthy.status_code == 200
