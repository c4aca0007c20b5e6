"""Batched submissions next to single commands, in one run (issue 19, ADR 10).

    python -m bench.batched [--database sqlite,postgresql] [--commands 1000]

On a fresh ledger per database (a network and a few open batches, built through the
application), a ``regentrace serve`` process answers, one client over HTTP:

- ``single``: ``--commands`` recordBatchStep commands, one request (one transaction) each, each
  with its commandId;
- ``batched``: as many recordBatchStep commands in one submitCommands call (UNTIL_FIRST_REFUSAL,
  transactions of ``REGENTRACE_BATCH_TRANSACTION_COMMANDS``);
- ``resent``: that call again, every command answered ALREADY_DONE.

Commits are durable (the server's defaults). Writes bench/batched-results.json; progress goes to
stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api.settings import Settings
from api.wiring import Regentrace, migrate
from bench import generate
from bench.run import WORK, fresh_database, say
from bench.server import Server, _step

HERE = Path(__file__).parent
RESULTS = HERE / "batched-results.json"
SINGLE = """
mutation ($input: RecordBatchStepInput!, $id: String) {
  recordBatchStep(input: $input, commandId: $id) { position }
}
"""
SUBMIT = """
mutation ($input: SubmitCommandsInput!) {
  submitCommands(input: $input) { stored outcomes { status } }
}
"""


def prepare(url: str) -> tuple[str, list[str]]:
    """A network and two open batches; the spoke and the batches."""
    settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
    migrate(settings.database)
    service = Regentrace(settings)
    try:
        spoke, hospital = generate.network(service.app, 1)[0]
        return spoke, generate.open_batches(service.app, 2, spoke, hospital)
    finally:
        service.close()


def measure(dialect: str, count: int) -> dict[str, Any]:
    url = fresh_database(dialect, "batched")
    spoke, (alone, together) = prepare(url)
    with Server(url, WORK / f"batched-{dialect}.log") as server:
        client = server.client()
        started = time.perf_counter()
        for n in range(count):
            client.post(SINGLE, {"input": _step(alone, spoke, n), "id": f"single-{n}"})
        single = time.perf_counter() - started
        say(f"{dialect}: {count} single commands in {single:.2f}s")
        commands = [
            {
                "commandId": f"batched-{n}",
                "mutation": "recordBatchStep",
                "input": _step(together, spoke, n),
            }
            for n in range(count)
        ]
        variables = {"input": {"mode": "UNTIL_FIRST_REFUSAL", "commands": commands}}
        started = time.perf_counter()
        answer = client.post(SUBMIT, variables)["submitCommands"]
        batched = time.perf_counter() - started
        assert answer["stored"] == count, answer["stored"]
        say(f"{dialect}: {count} commands in one call in {batched:.2f}s")
        started = time.perf_counter()
        again = client.post(SUBMIT, variables)["submitCommands"]
        resent = time.perf_counter() - started
        assert again["stored"] == 0
        assert {o["status"] for o in again["outcomes"]} == {"ALREADY_DONE"}
    return {
        "database": dialect,
        "commands": count,
        "single": {"seconds": round(single, 2), "commands_per_s": round(count / single, 1)},
        "batched": {"seconds": round(batched, 2), "commands_per_s": round(count / batched, 1)},
        "resent": {"seconds": round(resent, 2), "commands_per_s": round(count / resent, 1)},
        "speedup": round(single / batched, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="sqlite,postgresql")
    parser.add_argument("--commands", type=int, default=1000)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    results = [measure(d, args.commands) for d in args.database.split(",")]
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, CPython {platform.python_version()}, "
        f"{os.cpu_count()} cores",
        "load_average_before": round(load, 2),
        "note": "one client over HTTP to a regentrace serve process; durable commits",
        "results": results,
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    for r in results:
        say(
            f"{r['database']}: single {r['single']['commands_per_s']}/s, batched "
            f"{r['batched']['commands_per_s']}/s ({r['speedup']}x), resent "
            f"{r['resent']['commands_per_s']}/s"
        )


if __name__ == "__main__":
    main()
