"""PostgreSQL restarted under load: the server says it is not ready while the database is away,
recovers by itself when it is back, and no command it acknowledged is lost.

The database is a private instance the test starts itself (``private_postgres``), never the
machine's shared server.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.api import chain_documents as docs
from tests.reliability.conftest import PrivatePostgres
from tests.reliability.harness import (
    Load,
    Partner,
    ServerProcess,
    build,
    chain_commands,
    ledger_rows,
    missing_from_ledger,
    network_with_lot,
    regentrace_cli,
)

BEFORE = 30  # acknowledged commands before the database goes down
AFTER = 30  # more acknowledged commands once it is back
OUTAGE_SECONDS = 0.5  # how long the database stays down once the server has noticed
WITHIN = 30.0  # safety bound on each wait for the server to notice a change


def wait_for_readiness(server: ServerProcess, status: int) -> list[int | None]:
    """Poll /readyz (bounded) until it answers ``status``; answer every status seen."""
    seen: list[int | None] = []
    deadline = time.monotonic() + WITHIN
    while time.monotonic() < deadline:
        seen.append(server.readiness())
        if seen[-1] == status:
            return seen
        time.sleep(0.1)
    pytest.fail(f"/readyz never answered {status} within {WITHIN}s: {seen[-10:]}\n{server.log()}")


def test_the_server_rides_out_a_database_restart_without_losing_an_acknowledged_command(
    private_postgres: PrivatePostgres, servers: Callable[..., ServerProcess]
):
    url = private_postgres.url
    server = servers(url)
    t = docs.Timeline.ending_weeks_ago()
    partner = Partner(server.base_url)
    build(partner, lambda gql: network_with_lot(gql, t))
    load = Load(
        server.base_url, list(chain_commands(t, 1, 300)), stop_on_transport_error=False
    ).start()
    try:
        load.wait_for(BEFORE)
        down_at = time.monotonic()
        private_postgres.stop("fast")
        assert not private_postgres.running()
        wait_for_readiness(server, 503)
        acknowledged_when_down = len(load.acknowledged)
        time.sleep(OUTAGE_SECONDS)  # commands sent now meet no database
        assert len(load.acknowledged) == acknowledged_when_down, "acknowledged without a database"
        private_postgres.start()
        up_at = time.monotonic()
        wait_for_readiness(server, 200)
        load.wait_for(acknowledged_when_down + AFTER)
    finally:
        load.finish()

    # The server process was never restarted: it recovered by itself.
    assert server.running()
    assert server.starts == 1
    # The load went on through the outage: a command was in flight while the database was away
    # (it may wait for the database, be refused with a code, or get no answer; only an
    # acknowledgement counts, and every acknowledgement must be in the ledger).
    assert any(sent < up_at and answered > down_at for sent, answered, _ in load.requests)
    assert all(c and not c.startswith("HTTP") for r in load.refused for c in r.codes), load.refused
    assert len(load.acknowledged) >= BEFORE + AFTER
    assert not load.finished_all, "the load ran out before the database came back"

    verification = partner.verify_ledger()
    partner.close()
    rows = ledger_rows(url)
    assert verification["ok"], verification
    assert verification["checkedEvents"] == len(rows)
    assert missing_from_ledger(load.acknowledged, rows) == []
    verified = regentrace_cli(url, "verify")
    assert verified.returncode == 0, verified.stderr
    assert "verify: OK" in verified.stderr
