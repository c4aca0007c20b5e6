"""Correcting a recorded fact without editing it (21 CFR Part 11, EU GMP Annex 11).

A correction is a new event on the same record naming the position it corrects, the field, the old
and the new value, the reason and who corrected it. Only descriptive fields can be corrected: a
field that decided a rule (a QC result's pass/fail, a time a rule was checked against, an
identifier other records point to) is not re-written after the fact; the remedy there is a new
fact (a new QC result, a deviation, a recall).
"""

from __future__ import annotations

import re
from typing import Any

from domain import reference
from domain.ledger import LedgerApplication, actor
from domain.shared import (
    BadInputError,
    CommandResult,
    LedgerAggregate,
    LedgerEvent,
    NotFoundError,
    Principal,
    RuleViolationError,
    aggregate_type_of,
    require_text,
    utcnow,
)

BASE_FIELDS = frozenset(
    {
        "originator_id",
        "originator_version",
        "timestamp",
        "actor",
        "actor_role",
        "originator_topic",
        "occurred_at",
    }
)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name.strip()).lower()


def _correctable_fields(event_type: type[LedgerEvent]) -> frozenset[str] | None:
    """What domain/data/correctable_fields.json allows for this event type (or a type it
    extends), None when it names the type nowhere."""
    listed = reference.correctable_fields()
    names = (c.__qualname__ for c in event_type.__mro__)
    return next((listed[name] for name in names if name in listed), None)


def _aggregate_classes() -> dict[str, type[LedgerAggregate]]:
    found: dict[str, type[LedgerAggregate]] = {}
    pending = list(LedgerAggregate.__subclasses__())
    while pending:
        cls = pending.pop()
        found[cls.TYPE] = cls
        pending.extend(cls.__subclasses__())
    return found


class CorrectionCommands:
    """Corrections of recorded facts, each a new event naming the one it corrects."""

    def __init__(self, ledger: LedgerApplication) -> None:
        self.ledger = ledger

    def correct_event(
        self, principal: Principal, position: int, field: str, new_value: Any, reason: str
    ) -> CommandResult:
        reason = require_text(reason, "reason")
        field = _snake(require_text(field, "field"))
        event = self._event_at(position)
        correction_of = None
        if isinstance(event, LedgerAggregate.Corrected):
            if field != "new_value":
                raise BadInputError(
                    "a correction is corrected in its newValue; give field: newValue",
                    field="field",
                )
            correction_of, position, field = position, event.corrected_position, event.field
            event = self._event_at(position)
        original = self._correctable(event, field)
        cls = _aggregate_classes()[aggregate_type_of(event.originator_id)]
        with self.ledger.unit_of_work() as uow:
            aggregate = uow.load(cls, event.originator_id.split(":", 1)[1])
            old_value = aggregate.corrections.get((position, field), original)
            self._check_value(field, old_value, new_value)
            aggregate.trigger_event(
                aggregate.Corrected,
                corrected_position=position,
                corrected_event_type=type(event).__qualname__,
                field=field,
                old_value=old_value,
                new_value=new_value,
                reason=reason,
                correction_of=correction_of,
                occurred_at=utcnow(),
                **actor(principal),
            )
            return uow.save(aggregate)

    def _event_at(self, position: int) -> LedgerEvent:
        found = self.ledger.recorder.select_notifications(start=position, limit=1, stop=position)
        if not found or found[0].id != position:
            raise NotFoundError(f"no event at ledger position {position}", position=position)
        event = self.ledger.mapper.to_domain_event(found[0])
        assert isinstance(event, LedgerEvent)
        return event

    @staticmethod
    def _correctable(event: LedgerEvent, field: str) -> Any:
        fields = sorted(set(vars(event)) - BASE_FIELDS)
        if field not in fields:
            raise BadInputError(
                f"{type(event).__qualname__} has no field {field!r}; its fields are "
                f"{', '.join(fields)}",
                field="field",
            )
        allowed = _correctable_fields(type(event))
        if not allowed or field not in allowed:
            raise RuleViolationError(
                f"{field!r} of {type(event).__qualname__} is not corrected after the fact: it "
                "identifies the record or decided a rule; record a new fact instead (a new QC "
                "result, a deviation, a recall)"
                + (f". Correctable here: {', '.join(sorted(allowed))}" if allowed else ""),
                field="field",
            )
        return getattr(event, field)

    @staticmethod
    def _check_value(field: str, old_value: Any, new_value: Any) -> None:
        if not isinstance(new_value, str) or not new_value.strip():
            raise BadInputError(f"newValue for {field!r} must be non-blank text", field="newValue")
        if new_value == old_value:
            raise BadInputError(
                f"newValue equals the value in force for {field!r}; nothing to correct",
                field="newValue",
            )
