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

Aggregates stay in memory between commands (the library's cache). Rather than the library's
fast-forward, which reads the database once for every aggregate a command loads, a command's
first load asks once which aggregates changed since the last look (``ChangeLog``) and drops
those the cache holds at an older version; a command refused as a conflict drops what it
loaded too. Several processes can share the ledger: what another one wrote is seen at the next
command's first load.

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
from typing import Any, Protocol, TypeVar, cast

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    Cache,
    LRUCache,
    ProcessingEvent,
    Repository,
)
from eventsourcing.persistence import IntegrityError, PersistenceError, Recording
from eventsourcing.utils import Environment

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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The position up to which the aggregate cache holds no older version of an aggregate
        # than the ledger (None: not looked yet), and what guards it.
        self._caught_up_to: int | None = None
        self._catch_up_lock = threading.Lock()

    def _record(self, processing_event: ProcessingEvent[str]) -> list[Recording[str]]:
        # Hand the domain events to the recorder so it can write the inline projections in the
        # same transaction as the events themselves; then keep the saved aggregates, as stored,
        # where the next command loads them (the open group's repository, or the application's).
        processing_event.saved_kwargs["ledger_events"] = processing_event.events
        recordings = self.events.put(
            processing_event.events,
            tracking=processing_event.tracking,
            **processing_event.saved_kwargs,
        )
        cache = self._aggregates.cache
        if cache is not None:
            for aggregate_id, aggregate in processing_event.aggregates.items():
                cache.put(aggregate_id, aggregate)
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
            self._catch_up()
        elif not uow.caught_up:
            self._catch_up()
            uow.caught_up = True
        return self.repository

    def _catch_up(self) -> None:
        """Drop each cached aggregate that the ledger holds newer events of.

        Positions become visible in order (every append holds the ledger's write lock and
        continues its hash chain), so an aggregate changed after the last look is among the
        events after it. One read answers for every aggregate the command will load."""
        cache = self.repository.cache
        if cache is None:
            return
        with self._catch_up_lock:
            since = self._caught_up_to
        if since is None:  # first look: nothing is known of what the cache holds
            head = self.head_position()
            self.repository.cache = _emptied(cache)
            self._advance(head)
            return
        changed = cast(ChangeLog, self.recorder).changed_since(since, CATCH_UP_LIMIT)
        if len(changed) >= CATCH_UP_LIMIT:  # far behind: start again from the database
            self.repository.cache = _emptied(cache)
        else:
            for _, aggregate_id, version in changed:
                _drop_older(cache, aggregate_id, version)
        if changed:
            self._advance(int(changed[-1][0]))

    def _advance(self, position: int) -> None:
        with self._catch_up_lock:
            self._caught_up_to = max(self._caught_up_to or 0, position)

    def forget(self, *aggregate_ids: str) -> None:
        """Drop these aggregates from the application's cache (a group's needs no help: a
        failed step drops its whole repository)."""
        cache = self.repository.cache
        if cache is None or _GROUP.get() is not None:
            return
        for aggregate_id in aggregate_ids:
            with suppress(KeyError):
                cache.get(aggregate_id, evict=True)

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


def _emptied(cache: Cache[str, Any]) -> Cache[str, Any]:
    """A new empty cache like ``cache`` (the library's caches have no way to empty them)."""
    return LRUCache(cache.maxsize) if isinstance(cache, LRUCache) else Cache()


def _drop_older(cache: Cache[str, Any], aggregate_id: str, version: int) -> None:
    """Drop the cached aggregate if it is older than ``version``."""
    try:
        cached = cache.get(aggregate_id)
    except KeyError:
        return
    if cached.version < version:
        with suppress(KeyError):  # another thread may have dropped it meanwhile
            cache.get(aggregate_id, evict=True)
