"""Every mutation of the schema has a role list and a target rule (api/auth/targets.py), and every
input field that names a record either feeds one of the rule's targets or is declared as needing
no reach, with the reason. Walks the schema itself, so a new command or field cannot slip by."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import pytest
from graphql import GraphQLInputObjectType, GraphQLList, GraphQLNonNull, get_named_type

from api.auth.roles import EVERY_MUTATION, ROLES
from api.auth.targets import MUTATIONS, NEEDS_NO_REACH, Target
from api.schema import build_schema
from api.views.types import TraceNodeKind
from domain.isbt128 import normalise_donation_id

SCHEMA = build_schema()._schema
assert SCHEMA.mutation_type is not None
FIELDS = SCHEMA.mutation_type.fields
A_DONATION = "A999925123456"  # a well-formed donation id: a malformed one names nothing


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
        return SimpleNamespace(kind=TraceNodeKind(origin_kind), id=value, window=None)
    if name == "position":
        return 7001
    if named != "ID":
        return None
    value = A_DONATION if "donation" in name else f"v-{name}"
    return [value] if isinstance(inner, GraphQLList) else value


def found_in(name: str, value: Any, targets: list[Target]) -> bool:
    if isinstance(value, SimpleNamespace):
        value = value.id
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

    targets = MUTATIONS[mutation](SimpleNamespace(**values))

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
