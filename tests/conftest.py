"""Fixtures shared by every test: a fresh ledger on SQLite and on PostgreSQL.

PostgreSQL tests use their own database (``regentrace_test`` by default, created if missing; set
REGENTRACE_TEST_POSTGRES_URL to change it) and reset its schema before each test. When CI is set,
an unreachable PostgreSQL fails those tests instead of skipping them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql as pgsql

from api.settings import Settings, parse_database_url
from api.wiring import Regentrace, migrate
from domain.shared import Principal

POSTGRES_URL = os.environ.get(
    "REGENTRACE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/regentrace_test"
)
DIALECTS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]

ADMIN = Principal("test-admin", "administrator")


def _postgres_unavailable(reason: str) -> None:
    message = f"PostgreSQL is needed for this test and is unavailable: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_database() -> str:
    """Create the dedicated test database once per session (never touches other databases)."""
    db = parse_database_url(POSTGRES_URL)
    admin_info = psycopg.conninfo.make_conninfo(db.conninfo, dbname="postgres")
    try:
        with psycopg.connect(admin_info, autocommit=True, connect_timeout=5) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (db.dbname,)
            ).fetchone()
            if not exists:
                conn.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(db.dbname)))
    except psycopg.OperationalError as error:
        _postgres_unavailable(str(error))
    return POSTGRES_URL


def reset_postgres(url: str) -> None:
    with psycopg.connect(parse_database_url(url).conninfo, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture(params=DIALECTS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for an empty, migrated ledger on each database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_database")
        reset_postgres(url)
    settings = Settings(database_url=url, environment="development", _env_file=None)  # type: ignore[call-arg]
    migrate(settings.database)
    return settings


@pytest.fixture
def service(settings: Settings) -> Iterator[Regentrace]:
    service = Regentrace(settings)
    yield service
    service.close()


def ledger_size(service: Regentrace) -> int:
    """How many events the ledger holds: what a refused command must leave unchanged."""
    with service.read() as sql:
        return int(sql.scalar("SELECT COUNT(*) FROM stored_events"))
