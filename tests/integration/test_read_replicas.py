"""Queries on a real PostgreSQL streaming standby (tests/replica.py), commands on the primary.

Read-your-writes: a query sent right after a command by the same caller sees it, whether the
standby has replayed it (the query waits for that) or not (replay paused: after the timeout the
primary answers). The X-Regentrace-Min-Position header does the same for a write made elsewhere.
``asOf`` and the feed read the standby too. A standby that stops leaves reads to the primary,
and gets them back once it is up again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from datetime import datetime, timedelta
from typing import Any

import anyio.to_thread
import httpx
import pytest

from api.app import create_app
from api.auth.authenticate import Authenticator
from api.context import Context, RequestLog
from api.replicas import PRIMARY
from api.schema import build_schema
from api.settings import Settings
from api.wiring import Regentrace
from projections.sql import Sql
from tests.api.client import client_for
from tests.conftest import ledger_size
from tests.replica import StreamingPair, streaming_pair

pytestmark = pytest.mark.postgres

TIMEOUT = 2.0  # read_your_writes_timeout of these tests (room for a loaded machine)
REGISTER_SITE = """
mutation ($input: RegisterSiteInput!) { registerSite(input: $input) { position } }
"""
SITE = "query ($id: ID!, $asOf: DateTime) { site(id: $id, asOf: $asOf) { id name } }"
FEED = """subscription ($after: Int!) {
  ledgerEvents(after: $after, pollSeconds: 0.05) { position aggregateId type }
}"""


@pytest.fixture(scope="module")
def pair() -> Iterator[StreamingPair]:
    with streaming_pair() as started:
        yield started


@pytest.fixture
def settings(pair: StreamingPair) -> Settings:
    return Settings(
        database_url=pair.primary_url,
        read_replicas=pair.standby_url,
        read_your_writes_timeout=TIMEOUT,
        replica_retry_seconds=0.5,
        environment="development",
        dev_principal_enabled=True,
        _env_file=None,
    )


@pytest.fixture
def service(settings: Settings) -> Iterator[Regentrace]:
    service = Regentrace(settings)
    yield service
    service.close()


@pytest.fixture
async def http(settings: Settings, service: Regentrace) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(create_app(settings, service)) as client:
        yield client


def standby(service: Regentrace) -> str:
    assert service.replicas is not None
    (replica,) = service.replicas.replicas
    return replica.name


def served(service: Regentrace) -> dict[str, int]:
    assert service.replicas is not None
    return {name: service.replicas.served[name] for name in (standby(service), PRIMARY)}


def site_input(site_id: str) -> dict[str, Any]:
    return {
        "id": site_id,
        "name": f"Site {site_id}",
        "kind": "CONTROL_SITE",
        "jurisdiction": "TW",
        "country": "TW",
        "supervisingAuthority": "TFDA",
        "licenceNumber": f"TFDA-{site_id}",
    }


async def post(
    http: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers or {}
    )
    body = response.json()
    assert isinstance(body, dict)
    return body


async def register(http: httpx.AsyncClient, site_id: str) -> int:
    body = await post(http, REGISTER_SITE, {"input": site_input(site_id)})
    assert "errors" not in body, body
    return int(body["data"]["registerSite"]["position"])


async def site(
    http: httpx.AsyncClient,
    site_id: str,
    as_of: datetime | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    variables = {"id": site_id, "asOf": as_of.isoformat() if as_of else None}
    body = await post(http, SITE, variables, headers)
    assert "errors" not in body, body
    return body["data"]["site"]


def wait_for_replay(pair: StreamingPair, position: int) -> None:
    deadline = time.monotonic() + 10
    while pair.standby_head() < position:
        assert time.monotonic() < deadline, "the standby did not replay the write"
        time.sleep(0.02)


async def test_queries_are_answered_by_the_standby(
    pair: StreamingPair, service: Regentrace, http: httpx.AsyncClient
) -> None:
    position = await register(http, "RR-SERVED")
    wait_for_replay(pair, position)
    before = served(service)

    assert await site(http, "RR-SERVED") == {"id": "RR-SERVED", "name": "Site RR-SERVED"}

    after = served(service)
    assert after[standby(service)] == before[standby(service)] + 1
    assert after[PRIMARY] == before[PRIMARY]
    # And through the same routing, the server that answers is one in recovery: the standby.
    in_recovery = await anyio.to_thread.run_sync(
        service.query, lambda sql: sql.scalar("SELECT pg_is_in_recovery()")
    )
    assert in_recovery is True


async def test_a_query_right_after_a_command_waits_for_the_standby_to_replay_it(
    pair: StreamingPair, service: Regentrace, http: httpx.AsyncClient
) -> None:
    pair.pause_replay()
    try:
        position = await register(http, "RR-WAITED")
        assert pair.standby_head() < position  # the standby has not replayed it
        before = served(service)
        query = asyncio.create_task(site(http, "RR-WAITED"))
        await asyncio.sleep(TIMEOUT / 8)
        assert not query.done(), "the query did not wait for the standby"
    finally:
        pair.resume_replay()

    assert await query == {"id": "RR-WAITED", "name": "Site RR-WAITED"}
    after = served(service)
    assert after[standby(service)] == before[standby(service)] + 1
    assert after[PRIMARY] == before[PRIMARY]


async def test_with_replay_paused_the_primary_answers_after_the_timeout(
    pair: StreamingPair, service: Regentrace, http: httpx.AsyncClient
) -> None:
    pair.pause_replay()
    try:
        position = await register(http, "RR-LAGGED")
        # Another query, with no write to wait for, reads the lagging standby: the write is
        # not there yet.
        unseen = await anyio.to_thread.run_sync(
            service.query,
            lambda sql: sql.scalar("SELECT COUNT(*) FROM ledger WHERE position = ?", (position,)),
        )
        assert unseen == 0
        assert pair.standby_head() < position
        before = served(service)
        started = time.monotonic()

        assert await site(http, "RR-LAGGED") == {"id": "RR-LAGGED", "name": "Site RR-LAGGED"}

        assert time.monotonic() - started >= TIMEOUT
        after = served(service)
        assert after[PRIMARY] == before[PRIMARY] + 1
        assert after[standby(service)] == before[standby(service)]
    finally:
        pair.resume_replay()


async def test_the_min_position_header_waits_for_a_write_made_through_another_process(
    pair: StreamingPair, settings: Settings, service: Regentrace, http: httpx.AsyncClient
) -> None:
    other = Regentrace(settings)  # another API process: it knows nothing of this one's writes
    pair.pause_replay()
    try:
        async with client_for(create_app(settings, other)) as elsewhere:
            position = await register(elsewhere, "RR-HINTED")
        assert pair.standby_head() < position
        # Without the hint this process has no reason to wait: the lagging standby answers.
        assert await site(http, "RR-HINTED") is None
        before = served(service)

        hinted = await site(http, "RR-HINTED", headers={"X-Regentrace-Min-Position": str(position)})

        assert hinted == {"id": "RR-HINTED", "name": "Site RR-HINTED"}
        assert served(service)[PRIMARY] == before[PRIMARY] + 1
    finally:
        pair.resume_replay()
        other.close()
    wait_for_replay(pair, position)
    before = served(service)
    hinted = await site(http, "RR-HINTED", headers={"X-Regentrace-Min-Position": str(position)})
    assert hinted == {"id": "RR-HINTED", "name": "Site RR-HINTED"}
    assert served(service)[standby(service)] == before[standby(service)] + 1


@pytest.mark.parametrize("hint", ["-1", "twelve", "1.5", "9" * 19])
async def test_a_min_position_header_that_is_no_position_is_bad_input(
    service: Regentrace, http: httpx.AsyncClient, hint: str
) -> None:
    before = ledger_size(service)
    body = await post(http, SITE, {"id": "RR-ANY"}, {"X-Regentrace-Min-Position": hint})
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_INPUT"], body
    assert "X-Regentrace-Min-Position" in body["errors"][0]["message"]
    assert ledger_size(service) == before


async def test_as_of_reads_the_standby_for_a_moment_it_has_passed(
    pair: StreamingPair, service: Regentrace, http: httpx.AsyncClient
) -> None:
    first = await register(http, "RR-PAST")
    last = await register(http, "RR-LATER")
    wait_for_replay(pair, last)
    with service.read() as sql:
        moments = dict(
            sql.tuples(
                "SELECT position, recorded_at FROM ledger WHERE position IN (?, ?)", (first, last)
            )
        )
    between = moments[first] + (moments[last] - moments[first]) / 2
    before = served(service)

    assert await site(http, "RR-PAST", as_of=between) == {"id": "RR-PAST", "name": "Site RR-PAST"}
    assert await site(http, "RR-LATER", as_of=between) is None

    assert served(service)[standby(service)] == before[standby(service)] + 2
    # A moment the standby's ledger has not passed may still be coming to it: the primary,
    # which holds every moment up to now, answers.
    later = moments[last] + timedelta(seconds=1)
    assert await site(http, "RR-LATER", as_of=later) == {
        "id": "RR-LATER",
        "name": "Site RR-LATER",
    }
    assert served(service)[PRIMARY] == before[PRIMARY] + 1


async def test_the_feed_reads_the_standby(
    pair: StreamingPair, settings: Settings, service: Regentrace, http: httpx.AsyncClient
) -> None:
    position = await register(http, "RR-FED")
    wait_for_replay(pair, position)
    identity = Authenticator(settings, service).identify(None)  # the development principal
    context = Context(service, identity, RequestLog())
    before = served(service)

    feed = await build_schema(settings).subscribe(
        FEED, variable_values={"after": position - 1}, context_value=context
    )
    assert isinstance(feed, AsyncGenerator), feed
    first = await asyncio.wait_for(anext(feed), timeout=10)
    await feed.aclose()

    assert not first.errors, first.errors
    assert first.data is not None
    assert first.data["ledgerEvents"]["position"] == position
    assert first.data["ledgerEvents"]["aggregateId"] == "Site:RR-FED"
    assert served(service)[standby(service)] > before[standby(service)]
    assert served(service)[PRIMARY] == before[PRIMARY]


async def test_reads_fail_over_to_the_primary_while_the_standby_is_down(
    pair: StreamingPair, service: Regentrace, http: httpx.AsyncClient
) -> None:
    position = await register(http, "RR-FAILOVER")
    wait_for_replay(pair, position)
    assert await site(http, "RR-FAILOVER") is not None  # a pooled connection to the standby
    pair.stop_standby()
    try:
        before = served(service)
        started = time.monotonic()

        assert await site(http, "RR-FAILOVER") == {"id": "RR-FAILOVER", "name": "Site RR-FAILOVER"}
        assert await site(http, "RR-FAILOVER") is not None

        assert served(service)[PRIMARY] == before[PRIMARY] + 2
        assert time.monotonic() - started < TIMEOUT, "failing over waited for a timeout"
    finally:
        pair.start_standby()
    # Once its time out is over, the standby is tried again and answers again.
    await asyncio.sleep(0.6)
    before = served(service)
    assert await site(http, "RR-FAILOVER") == {"id": "RR-FAILOVER", "name": "Site RR-FAILOVER"}
    assert served(service)[standby(service)] == before[standby(service)] + 1


def test_a_query_the_standby_cancels_is_answered_by_the_primary_and_the_standby_stays(
    service: Regentrace,
) -> None:
    """As when replay cancels a query (a recovery conflict): the connection holds, so the
    standby keeps its turn."""

    def cancelled_on_the_standby(sql: Sql) -> str:
        if sql.scalar("SELECT pg_is_in_recovery()"):
            sql.execute("SET LOCAL statement_timeout = 1")
            sql.execute("SELECT pg_sleep(1)")
        return "answered"

    before = served(service)
    assert service.query(cancelled_on_the_standby) == "answered"
    assert served(service)[PRIMARY] == before[PRIMARY] + 1
    assert service.replicas is not None
    (replica,) = service.replicas.replicas
    assert replica.available(time.monotonic())
    assert service.query(lambda sql: sql.scalar("SELECT pg_is_in_recovery()")) is True


def test_without_replicas_every_read_is_the_primary_s(pair: StreamingPair) -> None:
    settings = Settings(database_url=pair.primary_url, _env_file=None)
    service = Regentrace(settings)
    try:
        assert service.replicas is None
        assert service.query(lambda sql: sql.scalar("SELECT pg_is_in_recovery()")) is False
    finally:
        service.close()


def test_replicas_need_a_postgresql_primary(pair: StreamingPair) -> None:
    with pytest.raises(ValueError, match="must be PostgreSQL too"):
        Settings(
            database_url="sqlite:///./ledger.sqlite3",
            read_replicas=pair.standby_url,
            _env_file=None,
        )
    shown = repr(
        Settings(
            database_url=pair.primary_url,
            read_replicas="postgresql://reader:s3cret@127.0.0.1:1/regentrace",
            _env_file=None,
        )
    )
    assert "s3cret" not in shown
    assert "reader:***@" in shown
