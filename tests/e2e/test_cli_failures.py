"""The ``regentrace`` command fails like a tool: one line on stderr that says what to do, no
traceback unless ``--debug``, no password ever, and an exit status a monitor can tell apart
(api/cli/errors.py): 1 the command found a problem (verify: tampering), 2 usage, 3 bad settings,
4 database unreachable, missing or unwritable, 5 internal error. Real processes throughout."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

from api.settings import Settings
from api.wiring import Regentrace
from tests.e2e.conftest import REGENTRACE, Cli, environment, free_port
from tests.integration import chain as c
from tests.tamper import tamper

PASSWORD = "Pw-n0t-sh0wn-9x"
DATABASE, CONFIGURATION, TAMPERED = 4, 3, 1


def one_line_failure(result: subprocess.CompletedProcess[str]) -> str:
    """The failure's line: the last on stderr (progress may come before it), with no trace and
    no password anywhere."""
    assert "Traceback" not in result.stderr, result.stderr
    assert PASSWORD not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert lines, "the failure is reported"
    assert lines[-1].startswith("regentrace: "), result.stderr
    return lines[-1]


def unreachable_postgres() -> str:
    return f"postgresql://postgres:{PASSWORD}@127.0.0.1:{free_port()}/regentrace"


@pytest.mark.parametrize("command", [["migrate"], ["verify"], ["apikey", "list"]])
def test_an_unreachable_postgresql_is_exit_4_with_one_line(regentrace: Cli, command):
    regentrace.database_url = unreachable_postgres()

    result = regentrace(*command)

    line = one_line_failure(result)
    assert result.returncode == DATABASE, result.stderr
    assert "cannot reach PostgreSQL on 127.0.0.1:" in line
    assert "Connection refused" in line
    assert "REGENTRACE_DATABASE_URL" in line


@pytest.mark.postgres
def test_a_missing_postgresql_database_is_exit_4_and_says_how_to_create_it(
    regentrace: Cli, postgres_database: str
):
    server = postgres_database.rsplit("/", 1)[0]
    name = f"regentrace_missing_{uuid.uuid4().hex[:8]}"
    regentrace.database_url = f"{server}/{name}"

    result = regentrace("migrate")

    line = one_line_failure(result)
    assert result.returncode == DATABASE
    assert f"PostgreSQL database '{name}' does not exist" in line
    assert f" {name}) or point REGENTRACE_DATABASE_URL" in line
    assert "createdb -h " in line


@pytest.mark.postgres
def test_a_migrated_schema_is_needed_and_the_message_says_so(
    regentrace: Cli, postgres_database: str
):
    from tests.conftest import reset_postgres

    reset_postgres(postgres_database)  # an empty schema: no regentrace tables
    regentrace.database_url = postgres_database

    result = regentrace("verify")

    line = one_line_failure(result)
    assert result.returncode == DATABASE
    assert "has no regentrace tables" in line
    assert "regentrace migrate" in line


@pytest.mark.parametrize("command", [["migrate"], ["verify"], ["demo"]])
def test_an_sqlite_path_it_cannot_write_is_exit_4(regentrace: Cli, tmp_path: Path, command):
    in_the_way = tmp_path / "a-file-not-a-folder"
    in_the_way.write_text("")
    regentrace.database_url = f"sqlite:///{in_the_way / 'ledger.sqlite3'}"

    result = regentrace(*command)

    line = one_line_failure(result)
    assert result.returncode == DATABASE
    assert f"cannot open or write the SQLite ledger at {in_the_way / 'ledger.sqlite3'}" in line
    assert "writable" in line


def test_a_url_of_another_scheme_is_exit_3_without_its_password(regentrace: Cli):
    regentrace.database_url = f"mysql://root:{PASSWORD}@localhost/regentrace"

    result = regentrace("migrate")

    line = one_line_failure(result)
    assert result.returncode == CONFIGURATION
    assert "bad settings: unsupported database URL 'mysql://root:***@localhost/" in line


def test_a_bad_setting_is_exit_3_naming_the_variable(regentrace: Cli):
    result = subprocess.run(
        [str(REGENTRACE), "migrate"],
        cwd=regentrace.cwd,
        env=environment(regentrace.database_url, pg_pool_size="many"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    line = one_line_failure(result)
    assert result.returncode == CONFIGURATION
    assert "REGENTRACE_PG_POOL_SIZE" in line


def test_debug_shows_the_traceback_and_still_no_password(regentrace: Cli):
    regentrace.database_url = unreachable_postgres()

    result = regentrace("--debug", "migrate")

    assert result.returncode == DATABASE
    assert "Traceback (most recent call last)" in result.stderr
    assert "psycopg.OperationalError" in result.stderr
    assert PASSWORD not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("regentrace: cannot reach")


def test_version_prints_the_installed_version(regentrace: Cli):
    from importlib.metadata import version

    result = regentrace("--version")

    assert result.returncode == 0
    assert result.stdout.strip() == f"regentrace {version('regentrace')}"


def test_a_usage_error_found_after_parsing_is_exit_2(regentrace: Cli):
    assert regentrace("migrate").returncode == 0

    result = regentrace("export", "source-and-flow", "--from", "2026-03-01T10:00")

    line = one_line_failure(result)
    assert result.returncode == 2
    assert "has no UTC offset" in line


def test_an_internal_error_is_exit_5_and_points_at_debug(regentrace: Cli, tmp_path: Path):
    """A fault of regentrace's own, provoked from outside: a ledger file whose stored event is
    not the JSON regentrace wrote (the hash chain is fine with it; decoding is not)."""
    assert regentrace("demo").returncode == 0
    service = Regentrace(Settings(database_url=regentrace.database_url, _env_file=None))  # type: ignore[call-arg]
    try:
        tamper(service, "UPDATE stored_events SET state = ? WHERE notification_id = 1", (b"{",))
    finally:
        service.close()

    result = regentrace("rebuild")

    line = one_line_failure(result)
    assert result.returncode == 5, result.stderr
    assert line.startswith("regentrace: internal error: ")
    assert line.endswith("(run again with --debug to see where)")


# ------------------------------------------- verify: tampering and an unreachable database differ


@pytest.fixture
def cli(settings, regentrace: Cli) -> Cli:
    regentrace.database_url = settings.database_url
    return regentrace


def test_verify_tells_tampering_from_a_database_it_cannot_read(cli: Cli, service: Regentrace):
    c.network(c.Chain(service, c.new_base()))
    state = json.dumps({"reason": "edited"}).encode()
    tamper(service, "UPDATE stored_events SET state = ? WHERE notification_id = ?", (state, 3))

    tampered = cli("verify")
    intact_url = cli.database_url
    if service.settings.database.dialect == "postgresql":
        cli.database_url = unreachable_postgres()
    else:
        in_the_way = Path(service.settings.database.path).parent / "not-a-folder"
        in_the_way.write_text("")
        cli.database_url = f"sqlite:///{in_the_way / 'ledger.sqlite3'}"
    unreadable = cli("verify")
    cli.database_url = intact_url

    assert tampered.returncode == TAMPERED, tampered.stderr
    assert "verify: FAILED at position 3" in tampered.stderr
    assert unreadable.returncode == DATABASE, unreadable.stderr
    one_line_failure(unreadable)
    assert tampered.returncode != unreadable.returncode
