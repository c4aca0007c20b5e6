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


def rewrite_chain(service: Regentrace, after: int = 0) -> None:
    """Recompute every link after position ``after`` from the events as they now stand, as an
    insider covering an edit would: the chain then holds again."""
    from projections.ledger import GENESIS_HASH, chain_hash

    with service.read() as sql:
        rows = sql.all(
            "SELECT l.position, l.hash, l.recorded_at, e.originator_id, e.originator_version,"
            " e.topic, e.state FROM ledger l JOIN stored_events e"
            " ON e.notification_id = l.position ORDER BY l.position"
        )
    prev = next((r["hash"] for r in reversed(rows) if r["position"] <= after), GENESIS_HASH)
    for row in (r for r in rows if r["position"] > after):
        prev = chain_hash(
            prev,
            int(row["position"]),
            row["originator_id"],
            int(row["originator_version"]),
            row["topic"],
            row["recorded_at"],
            bytes(row["state"]),
        )
        tamper(service, "UPDATE ledger SET hash = ? WHERE position = ?", (prev, row["position"]))
