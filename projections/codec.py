"""How events become bytes in the ledger, and back.

``OrjsonTranscoder`` writes compact JSON with sorted keys, so the stored state of an event is a
canonical serialisation that the hash chain can cover. orjson has no object hook, so the
``TypedMapper`` restores Python types after decoding, from the event class's own annotations:
events are contracts with explicit typed fields, and those fields say what to rebuild.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Any

import orjson
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if isinstance(obj, Enum):
        return obj.value
    raise TypeError(f"cannot store {type(obj).__name__} in an event")


class OrjsonTranscoder(Transcoder):
    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(obj, default=_default, option=orjson.OPT_SORT_KEYS)

    def decode(self, data: bytes) -> Any:
        return orjson.loads(data)


Coercer = Callable[[Any], Any]


def _coercer_for(annotation: Any) -> Coercer | None:
    """How to turn a decoded JSON value back into ``annotation``; None when it already is."""
    origin = typing.get_origin(annotation)
    if annotation is datetime:
        return datetime.fromisoformat
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        coercers = [_coercer_for(a) for a in inner]
        if len(inner) == 1 and coercers[0] is not None:
            only = coercers[0]
            return lambda v: None if v is None else only(v)
        return None
    if origin is tuple:
        args = typing.get_args(annotation)
        item = _coercer_for(args[0]) if args else None
        if item is None:
            return tuple
        return lambda v: tuple(item(x) for x in v)
    return None


@cache
def _coercers(cls: type) -> dict[str, Coercer]:
    hints = typing.get_type_hints(cls)
    found = {name: _coercer_for(hint) for name, hint in hints.items()}
    return {name: c for name, c in found.items() if c is not None}


class TypedMapper(Mapper[str]):
    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[str]:
        event = super().to_domain_event(stored_event)
        state = event.__dict__
        for name, coerce in _coercers(type(event)).items():
            if name in state:
                state[name] = coerce(state[name])
        return event
