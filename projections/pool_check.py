"""Pooled PostgreSQL connections checked before use only when the server has spoken."""

from __future__ import annotations

import select
from typing import Any

from psycopg import Connection
from psycopg import OperationalError as PsycopgOperationalError
from psycopg_pool import ConnectionPool


def ping_when_stale(pool: ConnectionPool[Any]) -> None:
    """Check a pooled connection before use only when its socket has something to say.

    An idle connection's socket stays silent until the server speaks: when PostgreSQL restarts
    or ends the session, it sends an error and closes, and the socket turns readable. So instead
    of a round trip before every transaction (the library's pre-ping), a zero-timeout ``select``
    decides whether the round trip is needed. A connection found dead is replaced by the pool;
    since the server has most likely ended every other session too, the whole pool is checked
    at once, rather than one dead connection per request after ever longer back-offs.
    """
    assert hasattr(pool, "_check"), "psycopg_pool no longer keeps its check where expected"

    def check(conn: Connection[Any]) -> None:
        if conn.closed or conn.broken:
            raise PsycopgOperationalError("the connection is closed")
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
        if not readable:
            return
        try:
            ConnectionPool.check_connection(conn)
        except PsycopgOperationalError:
            pool.check()  # the idle ones: the dead are discarded and new ones opened
            raise

    pool._check = check
