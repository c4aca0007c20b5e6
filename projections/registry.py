"""Which projection handles which event, and the one function that applies an event to them all.

The same code runs inline (in the append transaction) and in a rebuild or replay, which is what
makes rebuilt rows equal live rows.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from projections.ledger import Appended
from projections.sql import Sql

Handler = Callable[[Sql, Appended], None]
Handlers = dict[type, Handler]


@cache
def _modules() -> tuple[tuple[Handlers, tuple[str, ...]], ...]:
    from projections import (
        adverse_events,
        chain,
        corrections,
        lineage,
        scopes,
        sites,
        source_and_flow,
    )

    # Order matters where one view reads another's rows written for the same event
    # (lineage reads a shipment's destination from source_and_flow).
    return tuple(
        (module.HANDLERS, module.TABLES)
        for module in (sites, chain, source_and_flow, lineage, adverse_events, corrections, scopes)
    )


def projection_tables() -> tuple[str, ...]:
    """Every projection table, children before parents (the order to empty them in)."""
    return tuple(table for _, tables in _modules() for table in tables)


@cache
def _handlers_for(event_type: type) -> tuple[Handler, ...]:
    # An event is handled by the handlers registered for its class or any base class, so one
    # handler can serve a family of events (e.g. every site status change).
    found: list[Handler] = []
    for handlers, _ in _modules():
        for cls in event_type.__mro__:
            handler = handlers.get(cls)
            if handler is not None:
                found.append(handler)
    return tuple(found)


def project(sql: Sql, appended: Appended) -> None:
    for handler in _handlers_for(type(appended.event)):
        handler(sql, appended)
