"""A throwaway SQLite database with regentrace's schema, for projecting many events at once.

A rebuild runs the projection handlers (the same code that runs inline) against this file rather
than the target database: each event costs several statements, and here a statement is a call
into a library in this process, not a round trip to a server or a write through a WAL. With no
journal, no syncing and one transaction, the file is as fast as memory while memory stays bounded
by its page cache, whatever the size of the ledger. Indexes that only the views' readers use
are left out (see _IndexesOnDemand). The finished rows are then copied into the target in bulk
(``Sql.insert_rows``), where the target's own indexes are kept up as usual.

The handlers see SQLite here whatever the target is; they write values in SQLite's storage form
(timestamps as ISO 8601 UTC text, booleans as 0/1), which PostgreSQL reads back as the same
values.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from migrations.runner import migrate_sqlite
from projections.sql import Dialect, Sql

# Page cache of the scratch file, in KiB: what bounds its memory. Larger caches measured no
# faster (the pages that spill stay in the system's file cache).
CACHE_KIB = 16 * 1024
COPY_BATCH = 10_000


class Scratch:
    """Use as a context manager; ``sql`` is a cursor inside the scratch file's one transaction.

    The file lives in a temporary folder of its own, removed on exit; given a ``folder`` (a
    rebuild worker's, which another process copies from), it is left there, complete."""

    def __init__(self, folder: str | None = None) -> None:
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        if folder is None:
            self._folder = tempfile.TemporaryDirectory(prefix="regentrace-rebuild-")
            folder = self._folder.name
        self.path = path = str(Path(folder) / "projections.sqlite3")
        migrate_sqlite(path)
        self._connection = sqlite3.connect(path, isolation_level=None)
        self._connection.row_factory = sqlite3.Row
        # Nothing here needs to survive a crash: the ledger is the source of every row.
        for pragma in (
            "journal_mode = OFF",
            "synchronous = OFF",
            "temp_store = MEMORY",
            f"cache_size = -{CACHE_KIB}",
        ):
            self._connection.execute(f"PRAGMA {pragma}")
        self._connection.execute("BEGIN")
        self.sql: Sql = _IndexesOnDemand(self._connection)

    def __enter__(self) -> Scratch:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._connection.close()
        if self._folder is not None:
            self._folder.cleanup()

    def finish(self) -> None:
        """The rows are final: commit them, so that other connections may read the file."""
        if self._connection.in_transaction:
            self._connection.execute("COMMIT")

    def copy_into(self, target: Sql, tables: Iterable[str]) -> None:
        self.finish()
        copy_file_into(self.path, target, tables)


def copy_file_into(path: str, target: Sql, tables: Iterable[str], alias: str = "scratch") -> None:
    """Every row of ``tables`` in the finished scratch file ``path`` into ``target``. A SQLite
    target attaches the file as ``alias`` and copies table to table inside the database engine
    (its connection must be one that closes afterwards: ``LedgerRecorder.write_in_bulk``, since
    a file cannot be detached inside the transaction, so each file copied into one transaction
    needs an alias of its own); PostgreSQL is sent the rows (COPY)."""
    source = sqlite3.connect(path, isolation_level=None)
    try:
        if target.dialect is Dialect.SQLITE:
            target.execute(f"ATTACH DATABASE ? AS {alias}", (path,))
            for table in tables:
                names = ", ".join(_columns(source, table))
                target.execute(
                    f"INSERT INTO main.{table} ({names}) SELECT {names} FROM {alias}.{table}"
                )
            return
        for table in tables:
            columns = _columns(source, table)
            cursor = source.execute(f"SELECT {', '.join(columns)} FROM {table}")
            while batch := cursor.fetchmany(COPY_BATCH):
                target.insert_rows(table, columns, batch)
    finally:
        source.close()


def _columns(connection: sqlite3.Connection, table: str) -> tuple[str, ...]:
    return tuple(row[1] for row in connection.execute(f"PRAGMA table_info({table})"))


class _IndexesOnDemand(Sql):
    """Sql on the scratch file, which starts without the schema's plain secondary indexes.

    Those serve the readers of the views, who never read the scratch; maintaining them costs
    about a tenth of a rebuild. Unique indexes stay (they decide what an insert does), and so
    do partial ones. The first time a statement is seen, SQLite's plan for it is asked for: if
    it would scan a table whose indexes were left out, they are made first, so no handler's
    query ever runs slower than it would on the full schema.
    """

    def __init__(self, connection: sqlite3.Connection) -> None:
        super().__init__(connection.cursor(), Dialect.SQLITE)
        self._connection = connection
        self._deferred: dict[str, list[str]] = {}
        for name, table, create in connection.execute(
            "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index'"
            " AND sql IS NOT NULL AND sql NOT LIKE '%UNIQUE%' AND sql NOT LIKE '%WHERE%'"
        ).fetchall():
            self._deferred.setdefault(table, []).append(create)
            connection.execute(f"DROP INDEX {name}")
        self._tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master")}
        self._planned: set[str] = set()

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        if statement not in self._planned:
            self._plan(statement, params)
        super().execute(statement, params)

    def tuples(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if statement not in self._planned:
            self._plan(statement, params)
        return super().tuples(statement, params)

    def _plan(self, statement: str, params: Sequence[Any]) -> None:
        self._planned.add(statement)
        if not self._deferred:
            return
        plan = self._connection.execute(f"EXPLAIN QUERY PLAN {statement}", params).fetchall()
        for step in plan:
            detail = str(step[-1]).split()
            if detail[:1] == ["SCAN"]:
                # A name that is no table (an alias, another form of plan) restores them all.
                scanned = detail[1] if len(detail) > 1 else ""
                tables = [scanned] if scanned in self._tables else list(self._deferred)
                for table in tables:
                    for create in self._deferred.pop(table, []):
                        self._connection.execute(create)
