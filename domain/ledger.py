"""The ledger core every command group works on, and the unit of work a command runs in.

The application (``domain.application.TraceabilityLedger``) is this core plus its command
groups. A command is three pieces of code: the aggregate method that decides and triggers the
event, the group method that checks the input and runs the decision in a unit of work, and
one GraphQL declaration that names the group method by reference (ADR 8).

A command runs in one unit of work: ``with self.ledger.unit_of_work() as uow``, then
``uow.load(...)`` what it needs, let the aggregates decide, ``return uow.save(*changed)``.

Rules that span aggregates ("a spoke is activated only while its control site is ACTIVE") are
checked on aggregates the command loaded but does not change. So that a concurrent change to
those cannot slip in between the check and the write, the unit of work keeps a read set: each
aggregate it loads is noted with its version, and the append transaction, under the ledger lock,
refuses (CONFLICT) if any of them has moved on (ADR 1). Commands are serialisable without
locking aggregates they only read.

Within one unit of work, loading an aggregate twice answers the same object (an identity map):
one read of the database, one version in the read set, and the events it triggers stored once.

A command its sender identified (``once``, ADR 7) runs at most once per principal and id: the
unit of work carries the id to the recorder with the events, which stores it in their
transaction, under a unique key.

Aggregates stay in memory between commands (``SharedRepository``). Rather than the library's
fast-forward, which reads the database once for every aggregate a command loads, a command's
first load asks once which aggregates changed since the last look (``ChangeLog``) and drops
those the cache holds at an older version. Several processes can share the ledger: what another
one wrote is seen at the next command's first load. A copy read (or saved) before a look that
saw a newer event of it is never cached afterwards; a refused command drops what it loaded.

Many commands may share one database transaction (``group_commit``, ADR 10): each still runs
in a unit of work of its own, inside a savepoint, and sees what the ones before it saved;
aggregates are loaded through a repository of the group's own, so nothing the group has not
committed reaches the aggregates other requests load.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from contextvars import ContextVar
from copy import deepcopy
from typing import Any, Protocol, TypeVar, cast

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    Cache,
    LRUCache,
    ProcessingEvent,
    Repository,
    project_aggregate,
)
from eventsourcing.persistence import IntegrityError, PersistenceError, Recording
from eventsourcing.utils import Environment, strtobool

from domain.command_ids import CommandKey, CommandLog, OutcomeUnknownError, RecordedCommand
from domain.recall import Tracer
from domain.shared import (
    CommandResult,
    ConflictError,
    DomainError,
    LedgerAggregate,
    NotFoundError,
    Principal,
    Sealer,
)

A = TypeVar("A", bound=LedgerAggregate)

# The unit of work open in this thread or task, so that a command run under a sender's id
# (``once``) joins the unit of work that carries the id instead of opening its own.
_OPEN: ContextVar[UnitOfWork | None] = ContextVar("unit_of_work", default=None)
# The repository of the group commit open in this thread, if any (``group_commit``).
_GROUP: ContextVar[Repository[str] | None] = ContextVar("group_commit", default=None)
# Aggregates a group keeps in memory between its commands.
GROUP_CACHE_SIZE = 1000
# Events read at most by one look for what changed; beyond it, the whole cache is dropped.
CATCH_UP_LIMIT = 1000
# Aggregates whose latest version the looks remember; beyond it, the whole cache is dropped.
SEEN_LIMIT = 100_000


class GroupTransaction(Protocol):
    """One database transaction several commands share (the recorder's, ADR 10)."""

    def step(self) -> AbstractContextManager[None]:
        """One command's part: undone alone (a savepoint) if it raises."""
        ...

    def roll_back(self) -> None:
        """End the transaction storing nothing of it."""
        ...


class ChangeLog(Protocol):
    """A recorder that tells what was stored after a position (both recorders)."""

    def changed_since(self, position: int, limit: int) -> Sequence[tuple[int, str, int]]:
        """Up to ``limit`` events after ``position``, in order: (position, aggregate id,
        version)."""
        ...


class GroupCommitter(Protocol):
    """A recorder that can hold one transaction open for several commands."""

    def group(self) -> AbstractContextManager[GroupTransaction]: ...


def actor(principal: Principal) -> dict[str, Any]:
    """Who did it, as every event records it."""
    return {"actor": principal.id, "actor_role": principal.role}


class UnitOfWork:
    """One command's reads and its one transaction: load, decide, save."""

    def __init__(self, ledger: LedgerApplication, command: CommandKey | None = None) -> None:
        self.ledger = ledger
        self.command = command  # the sender's id (ADR 7), stored with the events
        self.caught_up = False  # whether the ledger looked for newer events for this command
        # The aggregates loaded so far, by aggregate id, with the version they were read at.
        self._loaded: dict[str, tuple[LedgerAggregate, int]] = {}

    def load(self, cls: type[A], key: str) -> A:
        """The aggregate ``cls`` named ``key`` (NOT_FOUND if there is none), noted as read."""
        aggregate_id = cls.ledger_id(key)
        if aggregate_id in self._loaded:
            aggregate: object = self._loaded[aggregate_id][0]
        else:
            aggregate = self.ledger.get(cls, key)
        if not isinstance(aggregate, cls):
            raise NotFoundError(f"{cls.TYPE.lower()} {key!r} not found", id=key)
        self._loaded.setdefault(aggregate_id, (aggregate, aggregate.version))
        return aggregate

    def exists(self, cls: type[LedgerAggregate], key: str) -> bool:
        return self.ledger.exists(cls, key)

    def loaded_versions(self) -> dict[str, int]:
        """The version at which each aggregate was loaded (or last saved)."""
        return {k: version for k, (_, version) in self._loaded.items()}

    def save(self, *aggregates: LedgerAggregate) -> CommandResult:
        """Store the pending events of ``aggregates`` atomically; answer the last position.

        Refused (CONFLICT, nothing stored) if an aggregate read but not written has moved on.
        """
        written = {a.id for a in aggregates}
        reads = {k: v for k, v in self.loaded_versions().items() if k not in written}
        try:
            recordings = self.ledger.save(*aggregates, read_versions=reads, command=self.command)
        except IntegrityError as error:
            self.ledger.forget(*self._loaded)  # the next command loads them as stored
            ids = ", ".join(sorted(written))
            raise ConflictError(
                f"another command changed {ids} (or a record this command relied on) at the "
                "same time; nothing was stored, send the command again",
            ) from error
        for aggregate in aggregates:  # a later load or save starts from what is stored
            self._loaded[aggregate.id] = (aggregate, aggregate.version)
        last = recordings[-1]
        return CommandResult(
            position=int(last.notification.id),
            aggregate_id=str(last.domain_event.originator_id),
            version=last.domain_event.originator_version,
        )


def _group_repository(ledger: LedgerApplication) -> Repository[str]:
    # Not copied out of the cache: a command that saves leaves the cached aggregate as stored;
    # one that fails leaves the cache behind it (``_Steps.step``). Not fast-forwarded either:
    # the group holds the ledger lock, so its own commands are the only ones that write.
    return Repository(
        event_store=ledger.events,
        cache_maxsize=GROUP_CACHE_SIZE,
        fastforward=False,
        deepcopy_from_cache=False,
    )


class _Steps:
    """A group commit's transaction whose failed steps also drop the aggregates they touched."""

    def __init__(self, group: GroupTransaction, ledger: LedgerApplication) -> None:
        self.group, self.ledger = group, ledger

    @contextmanager
    def step(self) -> Iterator[None]:
        try:
            with self.group.step():
                yield
        except BaseException:
            _GROUP.set(_group_repository(self.ledger))
            raise

    def roll_back(self) -> None:
        self.group.roll_back()


class LedgerApplication(Application[str]):
    """The eventsourcing Application under the command groups.

    The environment is passed explicitly (never read from ``os.environ``): the wiring code in
    ``api`` builds it from the one Settings object.
    """

    name = "regentrace"
    # What some commands need from outside the domain, given by the wiring code: the sealer of
    # donors' personal data (None: personal data is refused) and the lineage tracer that
    # scopes a recall (None: recalls are refused).
    sealer: Sealer | None = None
    tracer: Tracer | None = None

    def construct_env(self, name: str, env: Mapping[str, str] | None = None) -> Environment:  # noqa: ARG002
        # No name prefix: the events table is ``stored_events`` on both databases, as the
        # migrations create it, and no ``os.environ`` either.
        return Environment("", dict(env or {}))

    repository: SharedRepository

    def construct_repository(self) -> SharedRepository:
        """The library's repository with the cache kept by looks (``SharedRepository``); the
        ledger takes no snapshots, and the library's fast-forward is not used."""
        size = self.env.get(self.AGGREGATE_CACHE_MAXSIZE)
        return SharedRepository(
            event_store=self.events,
            cache_maxsize=int(size) if size else None,
            fastforward=False,
            deepcopy_from_cache=strtobool(self.env.get(self.DEEPCOPY_FROM_AGGREGATE_CACHE, "y")),
        )

    def _record(self, processing_event: ProcessingEvent[str]) -> list[Recording[str]]:
        # Hand the domain events to the recorder so it can write the inline projections in the
        # same transaction as the events themselves; then keep the saved aggregates, as stored,
        # where the next command loads them (the open group's repository, or the application's).
        processing_event.saved_kwargs["ledger_events"] = processing_event.events
        group = _GROUP.get()
        epoch = self.repository.epoch
        recordings = self.events.put(
            processing_event.events,
            tracking=processing_event.tracking,
            **processing_event.saved_kwargs,
        )
        for aggregate_id, aggregate in processing_event.aggregates.items():
            if group is None:
                self.repository.keep(aggregate_id, aggregate, epoch)
            elif group.cache is not None:
                group.cache.put(aggregate_id, aggregate)
        return recordings

    @contextmanager
    def unit_of_work(self, command: CommandKey | None = None) -> Iterator[UnitOfWork]:
        """A unit of work for one command; inside ``once``, the one carrying the sender's id."""
        open_now = _OPEN.get()
        if open_now is not None and open_now.ledger is self and command is None:
            yield open_now
            return
        uow = UnitOfWork(self, command)
        token = _OPEN.set(uow)
        try:
            yield uow
        except DomainError:  # refused: what it decided on is read again next time
            self.forget(*uow.loaded_versions())
            raise
        finally:
            _OPEN.reset(token)

    @contextmanager
    def group_commit(self) -> Iterator[GroupTransaction]:
        """One transaction for the commands run inside, each in ``step()`` (ADR 10).

        Committed when the block ends, unless ``roll_back()`` was called or it raised. Commands
        inside load aggregates through a repository of the group's own (with the group's
        uncommitted events); the application's cache never sees them."""
        if _GROUP.get() is not None:
            raise RuntimeError("a group commit is open already in this thread")
        token = _GROUP.set(_group_repository(self))
        try:
            with cast(GroupCommitter, self.recorder).group() as group:
                yield _Steps(group, self)
        finally:
            _GROUP.reset(token)

    @property
    def _aggregates(self) -> Repository[str]:
        """Where aggregates are loaded from: the open group's repository, or the application's."""
        return _GROUP.get() or self.repository

    def _current(self) -> Repository[str]:
        """``_aggregates``, having dropped from the application's cache what changed since the
        last look, once per unit of work (a group's repository holds the ledger lock and sees
        only its own commands: nothing to look for)."""
        group = _GROUP.get()
        if group is not None:
            return group
        uow = _OPEN.get()
        if uow is None or uow.ledger is not self:
            self.repository.look(cast(ChangeLog, self.recorder), self.head_position)
        elif not uow.caught_up:
            self.repository.look(cast(ChangeLog, self.recorder), self.head_position)
            uow.caught_up = True
        return self.repository

    def forget(self, *aggregate_ids: str) -> None:
        """Drop these aggregates from the application's cache (a group's needs no help: a
        failed step drops its whole repository)."""
        if _GROUP.get() is None:
            self.repository.forget(*aggregate_ids)

    def get(self, cls: type[A], key: str) -> A:
        """The aggregate as stored now (NOT_FOUND if there is none); outside any read set."""
        try:
            aggregate: object = self._current().get(cls.ledger_id(key))
        except AggregateNotFoundError:
            raise NotFoundError(f"{cls.TYPE.lower()} {key!r} not found", id=key) from None
        if not isinstance(aggregate, cls):
            raise NotFoundError(f"{cls.TYPE.lower()} {key!r} not found", id=key)
        return aggregate

    def exists(self, cls: type[LedgerAggregate], key: str) -> bool:
        return cls.ledger_id(key) in self._current()

    def once(self, key: CommandKey, run: Callable[[], CommandResult]) -> CommandResult:
        """Run a command its sender identified with ``key``, at most once.

        Kept already: its result (or CONFLICT if the id was used for other content), nothing
        stored. Otherwise the command runs in a unit of work carrying the key, which its save
        stores with the events. A refusal may come from a duplicate sent at the same moment
        that won (the unique key on the id, or the aggregate it changed first): then the
        winner's result is the answer.
        """
        earlier = self._recorded(key)
        if earlier is not None:
            return earlier.answer(key)
        try:
            with self.unit_of_work(command=key):
                return run()
        except OutcomeUnknownError:
            raise  # the database could not be reached just now; the sender is told to retry
        except DomainError as refused:
            try:
                earlier = self._recorded(key)
            except PersistenceError:
                raise refused from None
            if earlier is None:
                raise
            return earlier.answer(key)

    def _recorded(self, key: CommandKey) -> RecordedCommand | None:
        log = cast(CommandLog, self.recorder)  # both recorders keep the commands (ADR 7)
        return log.find_command(key.principal, key.command_id)

    def head_position(self) -> int:
        return int(self.recorder.max_notification_id() or 0)


class SharedRepository(Repository[str]):
    """The application's repository: aggregates cached between commands, kept current by looks.

    A look (``look``, once per command) reads the events stored after the last look and drops
    each cached aggregate older than one of them. Positions become visible in order (every
    append holds the ledger's write lock and continues its hash chain), so an aggregate changed
    since is among those events. The look remembers each aggregate's latest version it saw
    (``seen``), so that a copy read from the database, or saved, before a look passed a newer
    event of it is not cached afterwards (``keep``); an emptied cache starts a new ``epoch``,
    which every copy obtained before it misses too. Everything here is under one lock."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lock = threading.Lock()
        self.position: int | None = None  # the last position looked at (None: not yet)
        self.epoch = 0
        self.seen: dict[str, int] = {}

    def get(self, aggregate_id: str, *, version: int | None = None, **kwargs: Any) -> Any:
        if self.cache is None or version is not None:
            return super().get(aggregate_id, version=version, **kwargs)
        aggregate: Any
        try:
            aggregate = self.cache.get(aggregate_id)
        except KeyError:
            epoch = self.epoch
            aggregate = project_aggregate(None, self.event_store.get(aggregate_id))
            if aggregate is None:
                raise AggregateNotFoundError(aggregate_id) from None
            self.keep(aggregate_id, aggregate, epoch)
        return deepcopy(aggregate) if self.deepcopy_from_cache else aggregate

    def keep(self, aggregate_id: str, aggregate: Any, epoch: int) -> None:
        """Cache ``aggregate``, obtained from the database in ``epoch``, unless a look has seen
        a newer version of it since, or the cache holds one at least as new."""
        if self.cache is None:
            return
        with self.lock:
            if epoch != self.epoch or self.seen.get(aggregate_id, 0) > aggregate.version:
                self._drop(aggregate_id)
                return
            try:
                cached = self.cache.get(aggregate_id)
            except KeyError:
                cached = None
            if cached is None or cached.version < aggregate.version:
                self.cache.put(aggregate_id, aggregate)

    def look(self, log: ChangeLog, head: Callable[[], int]) -> None:
        """Drop each cached aggregate the ledger holds newer events of (module docstring)."""
        if self.cache is None:
            return
        with self.lock:
            if self.position is None:  # the first look: nothing is known of the cache
                self.position = head()
                self._empty()
                return
            since = self.position
        changed = log.changed_since(since, CATCH_UP_LIMIT)
        with self.lock:
            if len(changed) >= CATCH_UP_LIMIT or len(self.seen) > SEEN_LIMIT:
                self._empty()  # far behind, or too much remembered: start again
            else:
                for _, aggregate_id, version in changed:
                    self.seen[aggregate_id] = max(self.seen.get(aggregate_id, 0), version)
                    self._drop_older(aggregate_id, version)
            if changed:
                self.position = max(self.position or 0, int(changed[-1][0]))

    def forget(self, *aggregate_ids: str) -> None:
        with self.lock:
            for aggregate_id in aggregate_ids:
                self._drop(aggregate_id)

    def _empty(self) -> None:
        assert self.cache is not None
        # The library's caches have no way to empty them: a new one, like it.
        self.cache = LRUCache(self.cache.maxsize) if isinstance(self.cache, LRUCache) else Cache()
        self.seen.clear()
        self.epoch += 1

    def _drop_older(self, aggregate_id: str, version: int) -> None:
        assert self.cache is not None
        try:
            cached = self.cache.get(aggregate_id)
        except KeyError:
            return
        if cached.version < version:
            self._drop(aggregate_id)

    def _drop(self, aggregate_id: str) -> None:
        if self.cache is not None:
            with suppress(KeyError):
                self.cache.get(aggregate_id, evict=True)
