"""What every command mixin shares: loading, committing and attributing.

The application itself (``domain.application.TraceabilityLedger``) composes the mixins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.persistence import IntegrityError, Recording
from eventsourcing.utils import Environment

from domain.shared import (
    CommandResult,
    ConflictError,
    LedgerAggregate,
    NotFoundError,
    Principal,
)

A = TypeVar("A", bound=LedgerAggregate)


class LedgerApplication(Application[str]):
    """The eventsourcing Application under every command mixin.

    The environment is passed explicitly (never read from ``os.environ``): the wiring code in
    ``api`` builds it from the one Settings object.
    """

    name = "regentrace"

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
        try:
            aggregate: object = self.repository.get(cls.ledger_id(key))
        except AggregateNotFoundError:
            raise NotFoundError(f"{cls.TYPE.lower()} {key!r} not found", id=key) from None
        if not isinstance(aggregate, cls):
            raise NotFoundError(f"{cls.TYPE.lower()} {key!r} not found", id=key)
        return aggregate

    def exists(self, cls: type[LedgerAggregate], key: str) -> bool:
        return cls.ledger_id(key) in self.repository

    def commit(self, *aggregates: LedgerAggregate) -> CommandResult:
        """Store the pending events of ``aggregates`` atomically; answer the last position."""
        try:
            recordings = self.save(*aggregates)
        except IntegrityError as error:
            raise ConflictError(
                "another command changed the same record at the same time; reload and try again",
                cause=str(error),
            ) from error
        last = recordings[-1]
        return CommandResult(
            position=int(last.notification.id),
            aggregate_id=str(last.domain_event.originator_id),
            version=last.domain_event.originator_version,
        )

    @staticmethod
    def actor(principal: Principal) -> dict[str, Any]:
        return {"actor": principal.id, "actor_role": principal.role}

    def head_position(self) -> int:
        return int(self.recorder.max_notification_id() or 0)
