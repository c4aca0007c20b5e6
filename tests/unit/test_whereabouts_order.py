"""Whereabouts answer by business time, whatever order the facts were entered in: a step at the
first site entered after a later one at another site does not put the item back there later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.custody import Whereabouts

T0 = datetime(2026, 3, 1, 8, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def test_a_back_filled_move_goes_where_its_time_puts_it() -> None:
    where = Whereabouts("A", day(0))
    where.moved("B", day(2))  # a step at B, entered first
    where.moved("A", day(1))  # a step at A, back-filled: A is where it already was then

    assert [(s.site_id, s.since) for s in where.stays] == [("A", day(0)), ("B", day(2))]
    at_1 = where.at(day(1.5))
    at_3 = where.at(day(3))
    assert at_1 is not None
    assert at_1.site_id == "A"
    assert at_3 is not None
    assert at_3.site_id == "B"
    assert where.current.site_id == "B"


def test_a_back_filled_move_elsewhere_is_inserted_in_time_order() -> None:
    where = Whereabouts("A", day(0))
    where.moved("C", day(4))
    where.moved("B", day(2))

    assert [(s.site_id, s.since) for s in where.stays] == [
        ("A", day(0)),
        ("B", day(2)),
        ("C", day(4)),
    ]
    left = where.left("A", day(0), day(3))
    assert left is not None
    assert left.site_id == "B"
    assert where.current.site_id == "C"
