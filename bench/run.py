"""Measure regentrace on this machine, side by side with what it is built on.

    python -m bench.run [--scale small|medium|default|10x] [--database sqlite,postgresql]
                        [--reuse] [--part K/N] [--group N] [--build-only] [--measure-generator]
                        [--measure-batched] [--batch-commands N]

Builds a ledger through the application (bench/generate.py: its commands in group commits of
``--group`` commands) in a database of its own per scale (a file under var/bench, or the
PostgreSQL database ``regentrace_bench_<scale>``; ``--reuse`` keeps one built earlier), then
measures: raw INSERT + COMMIT and the event-sourcing library alone (bench/baselines.py); commands
and reads over HTTP to a ``regentrace serve`` process (bench/server.py, bench/reads.py), recall
traces next to recursive SQL; batched ingestion, over HTTP and in-process (bench/batched.py);
verify, rebuild and replay; peak memory. Writes bench/results.json (figures per scale) and
bench/RESULTS.md (bench/report.py). Progress goes to stderr.

A build is resumable: it lands whole batches, one transaction at a time, so a build stopped by
``--part K/N`` (build up to K/N of the batches, then stop) or interrupted (Ctrl-C, a killed
process) is continued by ``--reuse`` or the next ``--part``, from its first batch not stored.
The 10x scale (about 10 million events) on SQLite in two parts (each about half an hour at the
rate bench/RESULTS.md gives for the generator with group commits on SQLite):

    python -m bench.run --scale 10x --database sqlite --part 1/2    # builds half, stops
    python -m bench.run --scale 10x --database sqlite --reuse       # builds the rest, measures

(``make bench SCALE=10x DATABASE=sqlite PART=1/2``, then ``make bench SCALE=10x DATABASE=sqlite
REUSE=1``.) PostgreSQL builds slower: ``--part 1/4`` ... ``--part 4/4``, then ``--reuse``.
``--measure-generator`` measures only the generator at ``--scale``: the ledger built once with one
command per transaction and once with group commits, each in a scratch database.
``--copy-from sqlite`` (with ``--database postgresql``) builds the PostgreSQL ledger instead by
replaying the SQLite ledger already built at ``--scale`` into it (projections/replay.py, as
``regentrace replay --into``): minutes where the generator takes hours. Its build row says so:

    python -m bench.run --scale 10x --database sqlite --part 1/2    # ... then --reuse
    python -m bench.run --scale 10x --database postgresql --copy-from sqlite

``--measure-batched`` (or ``python -m bench.batched``) measures only batched ingestion and, in the
same run, the library alone, on the ledger at ``--scale`` (built, or kept with ``--reuse``): a few
minutes at ``medium``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql as pgsql

from api.auth.keys import ApiKeys
from api.settings import Settings
from api.wiring import Regentrace, migrate
from bench import baselines, batched, generate, reads, report, server
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
NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


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


def building_file(dialect: str, scale: str) -> Path:
    """An unfinished build (its group size, seconds spent so far, parts run): there while a
    build at this scale has not finished, so that --reuse or --part continues it."""
    return WORK / f"building-{dialect}-{scale}.json"


def ledger(dialect: str, args: argparse.Namespace, result: dict[str, Any]) -> tuple[str, Any]:
    """The ledger to measure: the one built earlier at this scale if asked and there, else one
    built (or an unfinished one continued) through the application's commands. Answers the
    ledger's URL and what was built; ``built["complete"]`` is False after a part of a build."""
    scale, part = args.scale, args.part
    if getattr(args, "copy_from", None) and not (
        args.reuse and built_file(dialect, scale).exists()
    ):
        return copied_ledger(dialect, args.copy_from, scale, result)
    url, done, unfinished = (
        database_url(dialect, scale),
        built_file(dialect, scale),
        building_file(dialect, scale),
    )
    carry_on = unfinished.exists() and (args.reuse or part is not None)
    if not carry_on and done.exists() and (args.reuse or (part is not None and part[0] > 1)):
        say(f"{dialect}: reusing the ledger built earlier at scale {scale}")
        kept = json.loads(done.read_text())
        result["generate"] = kept["generate"]
        migrate(Settings(database_url=url, _env_file=None).database)  # any added since the build
        return url, kept["built"]
    if not carry_on and part is not None and part[0] > 1:
        raise SystemExit(
            f"bench: {dialect}: no unfinished build at scale {scale} to continue with part "
            f"{part[0]}/{part[1]}; start with --part 1/{part[1]}"
        )
    if carry_on:
        state = json.loads(unfinished.read_text())
        say(f"{dialect}: continuing the unfinished build at scale {scale}")
    else:
        fresh_database(dialect, scale)
        done.unlink(missing_ok=True)
        state = {"seconds": 0.0, "parts": 0}
        if args.group > 0:  # single commands may leave a batch half stored: not resumable
            unfinished.write_text(json.dumps(state))
    settings = Settings(database_url=url, _env_file=None)
    migrate(settings.database)
    durable_commits(url, False)
    service = Regentrace(settings)
    total = generate.batch_total(SCALES[scale])
    until = None if part is None else total * part[0] // part[1]
    progress = Progress(dialect, service.app.head_position, state, unfinished)
    try:
        built = generate.build(
            service.app,
            SCALES[scale],
            progress=progress,
            group=args.group,
            resume=carry_on,
            until=until,
        )
        head = service.app.head_position()
    finally:
        progress.save(parts=1)
        service.close()
        durable_commits(url, True)
    seconds = float(state["seconds"])
    if not built["complete"]:
        say(
            f"{dialect}: part {part[0] if part else '?'}: {head:,} events stored so far, "
            f"{seconds:,.0f} s of building; continue with --reuse or the next --part"
        )
        return url, built
    result["generate"] = {
        "events": head,
        "seconds": round(seconds, 1),
        "events_per_s": round(head / seconds),
        "group": args.group,
        "parts": state["parts"],
        "note": "commands through the application, one process, no HTTP, cache trusted, "
        + (f"group commits of {args.group}+ commands" if args.group else "one per transaction")
        + ("" if dialect == "sqlite" else ", synchronous_commit off"),
    }
    say(f"{dialect}: {head:,} events in {seconds:.1f}s")
    done.write_text(json.dumps({"generate": result["generate"], "built": built}))
    unfinished.unlink(missing_ok=True)
    return url, built


def copied_ledger(
    dialect: str, source_dialect: str, scale: str, result: dict[str, Any]
) -> tuple[str, Any]:
    """The ledger at ``scale`` built by replaying the complete ledger the generator built at
    that scale on ``source_dialect`` into a new database: the same events, chain and views.
    The build is recorded as a copy (``generate["copied_from"]``), never as the generator's."""
    source_url = database_url(source_dialect, scale)
    source_done = built_file(source_dialect, scale)
    build_it = (
        f"build it first: python -m bench.run --scale {scale} --database {source_dialect} "
        "--build-only (or its --part K/N, then --reuse --build-only)"
    )
    if building_file(source_dialect, scale).exists():
        raise SystemExit(
            f"bench: {dialect}: the {source_dialect} ledger at scale {scale} is not complete "
            f"(an unfinished build, {building_file(source_dialect, scale)}); finish it first: "
            f"python -m bench.run --scale {scale} --database {source_dialect} --reuse --build-only"
        )
    if not source_done.exists() or not Path(source_url.removeprefix("sqlite:///")).exists():
        raise SystemExit(
            f"bench: {dialect}: no complete {source_dialect} ledger at scale {scale} to copy "
            f"({source_url.removeprefix('sqlite:///')} with {source_done.name}); {build_it}"
        )
    kept = json.loads(source_done.read_text())
    if not kept["built"].get("complete", True):
        raise SystemExit(
            f"bench: {dialect}: the {source_dialect} ledger is not complete; {build_it}"
        )
    url = fresh_database(dialect, scale)
    built_file(dialect, scale).unlink(missing_ok=True)
    building_file(dialect, scale).unlink(missing_ok=True)
    source_settings = Settings(database_url=source_url, _env_file=None)
    migrate(source_settings.database)  # any added since the build, as --reuse does
    settings = Settings(database_url=url, _env_file=None)
    migrate(settings.database)
    source, target = Regentrace(source_settings), Regentrace(settings)
    try:
        head = source.app.head_position()
        say(f"{dialect}: copying the {NAMES[source_dialect]} ledger at {scale}, {head:,} events")
        started = time.perf_counter()
        progress = CopyProgress(dialect, started)
        copied = replay(source.recorder, head, target.recorder, target.app.mapper, progress)
        seconds = time.perf_counter() - started
    finally:
        source.close()
        target.close()
    assert copied == head, f"{copied} events copied of {head}"
    result["generate"] = {
        "events": head,
        "seconds": round(seconds, 1),
        "events_per_s": round(head / seconds),
        "copied_from": source_dialect,
        "source_generate": kept["generate"],
        "note": f"copied from the {NAMES[source_dialect]} ledger of this scale by replay "
        "(projections/replay.py, as regentrace replay --into): events, chain and command ids "
        "copied in batches, every projection rebuilt; durable commits",
    }
    say(f"{dialect}: {head:,} events copied in {seconds:.1f}s, {head / seconds:,.0f} events/s")
    built_file(dialect, scale).write_text(
        json.dumps({"generate": result["generate"], "built": kept["built"]})
    )
    return url, kept["built"]


class CopyProgress:
    """The copy's progress on stderr (stage, events, events/s), every ``every`` seconds."""

    def __init__(self, dialect: str, started: float, every: float = 15.0) -> None:
        self.dialect, self.started, self.every = dialect, started, every
        self.last = started

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if now - self.last < self.every and done < total:
            return
        self.last = now
        rate = done / max(now - self.started, 1e-9)
        say(f"{self.dialect}: copying, {stage} {done:,}/{total:,} events, {rate:,.0f} events/s")


class Progress:
    """The generator's progress on stderr (batches, events/s, time left) every ``every``
    seconds, and the unfinished build's time so far, kept in its file as it goes."""

    def __init__(
        self,
        dialect: str,
        head: Callable[[], int],
        state: dict[str, Any],
        path: Path | None,
        every: float = 15.0,
    ) -> None:
        self.dialect, self.head, self.state, self.path, self.every = (
            dialect,
            head,
            state,
            path,
            every,
        )
        self.started = self.last = time.perf_counter()
        self.seconds_before = float(state["seconds"])
        self.first_events = head()
        self.first_batches: int | None = None

    def __call__(self, batches: int, total: int) -> None:
        now = time.perf_counter()
        if self.first_batches is None:
            self.first_batches = batches
        if now - self.last < self.every and batches < total:
            return
        self.last = now
        self.save(parts=0)
        elapsed = now - self.started
        rate = (self.head() - self.first_events) / elapsed if elapsed else 0.0
        per_batch = elapsed / max(batches - self.first_batches, 1)
        left = (total - batches) * per_batch if batches > self.first_batches else 0.0
        say(
            f"{self.dialect}: generating, batch {batches:,}/{total:,} ({batches / total:.0%}), "
            f"{rate:,.0f} events/s, about {_clock(left)} left at this rate"
        )

    def save(self, parts: int) -> None:
        """Keep the time spent so far (and ``parts`` more parts run) in the unfinished build's
        file, if it has one."""
        self.state["seconds"] = self.seconds_before + time.perf_counter() - self.started
        self.state["parts"] = int(self.state.get("parts", 0)) + parts
        if self.path is not None and self.path.exists():
            self.path.write_text(json.dumps(self.state))


def _clock(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60}h{minutes % 60:02d}"


def measure_generator(dialect: str, scale: str, group: int) -> dict[str, Any]:
    """The generator alone at ``scale``: one command per transaction, then group commits of
    ``group``, each building a new ledger in a scratch database (dropped afterwards)."""
    figures: dict[str, Any] = {"load_average_before": round(os.getloadavg()[0], 2)}
    for name, size in (("single", 0), ("grouped", group)):
        url = fresh_database(dialect, f"{scale}_generator")
        settings = Settings(database_url=url, _env_file=None)
        migrate(settings.database)
        durable_commits(url, False)
        service = Regentrace(settings)
        say(
            f"{dialect}: the generator at scale {scale}, "
            + (f"groups of {size}" if size else "one command per transaction")
        )
        progress = Progress(dialect, service.app.head_position, {"seconds": 0.0}, None)
        started = time.perf_counter()
        generate.build(service.app, SCALES[scale], progress=progress, group=size)
        elapsed = time.perf_counter() - started
        head = service.app.head_position()
        service.close()
        figures[name] = {
            "events": head,
            "seconds": round(elapsed, 1),
            "events_per_s": round(head / elapsed),
            "group": size,
            "ten_x_hours": round(SCALES["10x"] / (head / elapsed) / 3600, 2),
        }
        say(f"{dialect}: {head:,} events in {elapsed:.1f}s, {head / elapsed:,.0f} events/s")
        drop_database(dialect, url)
    figures["load_average_after"] = round(os.getloadavg()[0], 2)
    figures["when"] = datetime.now(UTC).isoformat(timespec="seconds")
    figures["note"] = "commands through the application, one process, no HTTP, cache trusted" + (
        "" if dialect == "sqlite" else ", synchronous_commit off"
    )
    return figures


def drop_database(dialect: str, url: str) -> None:
    if dialect == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{url.removeprefix('sqlite:///')}{suffix}").unlink(missing_ok=True)
        return
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        name = pgsql.Identifier(url.rsplit("/", 1)[1])
        conn.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


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


def measure(dialect: str, args: argparse.Namespace) -> dict[str, Any] | None:
    """Every figure on the ledger at ``args.scale`` (None: only a part of it is built yet)."""
    result: dict[str, Any] = {
        "database": dialect,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        # Others' work on the same cores shows in every figure, in the tails most.
        "load_average_before": round(os.getloadavg()[0], 2),
    }
    url, built = ledger(dialect, args, result)
    if not built["complete"]:
        return None
    analyze(url)
    measure_baselines(dialect, url, args.commands, result)
    measure_server(dialect, url, built, args, result)
    result["batched"] = measure_batched(
        dialect, url, built, args.batch_commands, result["library_alone"]
    )

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
    target = Regentrace(Settings(database_url=f"sqlite:///{target_path}", _env_file=None))
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
    target, _env = baselines.scratch(dialect, WORK, PG_SERVER)
    result["raw_insert"] = {"payload_bytes": payload} | baselines.raw_inserts(
        dialect, target, count, b"x" * payload
    )
    result["library_alone"] = library_alone(dialect, count, payload)


def library_alone(dialect: str, count: int, payload: int) -> dict[str, float]:
    """The library alone, ``count`` commands of events of ``payload`` bytes, in a scratch
    database."""
    say(f"{dialect}: the library alone, {count} commands")
    _target, env = baselines.scratch(dialect, WORK, PG_SERVER)
    return baselines.library_alone(env, count, "x" * payload)


def measure_batched(
    dialect: str, url: str, built: dict[str, Any], count: int, library: dict[str, float]
) -> dict[str, Any]:
    """Batched ingestion on the ledger (bench/batched.py), with the library alone's figures
    of the same run beside it."""
    say(
        f"{dialect}: {count} recordBatchStep commands in one submitCommands call, the call "
        "again, then as many in in-process group commits"
    )
    token = _partner_key(url, built["spoke"])
    figures = batched.measure(url, WORK / f"server-{dialect}-batched.log", built, count, token)
    say(
        f"{dialect}: batched {figures['http']['commands_per_s']:,.0f}/s over HTTP, "
        f"{figures['group_commit']['commands_per_s']:,.0f}/s in-process; the library alone "
        f"{library['commands_per_s']:,.0f}/s"
    )
    return figures | {"library_alone": library}


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
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--scale", choices=SCALES, default="small")
    parser.add_argument("--database", default="sqlite,postgresql")
    parser.add_argument("--out", default=str(HERE), help="folder for results.json, RESULTS.md")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="continue the unfinished build at this scale, if any, then measure; or measure "
        "the ledger built earlier at this scale",
    )
    parser.add_argument(
        "--build-only",
        action="store_true",
        help="build the ledger for a later --reuse, measure nothing",
    )
    parser.add_argument(
        "--copy-from",
        choices=["sqlite"],
        help="with --database postgresql: build its ledger by replaying the complete SQLite "
        "ledger already built at --scale (var/bench) instead of through the generator, then "
        "measure as usual (with --reuse, a PostgreSQL ledger built earlier is kept)",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite RESULTS.md for --scale from the figures in results.json, measure nothing",
    )
    parser.add_argument(
        "--group",
        type=int,
        default=generate.GROUP,
        help="commands per transaction while building (at least; whole batches), 0 for one "
        f"command per transaction (not resumable); default {generate.GROUP}",
    )
    parser.add_argument(
        "--part",
        type=_part,
        metavar="K/N",
        help="build only up to K/N of the scale's batches, then stop: continues the unfinished "
        "build at this scale if there is one, else (K=1 only) starts a new ledger; e.g. the 10x "
        "scale as --part 1/2, then --reuse (the rest, then measure)",
    )
    parser.add_argument(
        "--measure-generator",
        action="store_true",
        help="measure only the generator at --scale (one command per transaction, then group "
        "commits of --group), each on a scratch ledger; figures into results.json",
    )
    parser.add_argument(
        "--measure-batched",
        action="store_true",
        help="measure only batched ingestion and the library alone, on the ledger at --scale "
        "(built, or kept with --reuse); figures into results.json",
    )
    parser.add_argument("--commands", type=int, default=400, help="commands per append measure")
    parser.add_argument(
        "--batch-commands",
        type=int,
        default=1000,
        help="commands in the batched measure's submitCommands call (and group commits)",
    )
    parser.add_argument("--runs", type=int, default=100, help="requests per read measure")
    args = parser.parse_args(argv)
    if args.part is not None and args.group <= 0:
        parser.error("--part needs group commits (--group > 0): only they land whole batches")
    if args.copy_from is not None and (args.database != "postgresql" or args.part is not None):
        parser.error(
            "--copy-from sqlite builds the PostgreSQL ledger from the SQLite one: give "
            "--database postgresql alone, and no --part (the copy is one step)"
        )
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
    dialects = [d.strip() for d in args.database.split(",")]
    for dialect in dialects:
        if dialect not in ("sqlite", "postgresql"):
            parser.error(f"--database takes sqlite and/or postgresql, not {dialect!r}")
    if args.measure_generator:
        measured_alone(
            out, run, dialects, "generator", lambda d: measure_generator(d, args.scale, args.group)
        )
        return 0
    if args.measure_batched:
        if args.part is not None or args.build_only:
            parser.error("--measure-batched measures a whole ledger: no --part or --build-only")
        measured_alone(out, run, dialects, "batched", lambda d: batched_alone(d, args))
        return 0
    for dialect in dialects:
        say(f"{dialect}: scale {args.scale}, about {SCALES[args.scale]:,} events")
        if args.build_only or args.part is not None:
            ledger(dialect, args, {})
            continue
        measured = measure(dialect, args)
        if measured is not None:
            run["results"].append(measured)
    if args.build_only or args.part is not None or not run["results"]:
        return 0
    kept = report.load(out / "results.json")
    report.merge(kept, args.scale, run)
    report.save(out, kept, args.scale)
    say(f"wrote {out / 'results.json'} and {out / 'RESULTS.md'}")
    return 0


def measured_alone(
    out: Path, run: dict[str, Any], dialects: list[str], key: str, measure: Callable[[str], Any]
) -> None:
    """Figures of one kind (``key``) measured alone for each database, each kept in
    results.json (as it is then: other scales and figures stay) beside the run's scale."""
    for dialect in dialects:
        figures = measure(dialect)
        kept = report.load(out / "results.json")
        report.merge_figures(kept, run["scale"], run, dialect, key, figures)
        report.save(out, kept, report.headline(kept, run["scale"]))
    say(f"wrote {out / 'results.json'} and {out / 'RESULTS.md'}")


def batched_alone(dialect: str, args: argparse.Namespace) -> dict[str, Any]:
    """Batched ingestion and, in the same run, the library alone, on the ledger at the scale."""
    url, built = ledger(dialect, args, {})
    analyze(url)
    library = library_alone(dialect, args.commands, _event_size(url))
    return measure_batched(dialect, url, built, args.batch_commands, library)


def _part(text: str) -> tuple[int, int]:
    """``K/N``: the K-th of N parts of a build."""
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a part is K/N, e.g. 1/2, not {text!r}") from None
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"a part K/N has 1 <= K <= N, not {text!r}")
    return k, n


def _cores() -> int:
    return os.cpu_count() or 0


if __name__ == "__main__":
    sys.exit(main())
