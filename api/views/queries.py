"""Queries regulators and recall investigators ask, each answerable as of any past moment."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
import strawberry
from strawberry.types.nodes import SelectedField

from api.common import AsOf, decode_cursor, page_info, page_size
from api.context import Info
from api.errors import from_domain
from api.resolve import ledger, read
from api.sites.types import Site
from api.views.recall_types import RecallFilter
from api.views.types import (
    AdverseEvent,
    AdverseEventFilter,
    DmMasterFile,
    Recall,
    RecallConnection,
    RecallTrace,
    SourceAndFlowConnection,
    SourceAndFlowFilter,
    SourceAndFlowRecord,
    TraceDirection,
    TraceOrigin,
)
from api.vigilance import ReportableDeviation
from domain.recall import TraceOrigin as DomainTraceOrigin
from domain.shared import DomainError
from projections.adverse_events import find_adverse_events
from projections.hold_views import HoldView, holds_of
from projections.lineage import trace
from projections.recalls import find_recalls
from projections.scopes import Reach, cut_trace
from projections.sites import find_sites
from projections.source_and_flow import SourceAndFlowView, find_records
from projections.sql import Sql
from projections.vigilance import find_reportable_deviations

Found = tuple[list[SourceAndFlowView], dict[str, list[HoldView]]]


def _with_holds(sql: Sql, p: int, found: list[SourceAndFlowView], moment: datetime) -> Found:
    return found, holds_of(sql, p, [r.batch.batch_id for r in found], moment)


async def checked_origin(info: Info, origin: TraceOrigin) -> DomainTraceOrigin:
    window = origin.window
    try:
        return await anyio.to_thread.run_sync(
            lambda: ledger(info).recalls.trace_origin(
                origin.kind.value,
                origin.id,
                window.from_ if window else None,
                window.to if window else None,
            )
        )
    except DomainError as error:
        raise from_domain(error) from error


@strawberry.type
class ViewQueries:
    @strawberry.field(description="Taiwan source-and-flow record (來源及流向) of one batch.")
    async def source_and_flow(
        self, info: Info, batch_id: strawberry.ID, as_of: AsOf = None
    ) -> SourceAndFlowRecord | None:
        moment = as_of or datetime.now(UTC)
        found, holds = await read(
            info,
            as_of,
            lambda sql, p, reach: _with_holds(
                sql, p, find_records(sql, p, batch_ids=[batch_id], reach=reach), moment
            ),
        )
        return SourceAndFlowRecord.of(found[0], holds[found[0].batch.batch_id]) if found else None

    @strawberry.field(description="Source-and-flow records ordered by batch id, a page at a time.")
    async def source_and_flow_records(
        self,
        info: Info,
        filter: SourceAndFlowFilter | None = None,
        first: int | None = 50,
        after: str | None = None,
        as_of: AsOf = None,
    ) -> SourceAndFlowConnection:
        size, start, f = page_size(first), decode_cursor(after), filter or SourceAndFlowFilter()
        moment = as_of or datetime.now(UTC)
        found, holds = await read(
            info,
            as_of,
            lambda sql, p, reach: _with_holds(
                sql,
                p,
                find_records(
                    sql,
                    p,
                    reach=reach,
                    donor_code=f.donor_code,
                    site_id=f.site_id,
                    product=f.product,
                    licence_number=f.licence_number,
                    released_from=f.released_from,
                    released_to=f.released_to,
                    after=start,
                    limit=size + 1,
                ),
                moment,
            ),
        )
        nodes = [SourceAndFlowRecord.of(r, holds[r.batch.batch_id]) for r in found[:size]]
        last = nodes[-1].batch_id if nodes else None
        return SourceAndFlowConnection(nodes=nodes, page_info=page_info(len(found), size, last))

    @strawberry.field(description="Adverse reactions with deadlines and what is overdue.")
    async def adverse_events(
        self, info: Info, filter: AdverseEventFilter | None = None, as_of: AsOf = None
    ) -> list[AdverseEvent]:
        f = filter or AdverseEventFilter()
        moment = as_of or datetime.now(UTC)

        def query(sql, p, reach):  # type: ignore[no-untyped-def]
            views = find_adverse_events(
                sql,
                p,
                moment,
                batch_id=f.batch_id,
                site_id=f.site_id,
                control_site_id=f.control_site_id,
                overdue=f.overdue,
                reach=reach,
            )
            sites = find_sites(sql, p, site_ids=sorted({v.reported_by_site_id for v in views}))
            return views, {s.site_id: s for s in sites}

        views, sites = await read(info, as_of, query)
        return [AdverseEvent.of(v, sites) for v in views]

    @strawberry.field(
        description="UK decentralised-manufacturing master file: the control site's sites with "
        "their status history, and the adverse-reaction reports sent to it."
    )
    async def dm_master_file(
        self, info: Info, control_site_id: strawberry.ID, as_of: AsOf = None
    ) -> DmMasterFile | None:
        moment = as_of or datetime.now(UTC)

        def query(sql, p, reach):  # type: ignore[no-untyped-def]
            control = find_sites(sql, p, site_ids=[control_site_id])
            if not control or control[0].kind != "CONTROL_SITE":
                return None
            spokes = find_sites(sql, p, control_site_id=control_site_id)
            reports = find_adverse_events(
                sql, p, moment, control_site_id=control_site_id, reach=reach
            )
            reporters = find_sites(
                sql, p, site_ids=sorted({r.reported_by_site_id for r in reports})
            )
            kept["recalls"] = master_file_recalls(
                sql, p, moment, (control_site_id, *(s.site_id for s in spokes)), reach
            )
            deviations = find_reportable_deviations(
                sql, p, moment, control_site_id=control_site_id, reach=reach
            )
            return control[0], spokes, reports, {s.site_id: s for s in reporters}, deviations

        kept: dict[str, list[Recall]] = {}  # read in the same moment as the rest
        found = await read(info, as_of, query)
        if found is None:
            return None
        control, spokes, reports, reporters, deviations = found
        return DmMasterFile(
            control_site=Site.of(control),
            recalls=kept["recalls"],
            sites=[Site.of(s) for s in spokes],
            adverse_reaction_reports=[AdverseEvent.of(r, reporters) for r in reports],
            reportable_deviations=[ReportableDeviation.of(d) for d in deviations],
        )

    @strawberry.field(
        description="A recall as it stands (or stood at `asOf`): its class, notifications, "
        "units, actions, extensions, reports, effectiveness checks and progress; the parts "
        "your reach allows."
    )
    async def recall(self, info: Info, id: strawberry.ID, as_of: AsOf = None) -> Recall | None:
        found = await read_recalls(info, as_of, recall_ids=[str(id)], details=True)
        return found[0] if found else None

    @strawberry.field(
        description="Recalls ordered by id, a page at a time, with their progress; filter by "
        "status, a notified site, or whether an acknowledgement is overdue (now or at `asOf`)."
    )
    async def recalls(
        self,
        info: Info,
        filter: RecallFilter | None = None,
        first: int | None = 50,
        after: str | None = None,
        as_of: AsOf = None,
    ) -> RecallConnection:
        size, start, f = page_size(first), decode_cursor(after), filter or RecallFilter()
        found = await read_recalls(
            info,
            as_of,
            status=f.status.value if f.status else None,
            site_id=f.site_id,
            overdue=f.overdue,
            after=start,
            limit=size + 1,
            details=True,
        )
        nodes = found[:size]
        last = str(nodes[-1].id) if nodes else None
        return RecallConnection(nodes=nodes, page_info=page_info(len(found), size, last))

    @strawberry.field(
        description="Lineage from any node: FORWARD (what it reached), BACKWARD (what it came "
        "from) or BOTH. A SITE origin with a window: what was made or handled there then."
    )
    async def recall_trace(
        self,
        info: Info,
        origin: TraceOrigin,
        direction: TraceDirection = TraceDirection.FORWARD,
        as_of: AsOf = None,
    ) -> RecallTrace:
        checked = await checked_origin(info, origin)
        edges = selects(info, "edges")
        try:
            found = await read(
                info,
                as_of,
                lambda sql, p, reach: trace(sql, p, checked, direction.value, edges, reach=reach),
            )
        except DomainError as error:  # an origin beyond the caller's reach: NOT_FOUND
            raise from_domain(error) from error
        return RecallTrace.of(found)


def master_file_recalls(
    sql: Sql, p: int, moment: datetime, site_ids: tuple[str, ...], reach: Reach | None
) -> list[Recall]:
    """The recalls of a master file's sites, as ``reach`` shows them."""
    views = find_recalls(sql, p, moment, reach=reach, touching=site_ids, details=True)
    return [
        Recall.of(v, lambda kind, key, trace: cut_trace(sql, reach, trace, (kind, key)))
        for v in views
    ]


async def read_recalls(info: Info, as_of: datetime | None, **query: Any) -> list[Recall]:
    """Recalls as the caller's reach shows them, at the head or at ``as_of``."""
    moment = as_of or datetime.now(UTC)

    def build(sql: Sql, p: int, reach: Reach | None) -> list[Recall]:
        views = find_recalls(sql, p, moment, reach=reach, **query)
        return [
            Recall.of(v, lambda kind, key, trace: cut_trace(sql, reach, trace, (kind, key)))
            for v in views
        ]

    return await read(info, as_of, build)


def selects(info: Info, name: str) -> bool:
    """Whether the query asks for field ``name`` of this resolver's answer (assumed so when a
    fragment hides it): a recall's scope needs no edges, and a wide trace has thousands."""
    for field in info.selected_fields:
        for selection in field.selections:
            if not isinstance(selection, SelectedField) or selection.name == name:
                return True
    return False
