"""bench/results.json (figures per scale, each run replacing its own scale's) and RESULTS.md
(the figures of the scale just run, the goals met or missed, and every scale side by side)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.single_report import section as single_command_section

SCALE_ORDER = ("small", "medium", "default", "10x")
Cell = Callable[[dict[str, Any]], str]


def load(path: Path) -> dict[str, Any]:
    """The results kept so far; a file from before figures were kept per scale is one scale."""
    if not path.exists():
        return {"scales": {}}
    kept: dict[str, Any] = json.loads(path.read_text())
    if "scales" not in kept:
        return {"scales": {kept["scale"]: kept}}
    return kept


def merge(kept: dict[str, Any], scale: str, run: dict[str, Any]) -> None:
    """This run's figures replace those of the same scale and database; a database this run did
    not measure keeps its figures from an earlier run at that scale."""
    earlier = kept["scales"].get(scale, {}).get("results", [])
    measured = {r["database"] for r in run["results"]}
    run["results"] = [r for r in earlier if r["database"] not in measured] + run["results"]
    run["results"].sort(key=lambda r: r["database"] != "postgresql")
    kept["scales"][scale] = run


def merge_figures(
    kept: dict[str, Any], scale: str, run: dict[str, Any], database: str, key: str, figures: Any
) -> None:
    """Figures of one kind (``key``) for one database at ``scale``, beside (or replacing) those
    of that kind kept from an earlier run; the scale's other figures stay as they were."""
    entry = kept["scales"].setdefault(scale, {k: v for k, v in run.items() if k != "results"})
    entry.setdefault("results", [])
    found = next((r for r in entry["results"] if r["database"] == database), None)
    if found is None:
        found = {"database": database}
        entry["results"].append(found)
        entry["results"].sort(key=lambda r: r["database"] != "postgresql")
    found[key] = figures


def headline(kept: dict[str, Any], fallback: str) -> str:
    """The scale RESULTS.md leads with: the largest with every figure measured."""
    full = [
        s
        for s in SCALE_ORDER
        if any("verify" in r for r in kept["scales"].get(s, {}).get("results", []))
    ]
    return full[-1] if full else fallback


def save(folder: Path, kept: dict[str, Any], scale: str) -> None:
    (folder / "results.json").write_text(json.dumps(kept, indent=2) + "\n")
    (folder / "RESULTS.md").write_text(markdown(kept, scale))


def _ms(key: str) -> Cell:
    def cell(r: dict[str, Any]) -> str:
        found = _dig(r, key)
        return f"{_millis(found['p50_ms'])} / {_millis(found['p99_ms'])}"

    return cell


def _millis(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def _rate(key: str) -> Cell:
    return lambda r: f"{_dig(r, key):,.0f}"


DATABASE_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def _generated(r: dict[str, Any]) -> str:
    g = r["generate"]
    if g.get("copied_from"):  # not the generator's rate: a copy of a ledger it built
        source = DATABASE_NAMES.get(g["copied_from"], g["copied_from"])
        return f"copied from the {source} ledger by replay, {g['events_per_s']:,.0f} events/s"
    how = f"groups of {g['group']}" if g.get("group") else "one command per transaction"
    parts = f", {g['parts']} parts" if g.get("parts", 1) > 1 else ""
    return f"{g['events_per_s']:,.0f} ({how}{parts})"


def _generator(kind: str) -> Cell:
    def cell(r: dict[str, Any]) -> str:
        g = r["generator"][kind]
        how = f" (groups of {g['group']})" if g["group"] else ""
        return f"{g['events_per_s']:,.0f}{how}"

    return cell


def _ten_x_build(r: dict[str, Any]) -> str:
    g = r["generator"]
    return f"{_hours(g['single']['ten_x_hours'])} / {_hours(g['grouped']['ten_x_hours'])}"


def _hours(hours: float) -> str:
    minutes = round(hours * 60)
    return f"{minutes // 60}h{minutes % 60:02d}"


def _dig(r: dict[str, Any], key: str) -> Any:
    found: Any = r
    for part in key.split("."):
        found = found[part]
    return found


def _product_share(r: dict[str, Any]) -> float:
    return float(r["product_1_client"]["commands_per_s"] / r["library_alone"]["commands_per_s"])


def _batched(cell: Cell) -> Cell:
    """A figure of the batched measure (bench/batched.py), from a run that took it."""
    return lambda r: cell(r["batched"]) if "batched" in r else "not measured"


def _per_call(b: dict[str, Any]) -> str:
    return (
        f"{b['http']['commands_per_s']:,.0f} ({b['commands']:,} per call, transactions of "
        f"{b['group_commit']['transaction_commands']:,})"
    )


def _batched_share(b: dict[str, Any]) -> float:
    return float(b["http"]["commands_per_s"] / b["library_alone"]["commands_per_s"])


def _trace_cell(key: str) -> Cell:
    def cell(r: dict[str, Any]) -> str:
        t = _dig(r, key)
        return f"{t['batches_reached']:,} batches, {t['nodes']:,} nodes, {t['edges']:,} edges"

    return cell


ROWS: list[tuple[str, Cell]] = [
    ("events in the ledger", _rate("events")),
    (
        "building this ledger: the generator (one in-process writer), events/s, or a copy",
        _generated,
    ),
    ("generator alone, one command per transaction, events/s", _generator("single")),
    ("generator alone, grouped commits, events/s", _generator("grouped")),
    (
        "… a 10x ledger (10M events) at these rates: one per transaction / grouped",
        _ten_x_build,
    ),
    ("raw INSERT + COMMIT, one per command, commands/s", _rate("raw_insert.commands_per_s")),
    ("raw INSERT + COMMIT, p50 / p99 ms", _ms("raw_insert")),
    ("library alone, one event per command, commands/s", _rate("library_alone.commands_per_s")),
    ("library alone, p50 / p99 ms", _ms("library_alone")),
    ("`{ __typename }` over HTTP (the floor of any request), p50 / p99 ms", _ms("http_floor")),
    (
        "recordBatchStep over HTTP (a spoke's API key), 1 client, commands/s",
        _rate("product_1_client.commands_per_s"),
    ),
    ("recordBatchStep, 1 client, p50 / p99 ms", _ms("product_1_client")),
    ("recordBatchStep, 8 clients, commands/s", _rate("product_8_clients.commands_per_s")),
    ("recordBatchStep, 8 clients, p50 / p99 ms", _ms("product_8_clients")),
    (
        "recordBatchStep, 8 clients, one server process per core, commands/s",
        _rate("product_8_clients_workers.commands_per_s"),
    ),
    ("product (1 client) as a share of library alone", lambda r: f"{_product_share(r):.0%}"),
    (
        "batched submission over HTTP (submitCommands, N commands per call, durable commits), "
        "commands/s",
        _batched(_per_call),
    ),
    (
        "… the same call resent, every command ALREADY_DONE, commands/s",
        _batched(_rate("resent.commands_per_s")),
    ),
    (
        "… in-process group commit (TraceabilityLedger.group_commit), commands/s",
        _batched(_rate("group_commit.commands_per_s")),
    ),
    (
        "… library alone in the same run, one command per transaction, commands/s",
        _batched(_rate("library_alone.commands_per_s")),
    ),
    (
        "… batched over HTTP / library alone (goal ≥ 5× on PostgreSQL)",
        lambda r: _goal_cell(_batched_goal, r, False, ""),
    ),
    (
        "… machine load (1-minute average) while batched was measured, before / after",
        _batched(lambda b: f"{b['load_average_before']} / {b['load_average_after']}"),
    ),
    ("recallTrace FORWARD from a lot: answer", _trace_cell("trace_forward_lot")),
    ("… recall scope over HTTP, p50 / p99 ms", _ms("trace_forward_lot.scope")),
    ("… whole graph over HTTP, p50 / p99 ms", _ms("trace_forward_lot.graph")),
    ("… recursive SQL, p50 / p99 ms", _ms("trace_forward_lot.sql")),
    ("… the trace with its edges, in-process, p50 / p99 ms", _ms("trace_forward_lot_in_process")),
    ("recallTrace BACKWARD from an adverse event: answer", _trace_cell("trace_backward_ae")),
    ("… recall scope over HTTP, p50 / p99 ms", _ms("trace_backward_ae.scope")),
    ("… whole graph over HTTP, p50 / p99 ms", _ms("trace_backward_ae.graph")),
    ("… recursive SQL, p50 / p99 ms", _ms("trace_backward_ae.sql")),
    ("sourceAndFlow of one batch, p50 / p99 ms", _ms("source_and_flow.one_batch")),
    ("sourceAndFlowRecords, page of 50, p50 / p99 ms", _ms("source_and_flow.page_of_50")),
    ("verify, events/s", _rate("verify.events_per_s")),
    ("rebuild, events/s", _rate("rebuild.events_per_s")),
    ("replay to SQLite, events/s", _rate("replay.events_per_s")),
    ("server peak RSS under load, MB", lambda r: f"{r['server_peak_rss_mb']}"),
    (
        "rebuild peak RSS (its largest process), MB",
        lambda r: f"{r['rebuild_process']['peak_rss_mb']}",
    ),
    ("verify process peak RSS, MB", lambda r: f"{r['verify_process']['peak_rss_mb']}"),
    (
        "machine load (1-minute average), before / after",
        lambda r: f"{r['load_average_before']} / {r['load_average_after']}",
    ),
]


def _cell(cell: Cell, r: dict[str, Any] | None) -> str:
    if r is None:
        return "not measured"
    try:
        return cell(r)
    except (KeyError, TypeError, ZeroDivisionError):
        return "—"  # a figure this run (or an older harness) did not take


# ------------------------------------------------------------------------------------ goals

Check = Callable[[dict[str, Any]], tuple[str, bool | None]]  # None: no goal for this database


def _at_least(key: str, floor: float) -> Check:
    def check(r: dict[str, Any]) -> tuple[str, bool]:
        value = float(_dig(r, key))
        return f"{value:,.0f}", value >= floor

    return check


def _trace_p99(key: str) -> Check:
    def check(r: dict[str, Any]) -> tuple[str, bool]:
        p99 = float(_dig(r, key)["p99_ms"])
        return f"{p99:.1f} ms", p99 < 50

    return check


def _sql_ratio(r: dict[str, Any]) -> tuple[str, bool]:
    t = r["trace_forward_lot"]
    ratio = t["scope"]["p99_ms"] / t["sql"]["p99_ms"]
    return f"{ratio:.1f}×", ratio <= 3


def _server_memory(r: dict[str, Any]) -> tuple[str, bool]:
    peak = float(r["server_peak_rss_mb"])
    return f"{peak} MB", peak < 300


def _batched_goal(r: dict[str, Any]) -> tuple[str, bool | None]:
    b = r["batched"]
    share = _batched_share(b)
    value = (
        f"{share:.2f}× ({b['http']['commands_per_s']:,.0f} against "
        f"{b['library_alone']['commands_per_s']:,.0f} commands/s)"
    )
    return value, share >= 5 if r["database"] == "postgresql" else None


GOALS: list[tuple[str, Check, bool]] = [  # (goal, check, stated at 1M events)
    (
        "recordBatchStep 1 client ≥ 50% of library alone",
        lambda r: (f"{_product_share(r):.0%}", _product_share(r) >= 0.5),
        False,
    ),
    ("recallTrace FORWARD (recall scope) p99 < 50 ms", _trace_p99("trace_forward_lot.scope"), True),
    ("recallTrace FORWARD (whole graph) p99 < 50 ms", _trace_p99("trace_forward_lot.graph"), True),
    ("recallTrace FORWARD (scope) p99 within 3× of recursive SQL", _sql_ratio, True),
    ("rebuild ≥ 20,000 events/s", _at_least("rebuild.events_per_s", 20_000), False),
    ("replay ≥ 20,000 events/s", _at_least("replay.events_per_s", 20_000), False),
    ("verify ≥ 100,000 events/s", _at_least("verify.events_per_s", 100_000), False),
    ("server peak RSS < 300 MB", _server_memory, False),
    (
        "batched ingestion ≥ 5× library alone, one command per transaction (PostgreSQL)",
        _batched_goal,
        False,
    ),
]


def _goal_cell(check: Check, r: dict[str, Any], at_million: bool, scale: str) -> str:
    try:
        value, met = check(r)
    except (KeyError, TypeError, ZeroDivisionError):
        return "not measured"
    if met is None:
        return f"{value} (the goal is PostgreSQL's)"
    verdict = "met" if met else "**missed**"
    if at_million and scale != "default":
        verdict += f" at `{scale}` (1M events not measured)"
    return f"{value}: {verdict}"


# --------------------------------------------------------------------------------- markdown


def markdown(kept: dict[str, Any], scale: str) -> str:
    run = kept["scales"][scale]
    results = run["results"]
    names = [r["database"] for r in results]
    lines = [
        "# Benchmark results",
        "",
        f"Measured {run['when']} on {run['machine']} (scale `{scale}`, about "
        f"{run['target_events']:,} events). Reproduce: `make bench SCALE={scale}` "
        f"(`python -m bench.run --scale {scale}`; add `--reuse` to keep a ledger built earlier). "
        "The 10x scale on SQLite in two resumable parts: `make bench SCALE=10x DATABASE=sqlite "
        "PART=1/2` (builds half the ledger, then stops), then `make bench SCALE=10x "
        "DATABASE=sqlite REUSE=1` (builds the rest where the first part stopped, then "
        "measures); an interrupted build continues the same way (`REUSE=1`). On PostgreSQL, "
        "slower to build, in more parts: `PART=1/4` … `PART=4/4`, then `REUSE=1`. "
        "The generator rates alone: `python -m bench.run --scale medium --measure-generator`.",
        "",
        *_table(
            ["measure", *names], [[label, *(_cell(c, r) for r in results)] for label, c in ROWS]
        ),
        "",
        "## Goals",
        "",
        *_table(
            ["goal", *names],
            [[g, *(_goal_cell(c, r, m, scale) for r in results)] for g, c, m in GOALS]
            + [[goal, *_ten_x(kept, names, key, bound)] for goal, key, bound in TEN_X_GOALS],
        ),
        "",
        "## Each scale side by side",
        "",
        *_scales(kept),
        "",
        *_generator_section(kept),
        *_batched_section(kept),
        *single_command_section(kept),
        *NOTES,
        "",
    ]
    return "\n".join(lines)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _by_database(kept: dict[str, Any], scale: str, database: str) -> dict[str, Any] | None:
    run = kept["scales"].get(scale)
    if run is None:
        return None
    return next((r for r in run["results"] if r["database"] == database), None)


# The 10x scale against the default one: (goal, the figure, the bound on 10x / default). A
# bound above 1 caps a time or a size; below 1 it floors a rate ("flat": within a fifth).
TEN_X_GOALS = [
    (
        "recallTrace FORWARD (recall scope) p99 at 10× ≤ 1.2× default",
        "trace_forward_lot.scope.p99_ms",
        1.2,
    ),
    ("rebuild rate flat from default to 10× (≥ 0.8×), events/s", "rebuild.events_per_s", 0.8),
    ("verify rate flat from default to 10× (≥ 0.8×), events/s", "verify.events_per_s", 0.8),
    ("server peak RSS flat from default to 10× (≤ 1.2×), MB", "server_peak_rss_mb", 1.2),
    ("rebuild peak RSS flat from default to 10× (≤ 1.2×), MB", "rebuild_process.peak_rss_mb", 1.2),
    ("verify peak RSS flat from default to 10× (≤ 1.2×), MB", "verify_process.peak_rss_mb", 1.2),
]


def _ten_x(kept: dict[str, Any], names: list[str], key: str, bound: float) -> list[str]:
    cells = []
    for name in names:
        default, ten = (_by_database(kept, s, name) for s in ("default", "10x"))
        if default is None or ten is None:
            cells.append("not measured (needs both the default and the 10x scale)")
            continue
        before, after = (float(_dig(r, key)) for r in (default, ten))
        ratio = after / before
        met = ratio <= bound if bound >= 1 else ratio >= bound
        shown = [f"{v:,.0f}" if v >= 1000 else f"{v:.1f}" for v in (before, after)]
        cells.append(f"{shown[0]} → {shown[1]} ({ratio:.2f}×): {'met' if met else '**missed**'}")
    return cells


def _scales(kept: dict[str, Any]) -> list[str]:
    databases = sorted({r["database"] for run in kept["scales"].values() for r in run["results"]})
    header = ["measure", *(f"{d}, `{s}`" for d in databases for s in SCALE_ORDER)]
    rows = [
        [label, *(_cell(c, _by_database(kept, s, d)) for d in databases for s in SCALE_ORDER)]
        for label, c in ROWS
    ]
    return _table(header, rows)


def _generator_section(kept: dict[str, Any]) -> list[str]:
    """The generator measured alone (``--measure-generator``), every scale and database."""
    rows = []
    for scale in SCALE_ORDER:
        for r in kept["scales"].get(scale, {}).get("results", []):
            g = r.get("generator")
            if g is None:
                continue
            single, grouped = g["single"], g["grouped"]
            rows.append(
                [
                    r["database"],
                    f"`{scale}`, {grouped['events']:,} events",
                    g["when"],
                    f"{g['load_average_before']} / {g['load_average_after']}",
                    f"{single['events_per_s']:,} ({single['seconds']:,.0f} s)",
                    f"{grouped['events_per_s']:,} ({grouped['seconds']:,.0f} s), "
                    f"groups of {grouped['group']}",
                    f"{grouped['events_per_s'] / single['events_per_s']:.1f}×",
                    f"{_hours(single['ten_x_hours'])} / {_hours(grouped['ten_x_hours'])}",
                ]
            )
    if not rows:
        return []
    header = [
        "database",
        "scale",
        "measured",
        "load before / after",
        "one command per transaction, events/s",
        "group commits, events/s",
        "speed-up",
        "10x (10M events) at these rates",
    ]
    return [
        "## The generator: one command per transaction against group commits",
        "",
        "`python -m bench.run --scale SCALE --measure-generator`: the same ledger built twice "
        "in a scratch database, one way after the other, by the generator alone (on "
        "PostgreSQL with `synchronous_commit` off, as for every build). Group commits take "
        "the commit off each command; on SQLite that was most of a command's cost, on "
        "PostgreSQL (whose commits already skipped the WAL flush) what remains is each "
        "command's own round trips, reads and projection rows. The 10x column divides 10M "
        "events by the rate measured at that scale; a 10x SQLite ledger takes about 14 GB "
        "(1.4 kB an event).",
        "",
        *_table(header, rows),
        "",
    ]


def _batched_section(kept: dict[str, Any]) -> list[str]:
    """Batched ingestion against the library alone, every scale and database that measured it
    (``python -m bench.batched``, or a whole run)."""
    lines = []
    for scale in SCALE_ORDER:
        for r in kept["scales"].get(scale, {}).get("results", []):
            if "batched" not in r:
                continue
            b, (share, met) = r["batched"], _batched_goal(r)
            verdict = {
                True: "the goal of 5× is met",
                False: f"the goal of 5× ({5 * b['library_alone']['commands_per_s']:,.0f} "
                "commands/s) is **missed**",
                None: "no goal is set on SQLite",
            }[met]
            lines.append(
                f"- `{scale}`, {r['database']}, measured {b['when']} (1-minute load "
                f"{b['load_average_before']} before, {b['load_average_after']} after): "
                f"submitCommands over HTTP {_per_call(b)}, in-process group commit "
                f"{b['group_commit']['commands_per_s']:,.0f} commands/s, library alone "
                f"{b['library_alone']['commands_per_s']:,.0f} commands/s: {share}; {verdict}."
            )
    if not lines:
        return []
    return [
        "## Batched ingestion against the library alone",
        "",
        "`python -m bench.batched --scale medium` (the same as `python -m bench.run --scale "
        "medium --measure-batched`; a whole run takes these figures too): on the ledger built at "
        "that scale, one of its open batches, a spoke operator's API key and durable commits, "
        "`--batch-commands` recordBatchStep commands (1,000 unless told) in one "
        "submitCommands call over HTTP (UNTIL_FIRST_REFUSAL), the same call again (every "
        "command ALREADY_DONE), then as many commands in the benchmark's process through "
        "`TraceabilityLedger.group_commit` in transactions of the same size (no HTTP, no "
        "GraphQL, no command ids); the library alone (one event per command, one transaction "
        "each, in a scratch database) in the same run.",
        "",
        *lines,
        "",
        *BATCHED_NOTES,
        "",
    ]


BATCHED_NOTES = [
    "- Where batched time goes (pyinstrument, 1,000 commands in one call on PostgreSQL at "
    "`medium`): batching takes away each command's commit and request, not its own work, "
    "which alone costs about what the library alone spends on a whole command with its "
    "commit: in its savepoint a batched command still makes 11 round trips (15 over HTTP), "
    "and of its time 65% is the command itself (45% its save: the ledger row and hash chain, "
    "the inline projections' reads and rows for holds, chain, source and flow; 17% loading "
    "the batch and its sites), 8% parsing its GraphQL input, 6% its command id and access "
    "checks, 4% the savepoints, little HTTP.",
    "- The library alone ran in the same run, so the ratio carries the same machine load; "
    "that load (other work on the machine, the 1-minute load near 5 on 2 cores) cut the "
    "library alone on SQLite to about a fifth of its rate in the rows above measured on a "
    "quieter machine, so the SQLite ratio overstates batching there; on PostgreSQL it stayed "
    "near its usual rate.",
    "- Each measure appends its commands to one of the ledger's open batches; the batch grows "
    "with every run on a reused ledger, and a group commit loads it (all its events) once a "
    "transaction.",
]


NOTES = [
    "## How to read this",
    "",
    "- Every figure comes from one run on a 2-core machine shared with other work (see the "
    "machine load row), so they understate what an idle machine does, the p99 tails most; "
    "results.json holds every number.",
    "- The generator builds the ledger with the application's own commands in one process "
    "that trusts its aggregate cache (it is the only writer); on PostgreSQL its commits do not "
    "wait for the WAL flush. Every measure runs afterwards with durable commits.",
    "- A PostgreSQL ledger built with `--copy-from sqlite` is not the generator's work: the "
    "SQLite ledger of the same scale is replayed into it (as `regentrace replay --into`: "
    "events, chain and command ids copied, every projection rebuilt), and its build row gives "
    "that copy's rate.",
    "- Since group commits, the generator runs its commands through "
    "`TraceabilityLedger.group_commit` (ADR 10): each command in a step of its own, with the "
    "same aggregates, rules and inline projections, about 500 sharing one transaction (whole "
    "batches; `--group`). It builds the same events in the same order as one command per "
    "transaction. The rows measured alone build a new ledger each way at that scale, one "
    "after the other, on a scratch database; the machine load moves between them.",
    "- Raw INSERT + COMMIT and the library alone run in a scratch database of their own; the "
    "product runs as a `regentrace serve` process, driven over HTTP by clients in the "
    "benchmark's process (which shares the same two cores).",
    "- The recall scope is what a recall needs (position, affected batches, patients, sites); "
    "the whole graph adds every node and edge (thousands of GraphQL objects, whose "
    "serialisation dominates). The recursive SQL computes the nodes reached over its own "
    "connection; the benchmark stops if its answer and the product's differ.",
    "- A scale shown as not measured was not run on this machine: the ledger is built through "
    "the application's commands at the generator rates above; the 10x row gives the hours a "
    "10x build takes at them. `--build-only` builds one for later, `--part K/N` builds a part "
    "and stops, `--reuse` continues an unfinished build or measures one built earlier.",
    "- Commands measured here append to the benchmark's ledger; a reused ledger grows by them.",
]
