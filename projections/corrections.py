"""Corrections reach the views: the corrected field takes its new value from the correction's
position on, in whichever view shows it (earlier positions keep showing what was recorded)."""

from __future__ import annotations

from collections.abc import Callable

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


# (corrected event type, field) -> (view, which row, column)
VIEWS: dict[tuple[str, str], tuple[VersionedTable, KeyOf, str]] = {
    ("Site.Registered", "name"): (SITES, _aggregate_key, "name"),
    ("Site.Registered", "contact"): (SITES, _aggregate_key, "contact"),
    ("Site.Registered", "licence_number"): (SITES, _aggregate_key, "licence_number"),
    ("Donation.Recorded", "material"): (DONATIONS, _aggregate_key, "material"),
    ("MaterialLot.Received", "material"): (LOTS, _aggregate_key, "material"),
    ("MaterialLot.Received", "supplier"): (LOTS, _aggregate_key, "supplier"),
    ("Batch.StepRecorded", "operator"): (STEPS, _step_key, "operator"),
    ("Batch.StepRecorded", "equipment"): (STEPS, _step_key, "equipment"),
    ("Shipment.Dispatched", "courier"): (SHIPMENTS, _aggregate_key, "courier"),
    ("AdverseEvent.Reported", "description"): (REPORTS, _aggregate_key, "description"),
}


def _corrected(sql: Sql, a: Appended) -> None:
    e = a.event
    assert isinstance(e, LedgerAggregate.Corrected)
    target = VIEWS.get((e.corrected_event_type, e.field))
    if target is None:
        return
    table, key_of, column = target
    if sql.keeps is None or table.table in sql.keeps:
        table.change(sql, key_of(e), a.position, **{column: e.new_value})


HANDLERS: Handlers = {LedgerAggregate.Corrected: _corrected}
