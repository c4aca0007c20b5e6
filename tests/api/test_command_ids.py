"""Commands sent with a ``commandId`` are stored once (ADR 7): a retry answers the first result
and stores nothing, the same id for other content is CONFLICT, a refused command leaves its id
free, ids are scoped by principal, and they hold across service instances on one database."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from api.app import create_app
from api.auth.keys import ApiKeys
from api.settings import Settings
from api.wiring import Regentrace
from tests.api.client import GraphQL, client_for
from tests.api.documents import COMMAND_RESULT, CONTROL, SPOKE, control_site, eu_spoke
from tests.conftest import ledger_size

REGISTER = f"""
mutation Register($input: RegisterSiteInput!, $id: String) {{
  registerSite(input: $input, commandId: $id) {COMMAND_RESULT}
}}
"""
ACTIVATE = f"""
mutation Activate($input: SiteStatusInput!, $id: String) {{
  activateSite(input: $input, commandId: $id) {COMMAND_RESULT}
}}
"""
SUSPEND = ACTIVATE.replace("Activate", "Suspend").replace("activateSite", "suspendSite")


async def send(gql: GraphQL, document: str, input: dict[str, Any], id: str | None) -> Any:
    return await gql(document, {"input": input, "id": id})


def result(body: dict[str, Any], field: str) -> dict[str, Any]:
    assert "errors" not in body, body["errors"]
    answer = body["data"][field]
    assert isinstance(answer, dict)
    return answer


def codes(body: dict[str, Any]) -> list[str | None]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


def kept(service: Regentrace) -> list[dict[str, Any]]:
    with service.read() as sql:
        return sql.all(
            "SELECT principal, command_id, name, position, aggregate_id, version"
            " FROM commands ORDER BY position"
        )


async def test_a_retry_answers_the_first_result_and_stores_nothing(gql: GraphQL, service):
    first = result(await send(gql, REGISTER, control_site(), "reg-ctrl-1"), "registerSite")
    size = ledger_size(service)

    again = result(await send(gql, REGISTER, control_site(), "reg-ctrl-1"), "registerSite")
    once_more = result(await send(gql, REGISTER, control_site(), "reg-ctrl-1"), "registerSite")

    assert (
        again
        == once_more
        == first
        == {
            "position": 1,
            "aggregateId": f"Site:{CONTROL}",
            "version": 1,
        }
    )
    assert ledger_size(service) == size == 1
    assert kept(service) == [
        {
            "principal": "dev-operator",
            "command_id": "reg-ctrl-1",
            "name": "registerSite",
            "position": 1,
            "aggregate_id": f"Site:{CONTROL}",
            "version": 1,
        }
    ]


async def test_a_retry_of_a_status_change_answers_it_even_after_later_commands(
    gql: GraphQL, service
):
    await send(gql, REGISTER, control_site(), "r1")
    status = {"siteId": CONTROL, "reason": "QMS certified"}
    activated = result(await send(gql, ACTIVATE, status, "act-1"), "activateSite")
    suspended = result(
        await send(gql, SUSPEND, {"siteId": CONTROL, "reason": "audit"}, "sus-1"), "suspendSite"
    )
    size = ledger_size(service)

    # Without the id, activating again would be refused (the site is SUSPENDED, not REGISTERED).
    again = result(await send(gql, ACTIVATE, status, "act-1"), "activateSite")

    assert again == activated == {"position": 2, "aggregateId": f"Site:{CONTROL}", "version": 2}
    assert suspended["position"] == 3
    assert ledger_size(service) == size


async def test_the_same_id_for_other_content_is_a_conflict_and_stores_nothing(
    gql: GraphQL, service
):
    await send(gql, REGISTER, control_site(), "same-id")
    size = ledger_size(service)

    other_input = await send(gql, REGISTER, control_site("TW-CTRL-OTHER"), "same-id")
    other_mutation = await send(gql, ACTIVATE, {"siteId": CONTROL, "reason": "x"}, "same-id")

    for body in (other_input, other_mutation):
        assert codes(body) == ["CONFLICT"], body
        message = body["errors"][0]["message"]
        assert "'same-id' was used for a different command (registerSite" in message
    assert ledger_size(service) == size
    assert [k["command_id"] for k in kept(service)] == ["same-id"]


async def test_a_refused_command_leaves_its_id_free_to_send_corrected(gql: GraphQL, service):
    await send(gql, REGISTER, control_site(), "r1")
    await send(gql, REGISTER, eu_spoke(), "r2")
    spoke = {"siteId": SPOKE, "reason": "Qualified"}

    refused = await send(gql, ACTIVATE, spoke, "act-spoke")  # its control site is not ACTIVE
    assert codes(refused) == ["RULE_VIOLATION"], refused
    bad_country = await send(gql, REGISTER, control_site("TW-CTRL-2", country="XX"), "r3")
    assert codes(bad_country) == ["BAD_INPUT"], bad_country
    assert ledger_size(service) == 2

    await send(gql, ACTIVATE, {"siteId": CONTROL, "reason": "QMS certified"}, "act-ctrl")
    resent = result(await send(gql, ACTIVATE, spoke, "act-spoke"), "activateSite")
    corrected = result(await send(gql, REGISTER, control_site("TW-CTRL-2"), "r3"), "registerSite")

    assert resent == {"position": 4, "aggregateId": f"Site:{SPOKE}", "version": 2}
    assert corrected == {"position": 5, "aggregateId": "Site:TW-CTRL-2", "version": 1}
    assert [k["command_id"] for k in kept(service)] == ["r1", "r2", "act-ctrl", "act-spoke", "r3"]


async def test_ids_belong_to_the_principal_who_sent_them(gql: GraphQL, service):
    keys = ApiKeys(service)
    _, first = keys.create("registry-a", "administrator", [])
    _, second = keys.create("registry-b", "administrator", [])
    a, b = gql.as_(first), gql.as_(second)

    by_a = result(await send(a, REGISTER, control_site(), "shared-id"), "registerSite")
    by_b = result(await send(b, REGISTER, control_site("TW-CTRL-B"), "shared-id"), "registerSite")
    a_again = result(await send(a, REGISTER, control_site(), "shared-id"), "registerSite")
    b_again = await send(b, REGISTER, control_site("TW-CTRL-B"), "shared-id")

    assert by_a["aggregateId"] == a_again["aggregateId"] == f"Site:{CONTROL}"
    assert result(b_again, "registerSite") == by_b
    assert by_b["aggregateId"] == "Site:TW-CTRL-B"
    assert ledger_size(service) == 2
    assert sorted((k["principal"], k["command_id"]) for k in kept(service)) == [
        ("apikey:registry-a", "shared-id"),
        ("apikey:registry-b", "shared-id"),
    ]


@pytest.mark.parametrize(
    "command_id",
    ["", "x" * 129, "with space", "tab\there", "line\nbreak", "é-accent", "a;b", "quote'd", "名"],
)
async def test_an_invalid_id_is_bad_input_and_stores_nothing(gql: GraphQL, service, command_id):
    body = await send(gql, REGISTER, control_site(), command_id)

    assert codes(body) == ["BAD_INPUT"], body
    assert body["errors"][0]["extensions"].get("field") == "commandId"
    assert ledger_size(service) == 0


async def test_the_longest_id_and_every_allowed_character_are_accepted(gql: GraphQL, service):
    longest = ("AZaz09._~:/+=-" * 10)[:128]
    uuid_id = str(uuid.uuid4())

    assert result(await send(gql, REGISTER, control_site(), longest), "registerSite")
    assert result(await send(gql, REGISTER, eu_spoke(), uuid_id), "registerSite")
    assert [k["command_id"] for k in kept(service)] == [longest, uuid_id]


async def test_commands_without_an_id_are_stored_each_time_they_are_sent(gql: GraphQL, service):
    await send(gql, REGISTER, control_site(), None)
    status = {"siteId": CONTROL, "reason": "QMS certified"}
    await send(gql, ACTIVATE, status, None)

    again = await send(gql, ACTIVATE, status, None)

    assert codes(again) == ["RULE_VIOLATION"], again
    assert ledger_size(service) == 2
    assert kept(service) == []


async def test_one_document_with_two_commands_keeps_each_id(gql: GraphQL, service):
    document = f"""
    mutation Two($a: RegisterSiteInput!, $b: RegisterSiteInput!) {{
      control: registerSite(input: $a, commandId: "two-a") {COMMAND_RESULT}
      spoke: registerSite(input: $b, commandId: "two-b") {COMMAND_RESULT}
    }}
    """
    variables = {"a": control_site(), "b": eu_spoke()}
    first = await gql.data(document, variables)

    again = await gql.data(document, variables)

    assert again == first
    assert [first["control"]["position"], first["spoke"]["position"]] == [1, 2]
    assert ledger_size(service) == 2


async def test_a_retry_through_another_service_instance_answers_the_first_result(
    settings: Settings, gql: GraphQL, service
):
    first = result(await send(gql, REGISTER, control_site(), "across"), "registerSite")
    other = Regentrace(settings)  # as another worker process of `serve --workers N` would be
    try:
        async with client_for(create_app(settings, other)) as http:
            again = await send(GraphQL(http), REGISTER, control_site(), "across")
            conflict = await send(GraphQL(http), REGISTER, eu_spoke(), "across")
    finally:
        other.close()

    assert result(again, "registerSite") == first
    assert codes(conflict) == ["CONFLICT"]
    assert ledger_size(service) == 1


async def test_duplicates_sent_at_once_store_one_command_and_answer_the_same(
    settings: Settings, gql: GraphQL, service
):
    await send(gql, REGISTER, control_site(), None)
    other = Regentrace(settings)
    status = {"siteId": CONTROL, "reason": "QMS certified"}
    try:
        async with client_for(create_app(settings, other)) as http:
            pair = (gql, GraphQL(http))
            bodies = await asyncio.gather(
                *(send(pair[i % 2], ACTIVATE, status, "at-once") for i in range(8))
            )
    finally:
        other.close()

    answers = [result(body, "activateSite") for body in bodies]
    assert answers == [{"position": 2, "aggregateId": f"Site:{CONTROL}", "version": 2}] * 8
    assert ledger_size(service) == 2
    assert [k["command_id"] for k in kept(service)] == ["at-once"]
