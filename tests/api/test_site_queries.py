"""The site register and the EU Union database links, read through GraphQL queries."""

from __future__ import annotations

from tests.api.client import GraphQL
from tests.api.documents import (
    CONTROL,
    SITES,
    SPOKE,
    active_network,
    change,
    control_site,
    eu_spoke,
    links,
    register,
    site,
)

OTHER_CONTROL = "NL-CTRL-LEIDEN"
UK_CONTROL = "GB-CTRL-LON"
TW_CONTROL = "TW-CTRL-TPE"


async def network(gql: GraphQL) -> None:
    """Two EU central sites, a UK and a Taiwanese control site, each running spokes of its own
    area; a testing laboratory; some ACTIVE, some not."""
    await register(gql, control_site())
    await register(
        gql,
        control_site(
            OTHER_CONTROL,
            country="NL",
            supervisingAuthority="Inspectie Gezondheidszorg en Jeugd (IGJ)",
        ),
    )
    await register(
        gql,
        control_site(UK_CONTROL, jurisdiction="UK", country="GB", supervisingAuthority="MHRA"),
    )
    await register(
        gql,
        control_site(TW_CONTROL, jurisdiction="TW", country="TW", supervisingAuthority="TFDA"),
    )
    await register(gql, eu_spoke())
    await register(
        gql,
        eu_spoke(
            "NL-MU-LEIDEN",
            country="NL",
            supervisingAuthority="Inspectie Gezondheidszorg en Jeugd (IGJ)",
        ),
    )
    await register(
        gql,
        eu_spoke(
            "TW-POC-NTUH",
            control=TW_CONTROL,
            kind="POC_HEALTHCARE_ESTABLISHMENT",
            jurisdiction="TW",
            country="TW",
            supervisingAuthority="TFDA",
            licenceNumber="TFDA-DM-2025-0103",
        ),
    )
    await register(
        gql,
        eu_spoke(
            "DE-POC-MUNICH",
            control=OTHER_CONTROL,
            kind="POC_HEALTHCARE_ESTABLISHMENT",
            supervisingAuthority="Regierung von Oberbayern",
        ),
    )
    await register(
        gql,
        {
            "id": "GB-HOME-LEEDS",
            "name": "Leeds Home-Administration Service",
            "kind": "POC_HOME",
            "jurisdiction": "UK",
            "country": "GB",
            "supervisingAuthority": "MHRA",
            "controlSiteId": UK_CONTROL,
        },
    )
    await register(
        gql,
        {
            "id": "TW-LAB-QC",
            "name": "Taipei Central QC Laboratory",
            "kind": "TESTING_LABORATORY",
            "jurisdiction": "TW",
            "country": "TW",
            "supervisingAuthority": "TFDA",
        },
    )
    await change(gql, "activateSite", CONTROL)
    await change(gql, "activateSite", OTHER_CONTROL)
    await change(gql, "activateSite", UK_CONTROL)
    await change(gql, "activateSite", TW_CONTROL)
    await change(gql, "activateSite", SPOKE)
    await change(gql, "activateSite", "TW-POC-NTUH")
    await change(gql, "activateSite", "DE-POC-MUNICH")


async def test_an_unknown_site_is_null_not_an_error(gql: GraphQL):
    data = await gql.data('{ site(id: "NOWHERE") { id } }')

    assert data == {"site": None}


async def test_sites_are_listed_in_id_order(gql: GraphQL):
    await network(gql)

    data = await gql.data(SITES)

    assert [s["id"] for s in data["sites"]] == [
        "DE-CTRL-BERLIN",
        "DE-MU-BERLIN",
        "DE-POC-MUNICH",
        "GB-CTRL-LON",
        "GB-HOME-LEEDS",
        "NL-CTRL-LEIDEN",
        "NL-MU-LEIDEN",
        "TW-CTRL-TPE",
        "TW-LAB-QC",
        "TW-POC-NTUH",
    ]


async def test_sites_are_filtered_by_control_site(gql: GraphQL):
    await network(gql)

    data = await gql.data(SITES, {"controlSiteId": CONTROL})
    taiwanese = await gql.data(SITES, {"controlSiteId": TW_CONTROL})

    assert [s["id"] for s in data["sites"]] == ["DE-MU-BERLIN", "NL-MU-LEIDEN"]
    assert {s["controlSiteId"] for s in data["sites"]} == {CONTROL}
    assert [s["id"] for s in taiwanese["sites"]] == ["TW-POC-NTUH"]


async def test_sites_are_filtered_by_status(gql: GraphQL):
    await network(gql)

    registered = await gql.data(SITES, {"status": "REGISTERED"})

    assert [s["id"] for s in registered["sites"]] == ["GB-HOME-LEEDS", "NL-MU-LEIDEN", "TW-LAB-QC"]


async def test_sites_are_filtered_by_control_site_and_status_together(gql: GraphQL):
    await network(gql)

    data = await gql.data(SITES, {"controlSiteId": CONTROL, "status": "ACTIVE"})
    registered = await gql.data(SITES, {"controlSiteId": CONTROL, "status": "REGISTERED"})

    assert [s["id"] for s in data["sites"]] == ["DE-MU-BERLIN"]
    assert [s["id"] for s in registered["sites"]] == ["NL-MU-LEIDEN"]


async def test_union_database_links_list_only_decentralised_sites_under_eu_jurisdiction(
    gql: GraphQL,
):
    await network(gql)

    found = await links(gql)

    assert [(link["centralSite"]["id"], link["decentralisedSite"]["id"]) for link in found] == [
        (CONTROL, "DE-MU-BERLIN"),
        (OTHER_CONTROL, "DE-POC-MUNICH"),
        (CONTROL, "NL-MU-LEIDEN"),
    ]


async def test_a_union_database_link_carries_the_member_state_authority_and_the_site_history(
    gql: GraphQL,
):
    await network(gql)

    found = await links(gql, centralSiteId=CONTROL, country="DE")

    assert len(found) == 1
    link = found[0]
    assert link["centralSite"] == {"id": CONTROL, "kind": "CONTROL_SITE", "status": "ACTIVE"}
    assert link["decentralisedSite"]["id"] == SPOKE
    assert link["decentralisedSite"]["country"] == "DE"
    assert link["supervisingAuthority"] == "LAGeSo Berlin"
    assert link["status"] == "ACTIVE"
    assert [h["status"] for h in link["history"]] == ["REGISTERED", "ACTIVE"]
    assert all(h["actor"] == "dev-operator" for h in link["history"])
    assert link["history"][1]["reason"] == "per the DM procedure"


async def test_union_database_links_are_filtered_by_central_site(gql: GraphQL):
    await network(gql)

    found = await links(gql, centralSiteId=OTHER_CONTROL)

    assert [link["decentralisedSite"]["id"] for link in found] == ["DE-POC-MUNICH"]


async def test_union_database_links_are_filtered_by_country(gql: GraphQL):
    await network(gql)

    found = await links(gql, country="NL")

    assert [link["decentralisedSite"]["id"] for link in found] == ["NL-MU-LEIDEN"]
    assert found[0]["supervisingAuthority"] == "Inspectie Gezondheidszorg en Jeugd (IGJ)"
    assert found[0]["status"] == "REGISTERED"


async def test_a_union_database_link_is_dated_from_the_registration_of_the_decentralised_site(
    gql: GraphQL,
):
    await register(gql, control_site())
    await register(gql, eu_spoke(registeredAt="2025-05-05T09:00:00+02:00"))

    found = await links(gql)

    assert [link["linkedAt"] for link in found] == ["2025-05-05T07:00:00+00:00"]


async def test_suspending_a_control_site_shows_on_each_of_its_spokes(gql: GraphQL, service):
    await network(gql)

    await change(gql, "suspendSite", CONTROL, "QP left; QMS under review")

    spokes = (await gql.data(SITES, {"controlSiteId": CONTROL}))["sites"]
    assert [
        (s["id"], s["status"], s["controlSiteStatus"], s["effectiveStatus"]) for s in spokes
    ] == [
        ("DE-MU-BERLIN", "ACTIVE", "SUSPENDED", "SUSPENDED"),
        ("NL-MU-LEIDEN", "REGISTERED", "SUSPENDED", "REGISTERED"),
    ]
    for other_id in ("DE-POC-MUNICH", "TW-POC-NTUH"):
        other = await site(gql, other_id)
        assert other is not None
        assert (other["controlSiteStatus"], other["effectiveStatus"]) == ("ACTIVE", "ACTIVE")
    link = (await links(gql, centralSiteId=CONTROL, country="DE"))[0]
    assert link["centralSite"]["status"] == "SUSPENDED"
    assert link["decentralisedSite"]["controlSiteStatus"] == "SUSPENDED"
    assert link["decentralisedSite"]["effectiveStatus"] == "SUSPENDED"


async def test_reinstating_a_control_site_lets_its_spokes_operate_again(gql: GraphQL):
    await active_network(gql)
    await change(gql, "suspendSite", CONTROL, "QP left")

    await change(gql, "reinstateSite", CONTROL, "New QP appointed")

    found = await site(gql, SPOKE)
    assert found is not None
    assert (found["status"], found["controlSiteStatus"], found["effectiveStatus"]) == (
        "ACTIVE",
        "ACTIVE",
        "ACTIVE",
    )


async def test_a_control_site_answers_to_no_control_site(gql: GraphQL):
    await active_network(gql)

    found = await site(gql, CONTROL)

    assert found is not None
    assert found["controlSiteId"] is None
    assert found["controlSiteStatus"] is None
    assert found["effectiveStatus"] == "ACTIVE"


async def test_a_query_sent_right_after_a_mutation_sees_it(gql: GraphQL):
    await active_network(gql)

    result = await change(gql, "suspendSite", SPOKE, "Sterility failure")

    found = await site(gql, SPOKE)
    assert found is not None
    assert found["status"] == "SUSPENDED"
    assert found["history"][-1]["position"] == result["position"]
