"""EU Union database site links: each decentralised site in the EU against its central site.

The Union database is the EU's register, so it lists decentralised sites under EU jurisdiction;
their supervising authority is the one of the member state where the site is. The link is read
from the site register at the same ledger position, so its status and history are the site's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from projections.sites import SiteView, find_sites
from projections.sql import Sql


@dataclass(frozen=True)
class UnionDatabaseLinkView:
    central_site: SiteView
    decentralised_site: SiteView

    @property
    def supervising_authority(self) -> str:
        return self.decentralised_site.supervising_authority

    @property
    def linked_at(self) -> datetime:
        return self.decentralised_site.registered_at


def find_links(
    sql: Sql, position: int, *, central_site_id: str | None = None, country: str | None = None
) -> list[UnionDatabaseLinkView]:
    spokes = find_sites(
        sql,
        position,
        control_site_id=central_site_id,
        jurisdiction="EU",
        country=country,
        decentralised_only=True,
    )
    central_ids = sorted({s.control_site_id for s in spokes if s.control_site_id})
    centrals = {s.site_id: s for s in find_sites(sql, position, site_ids=central_ids)}
    return [
        UnionDatabaseLinkView(centrals[s.control_site_id], s)
        for s in spokes
        if s.control_site_id in centrals
    ]
