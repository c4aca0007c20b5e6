"""Versioned projection rows: the one mechanism behind every view that answers ``asOf``.

A view table keeps one row per version of a record, valid from the ledger position that produced
it (``valid_from``) until the position that replaced it (``valid_to``, NULL while current). Every
read first resolves a position P, then keeps the rows with ``valid_from <= P < valid_to``: the
same query answers "now" (P = head) and "as of" any past moment, and a rebuild replays the same
versions at the same positions.
"""

from __future__ import annotations

from typing import Any

from projections.sql import Sql

AS_OF = "valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)"


class VersionedTable:
    def __init__(self, table: str, key: str, columns: tuple[str, ...]) -> None:
        self.table = table
        self.key = key
        self.columns = columns
        # Statements made once: rebuilds run them hundreds of thousands of times.
        names = ", ".join(columns)
        self._current = f"SELECT {names} FROM {table} WHERE {key} = ? AND valid_to IS NULL"
        marks = ", ".join("?" * (len(columns) + 1))
        self._insert = f"INSERT INTO {table} ({names}, valid_from) VALUES ({marks})"

    def current(self, sql: Sql, key: object) -> dict[str, Any] | None:
        return sql.one(self._current, (key,))

    def insert(self, sql: Sql, row: dict[str, Any], position: int) -> None:
        sql.execute(self._insert, (*(row[c] for c in self.columns), position))

    def change(self, sql: Sql, key: object, position: int, **changes: Any) -> None:
        """Close the current version of ``key`` at ``position`` and open one with ``changes``.

        The new version is copied from the current one inside the database, so a change costs
        two statements and no row travels to Python and back (each is a round trip on
        PostgreSQL, and a rebuild makes hundreds of thousands).
        """
        copied = ", ".join("?" if c in changes else c for c in self.columns)
        sql.execute(
            f"INSERT INTO {self.table} ({', '.join(self.columns)}, valid_from)"
            f" SELECT {copied}, ? FROM {self.table} WHERE {self.key} = ? AND valid_to IS NULL",
            (*(changes[c] for c in self.columns if c in changes), position, key),
        )
        assert sql.rowcount == 1, f"{self.table}: {key} has no current version"
        sql.execute(
            f"UPDATE {self.table} SET valid_to = ?"
            f" WHERE {self.key} = ? AND valid_to IS NULL AND valid_from < ?",
            (position, key, position),
        )

    def select(
        self,
        sql: Sql,
        position: int,
        where: list[str] | None = None,
        params: list[Any] | None = None,
        order: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Rows as they stood at ``position``, filtered by extra ``where`` clauses."""
        clauses = [AS_OF, *(where or [])]
        statement = (
            f"SELECT {', '.join(self.columns)} FROM {self.table} WHERE {' AND '.join(clauses)} "
            f"ORDER BY {order or self.key}"
        )
        values: list[Any] = [position, position, *(params or [])]
        if limit is not None:
            statement += " LIMIT ?"
            values.append(limit)
        return sql.all(statement, values)


def equal(**filters: Any) -> tuple[list[str], list[Any]]:
    """``column = ?`` clauses and their values for the filters that are set (not None)."""
    given = {column: value for column, value in filters.items() if value is not None}
    return [f"{column} = ?" for column in given], list(given.values())
