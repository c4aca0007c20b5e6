"""The command ids kept in the ledger (ADR 7), below the API: duplicates that both passed the
first look-up end as one command, the ids are append-only, a rebuild leaves them and a replay
carries them (up to its position)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import PersistenceError

from api.settings import Settings
from api.wiring import Regentrace, migrate
from domain.command_ids import CommandKey
from domain.shared import CommandResult, Principal
from projections.rebuild import rebuild
from projections.replay import replay
from tests.conftest import ledger_size
from tests.integration import chain as c

PARTNER = Principal("registry-partner", "administrator")
WAIT = 30.0  # safety bound on each wait for the other thread


def kept(service: Regentrace) -> list[dict[str, Any]]:
    with service.read() as sql:
        return sql.all("SELECT * FROM commands ORDER BY position")


def relocate(service: Regentrace) -> tuple[CommandKey, Callable[[], CommandResult]]:
    arguments = {"site_id": c.SPOKE, "location": "Hall 2", "reason": "moved"}
    key = CommandKey.of(PARTNER, "move-1", "relocateSite", arguments)
    return key, partial(service.app.sites.relocate_site, PARTNER, **arguments)


def register(service: Regentrace) -> tuple[CommandKey, Callable[[], CommandResult]]:
    arguments = {"site_id": "TW-MI-NEW", "name": "New hospital", "kind": "MEDICAL_INSTITUTION"}
    more = {"jurisdiction": "TW", "country": "TW", "supervising_authority": "TFDA"}
    key = CommandKey.of(PARTNER, "register-1", "registerSite", arguments | more)
    return key, partial(service.app.sites.register_site, PARTNER, **arguments, **more)


@pytest.fixture
def suspended_spoke(service: Regentrace) -> Regentrace:
    """The chain's network with its modular unit suspended (so it may be relocated)."""
    chain = c.Chain(service, c.new_base())
    c.network(chain)
    c.suspend(chain, c.SPOKE, 3)
    return service


@pytest.mark.parametrize("command", [relocate, register], ids=["relocate", "register"])
def test_a_duplicate_that_looked_before_the_first_committed_answers_the_first(
    suspended_spoke: Regentrace, command: Any
):
    """B looks the id up and finds nothing; A then runs and commits; B runs after that. A
    second relocation would be a valid new fact (only the unique key on the id stops it); a
    second registration is refused by the domain (the site exists): both answer A's result."""
    service = suspended_spoke
    key, run = command(service)
    size = ledger_size(service)
    b_looked, a_committed = threading.Event(), threading.Event()
    answers: dict[str, CommandResult] = {}

    def b_runs() -> CommandResult:
        b_looked.set()
        assert a_committed.wait(WAIT)
        return run()

    def a_runs() -> CommandResult:
        try:
            return run()
        finally:
            a_committed.set()

    def send(name: str, runner: Callable[[], CommandResult]) -> None:
        answers[name] = service.app.once(key, runner)

    b = threading.Thread(target=send, args=("b", b_runs))
    b.start()
    assert b_looked.wait(WAIT)
    send("a", a_runs)
    b.join(WAIT)

    assert not b.is_alive()
    assert answers["a"] == answers["b"]
    assert ledger_size(service) == size + 1
    assert [(k["command_id"], k["position"]) for k in kept(service)] == [
        (key.command_id, answers["a"].position)
    ]


def test_the_kept_commands_are_append_only(suspended_spoke: Regentrace):
    service = suspended_spoke
    key, run = relocate(service)
    service.app.once(key, run)

    for statement in ("UPDATE commands SET version = 9", "DELETE FROM commands"):
        with pytest.raises(PersistenceError, match="append-only"), service.recorder.write() as sql:
            sql.execute(statement)
    assert len(kept(service)) == 1


def test_a_rebuild_leaves_them_and_a_replay_carries_them_up_to_its_position(
    suspended_spoke: Regentrace, tmp_path: Path
):
    service = suspended_spoke
    moved = service.app.once(*relocate(service))
    service.app.once(*register(service))
    before = kept(service)

    rebuild(service.recorder, service.app.mapper, workers=1)
    assert kept(service) == before

    whole = replayed(service, tmp_path / "whole.sqlite3", service.app.head_position())
    part = replayed(service, tmp_path / "part.sqlite3", moved.position)
    try:
        assert kept(whole) == before
        assert kept(part) == before[:1]
        # The copy answers a retry as the live ledger does.
        assert whole.app.once(*relocate(whole)) == moved
        assert ledger_size(whole) == ledger_size(service)
    finally:
        whole.close()
        part.close()


def replayed(source: Regentrace, path: Path, until: int) -> Regentrace:
    settings = Settings(database_url=f"sqlite:///{path}", environment="development", _env_file=None)  # type: ignore[call-arg]
    migrate(settings.database)
    target = Regentrace(settings)
    replay(source.recorder, until, target.recorder, target.app.mapper)
    return target
