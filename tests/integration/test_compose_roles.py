"""What docker/compose.yaml does, done on the real PostgreSQL: the database's superuser runs
docker/initdb/regentrace-roles.sh (the same file the db service mounts), ``regentrace migrate``
runs as the schema owner (the migrate service), and the API connects as its own login, a member
of regentrace_app (the api service): it runs commands and queries, and the ledger refuses it
every UPDATE, DELETE and TRUNCATE for want of the privilege, not only by trigger.

There is no container engine here, so the file's own pieces are checked to fit together (the URLs
name the roles and database the init script makes, nothing secret is written in it) and the
steps run with this test's own role and database names (roles are cluster-wide).
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql as pgsql

from api.app import create_app
from api.settings import Settings, parse_database_url
from tests.api.client import GraphQL, client_for
from tests.api.documents import CONTROL, REGISTER_SITE, control_site
from tests.conftest import POSTGRES_URL
from tests.e2e.conftest import REGENTRACE, environment
from tests.integration.test_append_only import CHANGES, TRUNCATES

pytestmark = pytest.mark.postgres

DOCKER = Path(__file__).resolve().parents[2] / "docker"
COMPOSE = (DOCKER / "compose.yaml").read_text(encoding="utf-8")
INIT_SCRIPT = DOCKER / "initdb" / "regentrace-roles.sh"


def compose_value(key: str, service_start: str = "") -> str:
    """The value of ``key:`` in compose.yaml (the first after ``service_start``, if given)."""
    text = COMPOSE[COMPOSE.index(service_start) :] if service_start else COMPOSE
    found = re.search(rf"^\s+{re.escape(key)}: (.+)$", text, re.MULTILINE)
    assert found, f"{key} not in docker/compose.yaml"
    return found.group(1).strip()


def interpolate(text: str, values: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?message}, from ``values``."""

    def value(match: re.Match[str]) -> str:
        name, operator, rest = match.group(1), match.group(2), match.group(3)
        if name in values:
            return values[name]
        assert operator == ":-", f"${{{name}}} is required and was not given"
        return rest

    return re.sub(r"\$\{(\w+)(?:(:[-?])([^}]*))?\}", value, text)


def test_the_compose_file_holds_no_secret_and_its_pieces_fit():
    secrets = ["POSTGRES_PASSWORD", "REGENTRACE_DB_OWNER_PASSWORD", "REGENTRACE_DB_APP_PASSWORD"]
    values = {name: f"pw-{name.lower()}" for name in secrets}
    values["REGENTRACE_PERSONAL_DATA_KEYS"] = "k"
    migrate = parse_database_url(
        interpolate(compose_value("REGENTRACE_DATABASE_URL", "\n  migrate:"), values)
    )
    api = parse_database_url(
        interpolate(compose_value("REGENTRACE_DATABASE_URL", "\n  api:"), values)
    )

    for name in [*secrets, "REGENTRACE_PERSONAL_DATA_KEYS"]:
        assert re.search(rf"\$\{{{name}:\?", COMPOSE), f"{name} must be a required variable"
    assert not re.search(r":-[^}]*(password|secret)", COMPOSE, re.IGNORECASE)
    assert (migrate.user, migrate.password) == (
        compose_value("REGENTRACE_DB_OWNER"),
        values["REGENTRACE_DB_OWNER_PASSWORD"],
    )
    assert (api.user, api.password) == (
        compose_value("REGENTRACE_DB_APP_USER"),
        values["REGENTRACE_DB_APP_PASSWORD"],
    )
    assert migrate.dbname == api.dbname == compose_value("REGENTRACE_DB_NAME")
    assert migrate.host == api.host == "db"
    assert "--no-migrate" in compose_value("command", "\n  api:")
    assert compose_value("command", "\n  migrate:") == '["regentrace", "migrate"]'
    assert "service_completed_successfully" in COMPOSE[COMPOSE.index("\n  api:") :]
    assert "pg_isready" in compose_value("test", "\n  db:")
    assert "/readyz" in compose_value("test", "\n  api:")
    assert f"./initdb/{INIT_SCRIPT.name}:/docker-entrypoint-initdb.d/" in COMPOSE


@dataclass
class Deployment:
    """The compose deployment's database, roles and URLs, under this test's own names."""

    dbname: str
    owner: str
    app_user: str
    passwords: dict[str, str]
    server: Any  # the test server, as parsed from POSTGRES_URL

    def url(self, service: str) -> str:
        """The service's REGENTRACE_DATABASE_URL from compose.yaml, for this test's names and
        server."""
        url = interpolate(
            compose_value("REGENTRACE_DATABASE_URL", f"\n  {service}:"), self.passwords
        )
        url = url.replace(
            "@db:5432/regentrace?", f"@{self.server.host}:{self.server.port}/{self.dbname}?"
        )
        return url.replace("regentrace_owner:", f"{self.owner}:").replace(
            "regentrace_api:", f"{self.app_user}:"
        )

    def env(self, service: str) -> dict[str, str]:
        keys = base64.b64encode(os.urandom(32)).decode()
        env = environment(self.url(service), environment="production", personal_data_keys=keys)
        env.pop("REGENTRACE_DEV_PRINCIPAL_ENABLED")  # production refuses it
        return env


@pytest.fixture
def deployment(postgres_database: str) -> Iterator[Deployment]:
    """Runs the init script as the superuser; drops its database and roles afterwards."""
    server = parse_database_url(POSTGRES_URL)
    tag = uuid.uuid4().hex[:10]
    found = Deployment(
        dbname=f"regentrace_compose_{tag}",
        owner=f"regentrace_owner_{tag}",
        app_user=f"regentrace_api_{tag}",
        passwords={
            "REGENTRACE_DB_OWNER_PASSWORD": uuid.uuid4().hex,
            "REGENTRACE_DB_APP_PASSWORD": uuid.uuid4().hex,
        },
        server=server,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "REGENTRACE_"))}
    env |= {
        "PGHOST": server.host,
        "PGPORT": server.port,
        "POSTGRES_USER": server.user,
        "REGENTRACE_DB_NAME": found.dbname,
        "REGENTRACE_DB_OWNER": found.owner,
        "REGENTRACE_DB_APP_USER": found.app_user,
        **found.passwords,
    }
    if server.password:
        env["PGPASSWORD"] = server.password
    try:
        for _ in range(2):  # and again: safe to run twice
            ran = subprocess.run(
                ["sh", str(INIT_SCRIPT)], env=env, capture_output=True, text=True, check=False
            )
            assert ran.returncode == 0, ran.stderr
        yield found
    finally:
        admin = psycopg.conninfo.make_conninfo(server.conninfo, dbname="postgres")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    pgsql.Identifier(found.dbname)
                )
            )
            for role in (found.app_user, found.owner):
                conn.execute(pgsql.SQL("DROP ROLE IF EXISTS {}").format(pgsql.Identifier(role)))


def regentrace(deployment: Deployment, service: str, *args: str) -> str:
    ran = subprocess.run(
        [str(REGENTRACE), *args],
        env=deployment.env(service),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    return ran.stdout


async def test_the_api_login_runs_commands_and_queries_but_cannot_change_the_ledger(deployment):
    regentrace(deployment, "migrate", "migrate")
    token = regentrace(
        deployment, "api", "apikey", "create", "--name", "compose-admin", "--role", "administrator"
    ).strip()
    api_url = deployment.url("api")
    settings = Settings(
        database_url=api_url,
        environment="production",
        personal_data_keys=base64.b64encode(os.urandom(32)).decode(),
        _env_file=None,  # type: ignore[call-arg]
    )

    async with client_for(create_app(settings)) as http:
        gql = GraphQL(http, token)
        registered = await gql.data(REGISTER_SITE, {"input": control_site()})
        sites = await gql.data("{ sites { id status } }")

    assert registered["registerSite"]["position"] == 1
    assert sites == {"sites": [{"id": CONTROL, "status": "REGISTERED"}]}
    with psycopg.connect(parse_database_url(api_url).conninfo) as conn:
        who = conn.execute("SELECT current_user, current_setting('application_name')").fetchone()
        owner = conn.execute(
            "SELECT tableowner FROM pg_tables WHERE tablename = 'stored_events'"
        ).fetchone()
        refused = []
        for statement in CHANGES + TRUNCATES:
            with pytest.raises(psycopg.errors.InsufficientPrivilege) as denied:
                conn.execute(statement)
            conn.rollback()
            refused.append(str(denied.value))
        count = conn.execute("SELECT count(*) FROM stored_events").fetchone()

    assert who == (deployment.app_user, "regentrace-api")
    assert owner == (deployment.owner,)
    assert all("permission denied for table" in r for r in refused), refused
    assert count == (1,)


def test_the_api_login_cannot_migrate_and_is_told_why(deployment):
    regentrace(deployment, "migrate", "migrate")
    with psycopg.connect(parse_database_url(deployment.url("migrate")).conninfo) as owner:
        owner.execute("DELETE FROM schema_migrations WHERE version = 6")  # a pending migration
        owner.commit()

    ran = subprocess.run(
        [str(REGENTRACE), "migrate"],
        env=deployment.env("api"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert ran.returncode == 4, ran.stderr
    assert f"PostgreSQL refused {deployment.app_user} a privilege" in ran.stderr
    assert "Traceback" not in ran.stderr
    assert deployment.passwords["REGENTRACE_DB_APP_PASSWORD"] not in ran.stderr
