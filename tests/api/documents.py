"""GraphQL documents a partner system would send, and a small network built through them."""

from __future__ import annotations

from typing import Any

from tests.api.client import GraphQL

COMMAND_RESULT = "{ position aggregateId version }"

REGISTER_SITE = f"""
mutation RegisterSite($input: RegisterSiteInput!) {{
  registerSite(input: $input) {COMMAND_RESULT}
}}
"""

STATUS_MUTATIONS = ("activateSite", "suspendSite", "reinstateSite", "terminateSite")


def status_change(mutation: str) -> str:
    name = mutation[0].upper() + mutation[1:]
    return f"""
mutation {name}($input: SiteStatusInput!) {{
  {mutation}(input: $input) {COMMAND_RESULT}
}}
"""


ACTIVATE_SITE = status_change("activateSite")
SUSPEND_SITE = status_change("suspendSite")
REINSTATE_SITE = status_change("reinstateSite")
TERMINATE_SITE = status_change("terminateSite")

RELOCATE_SITE = f"""
mutation RelocateSite($input: RelocateSiteInput!) {{
  relocateSite(input: $input) {COMMAND_RESULT}
}}
"""

HISTORY = "history { status at reason actor position }"

SITE_FIELDS = f"""
  id name kind jurisdiction country supervisingAuthority controlSiteId licenceNumber location
  registeredAt status controlSiteStatus effectiveStatus
  {HISTORY}
"""

SITE = f"""
query Site($id: ID!, $asOf: DateTime) {{
  site(id: $id, asOf: $asOf) {{ {SITE_FIELDS} }}
}}
"""

SITES = """
query Sites($controlSiteId: ID, $status: SiteStatus, $asOf: DateTime) {
  sites(controlSiteId: $controlSiteId, status: $status, asOf: $asOf) {
    id status controlSiteId controlSiteStatus effectiveStatus
  }
}
"""

LINKS = f"""
query Links($centralSiteId: ID, $country: String, $asOf: DateTime) {{
  unionDatabaseSiteLinks(centralSiteId: $centralSiteId, country: $country, asOf: $asOf) {{
    centralSite {{ id kind status }}
    decentralisedSite {{ id kind country status controlSiteStatus effectiveStatus }}
    supervisingAuthority
    linkedAt
    status
    {HISTORY}
  }}
}}
"""

# An EU central site (with its manufacturing authorisation) and a decentralised site it runs: a
# decentralised site answers to a control site of its own regulatory area.
CONTROL = "DE-CTRL-BERLIN"
SPOKE = "DE-MU-BERLIN"


def control_site(site_id: str = CONTROL, **overrides: Any) -> dict[str, Any]:
    return {
        "id": site_id,
        "name": "Berlin Central Site for Decentralised Manufacture",
        "kind": "CONTROL_SITE",
        "jurisdiction": "EU",
        "country": "DE",
        "supervisingAuthority": "Landesamt für Gesundheit und Soziales Berlin",
        "licenceNumber": "DE-BE-HE-2025-101",
        **overrides,
    }


def eu_spoke(site_id: str = SPOKE, control: str = CONTROL, **overrides: Any) -> dict[str, Any]:
    return {
        "id": site_id,
        "name": "Berlin Modular Unit",
        "kind": "MODULAR_UNIT",
        "jurisdiction": "EU",
        "country": "DE",
        "supervisingAuthority": "LAGeSo Berlin",
        "controlSiteId": control,
        "location": "Augustenburger Platz 1, Berlin",
        **overrides,
    }


async def register(gql: GraphQL, site: dict[str, Any]) -> dict[str, Any]:
    data = await gql.data(REGISTER_SITE, {"input": site})
    result = data["registerSite"]
    assert isinstance(result, dict)
    return result


async def change(
    gql: GraphQL, mutation: str, site_id: str, reason: str = "per the DM procedure", **more: Any
) -> dict[str, Any]:
    data = await gql.data(
        status_change(mutation), {"input": {"siteId": site_id, "reason": reason, **more}}
    )
    result = data[mutation]
    assert isinstance(result, dict)
    return result


async def active_network(gql: GraphQL) -> None:
    """A control site and an EU spoke, both ACTIVE."""
    await register(gql, control_site())
    await register(gql, eu_spoke())
    await change(gql, "activateSite", CONTROL, "QMS certified")
    await change(gql, "activateSite", SPOKE, "Qualified; listed in the Union database")


async def site(gql: GraphQL, site_id: str, as_of: str | None = None) -> dict[str, Any] | None:
    data = await gql.data(SITE, {"id": site_id, "asOf": as_of})
    found = data["site"]
    assert found is None or isinstance(found, dict)
    return found


async def links(gql: GraphQL, **arguments: Any) -> list[dict[str, Any]]:
    data = await gql.data(LINKS, arguments)
    found = data["unionDatabaseSiteLinks"]
    assert isinstance(found, list)
    return found
