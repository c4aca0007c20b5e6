"""Every mutation of the API, fed odd input: injection strings, NUL characters, very long and
odd unicode strings, extreme numbers, dates and enum values.

Whatever comes in, the answer is never a 500 nor an INTERNAL error; every refusal carries an
``extensions.code``; and a refused command leaves the ledger exactly as long as it was.

Hypothesis generates whole inputs from the product's own schema, so a mutation added later is
fuzzed too; most are refused by validation or the rules (test_odd_values.py puts odd values in
commands that would otherwise be accepted). Runs are derandomised and bounded in number.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

import graphql
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as run
from hypothesis import strategies as st

from tests.integration import chain as ch
from tests.reliability.fuzz import (
    INJECTIONS,
    MUTATIONS,
    SCHEMA,
    Odd,
    assert_the_ledger_verifies,
    check,
)
from tests.reliability.harness import Seeded

EXAMPLES = {"sqlite": 15, "postgresql": 4}  # per mutation, of wholly generated input

# Identifiers and names that the seeded ledger knows, so that commands get past NOT_FOUND and
# meet the rules.
KNOWN = [
    ch.CTRL,
    ch.SPOKE,
    ch.HOSPITAL,
    ch.LAB,
    ch.LOT,
    ch.DONOR,
    ch.BATCH,
    ch.PATIENT,
    ch.SHIPMENT,
    ch.din(1),
    ch.din_with_check(1),
    "B-0002",
    "DNR-0002",
    "PT-0002",
    "AE-0001",
    "DEV-1",
    "MSC-ALLO",
    "CART-CD19-AUTO",
    "TW",
    "TFDA",
    "STERILITY",
    "name",
    "reason",
    "material",
    "description",
]

KNOWN_BY_FIELD = {
    "site": [ch.CTRL, ch.SPOKE, ch.HOSPITAL, ch.LAB],
    "batch": [ch.BATCH, "B-0002"],
    "donor": [ch.DONOR, "DNR-0002"],
    "donation": [ch.din(1), ch.din_with_check(1), ch.din(2)],
    "lot": [ch.LOT],
    "patient": [ch.PATIENT, "PT-0002"],
    "shipment": [ch.SHIPMENT],
    "adverseevent": ["AE-0001"],
    "deviation": ["DEV-1"],
}


def texts(odd: Odd) -> st.SearchStrategy[str]:
    characters = st.characters(
        exclude_categories=[] if odd.surrogates else ["Cs"],
        exclude_characters=[] if odd.nul else ["\x00"],
    )
    odd_strings = INJECTIONS + (["A\x00B", "\x00"] if odd.nul else [])
    odd_strings += ["\ud800", "pair\udfff half"] if odd.surrogates else []
    long_text = st.tuples(st.sampled_from(["Z", "细", "🧬", "' OR 1=1 -- "]), st.integers(65, 2000))
    return st.one_of(
        st.sampled_from(KNOWN),
        st.sampled_from(odd_strings),
        st.text(characters, max_size=40),
        long_text.map(lambda x: x[0] * x[1]),
    )


def offsets() -> st.SearchStrategy[timezone]:
    return st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


def datetimes(now: datetime, odd: Odd) -> st.SearchStrategy[str]:
    """Times near the seeded chain, far ones, ones without an offset, and non-times."""
    recent = st.integers(-90 * 24 * 60, 2 * 24 * 60).map(lambda m: now + timedelta(minutes=m))
    near = st.tuples(recent, offsets()).map(lambda x: x[0].astimezone(x[1]).isoformat())
    return st.one_of(
        near,
        near,
        near,
        st.datetimes(
            min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=offsets()
        ).map(datetime.isoformat),
        st.datetimes(min_value=datetime(1900, 1, 1)).map(datetime.isoformat),  # no offset
        st.sampled_from(
            [
                "",
                "yesterday",
                "2026-02-30T10:00:00+00:00",
                "2026-13-01T00:00:00Z",
                "2026-01-01",
                "2026-01-01T25:00:00+08:00",
                "1970-01-01T00:00:00Z",
                "0001-01-01T00:00:00+00:00",
                "9999-12-31T23:59:59+00:00",
                "'; DROP TABLE ledger; --",
                *(
                    ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]
                    if odd.far_times
                    else []
                ),
            ]
        ),
    )


def json_values(odd: Odd) -> st.SearchStrategy[Any]:
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**63),
        st.floats(allow_nan=False, allow_infinity=False),
        texts(odd),
    )
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts(odd), inner, max_size=3),
        max_leaves=8,
    )


def known_for(name: str) -> list[str]:
    """The known identifiers an input field named ``name`` most likely takes."""
    lowered = name.lower()
    return next((ids for key, ids in KNOWN_BY_FIELD.items() if key in lowered), KNOWN)


def value(
    kind: graphql.GraphQLInputType, odd: Odd, now: datetime, name: str = ""
) -> st.SearchStrategy[Any]:
    """Values of a GraphQL input type (mostly of the right type, so they reach the ledger)."""
    if isinstance(kind, graphql.GraphQLNonNull):
        return inner(kind.of_type, odd, now, name)
    return st.none() | inner(kind, odd, now, name)


def inner(
    kind: graphql.GraphQLInputType, odd: Odd, now: datetime, name: str = ""
) -> st.SearchStrategy[Any]:
    if isinstance(kind, graphql.GraphQLList):
        return st.lists(value(kind.of_type, odd, now, name), max_size=3)
    if isinstance(kind, graphql.GraphQLEnumType):
        return st.sampled_from(list(kind.values)) | st.sampled_from(["", "UNKNOWN", "tw"])
    if isinstance(kind, graphql.GraphQLInputObjectType):
        fields = kind.fields.items()
        required = {n: value(f.type, odd, now, n) for n, f in fields if _required(f)}
        optional = {n: value(f.type, odd, now, n) for n, f in fields if not _required(f)}
        return st.fixed_dictionaries(required, optional=optional)
    assert isinstance(kind, graphql.GraphQLScalarType), kind
    scalars: dict[str, st.SearchStrategy[Any]] = {
        "Int": st.integers(-(2**31), 2**31 - 1) | st.sampled_from([0, 1, -1, 2**31 - 1, 2**40]),
        "Float": st.floats(allow_nan=False, allow_infinity=False)
        | st.sampled_from([-273.16, 1e308]),
        "Boolean": st.booleans(),
        "DateTime": datetimes(now, odd),
        "JSON": json_values(odd),
    }
    if kind.name == "ID":  # mostly identifiers the ledger knows, so rules are reached
        known = st.sampled_from(known_for(name))
        return st.one_of(known, known, known, texts(odd))
    return scalars.get(kind.name, texts(odd))


def _required(field: graphql.GraphQLInputField) -> bool:
    return (
        isinstance(field.type, graphql.GraphQLNonNull) and field.default_value is graphql.Undefined
    )


# --------------------------------------------------------------------------- the seeded ledger


def examples(count: int) -> Any:
    return run(
        max_examples=count,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_no_input_to_a_mutation_breaks_the_api_or_writes_part_of_a_refused_command(
    seeded: Seeded, mutation: str
):
    dialect = seeded.settings.database.dialect
    assert SCHEMA.mutation_type is not None
    input_type = SCHEMA.mutation_type.fields[mutation].args["input"].type
    outcomes: Counter[str] = Counter()

    @examples(EXAMPLES[dialect])
    @given(input=value(input_type, Odd(), seeded.now))
    def fuzz(input: Any) -> None:
        outcomes[check(seeded, mutation, input)] += 1

    fuzz()

    assert set(outcomes) - {"accepted"}, f"no input to {mutation} was refused: nothing tested"
    assert_the_ledger_verifies(seeded)
