"""Where one command's time goes: recordBatchStep over HTTP, sampled with pyinstrument.

    python -m bench.profile [--database sqlite,postgresql] [--commands 100] [--out bench/profiles]

On a fresh ledger per database (bench/single.py's: a network, an open batch, a spoke operator's
API key), the app runs in this process behind httpx's ASGI transport (real HTTP requests and
responses through every middleware, without a socket) and one client sends ``--commands``
recordBatchStep commands one after another, after a warm-up. A command runs on two threads: the
event loop (HTTP, authentication, GraphQL parsing, validation and the answer) and one worker
thread (the access checks, the command and its transaction); pyinstrument samples one thread per
profiler, so each gets its own (worker threads are limited to one, so that one is the thread
sampled). Per database and thread, ``command-<database>-<loop|worker>.html`` (pyinstrument's
flame graph and call tree, to open in a browser) and ``.txt`` (the call tree as text), and
``summary.txt``: what the database was asked per command (SQLite: statements, by its trace
callback; PostgreSQL: the driver's round trips) and the wall time per command while sampled
(the profiler's own cost and the machine's other work included: compare shares, not times).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx
import psycopg
from pyinstrument import Profiler

from api.app import create_app
from api.settings import Settings
from api.wiring import Regentrace
from bench.run import fresh_database, say
from bench.server import RECORD_STEP, _step
from bench.single import prepare

HERE = Path(__file__).parent
INTERVAL = 0.001  # seconds between samples


async def profile(dialect: str, commands: int, out: Path) -> list[str]:
    url = fresh_database(dialect, "profile")
    spoke, batch, token = prepare(url)
    settings = Settings(database_url=url, rate_limit_per_minute=0, _env_file=None)
    service = Regentrace(settings)
    app = create_app(settings, service)
    anyio.to_thread.current_default_thread_limiter().total_tokens = 1
    headers = {"Authorization": f"Bearer {token}"}
    steps = iter(range(10**9))

    async def one(http: httpx.AsyncClient) -> None:
        answer = await http.post(
            "/graphql",
            json={"query": RECORD_STEP, "variables": {"input": _step(batch, spoke, next(steps))}},
            headers=headers,
        )
        assert answer.status_code == 200, answer.text
        assert not answer.json().get("errors"), answer.text

    loop_profiler, worker_profiler = Profiler(INTERVAL), Profiler(INTERVAL, async_mode="disabled")
    transport = httpx.ASGITransport(app=app)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://bench") as http,
        ):
            for _ in range(30):
                await one(http)
            worker = await anyio.to_thread.run_sync(threading.get_ident)
            await anyio.to_thread.run_sync(worker_profiler.start)
            counted = Statements(dialect)
            loop_profiler.start()
            started = time.perf_counter()
            for _ in range(commands):
                await one(http)
            elapsed = time.perf_counter() - started
            loop_profiler.stop()
            statements = counted.count
            assert await anyio.to_thread.run_sync(threading.get_ident) == worker
            await anyio.to_thread.run_sync(worker_profiler.stop)
    finally:
        service.close()
    for thread, profiler in (("loop", loop_profiler), ("worker", worker_profiler)):
        name = out / f"command-{dialect}-{thread}"
        Path(f"{name}.html").write_text(profiler.output_html())
        Path(f"{name}.txt").write_text(profiler.output_text(unicode=True))
    return [
        f"{dialect}: {commands} recordBatchStep commands over HTTP (in-process ASGI), "
        f"{elapsed / commands * 1000:.2f} ms each while sampled",
        f"{dialect}: {counted.describe(statements / commands)}",
    ]


class Statements:
    """What the database was asked while sampling. SQLite: every statement any open connection
    ran (its trace callback; BEGIN and COMMIT included, no network between). PostgreSQL: every
    round trip the driver made (psycopg's execute, executemany, commit and rollback counted by
    wrapping them for this run only, as no server-side counter sees them all)."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.count = 0
        self._lock = threading.Lock()
        if dialect == "sqlite":
            for connection in gc.get_objects():
                if isinstance(connection, sqlite3.Connection):
                    connection.set_trace_callback(self._seen)
        else:
            for owner, name in PG_ROUND_TRIPS:
                setattr(owner, name, self._counting(getattr(owner, name)))

    def _seen(self, *_: object) -> None:
        with self._lock:
            self.count += 1

    def _counting(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self._seen()
            return method(*args, **kwargs)

        return counted

    def describe(self, per_command: float) -> str:
        if self.dialect == "sqlite":
            return f"{per_command:.1f} SQL statements per command (trace callback)"
        return f"{per_command:.1f} round trips per command (execute, executemany, commit, rollback)"


PG_ROUND_TRIPS = [
    (psycopg.Cursor, "execute"),
    (psycopg.Cursor, "executemany"),
    (psycopg.Connection, "commit"),
    (psycopg.Connection, "rollback"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--database", default="sqlite,postgresql")
    parser.add_argument("--commands", type=int, default=100, help="commands sampled")
    parser.add_argument("--out", default=str(HERE / "profiles"), help="folder for the profiles")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = [f"python -m bench.profile --commands {args.commands}"]
    for dialect in (d.strip() for d in args.database.split(",")):
        if dialect not in ("sqlite", "postgresql"):
            parser.error(f"--database takes sqlite and/or postgresql, not {dialect!r}")
        say(f"{dialect}: profiling {args.commands} commands")
        lines += asyncio.run(profile(dialect, args.commands, out))
    (out / "summary.txt").write_text("\n".join(lines) + "\n")
    say(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
