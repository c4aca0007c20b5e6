"""The migrations own the schema: applied once each, never edited, never bypassed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eventsourcing.persistence import DatabaseError

from api.settings import Settings
from api.wiring import Regentrace, migrate
from migrations.runner import MigrationError, available
from projections.registry import projection_tables
from tests.conftest import ADMIN, DIALECTS, reset_postgres

SCHEMA_TABLES = {"stored_events", "ledger", "schema_migrations", *projection_tables()}


def tables(service: Regentrace) -> set[str]:
    with service.read() as sql:
        if service.recorder.dialect == "sqlite":
            rows = sql.all(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        else:
            rows = sql.all(
                "SELECT table_name AS name FROM information_schema.tables"
                " WHERE table_schema = 'public'"
            )
    return {r["name"] for r in rows}


def applied(service: Regentrace) -> list[tuple[int, str, str]]:
    with service.read() as sql:
        rows = sql.all("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
    return [(int(r["version"]), r["name"], r["checksum"]) for r in rows]


def register_a_site(service: Regentrace) -> None:
    service.app.sites.register_site(
        ADMIN,
        site_id="TW-CTRL",
        name="Taipei control",
        kind="CONTROL_SITE",
        jurisdiction="TW",
        country="TW",
        supervising_authority="TFDA",
    )


@pytest.fixture(params=DIALECTS)
def empty_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for a database on which no migration has run."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_database")
        reset_postgres(url)
    return Settings(database_url=url, environment="development", _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def empty_service(empty_settings: Settings) -> Iterator[Regentrace]:
    service = Regentrace(empty_settings)
    yield service
    service.close()


def test_every_migration_is_recorded_with_the_checksum_of_its_file(settings, service):
    expected = [(m.version, m.name, m.checksum) for m in available(settings.database.dialect)]

    assert expected
    assert applied(service) == expected
    assert tables(service) >= SCHEMA_TABLES


def test_migrating_a_migrated_database_applies_nothing(settings, service):
    register_a_site(service)
    before = applied(service)

    assert migrate(settings.database) == []
    assert migrate(settings.database) == []

    assert applied(service) == before
    with service.read() as sql:
        assert sql.scalar("SELECT COUNT(*) FROM stored_events") == 1


def test_migrating_an_empty_database_applies_every_migration_in_order(empty_settings):
    done = migrate(empty_settings.database)

    versions = [m.version for m in done]
    assert versions == sorted(versions)
    assert versions == [m.version for m in available(empty_settings.database.dialect)]
    assert migrate(empty_settings.database) == []


def test_a_migration_changed_after_it_was_applied_is_refused(settings, service):
    with service.recorder.write() as sql:
        sql.execute("UPDATE schema_migrations SET checksum = ? WHERE version = 1", ("0" * 64,))

    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(settings.database)

    assert applied(service)[0][2] == "0" * 64, "a refused migration run changes nothing"


def test_a_database_migrated_by_a_newer_version_is_refused(settings, service):
    with service.recorder.write() as sql:
        sql.execute(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at)"
            " VALUES (?, ?, ?, ?)",
            (9999, "from_the_future", "f" * 64, "2030-01-01T00:00:00+00:00"),
        )

    with pytest.raises(MigrationError, match="does not know"):
        migrate(settings.database)


def test_the_application_does_not_create_tables_itself(empty_service):
    with pytest.raises(DatabaseError):
        register_a_site(empty_service)

    assert tables(empty_service) == set()
