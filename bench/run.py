"""Measure regentrace on this machine, side by side with what it is built on.

    python -m bench.run [--scale small|medium|default|10x] [--database sqlite,postgresql] [--reuse]

Builds a ledger through the application (bench/generate.py) in a database of its own per scale (a
file under var/bench, or the PostgreSQL database ``regentrace_bench_<scale>``; ``--reuse`` keeps
one built earlier), then measures: raw INSERT + COMMIT and the event-sourcing library alone
(bench/baselines.py); commands and reads over HTTP to a ``regentrace serve`` process (bench/
server.py, bench/reads.py), recall traces next to recursive SQL; verify, rebuild and replay; peak
memory. Writes bench/results.json (figures per scale) and bench/RESULTS.md (bench/report.py).
Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql as pgsql

from api.auth.keys import ApiKeys
from api.settings import Settings
from api.wiring import Regentrace, migrate
from bench import baselines, generate, reads, report, server
from bench.timing import timed
from domain.recall import TraceOrigin
from projections.audit import verify
from projections.ledger import LedgerIndex
from projections.lineage import trace
from projections.rebuild import rebuild
from projections.replay import replay

HERE = Path(__file__).parent
WORK = HERE.parent / "var" / "bench"
SCALES = {"small": 5_000, "medium": 100_000, "default": 1_000_000, "10x": 10_000_000}
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
PG_DATABASE = "regentrace_bench"


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def database_url(dialect: str, scale: str) -> str:
    if dialect == "sqlite":
        return f"sqlite:///{WORK / f'ledger-{scale}.sqlite3'}"
    return f"{PG_SERVER}/{PG_DATABASE}_{scale.replace('10x', 'ten_x')}"


def fresh_database(dialect: str, scale: str) -> str:
    url = database_url(dialect, scale)
    WORK.mkdir(parents=True, exist_ok=True)
    if dialect == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{url.removeprefix('sqlite:///')}{suffix}").unlink(missing_ok=True)
        return url
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        name = pgsql.Identifier(url.rsplit("/", 1)[1])
        conn.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(pgsql.SQL("CREATE DATABASE {}").format(name))
    return url


def durable_commits(url: str, durable: bool) -> None:
    """PostgreSQL: while the generator builds the ledger, a commit need not wait for its WAL to
    reach the disk (the same commands, the same rows; a crash would only lose the build). Every
    measure runs after this is undone, on the server's default, durable commits."""
    if url.startswith("sqlite"):
        return
    name = pgsql.Identifier(url.rsplit("/", 1)[1])
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        if durable:
            conn.execute(pgsql.SQL("ALTER DATABASE {} RESET synchronous_commit").format(name))
        else:
            conn.execute(pgsql.SQL("ALTER DATABASE {} SET synchronous_commit = off").format(name))


def analyze(url: str) -> None:
    """Planner statistics as autovacuum keeps them on a ledger in service; right after a bulk
    build they may still describe the empty tables the migrations made."""
    if url.startswith("sqlite"):
        return
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")


def built_file(dialect: str, scale: str) -> Path:
    """What the generator built (lot ids, open batches...), kept next to the ledger for --reuse."""
    return WORK / f"built-{dialect}-{scale}.json"


def ledger(dialect: str, scale: str, reuse: bool, result: dict[str, Any]) -> tuple[str, Any]:
    """The ledger to measure: the one built earlier at this scale if asked and there, else a
    new one built through the application's commands."""
    if reuse and built_file(dialect, scale).exists():
        say(f"{dialect}: reusing the ledger built earlier at scale {scale}")
        kept = json.loads(built_file(dialect, scale).read_text())
        result["generate"] = kept["generate"]
        url = database_url(dialect, scale)
        migrate(Settings(database_url=url, _env_file=None).database)  # any added since the build
        return url, kept["built"]
    url = fresh_database(dialect, scale)
    settings = Settings(database_url=url, _env_file=None)
    migrate(settings.database)
    durable_commits(url, False)
    service = Regentrace(settings)
    started = time.perf_counter()
    built = generate.build(
        service.app,
        SCALES[scale],
        progress=lambda d, t: say(f"{dialect}: generating, batch {d:,}/{t:,}"),
    )
    elapsed = time.perf_counter() - started
    head = service.app.head_position()
    service.close()
    durable_commits(url, True)
    result["generate"] = {
        "events": head,
        "seconds": round(elapsed, 1),
        "events_per_s": round(head / elapsed),
        "note": "commands through the application, one process, no HTTP, cache trusted"
        + ("" if dialect == "sqlite" else ", synchronous_commit off"),
    }
    say(f"{dialect}: {head:,} events in {elapsed:.1f}s")
    built_file(dialect, scale).write_text(
        json.dumps({"generate": result["generate"], "built": built})
    )
    return url, built


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


def measure(dialect: str, args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {
        "database": dialect,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        # Others' work on the same cores shows in every figure, in the tails most.
        "load_average_before": round(os.getloadavg()[0], 2),
    }
    url, built = ledger(dialect, args.scale, args.reuse, result)
    analyze(url)
    measure_baselines(dialect, url, args.commands, result)
    measure_server(dialect, url, built, args, result)

    settings = Settings(database_url=url, _env_file=None)
    service = Regentrace(settings)
    app = service.app
    head = app.head_position()
    result["events"] = head

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
    replay(service.recorder, head, target.recorder, target.app.mapper)
    elapsed = time.perf_counter() - started
    target.close()
    result["replay"] = {"seconds": round(elapsed, 2), "events_per_s": round(head / elapsed)}

    # In-process, without HTTP or GraphQL: how much of the recall trace is the trace itself.
    lot_id = built["lots"][0]
    result["trace_forward_lot_in_process"] = timed(
        args.runs, lambda: _trace(service, "MATERIAL_LOT", lot_id, "FORWARD")
    )
    service.close()

    env = {"REGENTRACE_DATABASE_URL": url, "PATH": str(Path(sys.executable).parent)}
    cli = str(Path(sys.executable).parent / "regentrace")
    seconds, peak = child_peak_rss_mb([cli, "rebuild"], env)
    result["rebuild_process"] = {"seconds": round(seconds, 2), "peak_rss_mb": peak}
    seconds, peak = child_peak_rss_mb([cli, "verify"], env)
    result["verify_process"] = {"seconds": round(seconds, 2), "peak_rss_mb": peak}
    result["load_average_after"] = round(os.getloadavg()[0], 2)
    return result


def _trace(service: Regentrace, kind: str, origin: str, direction: str) -> None:
    with service.read() as sql:
        position = LedgerIndex(sql).position_at(None)
        trace(sql, position, TraceOrigin(kind, origin), direction, reach=None)


def measure_baselines(dialect: str, url: str, count: int, result: dict[str, Any]) -> None:
    payload = _event_size(url)
    say(f"{dialect}: raw INSERT + COMMIT, {count} rows of {payload} bytes")
    target, env = baselines.scratch(dialect, WORK, PG_SERVER)
    result["raw_insert"] = {"payload_bytes": payload} | baselines.raw_inserts(
        dialect, target, count, b"x" * payload
    )
    say(f"{dialect}: the library alone, {count} commands")
    target, env = baselines.scratch(dialect, WORK, PG_SERVER)
    result["library_alone"] = baselines.library_alone(env, count, "x" * payload)


def _event_size(url: str) -> int:
    """The average stored size of the events the product benchmark appends (a batch step)."""
    settings = Settings(database_url=url, _env_file=None)
    service = Regentrace(settings)
    try:
        with service.read() as sql:
            size = sql.scalar(
                "SELECT AVG(LENGTH(state)) AS size FROM stored_events WHERE topic LIKE ?",
                ("%StepRecorded",),
            )
        return int(size or 350)
    finally:
        service.close()


def measure_server(
    dialect: str, url: str, built: dict[str, Any], args: argparse.Namespace, out: dict[str, Any]
) -> None:
    runs, batches, spoke = args.runs, built["open_batches"], built["spoke"]
    token = _partner_key(url, spoke)
    with server.Server(url, WORK / f"server-{dialect}.log") as running:
        say(f"{dialect}: recordBatchStep over HTTP, 1 client, then 8 ({running.port})")
        out["http_floor"] = server.floor(running, args.commands, token)
        out["product_1_client"] = server.record_steps(
            running, batches[:1], spoke, args.commands, token
        )
        out["product_8_clients"] = server.record_steps(
            running, batches[1:], spoke, args.commands, token
        )
        client, tracer = running.client(), baselines.SqlTracer(dialect, url)
        try:
            say(f"{dialect}: recallTrace over HTTP and in recursive SQL")
            lot = built["lots"][0]
            out["trace_forward_lot"] = reads.recall_trace(
                client, tracer, "MATERIAL_LOT", lot, "FORWARD", runs
            )
            out["trace_backward_ae"] = reads.recall_trace(
                client, tracer, "ADVERSE_EVENT", built["adverse_event"], "BACKWARD", runs
            )
        finally:
            tracer.close()
        say(f"{dialect}: sourceAndFlow over HTTP")
        out["source_and_flow"] = reads.source_and_flow(client, "B0000007", runs)
        out["server_peak_rss_mb"] = running.peak_rss_mb()
    workers = os.cpu_count() or 1
    with server.Server(url, WORK / f"server-{dialect}-workers.log", workers) as running:
        say(f"{dialect}: recordBatchStep over HTTP, 8 clients, {workers} server processes")
        out["product_8_clients_workers"] = server.record_steps(
            running, batches[1:], spoke, args.commands, token
        ) | {"server_processes": workers}


def _partner_key(url: str, spoke: str) -> str:
    """An API key for the spoke's operators, as a partner system holds one: commands are
    measured through authentication and the access checks every partner's request meets."""
    service = Regentrace(Settings(database_url=url, _env_file=None))
    try:
        name = f"bench-{spoke.lower()}-{time.time_ns()}"  # a new key for every run
        return ApiKeys(service).create(name, "spoke_operator", [spoke], created_by="bench")[1]
    finally:
        service.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--scale", choices=SCALES, default="small")
    parser.add_argument("--database", default="sqlite,postgresql")
    parser.add_argument("--out", default=str(HERE), help="folder for results.json, RESULTS.md")
    parser.add_argument(
        "--reuse", action="store_true", help="measure the ledger built earlier at this scale"
    )
    parser.add_argument(
        "--build-only",
        action="store_true",
        help="build the ledger for a later --reuse, measure nothing",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite RESULTS.md for --scale from the figures in results.json, measure nothing",
    )
    parser.add_argument("--commands", type=int, default=400, help="commands per append measure")
    parser.add_argument("--runs", type=int, default=100, help="requests per read measure")
    args = parser.parse_args(argv)
    run: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, {_cores()} cores",
        "scale": args.scale,
        "target_events": SCALES[args.scale],
        "results": [],
    }
    out = Path(args.out)
    if args.report_only:
        report.save(out, report.load(out / "results.json"), args.scale)
        say(f"wrote {out / 'RESULTS.md'} for scale {args.scale}")
        return 0
    for dialect in args.database.split(","):
        if dialect.strip() not in ("sqlite", "postgresql"):
            parser.error(f"--database takes sqlite and/or postgresql, not {dialect!r}")
        say(f"{dialect}: scale {args.scale}, about {SCALES[args.scale]:,} events")
        if args.build_only:
            ledger(dialect.strip(), args.scale, args.reuse, {})
            continue
        run["results"].append(measure(dialect.strip(), args))
    if args.build_only:
        return 0
    kept = report.load(out / "results.json")
    report.merge(kept, args.scale, run)
    report.save(out, kept, args.scale)
    say(f"wrote {out / 'results.json'} and {out / 'RESULTS.md'}")
    return 0


def _cores() -> int:
    return os.cpu_count() or 0


if __name__ == "__main__":
    sys.exit(main())
