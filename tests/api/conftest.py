"""Fixtures of the API tests: the app on each database, an HTTP client, a GraphQL sender."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from api.settings import Settings
from api.wiring import Regentrace
from tests.api.access import Caller, Partners, callers, partners_database
from tests.api.client import GraphQL, client_for
from tests.conftest import DIALECTS


@pytest.fixture
def app(settings: Settings, service: Regentrace) -> FastAPI:
    return create_app(settings, service)


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as client:
        yield client


@pytest.fixture
def gql(http: httpx.AsyncClient) -> GraphQL:
    return GraphQL(http)


@pytest.fixture(scope="module", params=DIALECTS)
def partners(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Partners]:
    """Two partner organisations with their keys (tests/api/access.py), on a database of the
    requesting module's own."""
    tag = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_access_")
    with partners_database(request, tmp_path_factory, tag) as seeded:
        yield seeded


@pytest.fixture
async def as_(partners: Partners) -> AsyncIterator[Callable[[str], Caller]]:
    """A caller per key name of ``partners``."""
    async with callers(partners) as found:
        yield found
