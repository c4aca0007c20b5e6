"""Recorders that append events, the ledger index and the projections in one transaction.

They replace the library's insert path (not its reads): events are inserted, their positions
taken, then the ledger index and every inline projection are written before the commit. Under
PostgreSQL every append holds one advisory lock until it commits, so positions commit in order
and the previous chain link is stable; SQLite serialises writers by itself.

``group()`` holds one write transaction open for several commands (group commit, ADR 10): while
it is open in a thread, every read and append of that thread's recorder runs on the group's
connection (so a command sees what the commands before it saved), each command in a savepoint.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    Notification,
    OperationalError,
    StoredEvent,
)
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
)
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row

from domain.command_ids import CommandKey, OutcomeUnknownError, RecordedCommand
from domain.shared import LedgerEvent
from projections import commands
from projections.ledger import LedgerIndex
from projections.pool_check import ping_when_stale
from projections.registry import project
from projections.sql import Dialect, Sql

log = logging.getLogger("regentrace.store")

# The key of the advisory lock that serialises appends under PostgreSQL (an arbitrary constant).
LEDGER_WRITE_LOCK = 7_140_211_094
APPEND_ATTEMPTS = 3  # on PostgreSQL, when the connection fails
# How long an append whose connection failed while committing keeps asking whether it landed.
CHECK_WITHIN = 8.0

INSERT_EVENT = (
    "INSERT INTO stored_events (originator_id, originator_version, topic, state) "
    "VALUES (?, ?, ?, ?)"
)


def connect_sqlite(path: str, timeout: float = 5.0) -> sqlite3.Connection:
    """A connection of its own to a ledger file: transactions as written (no implicit BEGIN),
    rows by column name."""
    connection = sqlite3.connect(path, isolation_level=None, timeout=timeout)
    connection.row_factory = sqlite3.Row
    return connection


@dataclass(frozen=True)
class LedgerSource:
    """Where a ledger is, in a form another process can open to read it (a rebuild worker)."""

    dialect: Dialect
    location: str  # the SQLite file, or a PostgreSQL connection string

    @contextmanager
    def read(self) -> Iterator[Sql]:
        """A connection of its own, for reading only."""
        if self.dialect is Dialect.SQLITE:
            lite = connect_sqlite(self.location)
            try:
                lite.execute("BEGIN")  # one snapshot for the whole read
                yield Sql(lite.cursor(), Dialect.SQLITE)
            finally:
                lite.close()
            return
        with psycopg.connect(self.location, autocommit=True, row_factory=dict_row) as pg:
            yield Sql(pg.cursor(), Dialect.POSTGRES)


@dataclass
class _Group:
    """A group commit's transaction: its datastore and connection; whether it must roll back."""

    datastore: object
    connection: Any
    rolled_back: bool = False
    steps: int = 0

    def roll_back(self) -> None:
        self.rolled_back = True


# The group commit open in this thread, if any.
_HELD: ContextVar[_Group | None] = ContextVar("held_transaction", default=None)


def _held(datastore: object) -> _Group | None:
    group = _HELD.get()
    return group if group is not None and group.datastore is datastore else None


class _GroupingSQLiteDatastore(SQLiteDatastore):
    """The library's datastore, whose transactions join the group commit open in this thread."""

    @contextmanager
    def transaction(self, *, commit: bool) -> Iterator[SQLiteCursor]:
        group = _held(self)
        if group is None:
            with super().transaction(commit=commit) as cursor:
                yield cursor
            return
        try:  # the library's own transactions raise its errors; so does the group's
            yield SQLiteCursor(group.connection.cursor())
        except sqlite3.IntegrityError as error:
            raise IntegrityError(error) from error
        except sqlite3.OperationalError as error:
            raise OperationalError(error) from error


class _SQLiteSteps:
    def __init__(self, group: _Group) -> None:
        self.group = group

    @contextmanager
    def step(self) -> Iterator[None]:
        self.group.steps += 1
        name = f"step_{self.group.steps}"
        self.group.connection.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self.group.connection.execute(f"ROLLBACK TO {name}")
            self.group.connection.execute(f"RELEASE {name}")
            raise
        self.group.connection.execute(f"RELEASE {name}")

    def roll_back(self) -> None:
        self.group.roll_back()


class _PostgresSteps:
    def __init__(self, group: _Group) -> None:
        self.group = group

    @contextmanager
    def step(self) -> Iterator[None]:
        with self.group.connection.transaction():  # a savepoint within the group's transaction
            yield

    def roll_back(self) -> None:
        self.group.roll_back()


class LedgerRecorder(Protocol):
    """What the rest of regentrace needs from either recorder."""

    dialect: Dialect

    def source(self) -> LedgerSource: ...

    def read(self) -> AbstractContextManager[Sql]: ...

    def write(self) -> AbstractContextManager[Sql]: ...

    def write_in_bulk(self) -> AbstractContextManager[Sql]: ...


def append(
    sql: Sql,
    stored_events: Sequence[StoredEvent],
    positions: Sequence[int],
    domain_events: Sequence[Any],
    read_versions: Mapping[str, int] | None = None,
    command: CommandKey | None = None,
) -> None:
    """Check the command's read set, then write the ledger index, the inline projections and
    the sender's command id (if it gave one)."""
    if read_versions:
        ids = sorted(read_versions)
        latest = dict(
            sql.tuples(
                "SELECT originator_id, MAX(originator_version) FROM stored_events"
                f" WHERE originator_id IN ({', '.join('?' * len(ids))}) GROUP BY originator_id",
                ids,
            )
        )
        for originator_id in ids:
            now, then = latest.get(originator_id), read_versions[originator_id]
            if now != then:
                raise IntegrityError(
                    f"{originator_id} changed (now version {now}, read at {then}) while the "
                    "command was deciding"
                )
    index = LedgerIndex(sql)
    for stored, position, event in zip(stored_events, positions, domain_events, strict=True):
        assert isinstance(event, LedgerEvent), f"{type(event)} is not a LedgerEvent"
        appended = index.append(position, stored.topic, stored.state, event)
        project(sql, appended)
    if command is not None:
        commands.record(sql, command, appended)


class _LedgerReads:
    """What both recorders answer the application by reading the ledger (domain/ledger.py's
    ``CommandLog`` and ``ChangeLog``)."""

    def read(self) -> AbstractContextManager[Sql]:
        raise NotImplementedError

    def find_command(self, principal: str, command_id: str) -> RecordedCommand | None:
        with self.read() as sql:
            return commands.find(sql, principal, command_id)

    def changed_since(self, position: int, limit: int) -> list[tuple[int, str, int]]:
        with self.read() as sql:
            rows = sql.tuples(
                "SELECT notification_id, originator_id, originator_version FROM stored_events"
                " WHERE notification_id > ? ORDER BY notification_id LIMIT ?",
                (position, limit),
            )
        return [(int(p), str(a), int(v)) for p, a, v in rows]


class SQLiteLedgerRecorder(_LedgerReads, SQLiteApplicationRecorder):
    dialect = Dialect.SQLITE

    def __init__(self, datastore: SQLiteDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        datastore.__class__ = _GroupingSQLiteDatastore  # the same pool; joins group commits

    @contextmanager
    def group(self) -> Iterator[_SQLiteSteps]:
        """One write transaction on a connection of its own for the commands run inside
        (ADR 10); other connections keep reading the last commit meanwhile (WAL)."""
        if _HELD.get() is not None:
            raise RuntimeError("a group commit is open already in this thread")
        connection = connect_sqlite(
            self.datastore.pool.db_name, self.datastore.pool.lock_timeout or 5.0
        )
        group = _Group(self.datastore, connection)
        token = _HELD.set(group)
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield _SQLiteSteps(group)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("ROLLBACK" if group.rolled_back else "COMMIT")
        finally:
            _HELD.reset(token)
            connection.close()

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int]:
        with self.write() as sql:
            positions = []
            for s in stored_events:
                sql.execute(
                    INSERT_EVENT, (str(s.originator_id), s.originator_version, s.topic, s.state)
                )
                positions.append(int(sql.cursor.lastrowid))  # type: ignore[attr-defined]
            append(
                sql,
                stored_events,
                positions,
                kwargs["ledger_events"],
                kwargs.get("read_versions"),
                kwargs.get("command"),
            )
        return positions

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        # The library selects ``rowid``; our table names its position column explicitly.
        where: list[str] = ["1 = 1"]
        params: list[object] = []
        if start is not None:
            where.append("notification_id >= ?" if inclusive_of_start else "notification_id > ?")
            params.append(start)
        if stop is not None:
            where.append("notification_id <= ?")
            params.append(stop)
        if topics:
            where.append(f"topic IN ({', '.join('?' * len(topics))})")
            params.extend(topics)
        with self.read() as sql:
            rows = sql.all(
                f"SELECT * FROM stored_events WHERE {' AND '.join(where)} "
                "ORDER BY notification_id LIMIT ?",
                (*params, limit),
            )
        return [
            Notification(
                id=r["notification_id"],
                originator_id=r["originator_id"],
                originator_version=r["originator_version"],
                topic=r["topic"],
                state=r["state"],
            )
            for r in rows
        ]

    @contextmanager
    def read(self) -> Iterator[Sql]:
        with self.datastore.transaction(commit=False) as cursor:
            yield Sql(cursor, Dialect.SQLITE)

    @contextmanager
    def write(self) -> Iterator[Sql]:
        with self.datastore.transaction(commit=True) as cursor:
            yield Sql(cursor, Dialect.SQLITE)

    def source(self) -> LedgerSource:
        return LedgerSource(Dialect.SQLITE, self.datastore.pool.db_name)

    @contextmanager
    def write_in_bulk(self) -> Iterator[Sql]:
        """A write transaction on a connection of its own, closed afterwards: a rebuild may
        ATTACH its scratch file to it (projections/scratch.py), which a pooled connection
        could not DETACH inside the transaction nor keep afterwards."""
        connection = connect_sqlite(
            self.datastore.pool.db_name, self.datastore.pool.lock_timeout or 5.0
        )
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield Sql(connection.cursor(), Dialect.SQLITE)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        finally:
            connection.close()


class LedgerPostgresFactory(PostgresFactory):
    """The library's factory, connecting with every parameter of ``POSTGRES_CONNINFO`` (a libpq
    connection string: sslmode, sslrootcert, options, application_name...), not only the five
    the library reads from its ``POSTGRES_*`` variables. The pool reads its parameters at each
    new connection; it opens later, when the recorder is made."""

    POSTGRES_CONNINFO = "POSTGRES_CONNINFO"

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        conninfo = self.env.get(self.POSTGRES_CONNINFO)
        if conninfo:
            kwargs = self.datastore.pool.kwargs
            assert isinstance(kwargs, dict), "the library passes connection parameters as a dict"
            kwargs.update(conninfo_to_dict(conninfo))


class _GroupingPostgresDatastore(PostgresDatastore):
    """The library's datastore, whose connections are the group commit's in its thread."""

    @contextmanager
    def get_connection(self) -> Iterator[psycopg.Connection[Any]]:
        group = _held(self)
        if group is None:
            with super().get_connection() as conn:
                yield conn
            return
        yield group.connection

    @contextmanager
    def transaction(self, *, commit: bool = False) -> Iterator[psycopg.Cursor[Any]]:
        group = _held(self)
        if group is None:
            with super().transaction(commit=commit) as cursor:
                yield cursor
            return
        yield group.connection.cursor()  # within the group's transaction and its lock


class PostgresLedgerRecorder(_LedgerReads, PostgresApplicationRecorder):
    dialect = Dialect.POSTGRES

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        if datastore.pre_ping:
            ping_when_stale(datastore.pool)
        datastore.__class__ = _GroupingPostgresDatastore  # the same pool; joins group commits

    @contextmanager
    def group(self) -> Iterator[_PostgresSteps]:
        """One transaction, under the ledger lock from its start, for the commands run inside
        (ADR 10). A connection lost while committing leaves the outcome unknown, and says so."""
        if _HELD.get() is not None:
            raise RuntimeError("a group commit is open already in this thread")
        with self.datastore.get_connection() as conn:
            group = _Group(self.datastore, conn)
            token = _HELD.set(group)
            committing = False
            try:
                with conn.transaction():
                    self._lock(conn.cursor())
                    yield _PostgresSteps(group)
                    if group.rolled_back:
                        raise psycopg.Rollback  # ends the block, storing nothing
                    committing = True
            except (psycopg.InterfaceError, psycopg.OperationalError) as error:
                if committing:
                    raise OutcomeUnknownError(None) from error
                raise
            finally:
                _HELD.reset(token)

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int]:
        """Append, trying again on a lost connection, but never storing a command twice.

        A connection lost before COMMIT was sent stored nothing. Lost while committing, the
        append may have landed all the same: the events are looked for before anything else
        happens, and found, they are the answer (ADR 7). Within a group commit there is one
        attempt: the group's transaction is lost with its connection."""
        if _held(self.datastore) is not None:
            return self._insert(stored_events, kwargs, [False])
        for attempt in range(1, APPEND_ATTEMPTS + 1):
            committing = [False]
            try:
                return self._insert(stored_events, kwargs, committing)
            except (InterfaceError, OperationalError):
                if committing[0]:
                    landed = self._landed(stored_events, kwargs.get("command"))
                    log.warning(
                        "the connection was lost while committing an append; it %s",
                        f"landed at {landed}" if landed else "did not land",
                    )
                    if landed is not None:
                        return landed
                if attempt == APPEND_ATTEMPTS:
                    raise
                time.sleep(0.2 * attempt)
        raise AssertionError("unreachable")

    def _insert(
        self, stored_events: Sequence[StoredEvent], kwargs: dict[str, Any], committing: list[bool]
    ) -> list[int]:
        with self._append() as sql:
            positions = []
            for s in stored_events:
                row = sql.one(
                    INSERT_EVENT + " RETURNING notification_id",
                    (str(s.originator_id), s.originator_version, s.topic, s.state),
                )
                assert row is not None
                positions.append(int(row["notification_id"]))
            append(
                sql,
                stored_events,
                positions,
                kwargs["ledger_events"],
                kwargs.get("read_versions"),
                kwargs.get("command"),
            )
            committing[0] = True  # leaving the block sends COMMIT
        return positions

    def _landed(
        self, stored_events: Sequence[StoredEvent], key: CommandKey | None
    ) -> list[int] | None:
        """After a connection lost while committing: the positions of the events if that
        append landed, None if it did not.

        Asked under the ledger lock, which an append holds until its transaction ends, so one
        still running on the server (its client gone) has ended by then: what is not there now
        never will be. The database may be away for a while (a restart); past ``CHECK_WITHIN``
        seconds the outcome is unknown, and said to be."""
        deadline, wait = time.monotonic() + CHECK_WITHIN, 0.25
        while True:
            try:
                with self.write() as sql:
                    return commands.stored_positions(sql, stored_events)
            except (InterfaceError, OperationalError):
                if time.monotonic() + wait > deadline:
                    raise OutcomeUnknownError(key) from None
                time.sleep(wait)
                wait *= 2

    @contextmanager
    def read(self) -> Iterator[Sql]:
        group = _held(self.datastore)
        if group is not None:  # the group's transaction: what its commands saved so far
            yield Sql(group.connection.cursor(), Dialect.POSTGRES)
            return
        # Ends in COMMIT, not ROLLBACK (nothing was written either way): psycopg forgets every
        # prepared statement of the connection on a rollback, and would prepare them all again.
        with self.datastore.get_connection() as conn, conn.transaction():
            yield Sql(conn.cursor(), Dialect.POSTGRES)

    @contextmanager
    def write(self) -> Iterator[Sql]:
        with self.datastore.transaction(commit=True) as cursor:
            if _held(self.datastore) is None:  # a group holds the lock from its start
                self._lock(cursor)
            yield Sql(cursor, Dialect.POSTGRES)

    @contextmanager
    def _append(self) -> Iterator[Sql]:
        """``write`` in pipeline mode, for appends: statements whose results nobody reads (the
        ledger row, most projection rows) go to the server without waiting for each answer, so
        a command costs the round trips of its reads rather than one per statement. Errors are
        raised where results are next read, at the latest when the transaction commits.
        Within a group commit: in the group's transaction (the command's savepoint), under the
        lock the group holds."""
        group = _held(self.datastore)
        if group is not None:
            with group.connection.pipeline() as pipeline:
                sql = Sql(group.connection.cursor(), Dialect.POSTGRES)
                sql.pipeline = pipeline
                yield sql
            return
        with (
            self.datastore.get_connection() as conn,
            conn.pipeline() as pipeline,
            conn.transaction(),
        ):
            cursor = conn.cursor()
            self._lock(cursor)
            sql = Sql(cursor, Dialect.POSTGRES)
            sql.pipeline = pipeline
            yield sql

    def write_in_bulk(self) -> AbstractContextManager[Sql]:
        return self.write()

    def _lock(self, cursor: Any) -> None:
        # Writers queue on one transaction-scoped advisory lock rather than the library's
        # table lock: EXCLUSIVE on the events table would need UPDATE privilege, which the
        # application's role must not have (the ledger is append-only). The lock timeout is
        # set in the same statement (arguments are evaluated in order).
        cursor.execute(
            "SELECT set_config('lock_timeout', %s, true), pg_advisory_xact_lock(%s)",
            (f"{self.datastore.lock_timeout}s", LEDGER_WRITE_LOCK),
        )

    def source(self) -> LedgerSource:
        params = self.datastore.pool.kwargs
        assert isinstance(params, dict), "the library passes connection parameters as a dict"
        # Every libpq parameter the pool connects with (row_factory is psycopg's, not libpq's).
        found = {k: v for k, v in params.items() if k != "row_factory" and v not in (None, "")}
        return LedgerSource(Dialect.POSTGRES, make_conninfo(**found))
