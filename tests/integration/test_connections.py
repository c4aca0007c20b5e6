"""Pooled PostgreSQL connections: checked before use only when the server has spoken, so a
session the server ended (a restart, an administrator) is replaced rather than failing a
request, while a healthy one costs no extra round trip."""

from __future__ import annotations

import time

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from api.settings import parse_database_url
from api.wiring import Regentrace
from tests.conftest import ADMIN

pytestmark = pytest.mark.parametrize("settings", ["postgresql"], indirect=True)


def _end_other_sessions(service: Regentrace) -> int:
    """pg_terminate_backend on every other session of the test database, as a restart does."""
    conninfo = parse_database_url(service.settings.database_url).conninfo
    with psycopg.connect(conninfo, autocommit=True) as admin:
        ended = admin.execute(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()) ended"
        ).fetchone()
    time.sleep(0.2)  # the server's notice and close reach the pooled sockets
    return int(ended[0]) if ended else 0


@pytest.fixture
def pings(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every round-trip check of a pooled connection (psycopg_pool's own ping)."""
    seen: list[object] = []
    ping = ConnectionPool.check_connection

    def counted(conn: object) -> None:
        seen.append(conn)
        ping(conn)  # type: ignore[arg-type]

    monkeypatch.setattr(ConnectionPool, "check_connection", staticmethod(counted))
    return seen


def test_a_healthy_pooled_connection_is_used_without_a_round_trip_first(service, pings):
    for _ in range(5):
        with service.read() as sql:
            assert sql.scalar("SELECT 1") == 1
    service.app.donors.register_donor(ADMIN, "DNR-HEALTHY")

    assert pings == []


def test_a_pooled_connection_the_server_ended_is_replaced_before_use(service, pings):
    with service.read() as sql:
        before = sql.scalar("SELECT pg_backend_pid()")
    assert _end_other_sessions(service) >= 1

    with service.read() as sql:
        after = sql.scalar("SELECT pg_backend_pid()")
    result = service.app.donors.register_donor(ADMIN, "DNR-AFTER-RESTART")

    assert pings  # the ended connection was checked, found dead and replaced
    assert after != before
    assert result.position >= 1
