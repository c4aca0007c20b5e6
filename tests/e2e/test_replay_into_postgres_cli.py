"""``regentrace replay --into URL`` as a real process: the demo ledger moved from its SQLite file
into a new PostgreSQL database (its tables migrated by the replay), its signed checkpoint with it,
checked by ``regentrace verify`` and ``verify --checkpoint`` against the copy; a database that
already holds events, or that does not exist, and ``--until`` with ``--into`` are refused with
what to do, and the target left as it was."""

from __future__ import annotations

import re

import psycopg
import pytest

from api.settings import Settings
from api.wiring import Regentrace
from tests.conftest import ledger_size, reset_postgres
from tests.e2e.conftest import Cli
from tests.integration.test_replay_into_postgres import PARTNER, everything

pytestmark = pytest.mark.postgres


def open_ledger(url: str) -> Regentrace:
    return Regentrace(Settings(database_url=url, environment="development", _env_file=None))  # type: ignore[call-arg]


@pytest.fixture
def demo_cli(regentrace: Cli) -> Cli:
    """``regentrace`` on an SQLite ledger holding the demo network."""
    seeded = regentrace("demo")
    assert seeded.returncode == 0, seeded.stderr
    return regentrace


@pytest.fixture
def target_url(postgres_database: str) -> str:
    """A PostgreSQL database of the test's own, without tables (the replay migrates it)."""
    reset_postgres(postgres_database)
    return postgres_database


def verify_at(cli: Cli, url: str) -> tuple[int, str]:
    """``regentrace verify`` against ``url``: its exit status and its last line."""
    checker = Cli(cli.cwd)
    checker.database_url = url
    result = checker("verify")
    return result.returncode, result.stderr.strip().splitlines()[-1]


def test_replay_into_a_new_postgresql_database_moves_the_sqlite_ledger(
    demo_cli: Cli, target_url: str
):
    signed = demo_cli("checkpoint", "--out", "checkpoint.json")
    assert signed.returncode == 0, signed.stderr
    source = open_ledger(demo_cli.database_url)
    try:
        head = source.app.head_position()
        live = everything(source)
    finally:
        source.close()
    assert [n for n, _ in live["checkpoints"]] == [1]

    result = demo_cli("replay", "--into", target_url, timeout=300)

    assert result.returncode == 0, result.stderr
    assert re.search(
        rf"replay: done, {head:,} events up to position {head} in PostgreSQL database",
        result.stderr,
    ), result.stderr
    assert f"with REGENTRACE_DATABASE_URL={target_url}, check it" in result.stderr
    status, line = verify_at(demo_cli, target_url)
    assert status == 0, line
    # the same head position and head hash as the source's
    assert line.split("; ")[1] == verify_at(demo_cli, demo_cli.database_url)[1].split("; ")[1]
    assert f"head position {head}," in line
    moved = open_ledger(target_url)
    try:
        assert everything(moved) == live
        added = moved.app.sites.register_site(
            PARTNER,
            site_id="TW-MI-AFTER-MOVE",
            name="Hospital registered after the move",
            kind="MEDICAL_INSTITUTION",
            jurisdiction="TW",
            country="TW",
            supervising_authority="TFDA",
        )
        assert added.position == head + 1
    finally:
        moved.close()
    status, line = verify_at(demo_cli, target_url)
    assert status == 0, line
    assert f"head position {head + 1}," in line
    # The checkpoint signed on SQLite is listed by the new database and still extended there.
    on_target = Cli(demo_cli.cwd)
    on_target.database_url = target_url
    listed = on_target("checkpoint", "--list")
    assert listed.returncode == 0, listed.stderr
    assert re.search(rf"^1\t{head}\t", listed.stdout, re.MULTILINE), listed.stdout
    extended = on_target("verify", "--checkpoint", "checkpoint.json")
    assert extended.returncode == 0, extended.stderr


def test_replay_into_a_database_that_holds_events_is_refused_and_changes_nothing(
    demo_cli: Cli, target_url: str
):
    first = demo_cli("replay", "--into", target_url, timeout=300)
    assert first.returncode == 0, first.stderr
    target = open_ledger(target_url)
    try:
        size, before = ledger_size(target), everything(target)
    finally:
        target.close()

    again = demo_cli("replay", "--into", target_url, timeout=300)

    assert again.returncode == 2, again.stderr
    assert "already holds events (up to position" in again.stderr
    assert "Give --into a new, empty database" in again.stderr
    target = open_ledger(target_url)
    try:
        assert ledger_size(target) == size > 700
        assert everything(target) == before
    finally:
        target.close()


def test_replay_into_a_database_that_does_not_exist_says_to_create_it(
    demo_cli: Cli, postgres_database: str
):
    missing = postgres_database + "_missing"

    result = demo_cli("replay", "--into", missing)

    assert result.returncode == 4, result.stderr
    assert "does not exist" in result.stderr
    assert "createdb" in result.stderr


def test_replay_into_takes_only_a_postgresql_url(demo_cli: Cli, tmp_path):
    result = demo_cli("replay", "--into", f"sqlite:///{tmp_path / 'copy.sqlite3'}")

    assert result.returncode == 2, result.stderr
    assert "use --out PATH" in result.stderr
    assert not (tmp_path / "copy.sqlite3").exists()


def test_replay_into_with_until_is_refused_and_copies_nothing(demo_cli: Cli, target_url: str):
    source = open_ledger(demo_cli.database_url)
    try:
        size, live = ledger_size(source), everything(source)
    finally:
        source.close()

    result = demo_cli("replay", "--until", "2026-06-30", "--into", target_url)

    assert result.returncode == 2, result.stderr
    assert "--into moves the whole ledger into PostgreSQL" in result.stderr
    assert "takes no --until" in result.stderr
    assert "use --out FILE" in result.stderr
    # The target untouched (not even migrated), the source as it was.
    with psycopg.connect(target_url, autocommit=True) as conn:
        found = conn.execute("SELECT to_regclass('stored_events')").fetchone()
    assert found == (None,)
    source = open_ledger(demo_cli.database_url)
    try:
        assert ledger_size(source) == size > 700
        assert everything(source) == live
    finally:
        source.close()
