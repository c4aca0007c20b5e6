"""Corrections reach the views: the corrected field takes its new value from the correction's
position on, in whichever view shows it (earlier positions keep showing what was recorded)."""

from __future__ import annotations

from collections.abc import Callable

from domain import reference
from domain.adverse_event import AdverseEvent
from domain.batch import Batch
from domain.donation import Donation
from domain.material_lot import MaterialLot
from domain.shared import LedgerAggregate
from domain.shipment import Shipment
from domain.site import Site
from projections.adverse_events import REPORTS
from projections.chain import DONATIONS, LOTS
from projections.ledger import Appended
from projections.projection import Projection
from projections.sites import SITES
from projections.source_and_flow import SHIPMENTS, STEPS
from projections.sql import Sql
from projections.versioned import VersionedTable

KeyOf = Callable[[LedgerAggregate.Corrected], object]


def _aggregate_key(e: LedgerAggregate.Corrected) -> object:
    return e.originator_id.split(":", 1)[1]


def _step_key(e: LedgerAggregate.Corrected) -> object:
    return e.corrected_position


# Corrected event type -> (the view that shows its fields, which row, the aggregate whose
# Corrected events correct it). The corrected fields are those domain/data/correctable_fields.json
# lists; each is the view's column of the same name.
VIEWS: dict[str, tuple[VersionedTable, KeyOf, type[LedgerAggregate]]] = {
    "Site.Registered": (SITES, _aggregate_key, Site),
    "Donation.Recorded": (DONATIONS, _aggregate_key, Donation),
    "MaterialLot.Received": (LOTS, _aggregate_key, MaterialLot),
    "Batch.StepRecorded": (STEPS, _step_key, Batch),
    "Shipment.Dispatched": (SHIPMENTS, _aggregate_key, Shipment),
    "AdverseEvent.Reported": (REPORTS, _aggregate_key, AdverseEvent),
}


def _shown_fields() -> dict[tuple[str, str], tuple[VersionedTable, KeyOf]]:
    """(event type, field) -> where it is shown; a correctable field a view lacks is an error
    here, at import, not a correction that silently never reaches the view."""
    shown: dict[tuple[str, str], tuple[VersionedTable, KeyOf]] = {}
    for event_type, (table, key_of, _) in VIEWS.items():
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
    table.change(sql, key_of(e), a.position, **{e.field: e.new_value})


# Corrections own no table: each aggregate's corrections amend the one view that shows its
# events, so a rebuild worker applies them where that view is built (projections/registry.py).
PROJECTION = Projection(
    name="corrections",
    tables=(),
    handles={aggregate.Corrected: _corrected for _, _, aggregate in VIEWS.values()},
    amends={aggregate.Corrected: table.table for table, _, aggregate in VIEWS.values()},
)
