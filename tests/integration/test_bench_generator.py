"""The benchmark's ledger generator, at a scale the suite runs in seconds: what it builds is a
valid ledger (every command accepted, the chain verifies) shaped as the benchmark assumes."""

from __future__ import annotations

import json
import signal
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from api.settings import Settings
from api.wiring import Regentrace, migrate
from bench import generate, report
from domain.donor import Donor
from domain.recall import TraceOrigin
from projections.audit import verify
from projections.ledger import LedgerIndex
from projections.lineage import trace


def test_the_generator_builds_a_verifiable_ledger_where_one_lot_reaches_many_batches(service):
    built = generate.build(service.app, 300, spokes=3, lot_reuse=5)

    result = verify(service.read)
    assert result.ok, result
    assert result.checked_events == service.app.head_position()
    assert result.checked_events >= 300
    with service.read() as sql:
        position = LedgerIndex(sql).position_at(None)
        lot = TraceOrigin("MATERIAL_LOT", built["lots"][0])
        reached = trace(sql, position, lot, "FORWARD", reach=None)
        reaction = TraceOrigin("ADVERSE_EVENT", "AE0000000")
        behind = trace(sql, position, reaction, "BACKWARD", reach=None)
    assert reached.ids_of("BATCH") == [f"B{n:07d}" for n in range(5)]
    assert len(reached.ids_of("PATIENT")) == 5
    assert ("MATERIAL_LOT", built["lots"][0]) in behind.nodes
    assert ("DONOR", "D0000000") in behind.nodes


def test_a_trace_without_edges_reaches_the_same_nodes_from_any_origin(service):
    generate.build(service.app, 300, spokes=3, lot_reuse=5)
    window = (generate.START, generate.START + timedelta(hours=30))
    origins = [
        TraceOrigin("MATERIAL_LOT", "LV-00000"),
        TraceOrigin("ADVERSE_EVENT", "AE0000000"),
        TraceOrigin("DONOR", "D0000003"),
        TraceOrigin("PATIENT", "P0000004"),
        TraceOrigin("SITE", "BENCH-MU-001"),
        TraceOrigin("SITE", "BENCH-MU-001", *window),
    ]
    with service.read() as sql:
        position = LedgerIndex(sql).position_at(None)
        for origin in origins:
            for direction in ("FORWARD", "BACKWARD", "BOTH"):
                full = trace(sql, position, origin, direction, reach=None)
                scope = trace(sql, position, origin, direction, with_edges=False, reach=None)
                assert set(scope.nodes) == set(full.nodes), (origin, direction)
                assert scope.nodes[0] == full.nodes[0] == (origin.kind, origin.id)
                assert len(scope.nodes) == len(full.nodes)
                assert scope.edges == []


def test_the_generator_leaves_one_batch_in_process_per_benchmark_client(service):
    built = generate.build(service.app, 50, spokes=1, lot_reuse=5)

    assert len(built["open_batches"]) == generate.OPEN_BATCHES
    for batch_id in built["open_batches"]:
        service.app.batches.record_batch_step(
            generate.ADMIN,
            batch_id,
            "bench step",
            built["spoke"],
            generate.START,
            generate.START,
            "operator",
        )


def test_the_report_shows_goals_and_names_each_scale_not_measured():
    figures = {
        "database": "postgresql",
        "verify": {"events_per_s": 150_000},
        "server_peak_rss_mb": 120.0,
    }
    kept = {
        "scales": {
            "small": {
                "when": "2026-01-01T00:00:00+00:00",
                "machine": "test",
                "target_events": 5_000,
                "results": [figures],
            }
        }
    }

    text = report.markdown(kept, "small")

    assert "| verify ≥ 100,000 events/s | 150,000: met |" in text
    assert "| server peak RSS < 300 MB | 120.0 MB: met |" in text
    assert "not measured (needs both the default and the 10x scale)" in text
    assert "| events in the ledger | — | not measured | not measured | not measured |" in text


# ------------------------------------------------------------ group commits and resumed builds

TINY = {"events": 400, "spokes": 3, "lot_reuse": 5}  # 16 batches, 4 lots, an adverse event
# Events whose time is when the command ran: registerDonor takes no time of its own.
STAMPED_WHEN_RUN = {"domain.donor:Donor.Registered"}


def events_of(service: Regentrace) -> list[tuple[Any, ...]]:
    """Every event in order: originator, version, type and content (all but the wall-clock
    times: the library's timestamp, the time of a command that takes none)."""
    with service.read() as sql:
        rows = sql.all(
            "SELECT originator_id, originator_version, topic, state FROM stored_events "
            "ORDER BY notification_id"
        )
    found = []
    for row in rows:
        state = json.loads(bytes(row["state"]))
        del state["timestamp"]
        if row["topic"] in STAMPED_WHEN_RUN:
            del state["occurred_at"]
        found.append((row["originator_id"], row["originator_version"], row["topic"], state))
    return found


@pytest.fixture
def one_per_transaction(tmp_path: Path) -> list[tuple[Any, ...]]:
    """The tiny ledger as the generator built it before group commits: each command alone."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'single.sqlite3'}", _env_file=None)
    migrate(settings.database)
    service = Regentrace(settings)
    try:
        built = generate.build(service.app, **TINY, group=0)
        assert built["complete"]
        return events_of(service)
    finally:
        service.close()


def test_group_commits_build_the_same_events_as_one_command_per_transaction(
    service, one_per_transaction
):
    commits = []
    built = generate.build(
        service.app, **TINY, group=60, progress=lambda done, _total: commits.append(done)
    )

    assert events_of(service) == one_per_transaction
    assert len(one_per_transaction) > 400
    # Several transactions, each ending on a whole batch, reported as they commit.
    assert len(commits) > 3
    assert commits == sorted(commits)
    assert commits[-1] == built["batches"] == 16
    assert built["lots"] == ["LV-00000", "LV-00001", "LV-00002", "LV-00003"]
    assert built["complete"]
    assert len(built["open_batches"]) == generate.OPEN_BATCHES


def test_a_build_in_two_parts_equals_one_built_at_once(settings, one_per_transaction):
    first = Regentrace(settings)
    try:
        part = generate.build(first.app, **TINY, group=60, until=7)
        assert not part["complete"]
        assert part["open_batches"] == []
        assert generate.batches_stored(first.app, 16) == 7
        assert not first.app.exists(Donor, f"D{generate.OPEN_FROM:07d}")
    finally:
        first.close()
    second = Regentrace(settings)  # a new process, as the second part is
    try:
        rest = generate.build(second.app, **TINY, group=60, resume=True)
        assert rest["complete"]
        assert len(rest["open_batches"]) == generate.OPEN_BATCHES
        assert events_of(second) == one_per_transaction
        # Resuming a finished build stores nothing more.
        generate.build(second.app, **TINY, group=60, resume=True)
        assert events_of(second) == one_per_transaction
    finally:
        second.close()


def test_a_build_interrupted_inside_a_transaction_resumes_where_it_stopped(
    settings, one_per_transaction
):
    def interrupt(_signal: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    def arm(done: int, _total: int) -> None:
        if done >= 6:  # after a few commits, Ctrl-C lands inside the next transaction
            signal.setitimer(signal.ITIMER_REAL, 0.01)

    earlier = signal.signal(signal.SIGALRM, interrupt)
    first = Regentrace(settings)
    try:
        with pytest.raises(KeyboardInterrupt):
            generate.build(first.app, **TINY, group=30, progress=arm)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, earlier)
        first.close()
    second = Regentrace(settings)
    try:
        stored = generate.batches_stored(second.app, 16)
        assert 6 <= stored < 16
        # Whole batches only: the next batch's first command did not land either.
        assert not second.app.exists(Donor, f"D{stored:07d}")
        assert len(events_of(second)) < len(one_per_transaction)

        generate.build(second.app, **TINY, group=30, resume=True)

        assert events_of(second) == one_per_transaction
    finally:
        second.close()


def test_one_command_per_transaction_does_not_resume(service):
    with pytest.raises(ValueError, match="group commits"):
        generate.build(service.app, **TINY, group=0, resume=True)
    assert service.app.head_position() == 0


def test_the_report_shows_the_generator_measured_alone_beside_the_scales_other_figures():
    kept = {
        "scales": {
            "default": {
                "when": "2026-01-01T00:00:00+00:00",
                "machine": "test",
                "target_events": 1_000_000,
                "results": [{"database": "sqlite", "verify": {"events_per_s": 150_000}}],
            }
        }
    }
    figures = {
        "when": "2026-01-02T00:00:00+00:00",
        "load_average_before": 1.0,
        "load_average_after": 2.0,
        "single": {"events": 104_217, "seconds": 162.0, "events_per_s": 643, "group": 0}
        | {"ten_x_hours": 4.32},
        "grouped": {"events": 104_217, "seconds": 41.4, "events_per_s": 2_517, "group": 500}
        | {"ten_x_hours": 1.1},
    }
    run = {"when": figures["when"], "machine": "test", "target_events": 100_000}

    report.merge_figures(kept, "medium", run, "sqlite", "generator", figures)
    report.merge_figures(kept, "default", run, "sqlite", "generator", figures)

    assert kept["scales"]["default"]["results"][0]["verify"] == {"events_per_s": 150_000}
    assert report.headline(kept, "medium") == "default"
    text = report.markdown(kept, "default")
    assert "| generator alone, grouped commits, events/s | 2,517 (groups of 500) |" in text
    assert "| 643 (162 s) | 2,517 (41 s), groups of 500 | 3.9× | 4h19 / 1h06 |" in text
    assert "`make bench SCALE=10x DATABASE=sqlite PART=1/2`" in text
