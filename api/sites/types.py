"""GraphQL types of the site register and the EU Union database links."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.common import Jurisdiction
from domain.site import SiteKind, SiteStatus
from projections.sites import SiteView, StatusChangeView
from projections.union_database import UnionDatabaseLinkView

# The domain's own enums are the GraphQL enums: one list of kinds and statuses, not two.
strawberry.enum(SiteKind)
strawberry.enum(SiteStatus)


@strawberry.type
class SiteStatusChange:
    status: SiteStatus
    at: datetime = strawberry.field(description="when the change took effect (business time)")
    reason: str | None
    actor: str
    position: int = strawberry.field(description="ledger position of the event")
    actor_role: str
    recorded_at: datetime = strawberry.field(description="when the ledger recorded it")

    @classmethod
    def of(cls, view: StatusChangeView) -> SiteStatusChange:
        return cls(
            status=SiteStatus(view.status),
            at=view.at,
            reason=view.reason,
            actor=view.actor,
            position=view.position,
            actor_role=view.actor_role,
            recorded_at=view.recorded_at,
        )


@strawberry.type
class Site:
    id: strawberry.ID
    name: str
    kind: SiteKind
    jurisdiction: Jurisdiction
    country: str = strawberry.field(description="ISO 3166-1 alpha-2")
    supervising_authority: str
    control_site_id: strawberry.ID | None
    status: SiteStatus = strawberry.field(description="the site's own status")
    history: list[SiteStatusChange]
    licence_number: str | None
    location: str | None
    contact: str | None = strawberry.field(description="how to reach the site (GDP recipient)")
    registered_at: datetime
    control_site_status: SiteStatus | None = strawberry.field(
        description="status of the control site this site answers to (null for control sites)"
    )
    effective_status: SiteStatus = strawberry.field(
        description="SUSPENDED while the control site is not ACTIVE, else the site's own status"
    )

    @classmethod
    def of(cls, view: SiteView) -> Site:
        return cls(
            id=strawberry.ID(view.site_id),
            name=view.name,
            kind=SiteKind(view.kind),
            jurisdiction=Jurisdiction(view.jurisdiction),
            country=view.country,
            supervising_authority=view.supervising_authority,
            control_site_id=strawberry.ID(view.control_site_id) if view.control_site_id else None,
            status=SiteStatus(view.status),
            history=[SiteStatusChange.of(h) for h in view.history],
            licence_number=view.licence_number,
            location=view.location,
            contact=view.contact,
            registered_at=view.registered_at,
            control_site_status=(
                SiteStatus(view.control_site_status) if view.control_site_status else None
            ),
            effective_status=SiteStatus(view.effective_status),
        )


@strawberry.type
class UnionDatabaseSiteLink:
    central_site: Site
    decentralised_site: Site
    supervising_authority: str = strawberry.field(
        description="authority of the member state where the decentralised site is"
    )
    linked_at: datetime
    status: SiteStatus
    history: list[SiteStatusChange]

    @classmethod
    def of(cls, view: UnionDatabaseLinkView) -> UnionDatabaseSiteLink:
        spoke = Site.of(view.decentralised_site)
        return cls(
            central_site=Site.of(view.central_site),
            decentralised_site=spoke,
            supervising_authority=view.supervising_authority,
            linked_at=view.linked_at,
            status=spoke.status,
            history=spoke.history,
        )


@strawberry.input
class RegisterSiteInput:
    id: strawberry.ID
    name: str
    kind: SiteKind
    jurisdiction: Jurisdiction
    country: str
    supervising_authority: str
    licence_number: str | None = None
    control_site_id: strawberry.ID | None = None
    location: str | None = strawberry.field(
        default=None, description="address or description of where the site is"
    )
    registered_at: datetime | None = strawberry.field(
        default=None, description="when the site was registered (default: now)"
    )
    contact: str | None = strawberry.field(
        default=None, description="phone or e-mail for deliveries and recalls"
    )


@strawberry.input
class SiteStatusInput:
    site_id: strawberry.ID
    reason: str
    effective_at: datetime | None = None


@strawberry.input
class RelocateSiteInput:
    site_id: strawberry.ID
    location: str
    reason: str
    country: str | None = strawberry.field(
        default=None, description="new country, within the same jurisdiction"
    )
    supervising_authority: str | None = strawberry.field(
        default=None, description="required when the country changes"
    )
    effective_at: datetime | None = None
