"""Batched ingestion measured beside the library alone (bench/batched.py, ``bench.run
--measure-batched`` and every whole run): the figures come from a real server and real group
commits on each database, are kept in results.json beside every other figure, and the report
shows them, the goal met or missed, and older runs as not measured."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import batched, generate, report
from bench import run as bench
from tests.conftest import ledger_size


def test_the_batched_measure_stores_each_command_once_over_http_and_in_group_commits(
    service, settings, tmp_path
):
    built = generate.build(service.app, 50, spokes=1, lot_reuse=5)
    token = bench._partner_key(settings.database_url, built["spoke"])
    before = ledger_size(service)

    figures = batched.measure(settings.database_url, tmp_path / "server.log", built, 30, token)

    # 30 steps over HTTP, none more when the call is resent, 30 in group commits.
    assert ledger_size(service) == before + 60
    assert figures["commands"] == 30
    for kind in ("http", "resent", "group_commit"):
        assert figures[kind]["commands_per_s"] > 0, kind
    assert figures["group_commit"]["transaction_commands"] == settings.batch_transaction_commands


FIGURES: dict[str, Any] = {
    "when": "2026-01-02T00:00:00+00:00",
    "load_average_before": 1.5,
    "load_average_after": 2.0,
    "commands": 1000,
    "http": {"seconds": 1.67, "commands_per_s": 598.1},
    "resent": {"seconds": 0.54, "commands_per_s": 1840.3},
    "group_commit": {"seconds": 1.24, "commands_per_s": 809.0, "transaction_commands": 200},
    "library_alone": {"p50_ms": 1.2, "p99_ms": 4.9, "runs": 400, "commands_per_s": 789.5},
}
FAST = FIGURES | {"http": {"seconds": 0.25, "commands_per_s": 4000.0}}


def kept(results: list[dict[str, Any]]) -> dict[str, Any]:
    scale = {"when": "2026-01-01T00:00:00+00:00", "machine": "test", "target_events": 100_000}
    return {"scales": {"medium": scale | {"results": results}}}


GOAL = "| batched ingestion ≥ 5× library alone, one command per transaction (PostgreSQL) |"


def test_the_report_puts_batched_ingestion_beside_the_library_alone_with_its_goal():
    text = report.markdown(
        kept(
            [
                {"database": "postgresql", "batched": FIGURES},
                {"database": "sqlite", "batched": FAST},
            ]
        ),
        "medium",
    )

    assert (
        "| batched submission over HTTP (submitCommands, N commands per call, durable commits), "
        "commands/s | 598 (1,000 per call, transactions of 200) | 4,000 (1,000 per call, "
        "transactions of 200) |"
    ) in text
    assert (
        "| … in-process group commit (TraceabilityLedger.group_commit), commands/s | 809 |" in text
    )
    assert (
        f"{GOAL} 0.76× (598 against 790 commands/s): **missed** | 5.07× (4,000 against 790 "
        "commands/s) (the goal is PostgreSQL's) |"
    ) in text
    assert "the goal of 5× (3,948 commands/s) is **missed**" in text
    assert "(1-minute load 1.5 before, 2.0 after)" in text

    met = report.markdown(kept([{"database": "postgresql", "batched": FAST}]), "medium")
    assert f"{GOAL} 5.07× (4,000 against 790 commands/s): met |" in met


def test_a_run_from_before_the_batched_measure_shows_it_not_measured():
    text = report.markdown(
        kept([{"database": "postgresql", "verify": {"events_per_s": 1}}]), "medium"
    )

    assert (
        "| … in-process group commit (TraceabilityLedger.group_commit), commands/s | not measured |"
        in text
    )
    assert f"{GOAL} not measured |" in text
    assert "## Batched ingestion" not in text


def test_measured_alone_adds_its_figures_and_keeps_every_other_scale_and_figure(tmp_path: Path):
    earlier = {
        "scales": {
            "medium": kept([{"database": "postgresql", "verify": {"events_per_s": 1}}])["scales"][
                "medium"
            ],
            "10x": {
                "when": "2026-01-03T00:00:00+00:00",
                "machine": "test",
                "target_events": 10_000_000,
                "results": [{"database": "sqlite", "verify": {"events_per_s": 2}}],
            },
        }
    }
    (tmp_path / "results.json").write_text(json.dumps(earlier))
    run = {"when": "2026-01-04T00:00:00+00:00", "machine": "here", "scale": "medium", "results": []}

    bench.measured_alone(
        tmp_path, run, ["postgresql", "sqlite"], "batched", lambda d: FIGURES | {"db": d}
    )

    now = json.loads((tmp_path / "results.json").read_text())
    assert now["scales"]["10x"] == earlier["scales"]["10x"]
    postgresql, sqlite = now["scales"]["medium"]["results"]
    assert postgresql == {"database": "postgresql", "verify": {"events_per_s": 1}} | {
        "batched": FIGURES | {"db": "postgresql"}
    }
    assert sqlite == {"database": "sqlite", "batched": FIGURES | {"db": "sqlite"}}
    assert now["scales"]["medium"]["when"] == earlier["scales"]["medium"]["when"]
    assert "598 (1,000 per call" in (tmp_path / "RESULTS.md").read_text()
