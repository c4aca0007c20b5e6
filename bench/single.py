"""The single-command path against its floors, measured side by side in one run (issue 19).

    python -m bench.single [--database sqlite,postgresql] [--commands 400] [--rounds 10]

On a fresh ledger per database (a network and an open batch, built through the application),
one client over HTTP (a keep-alive connection, a spoke operator's API key) measures, round after
round, each in turn (the order turns every round):

- ``bare_floor``: ``{ __typename }`` to a bare FastAPI + strawberry app (bench/bare.py), the floor
  the stack itself sets;
- ``product_floor``: ``{ __typename }`` to ``regentrace serve``, through all its middleware,
  authentication and limits: the product's own floor;
- ``product_command``: recordBatchStep, one request and one transaction each;
- ``product_command_id``: the same with a commandId (idempotent: ADR 7);
- ``uncached_floor`` / ``uncached_command``: the floor and recordBatchStep to a second server that
  reads the API key for every request (REGENTRACE_API_KEY_CACHE_SECONDS=0, as before the cache);
- ``library_alone``: the event-sourcing library's own command in this process (bench/baselines.py).

The machine is shared with other work: interleaving the measures in rounds spreads that load over
all of them alike, so their differences hold even where the absolute figures drift. Commits are
durable (the servers' defaults). Figures go to bench/results.json (``single_command``) and the
"Single-command path" section of bench/RESULTS.md; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eventsourcing.application import Application

from api.auth.keys import ApiKeys
from api.settings import Settings
from api.wiring import Regentrace, migrate
from bench import baselines, generate, report
from bench.run import PG_SERVER, WORK, fresh_database, say
from bench.server import HOST, RECORD_STEP, Client, Server, _step, free_port
from bench.single_report import KINDS, summary
from bench.timing import percentiles

HERE = Path(__file__).parent
TYPENAME = "{ __typename }"
RECORD_STEP_ID = """
mutation ($input: RecordBatchStepInput!, $id: String) {
  recordBatchStep(input: $input, commandId: $id) { position }
}
"""


def prepare(url: str) -> tuple[str, str, str]:
    """A network and one open batch, and a spoke operator's API key: (spoke, batch, token)."""
    settings = Settings(database_url=url, _env_file=None)
    migrate(settings.database)
    service = Regentrace(settings)
    try:
        spoke, hospital = generate.network(service.app, 1)[0]
        batch = generate.open_batches(service.app, 1, spoke, hospital)[0]
        name = f"bench-single-{uuid.uuid4().hex[:8]}"
        token = ApiKeys(service).create(name, "spoke_operator", [spoke], created_by="bench")[1]
        return spoke, batch, token
    finally:
        service.close()


@contextmanager
def bare_server(log: Path) -> Iterator[int]:
    """bench/bare.py in a process of its own: its port."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.bare", "--host", HOST, "--port", str(port)],
            stdout=out,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                Client(port).post(TYPENAME)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the bare app did not start; see {log}") from None
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def measure(dialect: str, commands: int, rounds: int) -> dict[str, Any]:
    url = fresh_database(dialect, "single")
    spoke, batch, token = prepare(url)
    _, env = baselines.scratch(dialect, WORK, PG_SERVER)
    library: Application[Any] = Application(
        env=env | {"AGGREGATE_CACHE_MAXSIZE": "1000", "AGGREGATE_CACHE_FASTFORWARD": "y"}
    )
    payload = "x" * 350
    note = baselines.Note()
    library.save(note)

    def append_note(_n: int) -> None:
        aggregate: baselines.Note = library.repository.get(note.id)
        aggregate.note(payload)
        library.save(aggregate)

    with ExitStack() as stack:
        product = stack.enter_context(Server(url, WORK / f"single-{dialect}.log"))
        uncached = stack.enter_context(
            Server(
                url,
                WORK / f"single-{dialect}-uncached.log",
                env={"REGENTRACE_API_KEY_CACHE_SECONDS": "0"},
            )
        )
        bare_port = stack.enter_context(bare_server(WORK / f"single-{dialect}-bare.log"))
        stack.callback(library.close)
        bare, client, other = Client(bare_port), product.client(token), uncached.client(token)
        steps = iter(range(10**9))

        def step() -> dict[str, Any]:
            return {"input": _step(batch, spoke, next(steps))}

        calls: dict[str, Callable[[int], object]] = {
            "bare_floor": lambda _n: bare.post(TYPENAME),
            "product_floor": lambda _n: client.post(TYPENAME),
            "product_command": lambda _n: client.post(RECORD_STEP, step()),
            "product_command_id": lambda _n: client.post(
                RECORD_STEP_ID, step() | {"id": uuid.uuid4().hex}
            ),
            "uncached_floor": lambda _n: other.post(TYPENAME),
            "uncached_command": lambda _n: other.post(RECORD_STEP, step()),
            "library_alone": append_note,
        }
        assert list(calls) == list(KINDS)
        for call in calls.values():  # warm every path: imports, caches, connections
            for n in range(20):
                call(n)
        samples: dict[str, list[float]] = {kind: [] for kind in calls}
        per_round = max(commands // rounds, 1)
        order = list(calls)
        for r in range(rounds):
            say(f"{dialect}: round {r + 1}/{rounds}, {per_round} of each")
            turned = order[r % len(order) :] + order[: r % len(order)]
            for kind in turned:
                # A server closes a keep-alive connection idle for 5 s (uvicorn's default), as
                # one may be while the others are measured: a new one, used once untimed.
                for connection in (bare, client, other):
                    connection.conn.close()
                calls[kind](-1)
                for n in range(per_round):
                    began = time.perf_counter()
                    calls[kind](n)
                    samples[kind].append(time.perf_counter() - began)
    figures = {
        kind: percentiles(found) | {"per_s": round(len(found) / sum(found), 1)}
        for kind, found in samples.items()
    }
    return {"database": dialect, **figures, **summary(figures)}


def shown_scale(results: Path, kept: dict[str, Any]) -> str:
    """The scale RESULTS.md shows now (it is written again with this section, nothing else)."""
    found = re.search(r"\(scale `([^`]+)`", results.read_text()) if results.exists() else None
    if found and found.group(1) in kept["scales"]:
        return str(found.group(1))
    return str(next(iter(kept["scales"])))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.single", description=__doc__)
    parser.add_argument("--database", default="sqlite,postgresql")
    parser.add_argument("--commands", type=int, default=400, help="requests of each kind")
    parser.add_argument("--rounds", type=int, default=10, help="rounds the requests are split in")
    parser.add_argument("--out", default=str(HERE), help="folder of results.json and RESULTS.md")
    args = parser.parse_args(argv)
    run: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} cores",
        "commands": args.commands,
        "rounds": args.rounds,
        "load_average_before": round(os.getloadavg()[0], 2),
        "results": [],
    }
    for dialect in (d.strip() for d in args.database.split(",")):
        if dialect not in ("sqlite", "postgresql"):
            parser.error(f"--database takes sqlite and/or postgresql, not {dialect!r}")
        run["results"].append(measure(dialect, args.commands, args.rounds))
    run["load_average_after"] = round(os.getloadavg()[0], 2)
    out = Path(args.out)
    kept = report.load(out / "results.json")
    kept["single_command"] = run
    report.save(out, kept, shown_scale(out / "RESULTS.md", kept))
    say(f"wrote {out / 'results.json'} and {out / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
