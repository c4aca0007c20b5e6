"""The ``regentrace`` command line, run as a real process on a tmp SQLite ledger."""

from __future__ import annotations

import re

import pytest

from api.settings import Settings
from api.wiring import Regentrace
from demo.network import CONTROL, SITES
from projections.sites import find_sites
from tests.e2e.conftest import Cli

SUBCOMMANDS = ["serve", "migrate", "rebuild", "demo", "schema"]


def current_sites(cli: Cli) -> list[tuple[str, str]]:
    """(site id, status) of every site in the ledger's projections, read in this process."""
    service = Regentrace(Settings(database_url=cli.database_url, _env_file=None))  # type: ignore[call-arg]
    try:
        with service.read() as sql:
            head = int(sql.scalar("SELECT COALESCE(MAX(position), 0) FROM ledger"))
            return [(s.site_id, s.status) for s in find_sites(sql, head)]
    finally:
        service.close()


def stored_events(cli: Cli) -> int:
    service = Regentrace(Settings(database_url=cli.database_url, _env_file=None))  # type: ignore[call-arg]
    try:
        with service.read() as sql:
            return int(sql.scalar("SELECT COUNT(*) FROM stored_events"))
    finally:
        service.close()


def test_help_lists_every_subcommand(regentrace: Cli):
    result = regentrace("--help")

    assert result.returncode == 0, result.stderr
    for command in SUBCOMMANDS:
        assert command in result.stdout
    assert "REGENTRACE_DATABASE_URL" in result.stdout


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_each_subcommand_has_help(regentrace: Cli, command: str):
    result = regentrace(command, "--help")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: regentrace {command}")


def test_no_subcommand_is_a_usage_error(regentrace: Cli):
    result = regentrace()

    assert result.returncode == 2
    assert "usage: regentrace" in result.stderr


def test_migrating_twice_applies_the_migrations_once(regentrace: Cli):
    first = regentrace("migrate")
    second = regentrace("migrate")

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    applied = re.search(r"migrate: (\d+) migration\(s\) applied", first.stderr)
    assert applied is not None, first.stderr
    assert int(applied.group(1)) >= 2
    assert "migrate: 0 migration(s) applied; schema is current" in second.stderr
    assert current_sites(regentrace) == []


def test_demo_seeds_an_empty_ledger_with_progress_on_stderr(regentrace: Cli):
    result = regentrace("demo")

    assert result.returncode == 0, result.stderr
    progress = [
        (int(m.group(1)), int(m.group(2)))
        for m in re.finditer(r"^demo: \[(\d+)/(\d+)\] \S", result.stderr, re.MULTILINE)
    ]
    total = progress[-1][1]
    assert progress[0] == (1, total)
    assert progress[-1] == (total, total)
    assert {t for _, t in progress} == {total}
    assert [d for d, _ in progress] == sorted({d for d, _ in progress})  # steadily onwards
    assert f"demo: seeded {total} commands; head position " in result.stderr
    assert stored_events(regentrace) >= total
    sites = dict(current_sites(regentrace))
    assert {s["site_id"] for s in SITES} <= set(sites)
    assert sites[CONTROL] == "ACTIVE"


def test_a_second_demo_refuses_with_a_helpful_message(regentrace: Cli):
    assert regentrace("demo").returncode == 0

    again = regentrace("demo")

    assert again.returncode == 1
    assert "already holds" in again.stderr
    assert "--if-empty" in again.stderr
    assert "REGENTRACE_DATABASE_URL" in again.stderr


def test_demo_if_empty_on_a_seeded_ledger_succeeds_without_seeding(regentrace: Cli):
    assert regentrace("demo").returncode == 0
    before = current_sites(regentrace)

    again = regentrace("demo", "--if-empty")

    assert again.returncode == 0, again.stderr
    assert "not seeding" in again.stderr
    assert "demo: [" not in again.stderr
    assert current_sites(regentrace) == before


def test_demo_if_empty_on_an_empty_ledger_seeds_it(regentrace: Cli):
    result = regentrace("demo", "--if-empty")

    assert result.returncode == 0, result.stderr
    assert "demo: seeded " in result.stderr
    assert {s["site_id"] for s in SITES} <= {site_id for site_id, _ in current_sites(regentrace)}


def test_rebuild_replays_the_ledger_into_the_same_projections_with_progress(regentrace: Cli):
    assert regentrace("demo").returncode == 0
    before = current_sites(regentrace)
    total = stored_events(regentrace)

    result = regentrace("rebuild")

    assert result.returncode == 0, result.stderr
    assert "rebuilding projections from the ledger in SQLite at" in result.stderr
    assert f"rebuild: {total:,}/{total:,} events (100%)" in result.stderr
    assert re.search(rf"rebuild: done, {total:,} events replayed in [\d.]+s", result.stderr)
    assert current_sites(regentrace) == before


def test_rebuild_of_an_empty_ledger_is_done_at_once(regentrace: Cli):
    assert regentrace("migrate").returncode == 0

    result = regentrace("rebuild")

    assert result.returncode == 0, result.stderr
    assert "rebuild: done, 0 events replayed" in result.stderr


def test_schema_prints_the_sdl_on_stdout(regentrace: Cli):
    from api.schema import sdl

    result = regentrace("schema")

    assert result.returncode == 0, result.stderr
    assert "type Query {" in result.stdout
    assert "type Mutation {" in result.stdout
    assert result.stdout == sdl()


def test_a_database_url_it_cannot_use_is_refused_with_a_clear_message(regentrace: Cli):
    regentrace.database_url = "mysql://root@localhost/regentrace"

    result = regentrace("migrate")

    assert result.returncode == 3  # bad settings (api/cli/errors.py)
    assert "regentrace: bad settings" in result.stderr
    assert "unsupported database URL" in result.stderr
    assert "Traceback" not in result.stderr
