"""Apply the versioned SQL in this folder, once each, in order.

Every file ``NNNN_name.sql`` under ``sqlite/`` or ``postgresql/`` is one version. Applied versions
are recorded with a SHA-256 of their text in ``schema_migrations``; a file changed after it was
applied is refused, since the tables it made no longer match it. Safe to run at every start.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent

# Serialises concurrent `migrate` runs on one PostgreSQL database (an arbitrary constant).
PG_ADVISORY_LOCK = 7_140_211_093


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available(dialect: str) -> list[Migration]:
    found = []
    for path in sorted((HERE / dialect).glob("[0-9][0-9][0-9][0-9]_*.sql")):
        version, name = path.stem.split("_", 1)
        found.append(Migration(int(version), name, path.read_text(encoding="utf-8")))
    return found


def _check_applied(applied: dict[int, str], migrations: list[Migration]) -> list[Migration]:
    known = {m.version: m for m in migrations}
    for version, checksum in applied.items():
        if version not in known:
            raise MigrationError(
                f"the database has migration {version:04d}, which this version of regentrace "
                "does not know; run a newer regentrace"
            )
        if known[version].checksum != checksum:
            raise MigrationError(
                f"migration {version:04d}_{known[version].name} changed after it was applied; "
                "write a new migration instead of editing an applied one"
            )
    return [m for m in migrations if m.version not in applied]


Report = Callable[[str], None]


def migrate_sqlite(path: str, report: Report = lambda _: None) -> list[Migration]:
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
            " name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        applied = dict(conn.execute("SELECT version, checksum FROM schema_migrations").fetchall())
        pending = _check_applied(applied, available("sqlite"))
        for m in pending:
            report(f"applying {m.version:04d}_{m.name}")
            for statement in _statements(m.sql):
                conn.execute(statement)
            _record(conn.execute, "?", m)
        conn.execute("COMMIT")
        return pending
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()


def migrate_postgres(conninfo: str, report: Report = lambda _: None) -> list[Migration]:
    import psycopg

    with psycopg.connect(conninfo, autocommit=False) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (PG_ADVISORY_LOCK,))
        # Created only when missing: the application's role (no CREATE on the schema) may then
        # run `migrate` as a check that the schema is current, and CREATE TABLE IF NOT EXISTS
        # would be refused it even for a table that exists.
        cur.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
        if not cur.fetchone()[0]:  # type: ignore[index]
            cur.execute(
                "CREATE TABLE schema_migrations (version integer PRIMARY KEY,"
                " name text NOT NULL, checksum text NOT NULL, applied_at text NOT NULL)"
            )
        cur.execute("SELECT version, checksum FROM schema_migrations")
        applied = {int(v): str(c) for v, c in cur.fetchall()}
        pending = _check_applied(applied, available("postgresql"))
        for m in pending:
            report(f"applying {m.version:04d}_{m.name}")
            cur.execute(m.sql.encode())
            _record(cur.execute, "%s", m)
        conn.commit()
        return pending


def _record(execute: Callable[..., Any], mark: str, m: Migration) -> None:
    execute(
        "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
        f"VALUES ({mark}, {mark}, {mark}, {mark})",
        (m.version, m.name, m.checksum, datetime.now(UTC).isoformat()),
    )


def _statements(script: str) -> list[str]:
    """Split a SQLite script into whole statements (trigger bodies included)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip() and not all(
        part.strip().startswith("--") or not part.strip() for part in current.splitlines()
    ):
        raise MigrationError(f"incomplete SQL statement at the end of a migration: {current!r}")
    return statements
