"""The JSON scalar, with the one check every JSON value a partner sends passes first: its depth.

Batch-step parameters, personal data and a corrected value arrive as JSON, in variables or
written in the document. Each is measured, without recursion, before anything else walks it (the
checks at the door, the codec that stores it, the views): deeper than ``MAX_JSON_DEPTH`` levels
is BAD_INPUT, naming the limit. Answers (an event's payload, an EPCIS document) are not checked.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError
from strawberry.scalars import JSON
from strawberry.types.scalar import ScalarDefinition, scalar

from domain.shared import BadInputError, require_json_depth

ECMA_404 = (
    "https://ecma-international.org/wp-content/uploads/ECMA-404_2nd_edition_december_2017.pdf"
)


def parse_json_input(value: Any) -> Any:
    try:
        return require_json_depth(value, "a JSON value")
    except BadInputError as error:
        raise GraphQLError(error.message, extensions={"code": "BAD_INPUT"}) from None


# strawberry's own JSON scalar (the same name, description and output), parsing with the check.
CHECKED_JSON: ScalarDefinition = scalar(
    name="JSON",
    description=(
        f"The `JSON` scalar type represents JSON values as specified by [ECMA-404]({ECMA_404})."
    ),
    specified_by_url=ECMA_404,
    serialize=lambda v: v,
    parse_value=parse_json_input,
)

SCALAR_OVERRIDES: dict[object, ScalarDefinition] = {JSON: CHECKED_JSON}
