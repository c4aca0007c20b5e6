"""Corrections reach the views: the corrected field takes its new value from the correction's
position on, in whichever view shows it (earlier positions keep showing what was recorded)."""

from __future__ import annotations

from collections.abc import Callable

from domain import reference
from domain.shared import LedgerAggregate
from projections.adverse_events import REPORTS
from projections.chain import DONATIONS, LOTS
from projections.ledger import Appended
from projections.registry import Handlers
from projections.sites import SITES
from projections.source_and_flow import SHIPMENTS, STEPS
from projections.sql import Sql
from projections.versioned import VersionedTable

TABLES: tuple[str, ...] = ()

KeyOf = Callable[[LedgerAggregate.Corrected], object]


def _aggregate_key(e: LedgerAggregate.Corrected) -> object:
    return e.originator_id.split(":", 1)[1]


def _step_key(e: LedgerAggregate.Corrected) -> object:
    return e.corrected_position


# Corrected event type -> (the view that shows its fields, which row). The corrected fields are
# those domain/data/correctable_fields.json lists; each is the view's column of the same name.
VIEWS: dict[str, tuple[VersionedTable, KeyOf]] = {
    "Site.Registered": (SITES, _aggregate_key),
    "Donation.Recorded": (DONATIONS, _aggregate_key),
    "MaterialLot.Received": (LOTS, _aggregate_key),
    "Batch.StepRecorded": (STEPS, _step_key),
    "Shipment.Dispatched": (SHIPMENTS, _aggregate_key),
    "AdverseEvent.Reported": (REPORTS, _aggregate_key),
}


def _shown_fields() -> dict[tuple[str, str], tuple[VersionedTable, KeyOf]]:
    """(event type, field) -> where it is shown; a correctable field a view lacks is an error
    here, at import, not a correction that silently never reaches the view."""
    shown: dict[tuple[str, str], tuple[VersionedTable, KeyOf]] = {}
    for event_type, (table, key_of) in VIEWS.items():
        fields = reference.correctable_fields().get(event_type, frozenset())
        missing = sorted(fields - set(table.columns))
        if missing:
            raise LookupError(f"{table.table} has no column for {event_type} {missing}")
        shown.update({(event_type, field): (table, key_of) for field in fields})
    return shown


SHOWN = _shown_fields()


def _corrected(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, LedgerAggregate.Corrected)
    target = SHOWN.get((e.corrected_event_type, e.field))
    if target is None:
        return
    table, key_of = target
    if sql.keeps is None or table.table in sql.keeps:
        table.change(sql, key_of(e), a.position, **{e.field: e.new_value})


HANDLERS: Handlers = {LedgerAggregate.Corrected: _corrected}
