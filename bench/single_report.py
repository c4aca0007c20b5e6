"""The "Single-command path" section of bench/RESULTS.md, from results.json's
``single_command`` (written by bench/single.py)."""

from __future__ import annotations

from typing import Any

KINDS = {
    "bare_floor": "`{ __typename }`, bare FastAPI + strawberry (the stack's floor)",
    "product_floor": "`{ __typename }`, the product (its own floor: middleware, API key, limits)",
    "product_command": "recordBatchStep, the product",
    "product_command_id": "recordBatchStep with a commandId, the product",
    "uncached_floor": "`{ __typename }`, the product reading the API key every request",
    "uncached_command": "recordBatchStep, the product reading the API key every request",
    "library_alone": "the library alone, one event per command (in-process)",
}
# The goals: the product's floor no slower than the stack's; the product's own cost per
# command (its command p50 minus its floor p50) at most 1.5x the library alone's p50.
COST_GOAL = 1.5


def summary(f: dict[str, dict[str, float]]) -> dict[str, Any]:
    """The derived figures of one database's run."""
    library = f["library_alone"]["p50_ms"]
    own = f["product_command"]["p50_ms"] - f["product_floor"]["p50_ms"]
    own_id = f["product_command_id"]["p50_ms"] - f["product_floor"]["p50_ms"]
    before = f["uncached_command"]["p50_ms"] - f["uncached_floor"]["p50_ms"]
    return {
        "floor_over_bare_floor": round(f["product_floor"]["p50_ms"] / f["bare_floor"]["p50_ms"], 2),
        "own_cost_p50_ms": round(own, 3),
        "own_cost_over_library": round(own / library, 2),
        "own_cost_with_id_over_library": round(own_id / library, 2),
        "uncached_own_cost_over_library": round(before / library, 2),
        "share_of_library_rate": round(
            f["product_command"]["per_s"] / f["library_alone"]["per_s"], 3
        ),
    }


def section(kept: dict[str, Any]) -> list[str]:
    run = kept.get("single_command")
    if not run:
        return []
    results = run["results"]
    names = [r["database"] for r in results]
    rows = [
        [f"{label}, p50 / p99 ms, per s", *(_latency(r[kind]) for r in results)]
        for kind, label in KINDS.items()
    ]
    rows += [
        [
            "product floor / stack floor (p50; goal ≤ 1)",
            *(_goal(r["floor_over_bare_floor"], 1.0) for r in results),
        ],
        [
            f"product's own cost per command (command p50 − floor p50) / library p50 "
            f"(goal ≤ {COST_GOAL})",
            *(
                _goal(r["own_cost_over_library"], COST_GOAL, f" ({r['own_cost_p50_ms']:.2f} ms)")
                for r in results
            ),
        ],
        [
            "… with a commandId",
            *(_goal(r["own_cost_with_id_over_library"], COST_GOAL) for r in results),
        ],
        [
            "… reading the API key every request (as before the cache)",
            *(_goal(r["uncached_own_cost_over_library"], COST_GOAL) for r in results),
        ],
        [
            "product commands/s as a share of the library's",
            *(f"{r['share_of_library_rate']:.0%}" for r in results),
        ],
    ]
    header = ["measure", *names]
    return [
        "## Single-command path",
        "",
        f"Measured {run['when']} on {run['machine']}: `python -m bench.single` on a fresh ledger "
        f"per database, {run['commands']} requests of each kind from one client over HTTP, "
        f"interleaved in {run['rounds']} rounds (the order turning every round) so the load of "
        f"other work on this shared machine (1-minute load {run['load_average_before']} before, "
        f"{run['load_average_after']} after) falls on every measure alike. Per s: requests of "
        "that kind over the time spent on them. Where the call tree goes: bench/profiles "
        "(`make profile`).",
        "",
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
        *NOTES,
        "",
    ]


NOTES = [
    "- The product's floor is below the bare stack's, most likely because the product "
    "caches parsed and validated documents (strawberry's ParserCache and ValidationCache), "
    "which the bare app, as strawberry ships it, does not; everything else the product adds to "
    "a request (the access log, authentication, the body and rate limits, the document limits) "
    "costs less than that saves.",
    "- The API key cache takes the key's read off every request (and its worker-thread hop): "
    "compare the two floors. The key read was part of the floor before, so the own cost per "
    "command (command minus floor) of the server that reads the key every request is lower by "
    "what its floor is higher; its command p50 is within this run's noise of the cached one's.",
    "- Where the rest goes (bench/profiles, summary.txt): per command, SQLite runs 20 statements "
    "and PostgreSQL makes 18 driver calls: a read transaction for the access check, one read "
    "for what was stored since the last command (which stands for every aggregate loaded; "
    "before, each of the batch and both sites was fast-forwarded by a read of its own: 26 and "
    "22), then the write transaction (the advisory lock, the event, the unchanged aggregates' "
    "versions, the ledger row and its hash chain, the projections' reads and rows). The "
    "library alone makes one read and one write.",
]


def _latency(f: dict[str, float]) -> str:
    return f"{f['p50_ms']:.2f} / {f['p99_ms']:.2f}, {f['per_s']:,.0f}"


def _goal(value: float, goal: float, extra: str = "") -> str:
    return f"{value:.2f}×{extra}: " + ("met" if value <= goal else "**missed**")
