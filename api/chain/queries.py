"""Queries over donors and batches, at any past moment."""

from __future__ import annotations

import strawberry

from api.chain.types import Batch, BatchConnection, BatchFilter, Donor
from api.common import AsOf, decode_cursor, page_info, page_size
from api.context import Info
from api.resolve import read
from projections.chain import find_batches, find_donor


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
        found = await read(
            info, as_of, lambda sql, pos, reach: find_batches(sql, pos, batch_ids=[id], reach=reach)
        )
        return Batch.of(found[0]) if found else None

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
        found = await read(
            info,
            as_of,
            lambda sql, pos, reach: find_batches(
                sql,
                pos,
                reach=reach,
                donor_code=f.donor_code,
                status=f.status.value if f.status else None,
                control_site_id=f.control_site_id,
                affected=f.affected,
                after=start,
                limit=size + 1,
            ),
        )
        nodes = [Batch.of(v) for v in found[:size]]
        last = nodes[-1].id if nodes else None
        return BatchConnection(nodes=nodes, page_info=page_info(len(found), size, last))
