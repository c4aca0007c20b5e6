"""The ledger tables are append-only (migration 0005), and the chain tells when someone with the
rights to get past that edits them anyway.

On SQLite triggers refuse UPDATE and DELETE. On PostgreSQL triggers refuse UPDATE, DELETE and
TRUNCATE even for the tables' owner, and a login role that is a member of ``regentrace_app`` (the
role the service should run as) lacks those privileges outright, yet can append and read: the
service runs its commands as that role. Statements are sent over connections of the tests' own
(``sqlite3``, ``psycopg``), so each refusal comes from the database, not from regentrace.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, ProgrammingError
from psycopg import sql as pgsql

from api.settings import Settings, parse_database_url
from api.wiring import Regentrace
from projections.audit import verify
from projections.ledger import LedgerIndex
from projections.sites import find_sites
from tests.conftest import ADMIN, ledger_size
from tests.integration import chain as c
from tests.tamper import tamper

SQLITE = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
POSTGRES = pytest.mark.parametrize(
    "settings", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)

# Statements an insider might try; each must leave both tables as they were.
CHANGES = [
    "UPDATE stored_events SET topic = 'domain.site:Site.Terminated' WHERE notification_id = 2",
    "UPDATE stored_events SET state = state WHERE notification_id = 2",
    "DELETE FROM stored_events WHERE notification_id = 2",
    "DELETE FROM stored_events",
    "UPDATE ledger SET actor = 'someone-else' WHERE position = 2",
    "UPDATE ledger SET hash = 'x' WHERE position = 2",
    "DELETE FROM ledger WHERE position = 2",
    "DELETE FROM ledger",
]
TRUNCATES = ["TRUNCATE ledger", "TRUNCATE stored_events CASCADE", "TRUNCATE stored_events, ledger"]


@pytest.fixture
def network(service: Regentrace) -> Regentrace:
    """A few events to protect: the chain's network (eight site events)."""
    c.network(c.Chain(service, c.new_base()))
    return service


def snapshot(service: Regentrace) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    with service.read() as sql:
        return (
            sql.all("SELECT * FROM stored_events ORDER BY notification_id"),
            sql.all("SELECT * FROM ledger ORDER BY position"),
        )


def table_of(statement: str) -> str:
    return "stored_events" if "stored_events" in statement else "ledger"


def operation_of(statement: str) -> str:
    return statement.split(maxsplit=1)[0].upper()


# ------------------------------------------------------------------------------------ SQLite


@SQLITE
@pytest.mark.parametrize("statement", CHANGES)
def test_sqlite_refuses_every_update_and_delete_of_the_ledger_tables(settings, network, statement):
    before = snapshot(network)
    connection = sqlite3.connect(settings.database.path)
    try:
        with pytest.raises(sqlite3.IntegrityError) as refused:
            connection.execute(statement)
        connection.rollback()
    finally:
        connection.close()

    assert str(refused.value) == (
        f"the ledger is append-only: {operation_of(statement)} on {table_of(statement)} refused"
    )
    assert snapshot(network) == before
    assert verify(network.read).ok


@SQLITE
def test_sqlite_still_accepts_new_events_after_refusing_changes(settings, network):
    connection = sqlite3.connect(settings.database.path)
    try:
        with pytest.raises(sqlite3.IntegrityError):
            connection.execute("DELETE FROM ledger")
        connection.rollback()
    finally:
        connection.close()

    result = network.app.sites.suspend_site(ADMIN, c.LAB, "audit finding")

    assert result.position == ledger_size(network) == 9
    assert verify(network.read).ok


# -------------------------------------------------------------------- PostgreSQL, as the owner


def owner_connection(settings: Settings) -> psycopg.Connection[Any]:
    return psycopg.connect(settings.database.conninfo)


@POSTGRES
@pytest.mark.parametrize("statement", CHANGES + TRUNCATES)
def test_postgresql_refuses_changes_even_to_the_tables_owner(settings, network, statement):
    before = snapshot(network)
    with owner_connection(settings) as connection:
        owner = connection.execute(
            "SELECT tableowner FROM pg_tables WHERE tablename = 'stored_events'"
        ).fetchone()
        assert owner == (parse_database_url(settings.database_url).user,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
            connection.execute(statement)
        connection.rollback()

    operation = operation_of(statement)
    table = "ledger" if operation == "TRUNCATE" and "ledger" in statement else table_of(statement)
    assert f"the ledger is append-only: {operation} on " in str(refused.value)
    if operation != "TRUNCATE":
        assert f"{operation} on {table} refused" in str(refused.value)
    assert snapshot(network) == before
    assert verify(network.read).ok


# ------------------------------------------------------------ PostgreSQL, as the service's role


@dataclass
class AppRole:
    name: str
    password: str
    settings: Settings

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.settings.database.conninfo)


@pytest.fixture
def app_role(settings: Settings) -> Iterator[AppRole]:
    """A login role of this test's own, a member of regentrace_app, dropped afterwards (roles
    are cluster-wide, so the name is unique)."""
    db = settings.database
    name = f"regentrace_test_app_{uuid.uuid4().hex[:12]}"
    password = uuid.uuid4().hex
    admin_info = psycopg.conninfo.make_conninfo(db.conninfo, dbname="postgres")
    with psycopg.connect(admin_info, autocommit=True) as admin:
        admin.execute(
            pgsql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                pgsql.Identifier(name), pgsql.Literal(password)
            )
        )
        admin.execute(pgsql.SQL("GRANT regentrace_app TO {}").format(pgsql.Identifier(name)))
    url = f"postgresql://{name}:{password}@{db.host}:{db.port}/{db.dbname}"
    try:
        yield AppRole(
            name,
            password,
            Settings(database_url=url, environment="development", _env_file=None),  # type: ignore[call-arg]
        )
    finally:
        with psycopg.connect(admin_info, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (name,),
            )
            admin.execute(pgsql.SQL("DROP ROLE IF EXISTS {}").format(pgsql.Identifier(name)))


@POSTGRES
@pytest.mark.parametrize("statement", CHANGES + TRUNCATES)
def test_the_application_role_has_no_permission_to_change_the_ledger(network, app_role, statement):
    before = snapshot(network)
    with app_role.connect() as connection:
        assert connection.execute("SELECT current_user").fetchone() == (app_role.name,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
            connection.execute(statement)
        connection.rollback()

    assert "permission denied for table" in str(refused.value)
    assert snapshot(network) == before


@POSTGRES
def test_the_application_role_can_read_and_append_to_the_ledger(network, app_role):
    state = json.dumps({"actor": "x", "actor_role": "administrator"}).encode()
    with app_role.connect() as connection:
        count = connection.execute("SELECT COUNT(*) FROM stored_events").fetchone()
        head = connection.execute("SELECT MAX(position) FROM ledger").fetchone()
        row = connection.execute(
            "INSERT INTO stored_events (originator_id, originator_version, topic, state)"
            " VALUES ('Site:PROBE', 1, 'domain.site:Site.Registered', %s)"
            " RETURNING notification_id",
            (state,),
        ).fetchone()
        assert row is not None
        connection.execute(
            "INSERT INTO ledger (position, originator_id, originator_version, aggregate_type,"
            " event_type, actor, actor_role, recorded_at, hash)"
            " VALUES (%s, 'Site:PROBE', 1, 'Site', 'Site.Registered', 'x', 'administrator',"
            " now(), %s)",
            (row[0], "0" * 64),
        )
        inserted = connection.execute(
            "SELECT COUNT(*) FROM ledger WHERE originator_id = 'Site:PROBE'"
        ).fetchone()
        connection.rollback()  # a probe of privileges only: nothing stays

    assert count == (8,)
    assert head == (8,)
    assert inserted == (1,)
    assert ledger_size(network) == 8


@POSTGRES
def test_the_service_runs_commands_when_connected_as_the_application_role(network, app_role):
    as_app = Regentrace(app_role.settings)
    try:
        with as_app.read() as sql:
            assert sql.scalar("SELECT current_user") == app_role.name
        registered = as_app.app.sites.register_site(
            ADMIN,
            site_id="TW-MU-9",
            name="Modular unit 9",
            kind="MODULAR_UNIT",
            jurisdiction="TW",
            country="TW",
            supervising_authority="TFDA",
            licence_number="TFDA-DM-9",  # a Taiwanese modular unit is licensed
            control_site_id=c.CTRL,
        )
        activated = as_app.app.sites.activate_site(ADMIN, "TW-MU-9", "qualified")
        suspended = as_app.app.sites.suspend_site(ADMIN, c.LAB, "audit finding")
        with as_app.read() as sql:
            head = LedgerIndex(sql).position_at(None)
            sites = {s.site_id: s.status for s in find_sites(sql, head)}
        verification = verify(as_app.read)
    finally:
        as_app.close()

    assert (registered.position, activated.position, suspended.position) == (9, 10, 11)
    assert sites["TW-MU-9"] == "ACTIVE"
    assert sites[c.LAB] == "SUSPENDED"
    assert verification.ok
    assert verification.head_position == 11
    assert ledger_size(network) == 11


# ------------------------------------------------------------------ an insider gets past it


@pytest.mark.parametrize("p", [1, 5, 8])
def test_an_insider_who_bypasses_the_triggers_is_named_by_verification(network, p):
    """PostgreSQL: a superuser sets session_replication_role = replica; SQLite: the file's owner
    drops the triggers (tests/tamper.py does either)."""
    with network.read() as sql:
        state = json.loads(
            bytes(sql.scalar("SELECT state FROM stored_events WHERE notification_id = ?", (p,)))
        )
    state["reason"] = "edited after the fact"

    tamper(
        network,
        "UPDATE stored_events SET state = ? WHERE notification_id = ?",
        (json.dumps(state, separators=(",", ":"), sort_keys=True).encode(), p),
    )
    result = verify(network.read)

    assert (result.ok, result.first_mismatch_position, result.checked_events) == (False, p, p - 1)
    with network.read() as sql:
        edited = json.loads(
            bytes(sql.scalar("SELECT state FROM stored_events WHERE notification_id = ?", (p,)))
        )
    assert edited["reason"] == "edited after the fact", "the edit went through"


def test_after_the_insiders_edit_the_ledger_refuses_changes_again(network):
    tamper(network, "DELETE FROM ledger WHERE position = ?", (8,))
    before = snapshot(network)

    with (
        pytest.raises((IntegrityError, ProgrammingError), match="append-only: DELETE on ledger"),
        network.recorder.write() as sql,
    ):
        sql.execute("DELETE FROM ledger WHERE position = ?", (7,))

    assert [int(r["position"]) for r in before[1]] == [1, 2, 3, 4, 5, 6, 7]
    assert snapshot(network) == before
