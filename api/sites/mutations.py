"""Commands on the site network (UK DM procedure: activate, suspend, reinstate, terminate)."""

from __future__ import annotations

import strawberry

from api.common import CommandResult
from api.context import Info
from api.resolve import CommandId, command, command_mutation, ledger
from api.sites.types import RegisterSiteInput, RelocateSiteInput, SiteStatusInput
from domain.site_commands import SiteCommands


@strawberry.type
class SiteMutations:
    @strawberry.mutation(description="Register a control site or a site under one.")
    async def register_site(
        self, info: Info, input: RegisterSiteInput, command_id: CommandId = None
    ) -> CommandResult:
        result = await command(
            info,
            ledger(info).bind(SiteCommands.register_site),
            identified_by=(command_id, input),
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

    activate_site = command_mutation(
        "activate_site",
        SiteStatusInput,
        "Activate a registered site (its control site must be ACTIVE).",
    )
    suspend_site = command_mutation(
        "suspend_site", SiteStatusInput, "Suspend an ACTIVE site; a reason is required."
    )
    reinstate_site = command_mutation(
        "reinstate_site", SiteStatusInput, "Reinstate a SUSPENDED site."
    )
    terminate_site = command_mutation(
        "terminate_site", SiteStatusInput, "Terminate a site for good."
    )
    relocate_site = command_mutation(
        "relocate_site",
        RelocateSiteInput,
        "Move a modular or mobile unit that is not ACTIVE; reinstate it afterwards.",
    )
