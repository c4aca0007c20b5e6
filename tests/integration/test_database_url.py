"""The parameters of REGENTRACE_DATABASE_URL reach every PostgreSQL connection regentrace opens
(the migration's, the service's pool, a rebuild worker's source), and a connection that fails
shows no password in what it logs or raises."""

from __future__ import annotations

import logging
import uuid

import psycopg
import pytest
from eventsourcing.persistence import OperationalError

from api.settings import Settings
from api.wiring import Regentrace, migrate
from tests.conftest import ADMIN
from tests.e2e.conftest import free_port

pytestmark = pytest.mark.parametrize(
    "settings", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)

PASSWORD = "n0t-in-any-log-Zq7"


def with_parameters(settings: Settings, name: str) -> Settings:
    url = f"{settings.database_url}?application_name={name}&options=-c%20statement_timeout%3D4321"
    return settings.model_copy(update={"database_url": url})


def sessions_named(settings: Settings, name: str) -> int:
    with psycopg.connect(settings.database.conninfo, autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (name,)
        ).fetchone()
    return int(row[0]) if row else 0


def test_the_service_connects_with_every_parameter_of_the_url(settings):
    name = f"regentrace-probe-{uuid.uuid4().hex[:8]}"
    configured = with_parameters(settings, name)
    service = Regentrace(configured)
    try:
        with service.read() as sql:
            seen = (sql.scalar("SHOW application_name"), sql.scalar("SHOW statement_timeout"))
        written = service.app.donors.register_donor(ADMIN, "DNR-URL-1")
        with service.recorder.source().read() as sql:
            worker = (sql.scalar("SHOW application_name"), sql.scalar("SHOW statement_timeout"))
        pooled = sessions_named(settings, name)
    finally:
        service.close()

    assert seen == (name, "4321ms")
    assert worker == (name, "4321ms")
    assert written.position == 1
    assert pooled >= 1  # the pool's connections, as the server lists them


def test_the_migration_connects_with_every_parameter_of_the_url(settings):
    name = f"regentrace-migrate-{uuid.uuid4().hex[:8]}"
    configured = with_parameters(settings, name)
    seen: list[str] = []

    def report(_: str) -> None:  # the runner reports nothing for a current schema
        seen.append(_)

    migrate(configured.database, report)
    with psycopg.connect(configured.database.conninfo) as conn:
        assert conn.execute("SHOW application_name").fetchone() == (name,)
    assert seen == []


def test_an_unreachable_database_logs_and_raises_no_password(settings, caplog):
    db = settings.database
    url = f"postgresql://{db.user}:{PASSWORD}@127.0.0.1:{free_port()}/{db.dbname}"
    unreachable = settings.model_copy(update={"database_url": url})
    caplog.set_level(logging.DEBUG)

    with pytest.raises(OperationalError) as failed:
        Regentrace(unreachable)  # the pool's first connection fails

    assert "couldn't get a connection" in str(failed.value)
    shown = [str(failed.value), repr(failed.value), caplog.text]
    shown += [r.getMessage() for r in caplog.records]
    for text in shown:
        assert PASSWORD not in text


def test_a_refused_login_raises_no_password(settings):
    db = settings.database
    url = f"postgresql://no_such_role_{uuid.uuid4().hex[:8]}:{PASSWORD}@{db.host}:{db.port}/x"
    refused = settings.model_copy(update={"database_url": url})

    with pytest.raises(psycopg.OperationalError) as failed:
        migrate(refused.database)

    assert PASSWORD not in str(failed.value)
    assert PASSWORD not in repr(refused)
