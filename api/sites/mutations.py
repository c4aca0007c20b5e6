"""Commands on the site network (UK DM procedure: activate, suspend, reinstate, terminate)."""

from __future__ import annotations

import strawberry

from api.common import CommandResult
from api.context import Info
from api.resolve import command, ledger
from api.sites.types import RegisterSiteInput, RelocateSiteInput, SiteStatusInput


@strawberry.type
class SiteMutations:
    @strawberry.mutation(description="Register a control site or a site under one.")
    async def register_site(self, info: Info, input: RegisterSiteInput) -> CommandResult:
        result = await command(
            info,
            ledger(info).register_site,
            site_id=input.id,
            name=input.name,
            kind=input.kind.value,
            jurisdiction=input.jurisdiction.value,
            country=input.country,
            supervising_authority=input.supervising_authority,
            licence_number=input.licence_number,
            control_site_id=input.control_site_id,
            location=input.location,
            registered_at=input.registered_at,
            contact=input.contact,
        )
        return CommandResult.of(result)

    @strawberry.mutation(
        description="Activate a registered site (its control site must be ACTIVE)."
    )
    async def activate_site(self, info: Info, input: SiteStatusInput) -> CommandResult:
        return await _status_change(info, ledger(info).activate_site, input)

    @strawberry.mutation(description="Suspend an ACTIVE site; a reason is required.")
    async def suspend_site(self, info: Info, input: SiteStatusInput) -> CommandResult:
        return await _status_change(info, ledger(info).suspend_site, input)

    @strawberry.mutation(description="Reinstate a SUSPENDED site.")
    async def reinstate_site(self, info: Info, input: SiteStatusInput) -> CommandResult:
        return await _status_change(info, ledger(info).reinstate_site, input)

    @strawberry.mutation(description="Terminate a site for good.")
    async def terminate_site(self, info: Info, input: SiteStatusInput) -> CommandResult:
        return await _status_change(info, ledger(info).terminate_site, input)

    @strawberry.mutation(
        description="Move a modular or mobile unit that is not ACTIVE; reinstate it afterwards."
    )
    async def relocate_site(self, info: Info, input: RelocateSiteInput) -> CommandResult:
        result = await command(
            info,
            ledger(info).relocate_site,
            input.site_id,
            input.location,
            input.reason,
            country=input.country,
            supervising_authority=input.supervising_authority,
            effective_at=input.effective_at,
        )
        return CommandResult.of(result)


async def _status_change(info: Info, method: object, input: SiteStatusInput) -> CommandResult:
    result = await command(info, method, input.site_id, input.reason, input.effective_at)  # type: ignore[arg-type]
    return CommandResult.of(result)
