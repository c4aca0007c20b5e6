"""The projections, which of them handles which event, and the one function that applies an
event to them all; built from what each projection module declares (``PROJECTION``,
projections/projection.py), none of which imports this module.

The same code runs inline (in the append transaction) and in a rebuild or replay, which is what
makes rebuilt rows equal live rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from projections import (
    adverse_events,
    chain,
    corrections,
    custody,
    holds,
    institution_records,
    lineage,
    recalls,
    scopes,
    sites,
    source_and_flow,
    vigilance,
)
from projections.ledger import Appended
from projections.projection import Handler, Projection
from projections.sql import Sql

# Order matters where one view reads another's rows written for the same event
# (lineage reads a shipment's destination from source_and_flow).
PROJECTIONS: tuple[Projection, ...] = tuple(
    module.PROJECTION
    for module in (
        sites,
        chain,
        source_and_flow,
        lineage,
        adverse_events,
        corrections,
        scopes,
        holds,
        institution_records,
        recalls,
        vigilance,
        custody,
    )
)
BY_NAME = {projection.name: projection for projection in PROJECTIONS}


def projection_tables() -> tuple[str, ...]:
    """Every projection table, children before parents (the order to empty them in)."""
    return tuple(table for projection in PROJECTIONS for table in projection.tables)


@dataclass(frozen=True)
class Share:
    """The part of the projections one rebuild worker builds (projections/rebuild.py, ADR 6).

    It owns the tables of the projections it names and runs their handlers. It also runs the
    handlers another projection declares it borrows rows from (``Projection.borrows``) when
    that one is not in the share, and the handlers that amend a table it owns
    (``Projection.amends``: corrections). Borrowed rows stay in the worker's scratch file: only
    owned tables are copied. tests/integration/test_bulk_paths.py checks that the shares
    together rebuild what one process does.
    """

    projections: tuple[str, ...]

    @property
    def tables(self) -> frozenset[str]:
        return frozenset(t for name in self.projections for t in BY_NAME[name].tables)

    @property
    def borrowed(self) -> frozenset[tuple[str, str]]:
        """(projection, aggregate type) whose handlers run here for the rows they write."""
        return frozenset(
            (lender, aggregate.__name__)
            for name in self.projections
            for lender, aggregate in BY_NAME[name].borrows
            if lender not in self.projections
        )

    def runs(self, projection: Projection, handled: type, aggregate: str) -> bool:
        """Whether this share runs ``projection``'s handler of ``handled`` for an event of
        ``aggregate``."""
        if projection.name in self.projections or (projection.name, aggregate) in self.borrowed:
            return True
        return projection.amends.get(handled) in self.tables

    def handles(self, event_type: type) -> bool:
        return bool(_handlers_for(event_type, self))

    def project(self, sql: Sql, appended: Appended) -> None:
        for handler in _handlers_for(type(appended.event), self):
            handler(sql, appended)


# Two shares of about equal work (2 cores): the chain's and the sites' views, the access
# scopes and recalls (which read only their own tables); source-and-flow, lineage and holds
# (lineage reads shipments from source-and-flow, and source-and-flow a batch's collection site
# from the chain's donations; holds read only their own tables). Corrections own no table:
# they run where the table they amend is built.
SHARES = (
    Share(("sites", "chain", "adverse_events", "scopes", "recalls", "custody")),
    Share(("source_and_flow", "lineage", "holds", "vigilance", "institution_records")),
)


def _check_declarations() -> None:
    """What the projections name of each other exists, and every table is built by one share;
    wrong here, at import, rather than a rebuild that silently leaves rows out."""
    tables = projection_tables()
    for projection in PROJECTIONS:
        for lender, _ in projection.borrows:
            if lender not in BY_NAME:
                raise LookupError(f"{projection.name} borrows from no projection {lender!r}")
        for amended in projection.amends.values():
            if amended not in tables:
                raise LookupError(f"{projection.name} amends no projection table {amended!r}")
    named = [name for share in SHARES for name in share.projections]
    owning = [p.name for p in PROJECTIONS if p.tables]
    if sorted(named) != sorted(owning):
        raise LookupError(f"the shares name {sorted(named)}, the tables are {sorted(owning)}")


_check_declarations()


@cache
def _handlers_for(event_type: type, share: Share | None = None) -> tuple[Handler, ...]:
    # An event is handled by the handlers registered for its class or any base class, so one
    # handler can serve a family of events (e.g. every site status change).
    aggregate = event_type.__qualname__.split(".", 1)[0]
    found: list[Handler] = []
    for projection in PROJECTIONS:
        for cls in event_type.__mro__:
            handler = projection.handles.get(cls)
            if handler is None:
                continue
            if share is None or share.runs(projection, cls, aggregate):
                found.append(handler)
    return tuple(found)


def project(sql: Sql, appended: Appended) -> None:
    for handler in _handlers_for(type(appended.event)):
        handler(sql, appended)
