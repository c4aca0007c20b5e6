"""One way to speak SQL to both databases.

Statements are written once with ``?`` placeholders. On PostgreSQL they are rewritten to psycopg's
``%s``. Timestamps go in and come out as ``datetime``: SQLite stores them as ISO 8601
text in UTC with microseconds (so text order is time order), and columns whose names end in ``_at``
are parsed back on the way out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import Any, Protocol


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


@cache
def _postgres_statement(statement: str) -> str:
    return statement.replace("%", "%%").replace("?", "%s")


class Sql:
    """A cursor inside one transaction, speaking ``?`` placeholders on either database."""

    def __init__(self, cursor: DbCursor, dialect: Dialect) -> None:
        self.cursor = cursor
        self.dialect = dialect

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        if self.dialect is Dialect.POSTGRES:
            self.cursor.execute(_postgres_statement(statement), tuple(params))
        else:
            self.cursor.execute(statement, tuple(self._sqlite_param(p) for p in params))

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

    @staticmethod
    def _sqlite_param(value: Any) -> Any:
        return iso_utc(value) if isinstance(value, datetime) else value

    def _row(self, raw: Any) -> Row:
        row = dict(raw)
        if self.dialect is Dialect.SQLITE:
            for key, value in row.items():
                if key.endswith("_at") and isinstance(value, str):
                    row[key] = datetime.fromisoformat(value)
        return row
