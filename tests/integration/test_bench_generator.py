"""The benchmark's ledger generator, at a scale the suite runs in seconds: what it builds is a
valid ledger (every command accepted, the chain verifies) shaped as the benchmark assumes."""

from __future__ import annotations

from datetime import timedelta

from bench import generate, report
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
