"""The benchmark's ledger generator, at a scale the suite runs in seconds: what it builds is a
valid ledger (every command accepted, the chain verifies) shaped as the benchmark assumes."""

from __future__ import annotations

from bench import generate
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
        reached = trace(sql, position, TraceOrigin("MATERIAL_LOT", built["lots"][0]), "FORWARD")
        behind = trace(sql, position, TraceOrigin("ADVERSE_EVENT", "AE0000000"), "BACKWARD")
    assert reached.ids_of("BATCH") == [f"B{n:07d}" for n in range(5)]
    assert len(reached.ids_of("PATIENT")) == 5
    assert ("MATERIAL_LOT", built["lots"][0]) in behind.nodes
    assert ("DONOR", "D0000000") in behind.nodes
