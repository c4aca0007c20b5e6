"""What the product is measured against: the database alone, the event-sourcing library alone,
and a hand-written recursive SQL query for the recall trace.

Each baseline runs in a scratch database of its own (a file under var/bench, or the PostgreSQL
database ``regentrace_bench_scratch``), so it neither sees nor disturbs the benchmark's ledger.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from psycopg import sql as pgsql

from bench.timing import percentiles

PG_SCRATCH = "regentrace_bench_scratch"


class Note(Aggregate):
    """The smallest aggregate that appends an event shaped like a ledger event."""

    @event("Noted")
    def note(self, payload: str) -> None:
        self.last = payload


def scratch(dialect: str, work: Path, server: str) -> tuple[str, dict[str, str]]:
    """A fresh scratch database: its connection string and the library's environment for it."""
    if dialect == "sqlite":
        path = work / "scratch.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return str(path), {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        name = pgsql.Identifier(PG_SCRATCH)
        conn.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(pgsql.SQL("CREATE DATABASE {}").format(name))
    info = psycopg.conninfo.conninfo_to_dict(f"{server}/{PG_SCRATCH}")
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": PG_SCRATCH,
        "POSTGRES_HOST": str(info.get("host", "127.0.0.1")),
        "POSTGRES_PORT": str(info.get("port", "5432")),
        "POSTGRES_USER": str(info.get("user", "postgres")),
        "POSTGRES_PASSWORD": str(info.get("password", "")),
    }
    return f"{server}/{PG_SCRATCH}", env


def per_command(count: int, command: Callable[[int], object]) -> dict[str, float]:
    """Run ``command`` ``count`` times in a row: latency percentiles and commands per second."""
    samples = []
    started = time.perf_counter()
    for n in range(count):
        began = time.perf_counter()
        command(n)
        samples.append(time.perf_counter() - began)
    elapsed = time.perf_counter() - started
    return {**percentiles(samples), "commands_per_s": round(count / elapsed, 1)}


RAW_TABLE = (
    "CREATE TABLE raw_events (notification_id {serial} PRIMARY KEY, originator_id TEXT NOT NULL,"
    " originator_version INTEGER NOT NULL, topic TEXT NOT NULL, state {blob} NOT NULL,"
    " UNIQUE (originator_id, originator_version))"
)
RAW_INSERT = (
    "INSERT INTO raw_events (originator_id, originator_version, topic, state)"
    " VALUES ({p}, {p}, {p}, {p})"
)


def raw_inserts(dialect: str, target: str, count: int, payload: bytes) -> dict[str, float]:
    """One row shaped like a stored event per transaction: INSERT, then COMMIT."""
    topic, originator = "bench:Raw.Noted", str(uuid.uuid4())
    if dialect == "sqlite":
        lite = sqlite3.connect(target, isolation_level=None)
        lite.execute("PRAGMA journal_mode=WAL")  # as the library opens its SQLite files
        lite.execute(RAW_TABLE.format(serial="INTEGER", blob="BLOB"))

        def insert_lite(n: int) -> None:
            lite.execute("BEGIN")
            lite.execute(RAW_INSERT.format(p="?"), (originator, n, topic, payload))
            lite.execute("COMMIT")

        try:
            return per_command(count, insert_lite)
        finally:
            lite.close()
    with psycopg.connect(target) as conn:
        conn.execute(RAW_TABLE.format(serial="BIGSERIAL", blob="BYTEA"))
        conn.commit()

        def insert_pg(n: int) -> None:
            conn.execute(RAW_INSERT.format(p="%s"), (originator, n, topic, payload))
            conn.commit()

        return per_command(count, insert_pg)


def library_alone(env: dict[str, str], count: int, payload: str) -> dict[str, float]:
    """The library's own command path: get the aggregate (cached, fast-forwarded as the product
    configures it), trigger one event, save."""
    app: Application[Any] = Application(
        env=env | {"AGGREGATE_CACHE_MAXSIZE": "1000", "AGGREGATE_CACHE_FASTFORWARD": "y"}
    )
    try:
        note = Note()
        app.save(note)

        def append(_n: int) -> None:
            aggregate: Note = app.repository.get(note.id)
            aggregate.note(payload)
            app.save(aggregate)

        return per_command(count, append)
    finally:
        app.close()


# ------------------------------------------------------------------ the recall trace in SQL

REACHED = """
WITH RECURSIVE reached(kind, id) AS (
    SELECT {p}, {p}
    UNION
    SELECT e.{far}_kind, e.{far}_id
    FROM reached r JOIN lineage_edges e ON e.{near}_kind = r.kind AND e.{near}_id = r.id
    WHERE e.position <= {p} AND (r.kind NOT IN ('SITE', 'PATIENT') OR (r.kind = {p} AND r.id = {p}))
)
SELECT kind, id FROM reached
"""


class SqlTracer:
    """The recall trace as one hand-written recursive query on the projection tables, over a
    connection of its own kept open (as the server keeps its pool)."""

    def __init__(self, dialect: str, url: str) -> None:
        self.dialect = dialect
        self.placeholder = "?" if dialect == "sqlite" else "%s"
        self.conn: Any = (
            sqlite3.connect(url.removeprefix("sqlite:///"))
            if dialect == "sqlite"
            else psycopg.connect(url, autocommit=True)
        )

    def head(self) -> int:
        return int(self._rows("SELECT MAX(position) FROM lineage_edges", ())[0][0])

    def trace(self, kind: str, node_id: str, direction: str, position: int) -> dict[str, Any]:
        """The reached nodes and the affected batches, patients and sites, sorted."""
        near, far = ("from", "to") if direction == "FORWARD" else ("to", "from")
        statement = REACHED.format(p=self.placeholder, near=near, far=far)
        nodes = {(k, i) for k, i in self._rows(statement, (kind, node_id, position, kind, node_id))}
        return {
            "nodes": nodes,
            "affected_batches": sorted(i for k, i in nodes if k == "BATCH"),
            "affected_patients": sorted(i for k, i in nodes if k == "PATIENT"),
            "affected_sites": sorted(i for k, i in nodes if k == "SITE"),
        }

    def _rows(self, statement: str, params: tuple[Any, ...]) -> list[Any]:
        with self._cursor() as cursor:
            cursor.execute(statement, params)
            return list(cursor.fetchall())

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        cursor = self.conn.cursor()
        try:
            yield cursor
        finally:
            cursor.close()

    def close(self) -> None:
        self.conn.close()
