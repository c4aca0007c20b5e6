"""Commands on the site network (UK DM procedure: activate, suspend, reinstate, terminate)."""

from __future__ import annotations

import strawberry

from api.auth.roles import ADMINISTRATOR
from api.auth.targets import NoReach, site
from api.commands import command
from api.sites.types import RegisterSiteInput, RelocateSiteInput, SiteStatusInput
from domain.site_commands import SiteCommands

# The site register is kept by administrators; a status change acts on the site it names.
BY_ADMINISTRATORS = (ADMINISTRATOR,)
AT_THE_SITE = {"site_id": site}


@strawberry.type
class SiteMutations:
    register_site = command(
        SiteCommands.register_site,
        input=RegisterSiteInput,
        roles=BY_ADMINISTRATORS,
        # The new site's own id names nothing yet; the control site it names must be within
        # reach.
        targets={"id": NoReach("the site it creates"), "control_site_id": site},
        renamed={"id": "site_id"},
        description="Register a control site or a site under one.",
    )
    activate_site = command(
        SiteCommands.activate_site,
        input=SiteStatusInput,
        roles=BY_ADMINISTRATORS,
        targets=AT_THE_SITE,
        description="Activate a registered site (its control site must be ACTIVE).",
    )
    suspend_site = command(
        SiteCommands.suspend_site,
        input=SiteStatusInput,
        roles=BY_ADMINISTRATORS,
        targets=AT_THE_SITE,
        description="Suspend an ACTIVE site; a reason is required.",
    )
    reinstate_site = command(
        SiteCommands.reinstate_site,
        input=SiteStatusInput,
        roles=BY_ADMINISTRATORS,
        targets=AT_THE_SITE,
        description="Reinstate a SUSPENDED site.",
    )
    terminate_site = command(
        SiteCommands.terminate_site,
        input=SiteStatusInput,
        roles=BY_ADMINISTRATORS,
        targets=AT_THE_SITE,
        description="Terminate a site for good.",
    )
    relocate_site = command(
        SiteCommands.relocate_site,
        input=RelocateSiteInput,
        roles=BY_ADMINISTRATORS,
        targets=AT_THE_SITE,
        description="Move a modular or mobile unit that is not ACTIVE; reinstate it afterwards.",
    )
