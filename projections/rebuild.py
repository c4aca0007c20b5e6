"""Rebuild every projection from the ledger, through the same code that writes them inline.

The ledger is read in position order in batches (never loaded whole), inside one write
transaction: under PostgreSQL the events table stays locked, so no command lands half-way. The
handlers write into a scratch SQLite file (projections/scratch.py), whose rows are then copied
into the emptied projection tables in bulk, still inside that transaction.

A large ledger is projected by two worker processes at once, one per share of the projections
(``registry.SHARES``): each reads the ledger up to the same position on a connection of its own,
projects its share into a scratch file of its own, and the rebuilding transaction copies both in.
A small one is projected in this process, where starting workers would cost more than they save.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import tempfile
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from functools import partial
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import resolve_topic

from domain.shared import LedgerEvent
from projections.ledger import Appended, LedgerIndex
from projections.read_ahead import read_ahead
from projections.registry import SHARES, project, projection_tables
from projections.scratch import Scratch, copy_file_into
from projections.sql import Dialect, Sql
from projections.store import LedgerRecorder, LedgerSource

Progress = Callable[[int, int], None]

BATCH = 5000
PROGRESS_EVERY = 5000
# From this many events on, a rebuild projects in worker processes (measured: below it, starting
# them costs more than they save).
WORKERS_FROM = 20_000
EVENTS = (
    "SELECT l.position, l.recorded_at, e.originator_id, e.originator_version, e.topic, e.state"
    " FROM ledger l JOIN stored_events e ON e.notification_id = l.position"
    " WHERE l.position > ? AND l.position <= ? ORDER BY l.position"
)


def read_ledger(
    sql: Sql,
    mapper: Mapper[Any],
    until: int,
    batch_size: int | None = None,
    wanted: Callable[[type], bool] | None = None,
    on_read: Callable[[int], None] | None = None,
) -> Iterator[Appended]:
    """Every event up to position ``until``, in order, with its ledger time; with ``wanted``,
    only the events of the classes it accepts (the others are not even decoded). ``on_read`` is
    told how many events each batch held.

    Batches are ranges of positions, so each query's work is bounded whatever its plan; on
    PostgreSQL the next is read and decoded while the caller projects this one, and nothing else
    may use ``sql`` meanwhile."""
    size = batch_size or BATCH
    batches = read_ahead(
        (
            partial(_read_batch, sql, mapper, low, min(low + size, until), wanted)
            for low in range(0, until, size)
        ),
        sql.dialect,
    )
    for count, batch in batches:
        if on_read is not None:
            on_read(count)
        yield from batch


def _read_batch(
    sql: Sql, mapper: Mapper[Any], low: int, high: int, wanted: Callable[[type], bool] | None
) -> tuple[int, list[Appended]]:
    found = []
    rows = sql.tuples(EVENTS, (low, high))
    for position, at, originator_id, version, topic, state in rows:
        if wanted is not None and not wanted(resolve_topic(topic)):
            continue
        event = mapper.to_domain_event(StoredEvent(originator_id, version, topic, bytes(state)))
        assert isinstance(event, LedgerEvent)
        # SQLite keeps ledger time as ISO 8601 text.
        recorded_at = datetime.fromisoformat(at) if isinstance(at, str) else at
        found.append(Appended(int(position), recorded_at, event))
    return len(rows), found


def rebuild(
    recorder: LedgerRecorder,
    mapper: Mapper[Any],
    progress: Progress = lambda _d, _t: None,
    workers: int | None = None,
) -> int:
    """Empty every projection table and replay the whole ledger into them; answer the count.

    ``workers``: 1 projects in this process; more projects the shares in worker processes;
    None decides by the ledger's size and the machine's cores."""
    tables = projection_tables()
    with recorder.write_in_bulk() as sql:
        # Emptied first: under SQLite that takes the write lock before anything else is read.
        for table in tables:
            sql.execute(f"DELETE FROM {table}")
        if sql.dialect is Dialect.POSTGRES:
            # The transaction waits on this process while the ledger is projected elsewhere;
            # that must not look like an abandoned session to the server.
            sql.execute("SET LOCAL idle_in_transaction_session_timeout = '30min'")
        head = LedgerIndex(sql).position_at(None)
        total = int(sql.scalar("SELECT COUNT(*) FROM ledger"))
        if use_workers(total, workers):
            with Workers(recorder.source(), mapper, head, total, progress) as running:
                done = running.finish(sql)
        else:
            done = project_here(sql, mapper, head, total, progress)
        progress(done, total)
    return done


def project_here(sql: Sql, mapper: Mapper[Any], head: int, total: int, progress: Progress) -> int:
    """Project the ledger up to ``head``, read through ``sql``, in this process, and write the
    views into ``sql``'s open write transaction (their tables empty); answer the count. The
    caller's transaction decides: what it wrote before (a replay's copied events) and the views
    commit together, or nothing does."""
    with Scratch() as scratch:
        done = _project(read_ledger(sql, mapper, head), scratch.sql, progress, total)
        scratch.copy_into(sql, projection_tables())
    return done


def _project(events: Iterable[Appended], sql: Sql, progress: Progress, total: int) -> int:
    done = 0
    for appended in events:
        project(sql, appended)
        done += 1
        if done % PROGRESS_EVERY == 0:
            progress(done, total)
    return done


class Workers:
    """The shares projected by worker processes into scratch files of their own, started on
    entry, each reading the ledger at ``source`` up to ``head``; ``finish`` waits for them and
    copies their rows into the target. Progress reports what the slower worker has done."""

    def __init__(
        self, source: LedgerSource, mapper: Mapper[Any], head: int, total: int, progress: Progress
    ) -> None:
        self.total, self.progress = total, progress
        context = multiprocessing.get_context("spawn")  # no inherited threads, pools or sockets
        self.finished: multiprocessing.Queue[tuple[int, int, str | None]] = context.Queue()
        self.counters = [context.Value("q", 0, lock=False) for _ in SHARES]
        self.folder = tempfile.TemporaryDirectory(prefix="regentrace-rebuild-")
        self.folders = [str(Path(self.folder.name) / f"share-{n}") for n in range(len(SHARES))]
        self.processes = [
            context.Process(
                target=_work,
                args=(n, source, mapper, head, self.folders[n], self.counters[n], self.finished),
                name=f"regentrace-rebuild-{n}",
                daemon=True,
            )
            for n in range(len(SHARES))
        ]

    def __enter__(self) -> Workers:
        for process in self.processes:
            process.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:
            if process.is_alive():
                process.terminate()
            process.join()
        self.folder.cleanup()

    def finish(self, target: Sql) -> int:
        """Wait for every worker, copy each one's tables into ``target``; answer the count of
        events each read."""
        counts = _wait(self.processes, self.finished, self.counters, self.progress, self.total)
        assert len(set(counts)) == 1, f"the workers read different numbers of events: {counts}"
        for n, share in enumerate(SHARES):
            owned = [t for t in projection_tables() if t in share.tables]
            path = str(Path(self.folders[n]) / "projections.sqlite3")
            copy_file_into(path, target, owned, alias=f"scratch_{n}")
        return counts[0]


def use_workers(total: int, workers: int | None = None) -> bool:
    """Whether to project in worker processes: as asked, else for a large ledger on a machine
    with more than one core."""
    if workers is not None:
        return workers > 1
    return total >= WORKERS_FROM and (os.cpu_count() or 1) > 1


def _wait(
    processes: Sequence[BaseProcess],
    finished: multiprocessing.Queue[tuple[int, int, str | None]],
    counters: list[Any],
    progress: Progress,
    total: int,
) -> list[int]:
    counts: dict[int, int] = {}
    reported = 0
    while len(counts) < len(processes):
        try:
            share, count, failure = finished.get(timeout=0.5)
        except queue.Empty:
            dead = [p.name for p in processes if not p.is_alive() and p.exitcode != 0]
            if dead:
                raise RuntimeError(f"rebuild worker {', '.join(dead)} died") from None
        else:
            if failure is not None:
                raise RuntimeError(f"rebuild worker {share} failed:\n{failure}")
            counts[share] = count
        slowest = min(int(c.value) for c in counters)
        if slowest - reported >= PROGRESS_EVERY:
            reported = slowest
            progress(slowest, total)
    return [counts[n] for n in range(len(processes))]


def _work(
    n: int,
    source: LedgerSource,
    mapper: Mapper[Any],
    head: int,
    folder: str,
    counter: Any,
    finished: multiprocessing.Queue[tuple[int, int, str | None]],
) -> None:
    """A worker process: project share ``n`` of the ledger up to ``head`` into ``folder``."""
    try:
        share = SHARES[n]
        Path(folder).mkdir()
        with source.read() as sql, Scratch(folder) as scratch:

            def read(count: int) -> None:
                counter.value += count

            events = read_ledger(sql, mapper, head, wanted=share.handles, on_read=read)
            for appended in events:
                share.project(scratch.sql, appended)
            scratch.finish()
        count = int(counter.value)
        finished.put((n, count, None))
    except BaseException:  # reported to the rebuilding process, which fails the rebuild
        finished.put((n, 0, traceback.format_exc()))
