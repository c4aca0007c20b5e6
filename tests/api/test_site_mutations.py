"""Every site command of the contract, sent as a GraphQL mutation, answers a CommandResult."""

from __future__ import annotations

from tests.api.client import GraphQL
from tests.api.documents import (
    CONTROL,
    RELOCATE_SITE,
    SPOKE,
    active_network,
    change,
    control_site,
    eu_spoke,
    register,
    site,
)
from tests.conftest import ledger_size


async def test_registering_a_site_answers_its_ledger_position_aggregate_and_first_version(
    gql: GraphQL, service
):
    result = await register(gql, control_site())

    assert result == {"position": 1, "aggregateId": f"Site:{CONTROL}", "version": 1}
    assert ledger_size(service) == 1


async def test_each_status_change_answers_the_next_position_and_version_of_the_site(gql: GraphQL):
    await register(gql, control_site())
    await register(gql, eu_spoke())

    activated = await change(gql, "activateSite", CONTROL, "QMS certified")
    spoke_activated = await change(gql, "activateSite", SPOKE, "Qualified")
    suspended = await change(gql, "suspendSite", SPOKE, "HEPA filter integrity test failed")
    reinstated = await change(gql, "reinstateSite", SPOKE, "Requalified")
    terminated = await change(gql, "terminateSite", SPOKE, "Hospital ended the agreement")

    assert activated == {"position": 3, "aggregateId": f"Site:{CONTROL}", "version": 2}
    assert spoke_activated == {"position": 4, "aggregateId": f"Site:{SPOKE}", "version": 2}
    assert suspended == {"position": 5, "aggregateId": f"Site:{SPOKE}", "version": 3}
    assert reinstated == {"position": 6, "aggregateId": f"Site:{SPOKE}", "version": 4}
    assert terminated == {"position": 7, "aggregateId": f"Site:{SPOKE}", "version": 5}


async def test_the_status_history_records_each_change_with_reason_actor_and_position(
    gql: GraphQL,
):
    await active_network(gql)
    suspended = await change(gql, "suspendSite", SPOKE, "HEPA filter integrity test failed")
    reinstated = await change(gql, "reinstateSite", SPOKE, "Filters replaced; requalified")
    terminated = await change(gql, "terminateSite", SPOKE, "Hospital ended the agreement")

    found = await site(gql, SPOKE)

    assert found is not None
    assert found["status"] == "TERMINATED"
    assert [(h["status"], h["reason"], h["actor"], h["position"]) for h in found["history"]] == [
        ("REGISTERED", None, "dev-operator", 2),
        ("ACTIVE", "Qualified; listed in the Union database", "dev-operator", 4),
        ("SUSPENDED", "HEPA filter integrity test failed", "dev-operator", suspended["position"]),
        ("ACTIVE", "Filters replaced; requalified", "dev-operator", reinstated["position"]),
        ("TERMINATED", "Hospital ended the agreement", "dev-operator", terminated["position"]),
    ]


async def test_a_stated_effective_time_becomes_the_time_of_the_change_in_the_history(
    gql: GraphQL,
):
    await register(gql, control_site(registeredAt="2025-03-03T09:00:00+08:00"))

    await change(gql, "activateSite", CONTROL, "QMS certified", effectiveAt="2025-03-10T01:00:00Z")

    found = await site(gql, CONTROL)
    assert found is not None
    assert [h["at"] for h in found["history"]] == [
        "2025-03-03T01:00:00+00:00",
        "2025-03-10T01:00:00+00:00",
    ]


async def test_a_registered_site_reads_back_with_every_field_it_was_registered_with(
    gql: GraphQL,
):
    await register(gql, control_site())
    await register(gql, eu_spoke(registeredAt="2025-05-05T07:00:00+00:00"))

    found = await site(gql, SPOKE)

    assert found is not None
    assert {k: v for k, v in found.items() if k != "history"} == {
        "id": SPOKE,
        "name": "Berlin Modular Unit",
        "kind": "MODULAR_UNIT",
        "jurisdiction": "EU",
        "country": "DE",
        "supervisingAuthority": "LAGeSo Berlin",
        "controlSiteId": CONTROL,
        "licenceNumber": None,
        "location": "Augustenburger Platz 1, Berlin",
        "registeredAt": "2025-05-05T07:00:00+00:00",
        "status": "REGISTERED",
        "controlSiteStatus": "REGISTERED",
        "effectiveStatus": "REGISTERED",
    }


async def test_relocating_a_suspended_modular_unit_moves_it_to_another_member_state(
    gql: GraphQL, service
):
    await active_network(gql)
    await change(gql, "suspendSite", SPOKE, "Moving to Leiden")
    before = ledger_size(service)

    data = await gql.data(
        RELOCATE_SITE,
        {
            "input": {
                "siteId": SPOKE,
                "location": "Albinusdreef 2, Leiden",
                "reason": "Host hospital changed to LUMC",
                "country": "NL",
                "supervisingAuthority": "Inspectie Gezondheidszorg en Jeugd (IGJ)",
            }
        },
    )

    assert data["relocateSite"] == {
        "position": before + 1,
        "aggregateId": f"Site:{SPOKE}",
        "version": 4,
    }
    assert ledger_size(service) == before + 1
    found = await site(gql, SPOKE)
    assert found is not None
    assert found["location"] == "Albinusdreef 2, Leiden"
    assert found["country"] == "NL"
    assert found["supervisingAuthority"] == "Inspectie Gezondheidszorg en Jeugd (IGJ)"
    assert found["status"] == "SUSPENDED"


async def test_a_relocated_unit_is_reinstated_once_requalified_at_its_new_location(gql: GraphQL):
    await active_network(gql)
    await change(gql, "suspendSite", SPOKE, "Moving within Berlin")
    await gql.data(
        RELOCATE_SITE,
        {"input": {"siteId": SPOKE, "location": "Hindenburgdamm 30, Berlin", "reason": "Move"}},
    )

    await change(gql, "reinstateSite", SPOKE, "Requalified at the new location")

    found = await site(gql, SPOKE)
    assert found is not None
    assert found["status"] == "ACTIVE"
    assert found["location"] == "Hindenburgdamm 30, Berlin"
    assert found["country"] == "DE"
    assert found["supervisingAuthority"] == "LAGeSo Berlin"
