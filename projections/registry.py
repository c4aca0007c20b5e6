"""Which projection handles which event, and the one function that applies an event to them all.

The same code runs inline (in the append transaction) and in a rebuild or replay, which is what
makes rebuilt rows equal live rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from projections.ledger import Appended
from projections.sql import Sql

Handler = Callable[[Sql, Appended], None]
Handlers = dict[type, Handler]


@cache
def _modules() -> tuple[tuple[str, Handlers, tuple[str, ...]], ...]:
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
        (module.__name__.rsplit(".", 1)[1], module.HANDLERS, module.TABLES)
        for module in (sites, chain, source_and_flow, lineage, adverse_events, corrections, scopes)
    )


def projection_tables() -> tuple[str, ...]:
    """Every projection table, children before parents (the order to empty them in)."""
    return tuple(table for _, _, tables in _modules() for table in tables)


@dataclass(frozen=True)
class Share:
    """The part of the projections one rebuild worker builds (projections/rebuild.py).

    It owns the tables of ``modules`` and runs their handlers; from another module it also runs
    the handlers of one aggregate's events where its own handlers read the rows they write
    (``reads``: (module, aggregate type)). Those borrowed rows stay in the worker's scratch file:
    only owned tables are copied, and a correction applies only where its table is owned.
    tests/integration/test_bulk_paths.py checks that the shares together rebuild what one
    process does.
    """

    modules: tuple[str, ...]
    reads: tuple[tuple[str, str], ...] = ()

    @property
    def tables(self) -> frozenset[str]:
        return frozenset(
            t for name, _, tables in _modules() if name in self.modules for t in tables
        )

    def handles(self, event_type: type) -> bool:
        return bool(_handlers_for(event_type, self))

    def project(self, sql: Sql, appended: Appended) -> None:
        for handler in _handlers_for(type(appended.event), self):
            handler(sql, appended)


# Two shares of about equal work (2 cores): the chain's and the sites' views and the access
# scopes; source-and-flow and lineage (lineage reads shipments from source-and-flow, and
# source-and-flow a batch's collection site from the chain's donations).
SHARES = (
    Share(("sites", "chain", "adverse_events", "corrections", "scopes")),
    Share(("source_and_flow", "lineage", "corrections"), reads=(("chain", "Donation"),)),
)


@cache
def _handlers_for(event_type: type, share: Share | None = None) -> tuple[Handler, ...]:
    # An event is handled by the handlers registered for its class or any base class, so one
    # handler can serve a family of events (e.g. every site status change).
    aggregate = event_type.__qualname__.split(".", 1)[0]
    found: list[Handler] = []
    for name, handlers, _ in _modules():
        if share is not None and name not in share.modules and (name, aggregate) not in share.reads:
            continue
        for cls in event_type.__mro__:
            handler = handlers.get(cls)
            if handler is not None:
                found.append(handler)
    return tuple(found)


def project(sql: Sql, appended: Appended) -> None:
    for handler in _handlers_for(type(appended.event)):
        handler(sql, appended)
