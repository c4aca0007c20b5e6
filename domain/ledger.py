"""What every command mixin shares: loading, committing and attributing.

The application itself (``domain.application.TraceabilityLedger``) composes the mixins.

Rules that span aggregates ("a spoke is activated only while its control site is ACTIVE") are
checked on aggregates the command loaded but does not change. So that a concurrent change to
those cannot slip in between the check and the write, every command runs with a read set: each
aggregate it loads is noted with its version, and the append transaction, under the ledger lock,
refuses (CONFLICT) if any of them has moved on. Commands are serialisable without locking
aggregates they only read.

Within one command, loading an aggregate twice answers the same object: one read of the
database, one version in the read set, and the events it triggers are stored once.

A command its sender identified (``once``, ADR 7) runs at most once per principal and id: the
id goes to the recorder with the events and is stored in their transaction, under a unique key.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar, cast

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.persistence import IntegrityError, PersistenceError, Recording
from eventsourcing.utils import Environment

from domain.command_ids import CommandKey, CommandLog, OutcomeUnknownError, RecordedCommand
from domain.shared import (
    CommandResult,
    ConflictError,
    DomainError,
    LedgerAggregate,
    NotFoundError,
    Principal,
)

A = TypeVar("A", bound=LedgerAggregate)
P = ParamSpec("P")

# The aggregates the running command has loaded, by aggregate id, as loaded.
_READ_SET: ContextVar[dict[str, tuple[LedgerAggregate, int]] | None] = ContextVar(
    "read_set", default=None
)
# The sender's id of the running command, if it gave one (``LedgerApplication.once``).
_COMMAND: ContextVar[CommandKey | None] = ContextVar("command", default=None)


def loaded_versions() -> dict[str, int] | None:
    """The version at which the running command loaded each aggregate (None outside one)."""
    reads = _READ_SET.get()
    return None if reads is None else {k: version for k, (_, version) in reads.items()}


def _with_read_set(method: Callable[P, CommandResult]) -> Callable[P, CommandResult]:
    @functools.wraps(method)
    def run(*args: P.args, **kwargs: P.kwargs) -> CommandResult:
        token = _READ_SET.set({})
        try:
            return method(*args, **kwargs)
        finally:
            _READ_SET.reset(token)

    return run


class LedgerApplication(Application[str]):
    """The eventsourcing Application under every command mixin.

    The environment is passed explicitly (never read from ``os.environ``): the wiring code in
    ``api`` builds it from the one Settings object.
    """

    name = "regentrace"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Every public command (a method answering a CommandResult) gets its own read set.
        for attribute, value in list(vars(cls).items()):
            returns = getattr(value, "__annotations__", {}).get("return")
            if not attribute.startswith("_") and returns in ("CommandResult", CommandResult):
                setattr(cls, attribute, _with_read_set(value))

    def construct_env(self, name: str, env: Mapping[str, str] | None = None) -> Environment:  # noqa: ARG002
        # No name prefix: the events table is ``stored_events`` on both databases, as the
        # migrations create it, and no ``os.environ`` either.
        return Environment("", dict(env or {}))

    def _record(self, processing_event: ProcessingEvent[str]) -> list[Recording[str]]:
        # Hand the domain events to the recorder so it can write the inline projections in the
        # same transaction as the events themselves.
        processing_event.saved_kwargs["ledger_events"] = processing_event.events
        return super()._record(processing_event)

    # ------------------------------------------------------------------- shared by commands

    def load(self, cls: type[A], key: str) -> A:
        reads = _READ_SET.get()
        aggregate_id = cls.ledger_id(key)
        if reads is not None and aggregate_id in reads:
            aggregate: object = reads[aggregate_id][0]
        else:
            try:
                aggregate = self.repository.get(aggregate_id)
            except AggregateNotFoundError:
                raise NotFoundError(f"{cls.TYPE.lower()} {key!r} not found", id=key) from None
        if not isinstance(aggregate, cls):
            raise NotFoundError(f"{cls.TYPE.lower()} {key!r} not found", id=key)
        if reads is not None and aggregate_id not in reads:
            reads[aggregate_id] = (aggregate, aggregate.version)
        return aggregate

    def exists(self, cls: type[LedgerAggregate], key: str) -> bool:
        return cls.ledger_id(key) in self.repository

    def commit(self, *aggregates: LedgerAggregate) -> CommandResult:
        """Store the pending events of ``aggregates`` atomically; answer the last position."""
        written = {a.id for a in aggregates}
        reads = {k: v for k, v in (loaded_versions() or {}).items() if k not in written}
        try:
            recordings = self.save(*aggregates, read_versions=reads, command=_COMMAND.get())
        except IntegrityError as error:
            ids = ", ".join(sorted(a.id for a in aggregates))
            raise ConflictError(
                f"another command changed {ids} (or a record this command relied on) at the "
                "same time; nothing was stored, send the command again",
            ) from error
        loaded = _READ_SET.get()
        if loaded is not None:  # a later load or commit in this command starts from what is stored
            for aggregate in aggregates:
                loaded[aggregate.id] = (aggregate, aggregate.version)
        last = recordings[-1]
        return CommandResult(
            position=int(last.notification.id),
            aggregate_id=str(last.domain_event.originator_id),
            version=last.domain_event.originator_version,
        )

    def once(self, key: CommandKey, run: Callable[[], CommandResult]) -> CommandResult:
        """Run a command its sender identified with ``key``, at most once.

        Kept already: its result (or CONFLICT if the id was used for other content), nothing
        stored. Otherwise the command runs with its key, which commit stores with its events. A
        refusal may come from a duplicate sent at the same moment that won (the unique key on
        the id, or the aggregate it changed first): then the winner's result is the answer.
        """
        earlier = self._recorded(key)
        if earlier is not None:
            return earlier.answer(key)
        token = _COMMAND.set(key)
        try:
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
        finally:
            _COMMAND.reset(token)

    def _recorded(self, key: CommandKey) -> RecordedCommand | None:
        log = cast(CommandLog, self.recorder)  # both recorders keep the commands (ADR 7)
        return log.find_command(key.principal, key.command_id)

    @staticmethod
    def actor(principal: Principal) -> dict[str, Any]:
        return {"actor": principal.id, "actor_role": principal.role}

    def head_position(self) -> int:
        return int(self.recorder.max_notification_id() or 0)
