"""Fixtures of the API tests: the app on each database, an HTTP client, a GraphQL sender."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from api.settings import Settings
from api.wiring import Regentrace
from tests.api.client import GraphQL, client_for


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
