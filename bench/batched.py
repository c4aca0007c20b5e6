"""Batched ingestion (ADR 10) on the benchmark's ledger, next to the library alone.

Measured in every ``python -m bench.run`` (``batched`` per database and scale in results.json)
and alone, in a few minutes at a small scale (the ledger built at that scale, or kept with
``--reuse``; the library alone measured again in the same run):

    python -m bench.batched [--scale medium] [--database sqlite,postgresql] [--reuse]
                            [--batch-commands 1000] [--commands 400]

(the same as ``python -m bench.run --measure-batched ...``). On one of the ledger's open batches,
with a spoke operator's API key and durable commits (the server's defaults):

- ``http``: ``--batch-commands`` recordBatchStep commands in one submitCommands call
  (UNTIL_FIRST_REFUSAL, transactions of ``REGENTRACE_BATCH_TRANSACTION_COMMANDS``), one client
  over HTTP to a ``regentrace serve`` process;
- ``resent``: that call again, every command answered ALREADY_DONE;
- ``group_commit``: as many commands in this process through
  ``TraceabilityLedger.group_commit``, in transactions of the same size, each command in a step
  of its own, as the generator's administrator (no HTTP, no GraphQL, no command ids).
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from api.settings import Settings
from api.wiring import Regentrace
from bench import generate
from bench.server import Server, _step

SUBMIT = """
mutation ($input: SubmitCommandsInput!) {
  submitCommands(input: $input) { stored outcomes { status } }
}
"""


def _rate(count: int, seconds: float) -> dict[str, float]:
    return {"seconds": round(seconds, 2), "commands_per_s": round(count / seconds, 1)}


def submitted(
    url: str, log: Path, batch: str, spoke: str, count: int, token: str
) -> dict[str, dict[str, float]]:
    """``count`` commands in one submitCommands call over HTTP, then the same call again."""
    stamp = time.time_ns()  # command ids new to a ledger measured before
    commands = [
        {
            "commandId": f"batched-{stamp}-{n}",
            "mutation": "recordBatchStep",
            "input": _step(batch, spoke, n),
        }
        for n in range(count)
    ]
    variables = {"input": {"mode": "UNTIL_FIRST_REFUSAL", "commands": commands}}
    with Server(url, log) as server:
        client = server.client(token)
        try:
            started = time.perf_counter()
            answer = client.post(SUBMIT, variables)["submitCommands"]
            first = time.perf_counter() - started
            assert answer["stored"] == count, answer["stored"]
            started = time.perf_counter()
            again = client.post(SUBMIT, variables)["submitCommands"]
            resent = time.perf_counter() - started
        finally:
            client.conn.close()
    assert again["stored"] == 0, again["stored"]
    assert {o["status"] for o in again["outcomes"]} == {"ALREADY_DONE"}
    return {"http": _rate(count, first), "resent": _rate(count, resent)}


def group_committed(url: str, batch: str, spoke: str, count: int) -> dict[str, Any]:
    """``count`` commands in this process, in group commits of the server's transaction size."""
    service = Regentrace(Settings(database_url=url, _env_file=None))
    size = service.settings.batch_transaction_commands
    at = datetime(2024, 1, 2, tzinfo=UTC)
    try:
        started = time.perf_counter()
        for first in range(0, count, size):
            with service.app.group_commit() as group:
                for n in range(first, min(first + size, count)):
                    with group.step():
                        service.app.batches.record_batch_step(
                            generate.ADMIN,
                            batch_id=batch,
                            step=f"bench step {n}",
                            site_id=spoke,
                            started_at=at,
                            completed_at=at + timedelta(hours=1),
                            operator="bench operator",
                        )
        elapsed = time.perf_counter() - started
    finally:
        service.close()
    return _rate(count, elapsed) | {"transaction_commands": size}


def measure(url: str, log: Path, built: dict[str, Any], count: int, token: str) -> dict[str, Any]:
    """Every batched figure on the ledger at ``url`` (what bench/generate.py built there)."""
    batch, spoke = built["open_batches"][0], built["spoke"]
    figures: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_before": round(os.getloadavg()[0], 2),
        "commands": count,
    }
    figures |= submitted(url, log, batch, spoke, count, token)
    figures["group_commit"] = group_committed(url, batch, spoke, count)
    figures["load_average_after"] = round(os.getloadavg()[0], 2)
    return figures


def main() -> int:
    from bench.run import main as run  # bench.run measures through this module

    return run(["--measure-batched", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
