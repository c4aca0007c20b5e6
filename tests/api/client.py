"""An in-process partner: GraphQL through the real ASGI app, its lifespan run as a server would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[FastAPI]:
    """Run the app's ASGI lifespan (startup before, shutdown after) as a server would."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.create_task(app(scope, inbox.get, outbox.put))  # type: ignore[arg-type]
    await inbox.put({"type": "lifespan.startup"})
    started = await asyncio.wait_for(outbox.get(), timeout=10)
    assert started["type"] == "lifespan.startup.complete", started
    try:
        yield app
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        stopped = await asyncio.wait_for(outbox.get(), timeout=10)
        await asyncio.wait_for(task, timeout=10)
        assert stopped["type"] == "lifespan.shutdown.complete", stopped


@asynccontextmanager
async def client_for(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        running(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http,
    ):
        yield http


class GraphQL:
    """Posts GraphQL documents to /graphql; answers the response body as a dict."""

    def __init__(self, http: httpx.AsyncClient, token: str | None = None) -> None:
        self.http = http
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def as_(self, token: str) -> GraphQL:
        """The same client, calling with ``token`` (an API key or a JWT)."""
        return GraphQL(self.http, token)

    async def __call__(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        operation_name: str | None = None,
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = variables
        if operation_name is not None:
            payload["operationName"] = operation_name
        response = await self.http.post("/graphql", json=payload, headers=self.headers)
        assert response.headers["content-type"].startswith("application/json"), response.text
        body = response.json()
        assert isinstance(body, dict)
        return body

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The ``data`` of a request that must succeed without any error."""
        body = await self(query, variables)
        assert "errors" not in body, body["errors"]
        data = body["data"]
        assert isinstance(data, dict)
        return data
