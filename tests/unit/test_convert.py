"""A GraphQL type built from a read-side row by matching names (api/convert.py), and the types
built that way: each field they copy exists in the row with the same type, so that a renamed
or retyped column of the view is caught here rather than by a client."""

from __future__ import annotations

import dataclasses
import functools
import operator
import types
import typing
from datetime import UTC, datetime
from typing import Any

import pytest
import strawberry

from api.convert import from_view
from api.vigilance import FollowUpVisit, ReportableDeviation
from projections.vigilance import DeviationReportView, VisitView

AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


@strawberry.type
class Pair:
    name: strawberry.ID
    count: int
    note: str | None = None


@dataclasses.dataclass
class Row:
    name: str
    count: int
    note: str | None
    extra: str = "not a field of Pair"


def test_fields_are_copied_by_name_and_given_ones_win():
    built = from_view(Pair, Row("a", 2, "n"), count=7)
    assert (built.name, built.count, built.note) == ("a", 7, "n")


def test_a_field_the_view_lacks_is_an_error_not_a_default():
    @dataclasses.dataclass
    class Short:
        name: str
        count: int

    with pytest.raises(AttributeError, match="note"):
        from_view(Pair, Short("a", 2))


def test_a_given_name_that_is_no_field_is_refused():
    with pytest.raises(TypeError, match="Pair has no field cuont"):
        from_view(Pair, Row("a", 2, None), cuont=7)


def _plain(hint: Any) -> Any:
    """The type with strawberry.ID read as the str it carries."""
    if hint is strawberry.ID:
        return str
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return functools.reduce(operator.or_, (_plain(a) for a in typing.get_args(hint)))
    return hint


@pytest.mark.parametrize(
    ("graphql_type", "view", "given"),
    [
        (FollowUpVisit, VisitView, {"months_after_administration": "months"}),
        (ReportableDeviation, DeviationReportView, {}),
    ],
)
def test_each_copied_field_has_the_views_type(graphql_type, view, given):
    ours = typing.get_type_hints(graphql_type)
    theirs = typing.get_type_hints(view)
    for field in dataclasses.fields(graphql_type):
        source = given.get(field.name, field.name)
        assert source in theirs, f"{view.__name__} has no {source}"
        assert _plain(ours[field.name]) == _plain(theirs[source]), field.name


def test_a_visit_is_converted_whole():
    v = VisitView(
        batch_id="B1",
        patient_code="P1",
        product="CAR-T",
        site_id="S1",
        control_site_id="C1",
        administered_at=AT,
        visit=2,
        months=6,
        kind="EXAMINATION",
        due_at=AT,
        window_from=AT,
        window_to=AT,
        status="OVERDUE",
        visited_at=None,
        outcome=None,
        source="schedule",
    )
    shown = FollowUpVisit.of(v)
    assert shown.months_after_administration == 6
    expected = dataclasses.asdict(v)
    expected["months_after_administration"] = expected.pop("months")
    assert dataclasses.asdict(shown) == expected
