"""Moving a ledger from SQLite to PostgreSQL (``projections.replay.replay`` into a PostgreSQL
target): the demo network, with a partner's command id kept, copied from its SQLite file into a
new PostgreSQL database. The copy holds the same events, chain, command ids and projection rows,
verifies with the same head hash, and the next command appends after it at head + 1 (the
sequence behind the notification ids was moved past the copied rows), chained to the copied head.

The SQLite ledger is seeded once for the module; each test gets a PostgreSQL database of its own
(the session's test database, its schema reset), migrated and empty.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from api.settings import Settings
from api.wiring import Regentrace, migrate
from demo.network import seed
from domain.command_ids import CommandKey
from domain.shared import Principal
from projections.audit import verify
from projections.registry import projection_tables
from projections.replay import replay
from tests.conftest import ledger_size, reset_postgres
from tests.integration.test_replay import _ledger_row, rows_then, sqlite_ledger

pytestmark = pytest.mark.postgres

PARTNER = Principal("registry-partner", "administrator")
KEPT_SITE = {
    "site_id": "TW-MI-KEPT",
    "name": "Hospital registered with a command id",
    "kind": "MEDICAL_INSTITUTION",
    "jurisdiction": "TW",
    "country": "TW",
    "supervising_authority": "TFDA",
}


def register_kept(service: Regentrace) -> Any:
    """A partner's command sent with its command id (ADR 7), as a retry would send it again."""
    key = CommandKey.of(PARTNER, "register-kept", "registerSite", KEPT_SITE)
    return service.app.once(key, partial(service.app.sites.register_site, PARTNER, **KEPT_SITE))


@pytest.fixture(scope="module")
def sqlite_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Regentrace]:
    live = Regentrace(sqlite_ledger(tmp_path_factory.mktemp("move") / "live.sqlite3"))
    try:
        seed(live.app)
        register_kept(live)
        yield live
    finally:
        live.close()


@pytest.fixture
def postgres_target(postgres_database: str) -> Iterator[Regentrace]:
    reset_postgres(postgres_database)
    settings = Settings(
        database_url=postgres_database,
        environment="development",
        _env_file=None,  # type: ignore[call-arg]
    )
    migrate(settings.database)
    target = Regentrace(settings)
    yield target
    target.close()


def everything(service: Regentrace) -> dict[str, Any]:
    """Events, chain, kept command ids and every projection table, in comparable form."""
    with service.read() as sql:
        events = [
            (int(e[0]), e[1], int(e[2]), e[3], bytes(e[4]))
            for e in sql.tuples(
                "SELECT notification_id, originator_id, originator_version, topic, state"
                " FROM stored_events ORDER BY notification_id"
            )
        ]
        ledger = [_ledger_row(r) for r in sql.all("SELECT * FROM ledger ORDER BY position")]
        kept = [
            {k: v.strip() if k == "content_hash" else v for k, v in r.items()}
            for r in sql.all("SELECT * FROM commands ORDER BY position")
        ]
        views = {t: rows_then(sql, t, 10**9) for t in projection_tables()}
    return {"events": events, "ledger": ledger, "commands": kept, "views": views}


@pytest.mark.parametrize("workers", [1, 2], ids=["in-process", "worker-processes"])
def test_a_sqlite_ledger_moved_into_postgresql_is_the_same_ledger_and_takes_the_next_command(
    sqlite_demo: Regentrace, postgres_target: Regentrace, workers: int
):
    source, target = sqlite_demo, postgres_target
    head = source.app.head_position()
    progress: list[tuple[str, int, int]] = []

    copied = replay(
        source.recorder,
        head,
        target.recorder,
        target.app.mapper,
        lambda stage, done, total: progress.append((stage, done, total)),
        workers=workers,
    )

    assert copied == head == ledger_size(source) > 700
    assert ("copy", head, head) in progress
    assert progress[-1] == ("rebuild", head, head)
    moved, live = everything(target), everything(source)
    assert moved["events"] == live["events"]
    assert moved["ledger"] == live["ledger"]
    assert len(moved["commands"]) == 1
    assert moved["commands"] == live["commands"]
    for table in projection_tables():
        assert moved["views"][table] == live["views"][table], table
    assert moved["views"]["batch_versions"], "the demo fills the batches"
    verification = verify(target.read)
    assert verification.ok, verification.problem
    assert verification.head_position == head
    assert verification.head_hash.strip() == verify(source.read).head_hash.strip()

    # A retry of the kept command is answered from the copy, storing nothing.
    assert register_kept(target).position == live["commands"][0]["position"]
    assert ledger_size(target) == head
    # The next command lands right after the copied head, chained to it.
    added = target.app.sites.register_site(
        PARTNER,
        site_id="TW-MI-AFTER-MOVE",
        name="Hospital registered after the move",
        kind="MEDICAL_INSTITUTION",
        jurisdiction="TW",
        country="TW",
        supervising_authority="TFDA",
    )
    assert added.position == head + 1
    assert ledger_size(target) == head + 1
    after = verify(target.read)
    assert after.ok, after.problem
    assert after.head_position == head + 1
    with target.read() as sql:
        sites = {r["site_id"] for r in sql.all("SELECT site_id FROM site_versions")}
    assert "TW-MI-AFTER-MOVE" in sites


def test_a_postgresql_target_that_holds_events_is_refused_and_left_as_it_was(
    sqlite_demo: Regentrace, postgres_target: Regentrace
):
    target = postgres_target
    register_kept(target)
    before = everything(target)

    with pytest.raises(ValueError, match="already holds events"):
        replay(
            sqlite_demo.recorder,
            sqlite_demo.app.head_position(),
            target.recorder,
            target.app.mapper,
        )

    assert ledger_size(target) == 1
    assert everything(target) == before


def test_the_sequence_is_left_right_when_nothing_is_copied(
    tmp_path: Path, postgres_target: Regentrace
):
    """An empty source: the target stays empty and its first command takes position 1."""
    empty = Regentrace(sqlite_ledger(tmp_path / "empty.sqlite3"))
    try:
        copied = replay(empty.recorder, 0, postgres_target.recorder, postgres_target.app.mapper)
    finally:
        empty.close()

    assert copied == 0
    assert register_kept(postgres_target).position == 1
