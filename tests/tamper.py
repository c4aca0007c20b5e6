"""Altering the ledger behind regentrace's back, as only a database owner or superuser could.

The ledger tables refuse UPDATE and DELETE (migration 0005); tamper tests need to get past that
the way an insider would: on PostgreSQL a superuser switches triggers off for the session, on
SQLite the file's owner drops the trigger and puts it back afterwards.
"""

from __future__ import annotations

from typing import Any

from api.wiring import Regentrace
from projections.sql import Dialect


def tamper(service: Regentrace, statement: str, params: tuple[Any, ...] = ()) -> None:
    with service.recorder.write() as sql:
        if sql.dialect is Dialect.POSTGRES:
            sql.execute("SET LOCAL session_replication_role = replica")
            sql.execute(statement, params)
            return
        triggers = sql.all("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
        for trigger in triggers:
            sql.execute(f"DROP TRIGGER {trigger['name']}")
        sql.execute(statement, params)
        for trigger in triggers:
            sql.execute(trigger["sql"])
