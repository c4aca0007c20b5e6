"""A serving process keeps a live API key's row for REGENTRACE_API_KEY_CACHE_SECONDS, so most
requests read no key table and need no worker thread to authenticate; a revocation still ends
the key: at once when it is made in the serving process, within that bound when another process
(``regentrace apikey revoke``) makes it. The cache's clock is the test's own, so nothing here
waits or depends on how fast the machine is."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.auth.keys import ApiKeys, KeyCache
from api.settings import Settings
from api.wiring import Regentrace
from tests.api.access import Ledger, lone_site_database
from tests.api.client import client_for
from tests.conftest import DIALECTS

SITES = "{ sites { id } }"
SITE = Ledger.site
HOUR = 3600.0


class Clock:
    """The cache's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module", params=DIALECTS)
def ledger(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Ledger]:
    with lone_site_database(request, tmp_path_factory, "key_cache") as found:
        yield found


@asynccontextmanager
async def serving(ledger: Ledger, seconds: float) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """The app with keys kept ``seconds`` (the development principal off), and its key cache."""
    settings = ledger.settings.model_copy(
        update={"dev_principal_enabled": False, "api_key_cache_seconds": seconds}
    )
    app = create_app(settings, ledger.service)
    async with client_for(app) as http:
        cache: KeyCache = app.state.authenticator.keys.cache
        cache.clock = Clock()
        yield http, cache


def new_key(service: Regentrace) -> tuple[str, dict[str, str]]:
    name = f"partner-{uuid.uuid4().hex[:8]}"
    _, token = ApiKeys(service).create(name, "spoke_operator", [SITE])
    return name, {"Authorization": f"Bearer {token}"}


async def status(http: httpx.AsyncClient, headers: dict[str, str]) -> tuple[int, Any]:
    response = await http.post("/graphql", json={"query": SITES}, headers=headers)
    body = response.json()
    codes = [e["extensions"]["code"] for e in body.get("errors") or []]
    return response.status_code, codes or body["data"]


def revoke_elsewhere(settings: Settings, name: str) -> None:
    """``regentrace apikey revoke NAME`` in a process of its own, as an operator runs it."""
    env = os.environ | {"REGENTRACE_DATABASE_URL": settings.database_url}
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "apikey", "revoke", name],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


LET_IN = (200, {"sites": [{"id": SITE}]})
REFUSED = (401, ["UNAUTHENTICATED"])


async def test_a_key_revoked_in_the_serving_process_is_refused_at_once(ledger):
    async with serving(ledger, HOUR) as (http, cache):
        name, headers = new_key(ledger.service)
        assert await status(http, headers) == LET_IN
        assert cache.get(headers["Authorization"].split("_")[1]) is not None  # kept for an hour

        ApiKeys(ledger.service).revoke(name)

        assert await status(http, headers) == REFUSED


async def test_a_key_revoked_by_another_process_is_refused_once_its_row_is_older_than_the_bound(
    ledger,
):
    async with serving(ledger, 30.0) as (http, cache):
        name, headers = new_key(ledger.service)
        assert await status(http, headers) == LET_IN

        revoke_elsewhere(ledger.settings, name)
        cache.clock.now += 29.0
        within = await status(http, headers)
        cache.clock.now += 1.0
        beyond = await status(http, headers)

    assert within == LET_IN  # the row read 29 s ago is trusted: no read of the key table
    assert beyond == REFUSED


async def test_with_no_cache_a_key_revoked_by_another_process_is_refused_on_the_next_request(
    ledger,
):
    async with serving(ledger, 0) as (http, cache):
        name, headers = new_key(ledger.service)
        assert await status(http, headers) == LET_IN
        assert cache.get(headers["Authorization"].split("_")[1]) is None

        revoke_elsewhere(ledger.settings, name)

        assert await status(http, headers) == REFUSED


async def test_a_cached_key_id_with_another_secret_is_refused(ledger):
    async with serving(ledger, HOUR) as (http, _):
        _, headers = new_key(ledger.service)
        assert await status(http, headers) == LET_IN
        live = headers["Authorization"]
        forged = {"Authorization": live[: live.rindex("_") + 1] + "not-the-secret"}

        assert await status(http, forged) == REFUSED
        assert await status(http, headers) == LET_IN


def test_a_row_read_before_a_revocation_is_not_kept_after_it(ledger):
    """The request that read the row and the revocation run on different threads: a row read
    before the key was forgotten must not land in the cache after it."""
    keys = ApiKeys(ledger.service, HOUR)
    name, headers = new_key(ledger.service)
    key_id = headers["Authorization"].split("_")[1]
    generation = keys.cache.generation  # the request reads the row here...
    row = {"secret_hash": "whatever was read"}

    ApiKeys(ledger.service).revoke(name)  # ...the revocation lands...
    keys.cache.put(key_id, row, generation)  # ...and the request would keep what it read

    assert keys.cache.get(key_id) is None
    assert keys.authenticate(headers["Authorization"].removeprefix("Bearer ")) is None
