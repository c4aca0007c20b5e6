"""Queries on PostgreSQL streaming standbys: commands write to the primary, queries read a replica.

The replicas are PostgreSQL's own physical standbys (``pg_basebackup -R``, hot_standby), listed in
REGENTRACE_READ_REPLICAS. A query goes to the next replica in turn (round robin); the command path,
a mutation's answer and every check made before a write read the primary.

Read-your-writes. A standby replays the primary's WAL a little later, so a caller who has just
written may not yet find its write there. Each query therefore carries a *minimum position*: the
last ledger position this caller wrote through this process (kept in memory per principal), or a
higher one the caller names in the ``X-Regentrace-Min-Position`` header (the ``position`` of a
command's answer, e.g. written through another process). A replica serves the query only once its
own ledger holds that position, which is what replay has made visible there; until then the query
polls the replicas with a short backoff, and after REGENTRACE_READ_YOUR_WRITES_TIMEOUT seconds it is
answered by the primary, which always holds every write.

``asOf``. A moment resolves to the last position recorded at or before it. A replica resolves it as
the primary would only when its ledger already holds a later moment (ledger times never go
backwards), so a query about a moment the replica has not yet passed is answered by the primary.

Failover. A replica that cannot be reached or whose connection breaks (down, restarting) is left
out for REGENTRACE_REPLICA_RETRY_SECONDS and the query is answered again by another replica or the
primary; so is a query a replica refuses while its connection holds (cancelled by a recovery
conflict), without leaving the replica out. Queries only read, so answering again is safe.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, TypeVar

import psycopg
from psycopg import pq
from psycopg.rows import dict_row

from api.settings import Database, Settings
from projections.sql import Dialect, Sql

T = TypeVar("T")

MIN_POSITION_HEADER = "x-regentrace-min-position"
PRIMARY = "primary"
# Principals whose last written position is remembered (the least recently writing are forgotten:
# their next query may be answered by a replica that has not replayed their write yet).
REMEMBERED_WRITERS = 100_000
FIRST_WAIT, LONGEST_WAIT = 0.005, 0.1  # seconds between polls of a lagging replica

log = logging.getLogger("regentrace.replicas")


class Replica:
    """One standby: a few idle connections kept, and whether it is left out after a failure."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.name = f"{database.host}:{database.port}/{database.dbname}"
        self.conninfo = database.conninfo
        self.keep = settings.pg_pool_size
        self.connect_timeout = settings.replica_connect_timeout
        self.retry_seconds = settings.replica_retry_seconds
        self.down_until = 0.0
        self._idle: list[psycopg.Connection[dict[str, Any]]] = []
        self._lock = threading.Lock()

    def available(self, now: float) -> bool:
        return now >= self.down_until

    def checkout(self) -> psycopg.Connection[dict[str, Any]]:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        # Rows as dicts, as the library's connections to the primary give them (projections/sql.py).
        return psycopg.connect(
            self.conninfo, connect_timeout=self.connect_timeout, row_factory=dict_row
        )

    def checkin(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        if conn.closed or conn.info.transaction_status != pq.TransactionStatus.IDLE:
            conn.close()
            return
        with self._lock:
            if len(self._idle) < self.keep:
                self._idle.append(conn)
                return
        conn.close()

    def fail(self, error: Exception) -> None:
        """Leave the replica out for a while; its idle connections are as broken as it is."""
        self.down_until = time.monotonic() + self.retry_seconds
        self.close()
        log.warning(
            "read replica %s failed (%s); reads go elsewhere for %ss",
            self.name,
            type(error).__name__,
            self.retry_seconds,
        )

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class WrittenPositions:
    """The last ledger position each principal wrote through this process."""

    def __init__(self, size: int = REMEMBERED_WRITERS) -> None:
        self.size = size
        self._last: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def note(self, principal: str, position: int) -> None:
        with self._lock:
            self._last[principal] = max(position, self._last.pop(principal, 0))
            if len(self._last) > self.size:
                self._last.popitem(last=False)

    def last(self, principal: str) -> int:
        with self._lock:
            return self._last.get(principal, 0)


class ReadRouter:
    """Runs a read on a replica that has replayed what it must see, else on the primary."""

    def __init__(
        self, settings: Settings, primary: Callable[[], AbstractContextManager[Sql]]
    ) -> None:
        self.replicas = [Replica(db, settings) for db in settings.read_replica_databases]
        self.primary = primary
        self.timeout = settings.read_your_writes_timeout
        self.written = WrittenPositions()
        # Reads answered, by replica name or "primary" (what /readyz-style checks and tests see).
        self.served: Counter[str] = Counter()
        self._turn = itertools.count()

    def run(
        self, read: Callable[[Sql], T], min_position: int = 0, as_of: datetime | None = None
    ) -> T:
        """``read(sql)`` on a replica holding ``min_position`` (and every event up to
        ``as_of``), polled until the timeout; on the primary when none does or all fail."""
        deadline = time.monotonic() + self.timeout
        wait = FIRST_WAIT
        while True:
            lagging = False
            for replica in self._in_turn():
                answered, behind, result = self._try(replica, read, min_position, as_of)
                if answered:
                    self.served[replica.name] += 1
                    return result  # type: ignore[return-value]
                lagging = lagging or behind
            remaining = deadline - time.monotonic()
            if not lagging or remaining <= 0:
                break
            time.sleep(min(wait, remaining))
            wait = min(wait * 2, LONGEST_WAIT)
        with self.primary() as sql:
            result = read(sql)
        self.served[PRIMARY] += 1
        return result

    def _in_turn(self) -> Iterator[Replica]:
        """The replicas not left out, starting with the next in turn."""
        if not self.replicas:
            return
        start = next(self._turn) % len(self.replicas)
        now = time.monotonic()
        for replica in self.replicas[start:] + self.replicas[:start]:
            if replica.available(now):
                yield replica

    def _try(
        self,
        replica: Replica,
        read: Callable[[Sql], T],
        min_position: int,
        as_of: datetime | None,
    ) -> tuple[bool, bool, T | None]:
        """(answered, lagging: waiting may help, the answer)."""
        try:
            conn = replica.checkout()
        except psycopg.Error as error:
            replica.fail(error)
            return False, False, None
        try:
            with conn.transaction():
                sql = Sql(conn.cursor(), Dialect.POSTGRES)
                ready, lagging = _holds(sql, min_position, as_of)
                result = read(sql) if ready else None
        except (psycopg.OperationalError, psycopg.InterfaceError) as error:
            if conn.broken or conn.closed:  # the standby is down, restarting or unreachable
                conn.close()
                replica.fail(error)
            else:  # e.g. a query cancelled by a recovery conflict: the standby itself is fine
                log.info(
                    "read replica %s did not answer (%s); answered elsewhere",
                    replica.name,
                    error.sqlstate or type(error).__name__,
                )
            return False, False, None
        finally:
            replica.checkin(conn)
        return ready, lagging, result

    def close(self) -> None:
        for replica in self.replicas:
            replica.close()


def _holds(sql: Sql, min_position: int, as_of: datetime | None) -> tuple[bool, bool]:
    """Whether the replica's ledger holds ``min_position`` and every moment up to ``as_of``:
    (ready, waiting may help). A replica that has passed neither may catch up by replay; one that
    has not passed ``as_of`` waits for the next write, which may never come, so it is not
    waited for."""
    if min_position <= 0 and as_of is None:
        return True, False
    head = sql.one("SELECT position, recorded_at FROM ledger ORDER BY position DESC LIMIT 1")
    position = int(head["position"]) if head else 0
    if position < min_position:
        return False, True
    if as_of is not None and (head is None or head["recorded_at"] <= as_of):
        return False, False
    return True, False


def min_position_hint(value: str | None) -> int:
    """The position named by the X-Regentrace-Min-Position header (0 without one)."""
    if value is None or not value.strip():
        return 0
    text = value.strip()
    if not text.isdigit() or len(text) > 18:
        raise ValueError(
            f"the X-Regentrace-Min-Position header must be a ledger position (a whole number, "
            f"0 or more, such as a command's `position`), not {text[:40]!r}"
        )
    return int(text)
