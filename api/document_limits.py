"""What a GraphQL document may ask for: an estimated cost, checked before anything runs; and
which of its operations runs (a document of several must name one in ``operationName``).

The cost is counted on the parsed document, once per distinct document (validation is cached),
in one pass that stops as soon as it is well past the limit. The weights (docs/access-control.md):

- every field selected costs 1, times the size of the lists it sits in;
- a field with a ``first`` argument is a page of that many (written in the document; a variable
  or no ``first`` counts the argument's default, else 50); the list it pages is not counted again;
- any other list counts as ``LIST_ESTIMATE`` (10) items;
- every fragment spread and inline fragment costs 1;
- selecting a response name already selected in the same selection set costs 1 more for each
  earlier selection of it (merging n selections of one name costs the server about n² / 2
  comparisons, which a wide document of repeated fields would otherwise get for free).

Over the limit, validation stops at once with BAD_INPUT naming the cost and the limit, before
the other rules spend anything on the document.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
)
from graphql.validation.validate import ValidationAbortedError
from strawberry.extensions import SchemaExtension

from api.common import MAX_PAGE

LIST_ESTIMATE = 10
DEFAULT_PAGE = 50
COUNT_UP_TO = 10  # times the limit: the count stops there ("more than ...")


@dataclass(frozen=True)
class _Level:
    """One selection set to count: the type it selects on, the product of the list sizes around
    it, the response names already selected at its level, whether its parent field was a page,
    and the fragments being expanded (a fragment inside itself is not expanded again)."""

    selections: SelectionSetNode
    parent: Any
    factor: int
    seen: dict[str, int]
    paged: bool
    fragments: frozenset[str]


def query_cost(schema: GraphQLSchema, document: DocumentNode, stop_above: int) -> int:
    """The document's cost, counted until it passes ``stop_above``."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    pending = [
        _Level(d.selection_set, schema.get_root_type(d.operation), 1, {}, False, frozenset())
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    ]
    cost = 0
    while pending and cost <= stop_above:
        level = pending.pop()
        for selection in level.selections.selections or ():
            if isinstance(selection, FieldNode):
                cost += _field(level, selection, pending)
            elif isinstance(selection, InlineFragmentNode):
                cost += 1
                condition = selection.type_condition
                parent = schema.get_type(condition.name.value) if condition else level.parent
                pending.append(_within(level, selection.selection_set, parent, level.fragments))
            elif isinstance(selection, FragmentSpreadNode):
                cost += 1
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is not None and name not in level.fragments:
                    parent = schema.get_type(fragment.type_condition.name.value)
                    pending.append(
                        _within(level, fragment.selection_set, parent, level.fragments | {name})
                    )
    return cost


def _within(level: _Level, selections: SelectionSetNode, parent: Any, names: Any) -> _Level:
    """A fragment's selections: at the same level, merged with its other selections."""
    return _Level(selections, parent, level.factor, level.seen, level.paged, names)


def _field(level: _Level, node: FieldNode, pending: list[_Level]) -> int:
    """A field's own cost; its selections, if any, go on ``pending``."""
    key = (node.alias or node.name).value
    earlier = level.seen.get(key, 0)
    level.seen[key] = earlier + 1
    if node.selection_set is None:
        return level.factor + earlier
    definition = None
    if isinstance(level.parent, GraphQLObjectType | GraphQLInterfaceType):
        definition = level.parent.fields.get(node.name.value)
    kind = definition.type if definition is not None else None
    if isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    first = definition.args.get("first") if definition is not None else None
    paged = first is not None
    if first is not None:
        size = _page(node, first.default_value)
    elif isinstance(kind, GraphQLList):
        size = 1 if level.paged else LIST_ESTIMATE
    else:
        size = 1
    while isinstance(kind, GraphQLList | GraphQLNonNull):
        kind = kind.of_type
    pending.append(_Level(node.selection_set, kind, level.factor * size, {}, paged, frozenset()))
    return level.factor + earlier


def _page(node: FieldNode, default: Any) -> int:
    for argument in node.arguments or ():
        if argument.name.value == "first" and isinstance(argument.value, IntValueNode):
            return max(1, min(int(argument.value.value), MAX_PAGE))
    return default if isinstance(default, int) and default > 0 else DEFAULT_PAGE


def cost_rule(limit: int) -> type[ASTValidationRule]:
    """A validation rule refusing documents that cost more than ``limit``."""

    class QueryCost(ValidationRule):
        def enter_document(self, node: DocumentNode, *_: Any) -> None:
            cost = query_cost(self.context.schema, node, limit * COUNT_UP_TO)
            if cost <= limit:
                return
            most = limit * COUNT_UP_TO
            counted = f"{cost:,}" if cost <= most else f"more than {most:,}"
            # Aborting validation spares the other rules (merging repeated fields costs the
            # square of their number) on a document that is refused anyway.
            raise ValidationAbortedError(
                f"the query's cost is {counted}, over the limit of {limit:,}: ask for fewer "
                "fields, smaller pages (first) or fewer repeated selections "
                "(docs/access-control.md explains the weights)",
                extensions={"code": "BAD_INPUT", "cost": min(cost, most), "limit": limit},
            )

    return QueryCost


class OneOperation(SchemaExtension):
    """A document of several operations runs the one ``operationName`` names; without the name
    it is refused (BAD_INPUT) rather than running whichever comes first."""

    def on_parse(self) -> Iterator[None]:
        yield
        execution = self.execution_context
        document = execution.graphql_document
        # The name the request gave (operation_name falls back on the first operation's).
        if document is None or execution._provided_operation_name is not None:
            return
        names = [
            d.name.value if d.name else "(anonymous)"
            for d in document.definitions
            if isinstance(d, OperationDefinitionNode)
        ]
        if len(names) > 1:
            raise GraphQLError(
                f"the document holds {len(names)} operations ({', '.join(names)}); name the one "
                "to run in operationName",
                extensions={"code": "BAD_INPUT"},
            )
