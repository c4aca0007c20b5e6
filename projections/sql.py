"""One way to speak SQL to both databases.

Statements are written once with ``?`` placeholders. On PostgreSQL they are rewritten to psycopg's
``%s``. Timestamps go in and come out as ``datetime``: SQLite stores them as ISO 8601
text in UTC with microseconds (so text order is time order), and columns whose names end in ``_at``
are parsed back on the way out.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import Any, Protocol

from psycopg.rows import tuple_row


class Dialect(StrEnum):
    SQLITE = "sqlite"
    POSTGRES = "postgresql"


class DbCursor(Protocol):
    def execute(self, *args: Any, **kwargs: Any) -> Any: ...

    def fetchall(self) -> Any: ...

    def fetchone(self) -> Any: ...


Row = dict[str, Any]


def iso_utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


# SQLite's driver turns every datetime parameter into that text itself, as it binds it: nothing
# in Python walks the parameters of each statement (a rebuild binds millions).
sqlite3.register_adapter(datetime, iso_utc)


@cache
def _postgres_statement(statement: str) -> str:
    return statement.replace("%", "%%").replace("?", "%s")


class Sql:
    """A cursor inside one transaction, speaking ``?`` placeholders on either database."""

    def __init__(self, cursor: DbCursor, dialect: Dialect) -> None:
        self.cursor = cursor
        self.dialect = dialect
        # PostgreSQL in pipeline mode (appends): statements are answered in batches.
        self.pipeline: Any = None

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        if self.dialect is Dialect.POSTGRES:
            self.cursor.execute(_postgres_statement(statement), tuple(params))
        else:
            self.cursor.execute(statement, params)

    @property
    def rowcount(self) -> int:
        """Rows the last statement changed."""
        if self.pipeline is not None:
            self.pipeline.sync()  # a statement's count is known once its result has come back
        raw: Any = getattr(self.cursor, "sqlite_cursor", self.cursor)
        return int(raw.rowcount)

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        for row in rows:
            self.execute(statement, row)

    def all(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        self.execute(statement, params)
        return [self._row(r) for r in self.cursor.fetchall()]

    def one(self, statement: str, params: Sequence[Any] = ()) -> Row | None:
        self.execute(statement, params)
        row = self.cursor.fetchone()
        return None if row is None else self._row(row)

    def scalar(self, statement: str, params: Sequence[Any] = ()) -> Any:
        row = self.one(statement, params)
        return None if row is None else next(iter(row.values()))

    def tuples(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows as plain tuples, values as the driver gives them (SQLite timestamps stay ISO
        text): bulk readers (verify, rebuild) do per-row work that dicts would multiply."""
        if self.dialect is Dialect.POSTGRES:
            # Binary results hand bytea over as bytes, without decoding hex text.
            connection: Any = getattr(self.cursor, "connection")  # noqa: B009
            with connection.cursor(row_factory=tuple_row) as cursor:
                cursor.execute(_postgres_statement(statement), tuple(params), binary=True)
                return list(cursor.fetchall())
        cursor = self.sqlite_connection().cursor()
        cursor.row_factory = None
        try:
            cursor.execute(statement, params)
            rows: list[tuple[Any, ...]] = cursor.fetchall()
            return rows
        finally:
            cursor.close()

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Many rows at once, values in storage form (as a regentrace SQLite database holds
        them): PostgreSQL copies them in, reading ISO 8601 text and 0/1 as the timestamps and
        booleans they stand for; SQLite runs one prepared insert over them."""
        names = ", ".join(columns)
        if self.dialect is Dialect.POSTGRES:
            cursor: Any = self.cursor
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join("?" * len(columns))
        self.sqlite_connection().executemany(
            f"INSERT INTO {table} ({names}) VALUES ({marks})", rows
        )

    def sqlite_connection(self) -> Any:
        """The sqlite3 connection under this cursor (the library wraps the driver's cursor)."""
        raw: Any = getattr(self.cursor, "sqlite_cursor", self.cursor)
        return raw.connection

    def _row(self, raw: Any) -> Row:
        row = dict(raw)
        if self.dialect is Dialect.SQLITE:
            for key in _times(tuple(row)):
                value = row[key]
                if isinstance(value, str):
                    row[key] = datetime.fromisoformat(value)
        return row


@cache
def _times(columns: tuple[str, ...]) -> tuple[str, ...]:
    """The timestamp columns among ``columns`` (their names end in ``_at``)."""
    return tuple(c for c in columns if c.endswith("_at"))
