"""Custody from vein to vein (issue 18, item 2): the timeline of a batch (with its starting
material's legs), one container of it, a donation or a material lot, as of any moment."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from api.common import AsOf
from api.context import Info
from api.resolve import read
from projections.custody import CustodyEntry as Entry
from projections.custody import custody_timeline
from projections.scopes import Reach
from projections.sql import Sql


@strawberry.enum(description="what a custody timeline is of")
class CustodySubject(Enum):
    BATCH = "BATCH"
    DONATION = "DONATION"
    MATERIAL_LOT = "MATERIAL_LOT"


@strawberry.type(
    description="One fact of custody: a dispatch, a hand-over, a temperature read on the way, "
    "a receipt, the start or end of a storage period"
)
class CustodyEntry:
    subject_kind: CustodySubject
    subject_id: strawberry.ID
    container_id: strawberry.ID | None
    kind: str = strawberry.field(
        description="DISPATCHED, HANDED_OVER, TEMPERATURE, RECEIVED, STORED or STORAGE_ENDED"
    )
    at: datetime
    site_id: strawberry.ID | None = strawberry.field(
        description="where: the site dispatched from, received at, stored at, or taking custody"
    )
    to_site_id: strawberry.ID | None = strawberry.field(description="a dispatch's destination")
    custodian: str | None = strawberry.field(description="the courier or custodian of the leg")
    location: str | None = strawberry.field(description="the storage location, for storage")
    leg_id: strawberry.ID | None = strawberry.field(
        description="the shipment, transfer or storage period the fact belongs to"
    )
    detail: str | None
    position: int

    @classmethod
    def of(cls, e: Entry) -> CustodyEntry:
        return cls(
            subject_kind=CustodySubject(e.subject_kind),
            subject_id=strawberry.ID(e.subject_id),
            container_id=strawberry.ID(e.container_id) if e.container_id else None,
            kind=e.kind,
            at=e.occurred_at,
            site_id=strawberry.ID(e.site_id) if e.site_id else None,
            to_site_id=strawberry.ID(e.to_site_id) if e.to_site_id else None,
            custodian=e.custodian,
            location=e.location,
            leg_id=strawberry.ID(e.leg_id) if e.leg_id else None,
            detail=e.detail,
            position=e.position,
        )


@strawberry.type
class CustodyQueries:
    @strawberry.field(
        description="The custody timeline of a batch (its legs, hand-overs, receipts and "
        "storage, with the legs of the donation it was made from), of one container of it, of a "
        "donation or of a material lot, in time order; null when not within reach."
    )
    async def custody_timeline(
        self,
        info: Info,
        id: strawberry.ID,
        subject: CustodySubject = CustodySubject.BATCH,
        container_id: strawberry.ID | None = None,
        as_of: AsOf = None,
    ) -> list[CustodyEntry] | None:
        def query(sql: Sql, p: int, reach: Reach | None) -> list[Entry] | None:
            return custody_timeline(
                sql,
                p,
                subject.value,
                str(id),
                str(container_id) if container_id else None,
                reach=reach,
            )

        found = await read(info, as_of, query)
        return None if found is None else [CustodyEntry.of(e) for e in found]
