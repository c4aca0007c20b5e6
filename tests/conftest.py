"""Fixtures shared by every test: a fresh ledger on SQLite and on PostgreSQL.

PostgreSQL tests use a database of their own (``regentrace_test_<pid>``, created for the run and
dropped after it; set REGENTRACE_TEST_POSTGRES_URL to change the server or the name's stem) and
reset its schema before each test. When CI is set,
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
from tests import outside

outside.install()

POSTGRES_URL = os.environ.get(
    "REGENTRACE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/regentrace_test"
)
DIALECTS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]

ADMIN = Principal("test-admin", "administrator")


@pytest.fixture(autouse=True)
def no_reads_outside_the_repository() -> Iterator[None]:
    """Fails a test that opened a file beside the repository (tests/outside.py says why)."""
    before = len(outside.seen)
    yield
    found = outside.seen[before:]
    del outside.seen[before:]
    if found:
        pytest.fail(f"the test read files outside the repository: {sorted(set(found))}")


def _postgres_unavailable(reason: str) -> None:
    message = f"PostgreSQL is needed for this test and is unavailable: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A test database of this run's own, dropped at the end (never touches other databases).

    Its name is the configured one plus this process id, so test runs side by side on one server
    do not reset each other's tables; databases left by runs that died are dropped first.
    """
    db = parse_database_url(POSTGRES_URL)
    name = f"{db.dbname}_{os.getpid()}"
    admin_info = psycopg.conninfo.make_conninfo(db.conninfo, dbname="postgres")
    try:
        admin = psycopg.connect(admin_info, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        _postgres_unavailable(str(error))
    with admin:
        for (stale,) in admin.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (f"{db.dbname}\\_%",)
        ).fetchall():
            suffix = stale.rsplit("_", 1)[-1]
            if suffix.isdigit() and not _pid_alive(int(suffix)):
                admin.execute(
                    pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        pgsql.Identifier(stale)
                    )
                )
        admin.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))
    yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin_info, autocommit=True) as admin:
        admin.execute(
            pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(name))
        )


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
    # The tests of features act as the development principal; tests/api/test_access_*.py
    # switch it off and call with API keys and tokens.
    settings = Settings(
        database_url=url,
        environment="development",
        dev_principal_enabled=True,
        _env_file=None,  # type: ignore[call-arg]
    )
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
