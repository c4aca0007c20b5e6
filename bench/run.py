"""Measure regentrace on this machine: appends, verification, rebuild, replay, traces, reads.

    python -m bench.run [--scale small|medium|default|10x] [--database sqlite,postgresql]

Builds a ledger through the application (bench/generate.py) in a database of its own (a file under
var/bench, or the PostgreSQL database ``regentrace_bench``, created and dropped here), then times
each operation and writes bench/results.json and bench/RESULTS.md. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql as pgsql

from api.settings import Settings
from api.wiring import Regentrace, migrate
from bench import generate
from domain.recall import TraceOrigin
from projections.audit import verify
from projections.ledger import LedgerIndex
from projections.lineage import trace
from projections.rebuild import rebuild
from projections.replay import replay
from projections.source_and_flow import find_records

HERE = Path(__file__).parent
WORK = HERE.parent / "var" / "bench"
SCALES = {"small": 5_000, "medium": 100_000, "default": 1_000_000, "10x": 10_000_000}
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
PG_DATABASE = "regentrace_bench"


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def fresh_database(dialect: str) -> str:
    if dialect == "sqlite":
        WORK.mkdir(parents=True, exist_ok=True)
        path = WORK / "ledger.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        name = pgsql.Identifier(PG_DATABASE)
        conn.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(pgsql.SQL("CREATE DATABASE {}").format(name))
    return f"{PG_SERVER}/{PG_DATABASE}"


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 3),
        "runs": len(ordered),
    }


def timed(runs: int, call: Callable[[], object]) -> dict[str, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return percentiles(samples)


PEAK = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
    "capture_output=True); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def child_peak_rss_mb(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run ``command`` under a wrapper of its own (so earlier children do not count); answer
    its wall time and peak resident memory."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", PEAK, *command], env=env, check=True, capture_output=True
    )
    elapsed = time.perf_counter() - started
    return elapsed, round(int(done.stdout.strip()) / 1024, 1)


def measure(dialect: str, events: int) -> dict[str, Any]:
    url = fresh_database(dialect)
    settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
    migrate(settings.database)
    service = Regentrace(settings)
    app = service.app
    result: dict[str, Any] = {"database": dialect}

    started = time.perf_counter()
    built = generate.build(
        app, events, progress=lambda d, t: say(f"{dialect}: generating, batch {d:,}/{t:,}")
    )
    elapsed = time.perf_counter() - started
    head = app.head_position()
    result["events"] = head
    result["generate"] = {
        "seconds": round(elapsed, 1),
        "events_per_s": round(head / elapsed),
        "note": "commands through the application in one process (no HTTP)",
    }
    say(f"{dialect}: {head:,} events in {elapsed:.1f}s")

    started = time.perf_counter()
    checked = verify(service.read, progress=lambda d, t: say(f"{dialect}: verify {d:,}/{t:,}"))
    elapsed = time.perf_counter() - started
    assert checked.ok, checked
    result["verify"] = {"seconds": round(elapsed, 2), "events_per_s": round(head / elapsed)}

    started = time.perf_counter()
    rebuild(service.recorder, app.mapper, lambda d, t: say(f"{dialect}: rebuild {d:,}/{t:,}"))
    elapsed = time.perf_counter() - started
    result["rebuild"] = {"seconds": round(elapsed, 2), "events_per_s": round(head / elapsed)}

    target_path = WORK / f"replay-{dialect}.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target_path}{suffix}").unlink(missing_ok=True)
    target = Regentrace(Settings(database_url=f"sqlite:///{target_path}", _env_file=None))  # type: ignore[call-arg]
    migrate(target.settings.database)
    started = time.perf_counter()
    replay(service.read, head, target.recorder, target.app.mapper)
    elapsed = time.perf_counter() - started
    target.close()
    result["replay"] = {"seconds": round(elapsed, 2), "events_per_s": round(head / elapsed)}

    lot_id = built["lots"][0]  # type: ignore[index]
    with service.read() as sql:
        position = LedgerIndex(sql).position_at(None)
        forward = trace(sql, position, TraceOrigin("MATERIAL_LOT", lot_id), "FORWARD")
    result["recall_trace_forward_lot"] = {
        "batches_reached": len(forward.ids_of("BATCH")),
        **timed(30, lambda: _trace(service, "MATERIAL_LOT", lot_id, "FORWARD")),
    }
    result["recall_trace_backward_adverse_event"] = timed(
        100, lambda: _trace(service, "ADVERSE_EVENT", "AE0000000", "BACKWARD")
    )
    result["source_and_flow_one_batch"] = timed(
        100, lambda: _records(service, batch_ids=["B0000007"])
    )
    result["source_and_flow_page_of_50"] = timed(30, lambda: _records(service, limit=50))
    service.close()

    env = {"REGENTRACE_DATABASE_URL": url, "PATH": str(Path(sys.executable).parent)}
    cli = str(Path(sys.executable).parent / "regentrace")
    seconds, peak = child_peak_rss_mb([cli, "rebuild"], env)
    result["rebuild_process"] = {"seconds": round(seconds, 2), "peak_rss_mb": peak}
    seconds, peak = child_peak_rss_mb([cli, "verify"], env)
    result["verify_process"] = {"seconds": round(seconds, 2), "peak_rss_mb": peak}
    return result


def _trace(service: Regentrace, kind: str, origin: str, direction: str) -> None:
    with service.read() as sql:
        trace(sql, LedgerIndex(sql).position_at(None), TraceOrigin(kind, origin), direction)


def _records(service: Regentrace, **kwargs: Any) -> None:
    with service.read() as sql:
        find_records(sql, LedgerIndex(sql).position_at(None), **kwargs)


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Measured {report['when']} on {report['machine']} "
        f"(scale `{report['scale']}`, about {report['target_events']:,} events).",
        "Reproduce: `.venv/bin/python -m bench.run --scale " + report["scale"] + "`.",
        "",
        "| measure | " + " | ".join(r["database"] for r in report["results"]) + " |",
        "| --- | " + " | ".join("---" for _ in report["results"]) + " |",
    ]
    rows = [
        ("events in the ledger", lambda r: f"{r['events']:,}"),
        ("generate (commands, no HTTP), events/s", lambda r: f"{r['generate']['events_per_s']:,}"),
        ("verify, events/s (goal ≥ 100,000)", lambda r: f"{r['verify']['events_per_s']:,}"),
        ("rebuild, events/s (goal ≥ 20,000)", lambda r: f"{r['rebuild']['events_per_s']:,}"),
        (
            "replay to SQLite, events/s (goal ≥ 20,000)",
            lambda r: f"{r['replay']['events_per_s']:,}",
        ),
        ("rebuild process peak RSS, MB", lambda r: f"{r['rebuild_process']['peak_rss_mb']}"),
        ("verify process peak RSS, MB", lambda r: f"{r['verify_process']['peak_rss_mb']}"),
        (
            "recall trace FORWARD from a lot, p50 / p99 ms",
            lambda r: (
                f"{r['recall_trace_forward_lot']['p50_ms']} / "
                f"{r['recall_trace_forward_lot']['p99_ms']} "
                f"({r['recall_trace_forward_lot']['batches_reached']} batches)"
            ),
        ),
        (
            "recall trace BACKWARD from an adverse event, p50 / p99 ms",
            lambda r: (
                f"{r['recall_trace_backward_adverse_event']['p50_ms']} / "
                f"{r['recall_trace_backward_adverse_event']['p99_ms']}"
            ),
        ),
        (
            "source-and-flow of one batch, p50 / p99 ms",
            lambda r: (
                f"{r['source_and_flow_one_batch']['p50_ms']} / "
                f"{r['source_and_flow_one_batch']['p99_ms']}"
            ),
        ),
        (
            "a page of 50 source-and-flow records, p50 / p99 ms",
            lambda r: (
                f"{r['source_and_flow_page_of_50']['p50_ms']} / "
                f"{r['source_and_flow_page_of_50']['p99_ms']}"
            ),
        ),
    ]
    for label, cell in rows:
        lines.append(f"| {label} | " + " | ".join(cell(r) for r in report["results"]) + " |")
    lines += [
        "",
        "Traces and reads are timed in-process on the projection tables (no HTTP). Figures from "
        "one run on a 2-core machine that was also running the test suite at the time, so they "
        "understate what an idle machine does; see results.json for every number.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--scale", choices=SCALES, default="small")
    parser.add_argument("--database", default="sqlite,postgresql")
    parser.add_argument("--out", default=str(HERE), help="folder for results.json, RESULTS.md")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, {_cores()} cores",
        "scale": args.scale,
        "target_events": SCALES[args.scale],
        "results": [],
    }
    for dialect in args.database.split(","):
        say(f"{dialect}: building about {SCALES[args.scale]:,} events")
        report["results"].append(measure(dialect.strip(), SCALES[args.scale]))
    out = Path(args.out)
    (out / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "RESULTS.md").write_text(markdown(report))
    say(f"wrote {out / 'results.json'} and {out / 'RESULTS.md'}")
    return 0


def _cores() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    sys.exit(main())
