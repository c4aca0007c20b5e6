"""Queries over the site register and the Union database links, at any past moment."""

from __future__ import annotations

import strawberry

from api.common import AsOf
from api.context import Info
from api.resolve import read
from api.sites.types import Site, UnionDatabaseSiteLink
from domain.site import SiteStatus
from projections.sites import find_sites
from projections.union_database import find_links


@strawberry.type
class SiteQueries:
    @strawberry.field(description="One site, as it stands now or stood at `asOf`.")
    async def site(
        self,
        info: Info,
        id: strawberry.ID,
        as_of: AsOf = None,
    ) -> Site | None:
        found = await read(info, as_of, lambda sql, pos, _: find_sites(sql, pos, site_ids=[id]))
        return Site.of(found[0]) if found else None

    @strawberry.field(description="Sites ordered by id, filtered by control site and status.")
    async def sites(
        self,
        info: Info,
        control_site_id: strawberry.ID | None = None,
        status: SiteStatus | None = None,
        as_of: AsOf = None,
    ) -> list[Site]:
        found = await read(
            info,
            as_of,
            lambda sql, pos, _: find_sites(
                sql,
                pos,
                control_site_id=control_site_id,
                status=status.value if status else None,
            ),
        )
        return [Site.of(s) for s in found]

    @strawberry.field(
        description="EU Union database: each decentralised EU site linked to its central site."
    )
    async def union_database_site_links(
        self,
        info: Info,
        central_site_id: strawberry.ID | None = None,
        country: str | None = None,
        as_of: AsOf = None,
    ) -> list[UnionDatabaseSiteLink]:
        found = await read(
            info,
            as_of,
            lambda sql, pos, _: find_links(
                sql, pos, central_site_id=central_site_id, country=country
            ),
        )
        return [UnionDatabaseSiteLink.of(link) for link in found]
