"""The one place that turns Settings into a running ledger (and its database tables)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TypeVar, cast

from api.privacy import AesGcmSealer
from api.replicas import ReadRouter
from api.settings import Database, Settings
from domain.application import TraceabilityLedger
from domain.recall import Trace, TraceOrigin
from migrations import runner
from projections import lineage
from projections.ledger import LedgerIndex
from projections.sql import Sql
from projections.store import LedgerRecorder

Report = Callable[[str], None]
T = TypeVar("T")


def ledger_env(settings: Settings) -> dict[str, str]:
    db = settings.database
    env = {
        "ORIGINATOR_ID_TYPE": "text",
        "CREATE_TABLE": "n",  # migrations own every table
        "TRANSCODER_TOPIC": "projections.codec:OrjsonTranscoder",
        "MAPPER_TOPIC": "projections.codec:TypedMapper",
        # Aggregates stay in memory between commands. Not fast-forwarded one by one: a command's
        # first load drops from the cache whatever changed since the last look, in one read, so
        # several processes can share the ledger (domain/ledger.py).
        "AGGREGATE_CACHE_MAXSIZE": str(settings.aggregate_cache_size),
        "AGGREGATE_CACHE_FASTFORWARD": "n",
    }
    if db.dialect == "sqlite":
        env |= {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": db.path,
            "SQLITE_LOCK_TIMEOUT": str(settings.sqlite_lock_timeout),
            "APPLICATION_RECORDER_TOPIC": "projections.store:SQLiteLedgerRecorder",
        }
    else:
        env |= {
            # The library's factory, given every parameter of the URL (sslmode, options...).
            "PERSISTENCE_MODULE": "projections.store:LedgerPostgresFactory",
            "POSTGRES_CONNINFO": db.conninfo,
            "POSTGRES_DBNAME": db.dbname,
            "POSTGRES_HOST": db.host,
            "POSTGRES_PORT": str(db.port),
            "POSTGRES_USER": db.user,
            "POSTGRES_PASSWORD": db.password,
            "POSTGRES_POOL_SIZE": str(settings.pg_pool_size),
            "POSTGRES_MAX_OVERFLOW": str(settings.pg_max_overflow),
            "POSTGRES_LOCK_TIMEOUT": str(settings.pg_lock_timeout),
            "POSTGRES_PRE_PING": "y",  # survive a database restart
            "POSTGRES_CONNECT_TIMEOUT": "5",
            "APPLICATION_RECORDER_TOPIC": "projections.store:PostgresLedgerRecorder",
        }
    return env


def migrate(db: Database, report: Report = lambda _: None) -> list[runner.Migration]:
    if db.dialect == "sqlite":
        return runner.migrate_sqlite(db.path, report)
    return runner.migrate_postgres(db.conninfo, report)


class Regentrace:
    """The running ledger: commands through ``app``, reads through ``read()`` (the primary) and
    queries through ``query()`` (a read replica when there are any, api/replicas.py)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = TraceabilityLedger(env=ledger_env(settings))
        self.app.sealer = AesGcmSealer(settings.personal_data_key_list)
        self.app.tracer = LedgerTracer(self)
        self.replicas = ReadRouter(settings, self.read) if settings.read_replicas.strip() else None

    @property
    def recorder(self) -> LedgerRecorder:
        return cast(LedgerRecorder, self.app.recorder)

    def read(self) -> AbstractContextManager[Sql]:
        return self.recorder.read()

    def query(
        self, read: Callable[[Sql], T], min_position: int = 0, as_of: datetime | None = None
    ) -> T:
        """``read(sql)`` for a query: on a replica that has replayed ``min_position`` (and every
        event up to ``as_of``) when replicas are configured, else on the primary."""
        if self.replicas is None:
            with self.read() as sql:
                return read(sql)
        return self.replicas.run(read, min_position, as_of)

    def note_written(self, principal: str, position: int) -> None:
        """Remember the caller's last write, so its next query waits for a replica to hold it."""
        if self.replicas is not None:
            self.replicas.written.note(principal, position)

    def last_written(self, principal: str) -> int:
        return 0 if self.replicas is None else self.replicas.written.last(principal)

    def close(self) -> None:
        if self.replicas is not None:
            self.replicas.close()
        self.app.close()


class LedgerTracer:
    """Traces lineage over the projections at the ledger head, for commands that need one."""

    def __init__(self, service: Regentrace) -> None:
        self.service = service

    def trace(self, origin: TraceOrigin, direction: str) -> Trace:
        with self.service.read() as sql:
            # The whole trace: a recall reaches every batch its origin reached, and keeps it.
            position = LedgerIndex(sql).position_at(None)
            return lineage.trace(sql, position, origin, direction, reach=None)
