"""Moving a ledger from SQLite to PostgreSQL (``projections.replay.replay`` into a PostgreSQL
target): the demo network, with a partner's command id kept and two signed checkpoints, copied
from its SQLite file into a new PostgreSQL database. The copy holds the same events, chain,
command ids, checkpoints and projection rows, verifies with the same head hash, and the next
command appends after it at head + 1 (the sequence behind the notification ids was moved past the
copied rows), chained to the copied head; the next checkpoint takes the id after the copied ones.

The copy and the views are one transaction: a projection failing during the replay leaves the
target (PostgreSQL or a new SQLite file) without events, and the replay runs again into it.

The SQLite ledger is seeded once for the module; each test gets a PostgreSQL database of its own
(the session's test database, its schema reset), migrated and empty.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from api.checkpoint import Checkpoint, extends, signing_key, take
from api.cli.ledger import replay_target
from api.settings import Settings
from api.wiring import Regentrace, migrate
from demo.network import seed
from domain.command_ids import CommandKey
from domain.shared import Principal
from domain.site import Site
from projections import registry, sites
from projections.audit import verify
from projections.ledger import Appended
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
        sign_head(live)
        register_kept(live)
        sign_head(live)
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


def sign_head(service: Regentrace) -> Checkpoint:
    """A signed checkpoint of the ledger's head, with the development key."""
    return take(service, signing_key(service.settings), lambda _d, _t: None)


def checkpoints(service: Regentrace) -> list[tuple[int, dict[str, Any]]]:
    """The signed checkpoints kept, oldest first: their ids and documents."""
    with service.read() as sql:
        rows = sql.all("SELECT * FROM checkpoints ORDER BY checkpoint_id")
    return [(int(r["checkpoint_id"]), Checkpoint.of_row(r).document()) for r in rows]


def everything(service: Regentrace) -> dict[str, Any]:
    """Events, chain, kept command ids, signed checkpoints and every projection table, in
    comparable form."""
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
    signed = checkpoints(service)
    return {
        "events": events,
        "ledger": ledger,
        "commands": kept,
        "checkpoints": signed,
        "views": views,
    }


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
    assert [n for n, _ in moved["checkpoints"]] == [1, 2]
    assert moved["checkpoints"] == live["checkpoints"]
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
        registered = {r["site_id"] for r in sql.all("SELECT site_id FROM site_versions")}
        signed = [Checkpoint.of_row(r) for r in sql.all("SELECT * FROM checkpoints")]
    assert "TW-MI-AFTER-MOVE" in registered
    # The copied checkpoints are served as signed, and the copy extends them.
    assert all(cp.signature_holds() for cp in signed)
    assert all(extends(target.read, cp) is None for cp in signed)
    # The next checkpoint takes the id after the copied ones (the identity was moved past them)
    # and signs the new head, the copied checkpoint before it still extended.
    following = sign_head(target)
    assert (following.checkpoint_id, following.position) == (3, head + 1)


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


# ------------------------------------------------------------- one transaction, or nothing


class ProjectionFailedError(Exception):
    pass


@pytest.fixture(params=["postgresql", "sqlite"])
def any_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Regentrace]:
    """A new, empty ledger to replay into: a PostgreSQL database or a new SQLite file."""
    if request.param == "postgresql":
        yield request.getfixturevalue("postgres_target")
        return
    target = Regentrace(sqlite_ledger(tmp_path / "replay.sqlite3"))
    yield target
    target.close()


def test_a_projection_failing_during_the_replay_leaves_the_target_without_events_and_it_runs_again(
    sqlite_demo: Regentrace, any_target: Regentrace, monkeypatch: pytest.MonkeyPatch
):
    """In this process (below the worker threshold, as on a one-core host): the site handler
    raises for the last site registered, after every other event was copied and projected."""
    source, target = sqlite_demo, any_target
    head = source.app.head_position()
    registered = sites.PROJECTION.handles[Site.Registered]
    failed_at: list[int] = []

    def failing(sql: Any, appended: Appended) -> None:
        if getattr(appended.event, "name", None) == KEPT_SITE["name"]:
            failed_at.append(appended.position)
            raise ProjectionFailedError(f"site projection failed at position {appended.position}")
        registered(sql, appended)

    with monkeypatch.context() as patch:
        patch.setitem(sites.PROJECTION.handles, Site.Registered, failing)  # type: ignore[index]
        registry._handlers_for.cache_clear()  # the dispatch table caches the handlers
        try:
            with pytest.raises(ProjectionFailedError):
                replay(source.recorder, head, target.recorder, target.app.mapper, workers=1)
        finally:
            registry._handlers_for.cache_clear()
    registry._handlers_for.cache_clear()

    assert failed_at
    assert 700 < failed_at[0] <= head
    left = everything(target)
    assert (left["events"], left["ledger"], left["commands"], left["checkpoints"]) == (
        [],
        [],
        [],
        [],
    )
    assert not any(left["views"].values())
    if target.settings.database.dialect == "postgresql":
        replay_target(target.settings.database_url)  # what the command checks: not refused

    again = replay(source.recorder, head, target.recorder, target.app.mapper, workers=1)

    assert again == head == ledger_size(target)
    assert everything(target) == everything(source)
    verification = verify(target.read)
    assert verification.ok, verification.problem
