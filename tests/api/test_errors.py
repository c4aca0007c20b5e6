"""Refusals reach partners as GraphQL errors with ``extensions.code``; a refused command stores
nothing and answers no data for its field."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.api.client import GraphQL
from tests.api.documents import (
    ACTIVATE_SITE,
    CONTROL,
    REGISTER_SITE,
    REINSTATE_SITE,
    RELOCATE_SITE,
    SITES,
    SPOKE,
    STATUS_MUTATIONS,
    SUSPEND_SITE,
    TERMINATE_SITE,
    active_network,
    change,
    control_site,
    eu_spoke,
    register,
    status_change,
)
from tests.conftest import ledger_size


async def refused(
    gql: GraphQL,
    service,
    document: str,
    variables: dict[str, Any] | None,
    field: str,
    code: str,
) -> dict[str, Any]:
    """Send a command that must be refused with ``code``; answer its one error."""
    before = ledger_size(service)

    body = await gql(document, variables)

    assert ledger_size(service) == before, "a refused command stored something"
    assert "errors" in body, body
    assert [e.get("extensions", {}).get("code") for e in body["errors"]] == [code], body
    assert (body.get("data") or {}).get(field) is None, body
    error = body["errors"][0]
    assert isinstance(error, dict)
    assert error["message"]
    return error


# ------------------------------------------------------------------------------- NOT_FOUND


@pytest.mark.parametrize("field", STATUS_MUTATIONS)
async def test_a_status_change_of_an_unknown_site_is_not_found(gql: GraphQL, service, field):
    await register(gql, control_site())

    error = await refused(
        gql,
        service,
        status_change(field),
        {"input": {"siteId": "NOWHERE", "reason": "x"}},
        field,
        "NOT_FOUND",
    )

    assert error["path"] == [field]
    assert "NOWHERE" in error["message"]


async def test_relocating_an_unknown_site_is_not_found(gql: GraphQL, service):
    await refused(
        gql,
        service,
        RELOCATE_SITE,
        {"input": {"siteId": "NOWHERE", "location": "Leiden", "reason": "move"}},
        "relocateSite",
        "NOT_FOUND",
    )


async def test_a_spoke_under_an_unknown_control_site_is_not_found(gql: GraphQL, service):
    await refused(
        gql,
        service,
        REGISTER_SITE,
        {"input": eu_spoke(control="NOWHERE")},
        "registerSite",
        "NOT_FOUND",
    )


# -------------------------------------------------------------------------------- CONFLICT


async def test_registering_a_site_id_twice_is_a_conflict(gql: GraphQL, service):
    await register(gql, control_site())

    error = await refused(
        gql,
        service,
        REGISTER_SITE,
        {"input": control_site(name="Another name")},
        "registerSite",
        "CONFLICT",
    )

    assert CONTROL in error["message"]


# -------------------------------------------------------------------------- RULE_VIOLATION


async def test_suspending_a_site_that_is_only_registered_is_a_rule_violation(gql: GraphQL, service):
    await register(gql, control_site())

    error = await refused(
        gql,
        service,
        SUSPEND_SITE,
        {"input": {"siteId": CONTROL, "reason": "audit finding"}},
        "suspendSite",
        "RULE_VIOLATION",
    )

    assert "REGISTERED" in error["message"]


async def test_activating_a_spoke_whose_control_site_is_not_active_is_a_rule_violation(
    gql: GraphQL, service
):
    await register(gql, control_site())
    await register(gql, eu_spoke())

    error = await refused(
        gql,
        service,
        ACTIVATE_SITE,
        {"input": {"siteId": SPOKE, "reason": "Qualified"}},
        "activateSite",
        "RULE_VIOLATION",
    )

    assert CONTROL in error["message"]


async def test_reinstating_a_spoke_while_its_control_site_is_suspended_is_a_rule_violation(
    gql: GraphQL, service
):
    await active_network(gql)
    await change(gql, "suspendSite", SPOKE, "Sterility failure")
    await change(gql, "suspendSite", CONTROL, "QP left")

    await refused(
        gql,
        service,
        REINSTATE_SITE,
        {"input": {"siteId": SPOKE, "reason": "Requalified"}},
        "reinstateSite",
        "RULE_VIOLATION",
    )


async def test_a_terminated_site_never_comes_back(gql: GraphQL, service):
    await active_network(gql)
    await change(gql, "terminateSite", SPOKE, "Hospital ended the agreement")

    for document, field in [
        (ACTIVATE_SITE, "activateSite"),
        (REINSTATE_SITE, "reinstateSite"),
        (TERMINATE_SITE, "terminateSite"),
    ]:
        await refused(
            gql,
            service,
            document,
            {"input": {"siteId": SPOKE, "reason": "try again"}},
            field,
            "RULE_VIOLATION",
        )


async def test_relocating_an_active_unit_is_a_rule_violation(gql: GraphQL, service):
    await active_network(gql)

    await refused(
        gql,
        service,
        RELOCATE_SITE,
        {"input": {"siteId": SPOKE, "location": "Elsewhere", "reason": "move"}},
        "relocateSite",
        "RULE_VIOLATION",
    )


async def test_relocating_a_control_site_is_a_rule_violation(gql: GraphQL, service):
    await register(gql, control_site())

    await refused(
        gql,
        service,
        RELOCATE_SITE,
        {"input": {"siteId": CONTROL, "location": "Kaohsiung", "reason": "move"}},
        "relocateSite",
        "RULE_VIOLATION",
    )


# ------------------------------------------------------------------------------- BAD_INPUT


@pytest.mark.parametrize("reason", ["", "   "])
async def test_a_blank_reason_is_bad_input(gql: GraphQL, service, reason):
    await active_network(gql)

    error = await refused(
        gql,
        service,
        SUSPEND_SITE,
        {"input": {"siteId": SPOKE, "reason": reason}},
        "suspendSite",
        "BAD_INPUT",
    )

    assert "reason" in error["message"]


@pytest.mark.parametrize(
    ("jurisdiction", "country"),
    [("TW", "XX"), ("TW", "tw1"), ("EU", "GB"), ("EU", "")],
    ids=["not-a-country", "malformed", "outside-the-jurisdiction", "blank"],
)
async def test_a_country_that_is_not_iso_3166_or_not_under_the_jurisdiction_is_bad_input(
    gql: GraphQL, service, jurisdiction, country
):
    await refused(
        gql,
        service,
        REGISTER_SITE,
        {"input": control_site(jurisdiction=jurisdiction, country=country)},
        "registerSite",
        "BAD_INPUT",
    )


async def test_a_blank_name_is_bad_input(gql: GraphQL, service):
    await refused(
        gql, service, REGISTER_SITE, {"input": control_site(name=" ")}, "registerSite", "BAD_INPUT"
    )


async def test_a_site_id_with_spaces_is_bad_input(gql: GraphQL, service):
    await refused(
        gql,
        service,
        REGISTER_SITE,
        {"input": control_site("TW CTRL")},
        "registerSite",
        "BAD_INPUT",
    )


async def test_a_decentralised_site_without_a_control_site_is_bad_input(gql: GraphQL, service):
    await refused(
        gql,
        service,
        REGISTER_SITE,
        {"input": eu_spoke(controlSiteId=None)},
        "registerSite",
        "BAD_INPUT",
    )


async def test_moving_a_unit_to_another_country_without_its_new_authority_is_bad_input(
    gql: GraphQL, service
):
    await active_network(gql)
    await change(gql, "suspendSite", SPOKE, "Moving")

    await refused(
        gql,
        service,
        RELOCATE_SITE,
        {"input": {"siteId": SPOKE, "location": "Leiden", "reason": "move", "country": "NL"}},
        "relocateSite",
        "BAD_INPUT",
    )


async def test_a_naive_effective_time_is_bad_input(gql: GraphQL, service):
    await active_network(gql)

    error = await refused(
        gql,
        service,
        SUSPEND_SITE,
        {"input": {"siteId": SPOKE, "reason": "x", "effectiveAt": "2026-01-01T00:00:00"}},
        "suspendSite",
        "BAD_INPUT",
    )

    assert "offset" in error["message"]


async def test_a_naive_registration_time_is_bad_input(gql: GraphQL, service):
    await refused(
        gql,
        service,
        REGISTER_SITE,
        {"input": control_site(registeredAt="2025-03-03T09:00:00")},
        "registerSite",
        "BAD_INPUT",
    )


async def test_an_effective_time_in_the_future_is_bad_input(gql: GraphQL, service):
    await active_network(gql)

    await refused(
        gql,
        service,
        SUSPEND_SITE,
        {"input": {"siteId": SPOKE, "reason": "x", "effectiveAt": "2999-01-01T00:00:00Z"}},
        "suspendSite",
        "BAD_INPUT",
    )


async def test_a_malformed_datetime_in_variables_is_bad_input(gql: GraphQL, service):
    await active_network(gql)

    await refused(
        gql,
        service,
        SUSPEND_SITE,
        {"input": {"siteId": SPOKE, "reason": "x", "effectiveAt": "last Tuesday"}},
        "suspendSite",
        "BAD_INPUT",
    )


async def test_a_malformed_datetime_written_in_the_document_is_bad_input(gql: GraphQL, service):
    await active_network(gql)

    await refused(
        gql,
        service,
        f'mutation {{ suspendSite(input: {{siteId: "{SPOKE}", reason: "x",'
        ' effectiveAt: "last Tuesday"}) { position } }',
        None,
        "suspendSite",
        "BAD_INPUT",
    )


async def test_a_malformed_as_of_is_bad_input(gql: GraphQL):
    body = await gql(SITES, {"asOf": "yesterday"})

    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_INPUT"]
    assert body.get("data") is None


async def test_an_unknown_enum_value_in_variables_is_bad_input(gql: GraphQL, service):
    await refused(
        gql,
        service,
        REGISTER_SITE,
        {"input": control_site(kind="FACTORY")},
        "registerSite",
        "BAD_INPUT",
    )


async def test_an_unknown_enum_value_written_in_the_document_is_bad_input(gql: GraphQL, service):
    await refused(
        gql,
        service,
        'mutation { registerSite(input: {id: "X", name: "X", kind: FACTORY, jurisdiction: TW,'
        ' country: "TW", supervisingAuthority: "TFDA"}) { position } }',
        None,
        "registerSite",
        "BAD_INPUT",
    )


async def test_an_unknown_status_to_filter_by_is_bad_input(gql: GraphQL):
    body = await gql(SITES, {"status": "DORMANT"})

    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_INPUT"]
    assert body.get("data") is None


async def test_a_missing_required_input_field_in_variables_is_bad_input(gql: GraphQL, service):
    site = control_site()
    del site["kind"]

    await refused(gql, service, REGISTER_SITE, {"input": site}, "registerSite", "BAD_INPUT")


async def test_a_missing_required_input_field_written_in_the_document_is_bad_input(
    gql: GraphQL, service
):
    await refused(
        gql,
        service,
        f'mutation {{ suspendSite(input: {{siteId: "{SPOKE}"}}) {{ position }} }}',
        None,
        "suspendSite",
        "BAD_INPUT",
    )


async def test_a_missing_input_variable_is_bad_input(gql: GraphQL, service):
    await refused(gql, service, SUSPEND_SITE, None, "suspendSite", "BAD_INPUT")


async def test_a_graphql_syntax_error_is_bad_input_and_says_where_it_is(gql: GraphQL, service):
    error = await refused(
        gql,
        service,
        'mutation { suspendSite(input: {siteId: "X", reason: "x"} { position } }',
        None,
        "suspendSite",
        "BAD_INPUT",
    )

    assert error["message"].startswith("Syntax Error"), error["message"]
    assert error["locations"] == [{"line": 1, "column": 58}]


async def test_an_unknown_field_is_bad_input(gql: GraphQL):
    body = await gql('{ site(id: "X") { id colour } }')

    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_INPUT"]
    assert body.get("data") is None


async def test_a_status_change_dated_before_the_last_one_is_a_rule_violation(gql: GraphQL, service):
    await register(gql, control_site(registeredAt="2025-03-03T09:00:00+08:00"))

    await refused(
        gql,
        service,
        ACTIVATE_SITE,
        {"input": {"siteId": CONTROL, "reason": "x", "effectiveAt": "2025-03-01T00:00:00Z"}},
        "activateSite",
        "RULE_VIOLATION",
    )


async def test_activating_a_spoke_at_a_time_its_control_site_was_not_yet_active_is_refused(
    gql: GraphQL, service
):
    await register(gql, control_site(registeredAt="2025-03-01T00:00:00Z"))
    await register(gql, eu_spoke(registeredAt="2025-03-02T00:00:00Z"))
    await change(gql, "activateSite", CONTROL, "QMS certified", effectiveAt="2025-03-10T00:00:00Z")

    await refused(
        gql,
        service,
        ACTIVATE_SITE,
        {"input": {"siteId": SPOKE, "reason": "x", "effectiveAt": "2025-03-05T00:00:00Z"}},
        "activateSite",
        "RULE_VIOLATION",
    )


async def test_a_spoke_under_a_site_that_is_not_a_control_site_is_a_rule_violation(
    gql: GraphQL, service
):
    await register(
        gql,
        {
            "id": "TW-LAB-QC",
            "name": "QC laboratory",
            "kind": "TESTING_LABORATORY",
            "jurisdiction": "TW",
            "country": "TW",
            "supervisingAuthority": "TFDA",
        },
    )

    await refused(
        gql,
        service,
        REGISTER_SITE,
        {"input": eu_spoke(control="TW-LAB-QC")},
        "registerSite",
        "RULE_VIOLATION",
    )


async def test_a_spoke_under_a_terminated_control_site_is_a_rule_violation(gql: GraphQL, service):
    await register(gql, control_site())
    await change(gql, "terminateSite", CONTROL, "Closed")

    await refused(
        gql, service, REGISTER_SITE, {"input": eu_spoke()}, "registerSite", "RULE_VIOLATION"
    )


async def test_a_control_site_naming_a_control_site_is_bad_input(gql: GraphQL, service):
    await register(gql, control_site())

    await refused(
        gql,
        service,
        REGISTER_SITE,
        {"input": control_site("TW-CTRL-2", controlSiteId=CONTROL)},
        "registerSite",
        "BAD_INPUT",
    )


async def test_a_registration_time_in_the_future_is_bad_input(gql: GraphQL, service):
    await refused(
        gql,
        service,
        REGISTER_SITE,
        {"input": control_site(registeredAt="2999-01-01T00:00:00Z")},
        "registerSite",
        "BAD_INPUT",
    )


async def test_of_simultaneous_registrations_of_one_id_exactly_one_is_stored(gql: GraphQL, service):
    bodies = await asyncio.gather(
        *(gql(REGISTER_SITE, {"input": control_site(name=f"Copy {i}")}) for i in range(6))
    )

    stored = [b for b in bodies if "errors" not in b]
    refusals = [b for b in bodies if "errors" in b]
    assert len(stored) == 1
    assert [b["errors"][0]["extensions"]["code"] for b in refusals] == ["CONFLICT"] * 5
    assert all(b["data"] is None for b in refusals)
    assert ledger_size(service) == 1
