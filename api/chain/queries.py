"""Queries over donors and batches, at any past moment."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import strawberry

from api.chain.holds import (
    PhysicianNotification,
    PhysicianNotificationConnection,
    PhysicianNotificationFilter,
)
from api.chain.types import Batch, BatchConnection, BatchFilter, Donor
from api.common import AsOf, decode_cursor, page_info, page_size
from api.context import Info
from api.resolve import read
from projections.chain import BatchView, find_batches, find_donor
from projections.hold_views import HoldView, find_notifications, held_clause, holds_of
from projections.sql import Sql

Found = tuple[list[BatchView], dict[str, list[HoldView]]]


def _with_holds(sql: Sql, position: int, views: list[BatchView], moment: datetime) -> Found:
    return views, holds_of(sql, position, [v.batch_id for v in views], moment)


@strawberry.type
class ChainQueries:
    @strawberry.field(description="A donor by pseudonymous code: consent and eligibility.")
    async def donor(self, info: Info, code: strawberry.ID, as_of: AsOf = None) -> Donor | None:
        row = await read(
            info, as_of, lambda sql, pos, reach: find_donor(sql, pos, code, reach=reach)
        )
        return Donor.of(row) if row else None

    @strawberry.field(description="One batch, as it stands now or stood at `asOf`.")
    async def batch(self, info: Info, id: strawberry.ID, as_of: AsOf = None) -> Batch | None:
        moment = as_of or datetime.now(UTC)
        views, holds = await read(
            info,
            as_of,
            lambda sql, pos, reach: _with_holds(
                sql, pos, find_batches(sql, pos, batch_ids=[id], reach=reach), moment
            ),
        )
        return Batch.of(views[0], holds[views[0].batch_id]) if views else None

    @strawberry.field(description="Batches ordered by id, a page at a time.")
    async def batches(
        self,
        info: Info,
        filter: BatchFilter | None = None,
        first: int | None = 50,
        after: str | None = None,
        as_of: AsOf = None,
    ) -> BatchConnection:
        size = page_size(first)
        start = decode_cursor(after)
        f = filter or BatchFilter()
        moment = as_of or datetime.now(UTC)

        def query(sql: Sql, pos: int, reach: tuple[str, ...] | None) -> Found:
            where: list[str] = []
            params: list[Any] = []
            if f.held is not None:
                clause, params = held_clause(pos, moment, "batch_versions.batch_id")
                where = [clause if f.held else f"NOT {clause}"]
            found = find_batches(
                sql,
                pos,
                reach=reach,
                donor_code=f.donor_code,
                status=f.status.value if f.status else None,
                control_site_id=f.control_site_id,
                affected=f.affected,
                after=start,
                limit=size + 1,
                where=where,
                params=params,
            )
            return _with_holds(sql, pos, found, moment)

        found, holds = await read(info, as_of, query)
        nodes = [Batch.of(v, holds[v.batch_id]) for v in found[:size]]
        last = nodes[-1].id if nodes else None
        return BatchConnection(nodes=nodes, page_info=page_info(len(found), size, last))

    @strawberry.field(
        description="Duties to tell the treating physician of hold reasons raised after a "
        "batch was administered, one per batch, ordered by batch id, a page at a time."
    )
    async def physician_notifications(
        self,
        info: Info,
        filter: PhysicianNotificationFilter | None = None,
        first: int | None = 50,
        after: str | None = None,
        as_of: AsOf = None,
    ) -> PhysicianNotificationConnection:
        size, start = page_size(first), decode_cursor(after)
        f = filter or PhysicianNotificationFilter()
        found = await read(
            info,
            as_of,
            lambda sql, pos, reach: find_notifications(
                sql, pos, site_id=f.site_id, open=f.open, after=start, limit=size + 1, reach=reach
            ),
        )
        # One duty per patient given a batch: a page holds whole batches.
        batches = list(dict.fromkeys(v.batch_id for v in found))
        kept = set(batches[:size])
        nodes = [PhysicianNotification.of(v) for v in found if v.batch_id in kept]
        last = nodes[-1].batch_id if nodes else None
        return PhysicianNotificationConnection(
            nodes=nodes, page_info=page_info(len(batches), size, last)
        )
