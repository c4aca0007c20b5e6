"""Every mutation of the schema is a declared command (api/commands.py) with a role list and a
target rule, and every input field that names a record either feeds one of the rule's targets or
is declared as needing no reach, with the reason. Walks the schema itself, so a new command or
field cannot slip by; a declaration that leaves one out does not even load."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
import strawberry
from graphql import GraphQLInputObjectType, GraphQLList, GraphQLNonNull, get_named_type

from api.auth.roles import COURIER, DEVELOPMENT, EVERY_MUTATION, ROLES
from api.auth.targets import NoReach, Target, container_of, of, site
from api.commands import BATCHES, DECLARED, command
from api.schema import build_schema
from api.views.types import TraceNodeKind
from domain.application import TraceabilityLedger
from domain.distribution_commands import DistributionCommands
from domain.isbt128 import normalise_donation_id

SCHEMA = build_schema()._schema
assert SCHEMA.mutation_type is not None
# submitCommands (api/batch.py) carries declared commands and runs each through its declaration;
# every other mutation is a declared command.
FIELDS = {n: f for n, f in SCHEMA.mutation_type.fields.items() if n not in BATCHES}
A_DONATION = "A999925123456"  # a well-formed donation id: a malformed one names nothing
MUTATIONS = {name: declared.targets_of for name, declared in DECLARED.items()}
NEEDS_NO_REACH = {
    (name, field): rule.reason
    for name, declared in DECLARED.items()
    for field, rule in declared.targets.items()
    if isinstance(rule, NoReach)
}


def python_name(graphql_name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", graphql_name).lower()


def input_fields(mutation: str) -> dict[str, Any]:
    found = get_named_type(FIELDS[mutation].args["input"].type)
    assert isinstance(found, GraphQLInputObjectType)
    return {python_name(name): field.type for name, field in found.fields.items()}


def names_a_record(mutation: str, name: str, graphql_type: Any) -> bool:
    named = get_named_type(graphql_type).name
    return named in ("ID", "TraceOrigin") or (mutation, name) == ("correctEvent", "position")


def sentinel(name: str, graphql_type: Any, origin_kind: str) -> Any:
    """A value of its own for each record-naming field, to find again among the targets."""
    inner = graphql_type.of_type if isinstance(graphql_type, GraphQLNonNull) else graphql_type
    named = get_named_type(graphql_type).name
    if named == "TraceOrigin":
        value = A_DONATION if origin_kind == "DONATION" else f"v-{name}"
        return {"kind": TraceNodeKind(origin_kind).value, "id": value, "window": None}
    if name == "position":
        return 7001
    if named != "ID":
        return None
    value = A_DONATION if "donation" in name else f"v-{name}"
    return [value] if isinstance(inner, GraphQLList) else value


def found_in(name: str, value: Any, targets: list[Target]) -> bool:
    if isinstance(value, dict):
        value = value["id"]
    if isinstance(value, list):
        value = value[0]
    if value == A_DONATION:
        value = normalise_donation_id(value)[0]
    return any(str(value) in t.id for t in targets)


def test_every_mutation_of_the_schema_has_a_target_rule_and_a_role():
    assert set(FIELDS) == set(MUTATIONS)
    assert set(FIELDS) == EVERY_MUTATION
    for name in FIELDS:
        assert any(name in r.mutations for r in ROLES.values() if r.name != "development"), name


def test_the_one_mutation_besides_the_declared_commands_is_the_batch_of_them():
    assert set(SCHEMA.mutation_type.fields) - set(DECLARED) == BATCHES == {"submitCommands"}


def test_every_declared_exemption_names_a_field_of_the_schema():
    for mutation, name in NEEDS_NO_REACH:
        assert name in input_fields(mutation), (mutation, name)


CASES = [
    pytest.param(mutation, kind, id=f"{mutation}-{kind}" if kind else mutation)
    for mutation in sorted(FIELDS)
    for kind in (
        [k.value for k in TraceNodeKind]
        if any(get_named_type(t).name == "TraceOrigin" for t in input_fields(mutation).values())
        else [""]
    )
]


@pytest.mark.parametrize(("mutation", "origin_kind"), CASES)
def test_every_field_naming_a_record_feeds_a_target_or_says_why_not(mutation, origin_kind):
    fields = input_fields(mutation)
    values = {n: sentinel(n, t, origin_kind) for n, t in fields.items()}

    targets = MUTATIONS[mutation](values)

    unchecked = [
        name
        for name, graphql_type in fields.items()
        if names_a_record(mutation, name, graphql_type)
        and (mutation, name) not in NEEDS_NO_REACH
        and not found_in(name, values[name], targets)
    ]
    assert unchecked == [], f"{mutation}: no target checks {unchecked}"
    for name in fields:
        if (mutation, name) in NEEDS_NO_REACH:
            assert not found_in(name, values[name], targets), (mutation, name, "is checked")


def test_every_exemption_says_why():
    assert all(reason.strip() for reason in NEEDS_NO_REACH.values())


def test_every_declared_command_runs_a_method_of_a_command_group():
    for name, declared in DECLARED.items():
        assert (
            TraceabilityLedger.group_of(declared.function) in TraceabilityLedger.groups().values()
        ), name


@strawberry.input
class ShipInput:
    shipment_id: strawberry.ID
    batch_ids: list[strawberry.ID]
    from_site_id: strawberry.ID
    to_site_id: strawberry.ID
    carrier: str
    dispatched_at: datetime


def dispatch_shipment(
    self, principal, shipment_id, batch_ids, from_site_id, to_site_id, courier, dispatched_at
):
    """The very signature of a command, yet of no command group."""
    raise AssertionError("never called")


# A declaration complete in every part: it fails only because dispatchShipment is declared.
COMPLETE: dict[str, Any] = {
    "function": DistributionCommands.dispatch_shipment,
    "input": ShipInput,
    "roles": (COURIER,),
    "targets": {
        "shipment_id": NoReach("the shipment it dispatches"),
        "batch_ids": of("Batch"),
        "from_site_id": site,
        "to_site_id": NoReach("any registered site"),
    },
    "renamed": {"carrier": "courier"},
    "description": "a declaration complete in every part",
}
WITHOUT_FROM_SITE = {k: v for k, v in COMPLETE["targets"].items() if k != "from_site_id"}


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({}, "dispatchShipment is declared twice"),
        ({"roles": ()}, "names no role"),
        ({"roles": (COURIER, "kingmaker")}, "names kingmaker"),
        ({"roles": (DEVELOPMENT,)}, "names development"),
        ({"targets": WITHOUT_FROM_SITE}, "no target rule for from_site_id"),
        ({"targets": {**COMPLETE["targets"], "shipment_ids": site}}, "shipment_ids is no field"),
        ({"targets": {**COMPLETE["targets"], "batch_ids": "Batch"}}, "neither a function"),
        (
            {"targets": {**COMPLETE["targets"], "batch_ids": container_of("batch_id")}},
            "batch_id is no field",
        ),
        ({"defaults": {"site_id": lambda identity: None}}, "site_id is no field"),
        ({"renamed": {}}, "has no parameter carrier"),
        ({"renamed": {"carrier": "courier", "to_site_id": "to"}}, "gives no to_site_id"),
        ({"function": dispatch_shipment}, "is not a command of a command group"),
    ],
)
def test_a_declaration_that_leaves_something_out_does_not_load(change, refusal):
    """Each part of a declaration is required: without it, the module declaring it fails to
    load, and nothing of it is recorded."""
    before = dict(DECLARED), set(EVERY_MUTATION)

    with pytest.raises(TypeError) as refused:
        command(**{**COMPLETE, **change})

    assert refusal in str(refused.value)
    assert (dict(DECLARED), set(EVERY_MUTATION)) == before
