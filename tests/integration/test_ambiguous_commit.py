"""PostgreSQL: a connection lost at COMMIT (issue 14, row 8). Whether the append landed is found
out before anything is answered: a command that was stored is answered as stored (never
"CONFLICT … nothing was stored" from its own retry), one that was not is stored once, and when
the database cannot be asked the answer says so and a retry by command id is safe.

The connection is cut by a real TCP proxy between the service and the test's PostgreSQL
database (``fault_proxy``), at the COMMIT of the command's own transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from api.app import create_app
from api.settings import Settings
from api.wiring import Regentrace, migrate
from projections import store
from tests.api.client import GraphQL, client_for
from tests.api.documents import COMMAND_RESULT, CONTROL, control_site
from tests.conftest import ledger_size, reset_postgres
from tests.integration.fault_proxy import FaultProxy

pytestmark = pytest.mark.postgres

REGISTER = f"""
mutation Register($input: RegisterSiteInput!, $id: String) {{
  registerSite(input: $input, commandId: $id) {COMMAND_RESULT}
}}
"""
FIRST = {"position": 1, "aggregateId": f"Site:{CONTROL}", "version": 1}


@pytest.fixture
def proxy(postgres_database: str) -> Iterator[FaultProxy]:
    reset_postgres(postgres_database)
    url = urlsplit(postgres_database)
    proxy = FaultProxy((url.hostname or "127.0.0.1", url.port or 5432))
    yield proxy
    proxy.close()


@pytest.fixture
def service(postgres_database: str, proxy: FaultProxy) -> Iterator[Regentrace]:
    """The service, connected to the database through the proxy."""
    url = urlsplit(postgres_database)
    netloc = f"{url.username}@127.0.0.1:{proxy.port}" if url.username else f"127.0.0.1:{proxy.port}"
    settings = Settings(
        database_url=urlunsplit(url._replace(netloc=netloc)),
        environment="development",
        dev_principal_enabled=True,
        _env_file=None,  # type: ignore[call-arg]
    )
    migrate(settings.database)
    service = Regentrace(settings)
    yield service
    proxy.up()
    service.close()


@pytest.fixture
async def gql(service: Regentrace) -> AsyncIterator[GraphQL]:
    async with client_for(create_app(service.settings, service)) as http:
        yield GraphQL(http)


async def register(gql: GraphQL, command_id: str | None) -> dict[str, Any]:
    return await gql(REGISTER, {"input": control_site(), "id": command_id})


def kept(service: Regentrace) -> int:
    with service.read() as sql:
        return int(sql.scalar("SELECT COUNT(*) FROM commands"))


@pytest.mark.parametrize("command_id", ["after-1", None], ids=["with-id", "without-id"])
async def test_a_commit_whose_answer_was_lost_is_answered_as_stored(
    gql: GraphQL, service: Regentrace, proxy: FaultProxy, command_id: str | None
):
    proxy.cut("after")

    body = await register(gql, command_id)

    assert proxy.cuts == 1, "the connection was not cut at COMMIT"
    assert "errors" not in body, body["errors"]
    assert body["data"]["registerSite"] == FIRST
    assert ledger_size(service) == 1
    assert kept(service) == (1 if command_id else 0)


async def test_a_commit_that_never_reached_the_server_is_stored_once(
    gql: GraphQL, service: Regentrace, proxy: FaultProxy
):
    proxy.cut("before")

    body = await register(gql, "before-1")

    assert proxy.cuts == 1, "the connection was not cut at COMMIT"
    assert "errors" not in body, body["errors"]
    assert body["data"]["registerSite"]["aggregateId"] == f"Site:{CONTROL}"
    assert ledger_size(service) == 1
    assert kept(service) == 1


async def test_when_the_database_cannot_be_asked_the_answer_says_so_and_a_retry_is_safe(
    gql: GraphQL, service: Regentrace, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(store, "CHECK_WITHIN", 1.0)  # keep asking for one second, not ten
    proxy.cut("after", then_down=True)  # and the database is away from that moment

    body = await register(gql, "unknown-1")
    proxy.up()
    again = await register(gql, "unknown-1")

    assert proxy.cuts == 1
    [error] = body["errors"]
    assert error["extensions"]["code"] == "UNAVAILABLE"
    assert "nothing was stored" not in error["message"]
    assert "send it again with the same commandId ('unknown-1')" in error["message"]
    assert again["data"]["registerSite"] == FIRST
    assert ledger_size(service) == 1
    assert kept(service) == 1
