"""The bulk paths (verification, rebuild, replay) read the ledger in batches of positions and
project through a scratch SQLite file; with batches a few positions long, every batch edge in a
small ledger is crossed, and the answers must be those of one batch."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from api.settings import Settings
from api.wiring import Regentrace, migrate
from demo.network import seed as seed_demo
from projections import audit, rebuild, registry, replay, scratch
from projections.audit import verify
from projections.sql import Dialect
from tests.conftest import ledger_size
from tests.integration.test_projections import dump
from tests.tamper import tamper


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit, "BATCH", 7)
    monkeypatch.setattr(rebuild, "BATCH", 5)
    monkeypatch.setattr(replay, "BATCH", 3)
    monkeypatch.setattr(scratch, "COPY_BATCH", 4)


def test_a_rebuild_in_small_batches_gives_exactly_the_rows_written_live(service, small_batches):
    seed_demo(service.app)
    live = dump(service)
    with service.recorder.write() as sql:
        sql.execute("DELETE FROM lineage_edges WHERE position > 10")

    replayed = rebuild.rebuild(service.recorder, service.app.mapper)

    assert replayed == ledger_size(service)
    assert dump(service) == live


def test_a_rebuild_by_worker_processes_gives_exactly_the_rows_written_live(service, small_batches):
    seed_demo(service.app)
    live = dump(service)
    with service.recorder.write() as sql:
        sql.execute("DELETE FROM lineage_edges WHERE position > 10")
        sql.execute("UPDATE batch_versions SET status = 'tampered'")

    replayed = rebuild.rebuild(service.recorder, service.app.mapper, workers=2)

    assert replayed == ledger_size(service)
    assert dump(service) == live


def test_the_shares_of_a_rebuild_own_every_projection_table_once():
    owned = [table for share in registry.SHARES for table in share.tables]
    assert sorted(owned) == sorted(registry.projection_tables())


def test_a_failing_rebuild_worker_fails_the_rebuild_and_the_views_stay_as_they_were(service):
    seed_demo(service.app)
    live = dump(service)
    # An event no worker can decode: the worker reports it, and the rebuilding transaction,
    # which had emptied every view, rolls back.
    tamper(service, "UPDATE stored_events SET state = ? WHERE notification_id = 20", (b"{",))

    with pytest.raises(RuntimeError, match=r"rebuild worker \d failed"):
        rebuild.rebuild(service.recorder, service.app.mapper, workers=2)

    assert dump(service) == live


def test_verification_in_small_batches_checks_every_event_and_finds_a_change_at_an_edge(
    service, small_batches
):
    seed_demo(service.app)
    size = ledger_size(service)
    assert verify(service.read).checked_events == size
    tamper(service, "UPDATE ledger SET hash = ? WHERE position = ?", ("ab" * 32, 14))

    result = verify(service.read)

    assert (result.ok, result.first_mismatch_position, result.checked_events) == (False, 14, 13)


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)  # PostgreSQL keeps no text
def test_a_ledger_time_stored_in_another_iso_form_of_the_same_instant_still_verifies(service):
    """SQLite keeps recorded_at as text and verification hashes the text as stored; text in any
    other form is read as the time it names, as the chain defines the link."""
    assert service.recorder.dialect is Dialect.SQLITE
    seed_demo(service.app)
    with service.read() as sql:
        ((stamp,),) = sql.tuples("SELECT recorded_at FROM ledger WHERE position = 3")
    taipei = datetime.fromisoformat(stamp).astimezone(timezone(timedelta(hours=8))).isoformat()
    tamper(service, "UPDATE ledger SET recorded_at = ? WHERE position = 3", (taipei,))

    assert verify(service.read).ok

    later = datetime.fromisoformat(stamp) + timedelta(microseconds=1)
    tamper(service, "UPDATE ledger SET recorded_at = ? WHERE position = 3", (later.isoformat(),))
    assert verify(service.read).first_mismatch_position == 3


def _replay_into(path, service, until: int, workers: int) -> Regentrace:
    target_settings = Settings(database_url=f"sqlite:///{path}", _env_file=None)  # type: ignore[call-arg]
    migrate(target_settings.database)
    target = Regentrace(target_settings)
    copied = replay.replay(
        service.recorder, until, target.recorder, target.app.mapper, workers=workers
    )
    assert copied == until
    return target


@pytest.mark.parametrize("workers", [1, 2], ids=["in-process", "worker-processes"])
def test_a_replay_in_small_batches_copies_every_event_and_verifies(
    service, small_batches, tmp_path, workers
):
    seed_demo(service.app)
    with service.read() as sql:
        head = int(sql.scalar("SELECT MAX(position) FROM ledger"))
    target = _replay_into(tmp_path / "replay.sqlite3", service, head, workers)
    try:
        result = verify(target.read)
        assert (result.ok, result.checked_events) == (True, ledger_size(service))
        assert dump(target) == dump(service)
    finally:
        target.close()


def test_a_replay_to_a_past_position_by_worker_processes_equals_one_in_process(service, tmp_path):
    seed_demo(service.app)
    until = service.app.head_position() // 2
    alone = _replay_into(tmp_path / "alone.sqlite3", service, until, workers=1)
    shared = _replay_into(tmp_path / "shared.sqlite3", service, until, workers=2)
    try:
        assert ledger_size(shared) == until
        assert dump(shared) == dump(alone)
        assert any(dump(shared).values())
    finally:
        alone.close()
        shared.close()


def test_the_scratch_file_makes_a_left_out_index_before_a_query_would_scan_its_table():
    with scratch.Scratch() as local:

        def indexes() -> set[str]:
            # Straight to the file: a query through local.sql is planned (and this one scans).
            rows = local.sql.sqlite_connection().execute(
                "SELECT name FROM sqlite_master WHERE type = 'index'"
            )
            return {name for (name,) in rows}

        assert "batch_versions_donor" not in indexes()
        assert "lineage_edges_from" not in indexes()
        local.sql.all(
            "SELECT batch_id FROM batch_versions WHERE donor_code = ? AND valid_to IS NULL",
            ("D1",),
        )
        assert "batch_versions_donor" in indexes()
        assert "lineage_edges_from" not in indexes()
