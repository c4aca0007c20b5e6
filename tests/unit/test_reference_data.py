"""Reference data kept as data (domain/reference.py and domain/data/*.json).

The expectations are read from the JSON files themselves (so a quality unit's edit to a file shows
up here), and the law's own wording is checked against them as well: Taiwan 7 days counted from the
day after awareness, the EU and the UK 15 days, non-serious 90 days.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest

import domain
from domain import adverse_reporting, reference
from domain.shared import BadInputError

DATA = Path(domain.__file__).parent / "data"
TAIPEI = timezone(timedelta(hours=8))
BERLIN_SUMMER = timezone(timedelta(hours=2))


def data_file(name: str) -> dict:
    raw = json.loads((DATA / name).read_text(encoding="utf-8"))
    return {k: v for k, v in raw.items() if not k.startswith("_")}


PRODUCTS = data_file("products.json")


def end_of_day(day: date, tz: timezone) -> datetime:
    return datetime.combine(day, time.max, tzinfo=tz)


# ------------------------------------------------------------------------------------ products


def test_every_product_in_the_file_is_configured_and_nothing_else():
    assert set(reference.products()) == set(PRODUCTS)
    assert PRODUCTS, "the product file must configure at least one product"


@pytest.mark.parametrize("code", sorted(PRODUCTS))
def test_a_product_requires_exactly_the_qc_tests_its_file_lists(code):
    spec = PRODUCTS[code]

    product = reference.product(code)

    assert product.code == code
    assert product.name == spec["name"]
    listed = [r["test"] for r in spec["release_requirements"]]
    assert product.required_qc_tests == frozenset(t.upper() for t in listed)
    assert len(listed) == len(product.required_qc_tests), "a test is listed once"
    assert product.shelf_life_days == spec["shelf_life_days"]


@pytest.mark.parametrize("code", sorted(PRODUCTS))
def test_every_product_requires_at_least_sterility_endotoxin_and_mycoplasma(code):
    assert {"STERILITY", "ENDOTOXIN", "MYCOPLASMA"} <= reference.product(code).required_qc_tests


def test_the_car_t_products_require_the_car_specific_tests():
    for code in ("CART-CD19-AUTO", "CART-BCMA-AUTO"):
        assert {"CAR_EXPRESSION", "VECTOR_COPY_NUMBER", "VIABILITY", "IDENTITY"} <= (
            reference.product(code).required_qc_tests
        )
    assert "POTENCY" in reference.product("MSC-ALLO").required_qc_tests


def test_car_t_products_require_potency_and_rcl_and_msc_purity_and_karyotype():
    for code in ("CART-CD19-AUTO", "CART-BCMA-AUTO"):
        assert {"POTENCY", "RCL"} <= reference.product(code).required_qc_tests
    assert {"PURITY", "KARYOTYPE"} <= reference.product("MSC-ALLO").required_qc_tests


@pytest.mark.parametrize("code", sorted(PRODUCTS))
def test_every_release_requirement_names_its_source(code):
    for requirement in reference.product(code).release_requirements:
        assert len(requirement.source) > 20, requirement
    sources = {r.test: r.source for r in reference.product(code).release_requirements}
    if code.startswith("CART-"):
        assert "EMA/CAT/GTWP/671639/2008 Rev.1" in sources["RCL"]
        assert "EMA/CAT/GTWP/671639/2008 Rev.1" in sources["POTENCY"]
    else:
        assert "ISCT minimal criteria" in sources["PURITY"]


@pytest.mark.parametrize("code", ["CART-CD20-AUTO", "cart-cd19-auto", "", "_comment"])
def test_an_unknown_product_is_bad_input_naming_the_configured_ones(code):
    with pytest.raises(BadInputError) as caught:
        reference.product(code)

    assert caught.value.code == "BAD_INPUT"
    assert caught.value.details["field"] == "product"
    for configured in PRODUCTS:
        assert configured in caught.value.message


# --------------------------------------------- adverse-reaction deadlines in Taiwan's calendar
# (every rule of domain/data/adverse_reaction_deadlines.json is shown on a case, through the API,
# in tests/api/test_adverse_reporting.py; these pin the calendar count itself)


def taiwan_technology_rule() -> adverse_reporting.ReportingRule:
    (rule,) = [r for r in adverse_reporting.rules() if r.rule == "TW-TECHNOLOGY-SERIOUS"]
    assert (rule.days, rule.clock_starts, rule.utc_offset) == (7, "day_after_awareness", "+08:00")
    return rule


@pytest.mark.parametrize(
    "aware_at",
    [
        datetime(2026, 3, 2, 10, 30, tzinfo=TAIPEI),  # a Monday morning in Taipei
        datetime(2026, 3, 2, 0, 0, tzinfo=TAIPEI),  # the first instant of the day
        datetime(2026, 3, 2, 23, 59, 59, 999999, tzinfo=TAIPEI),  # the last instant
        datetime(2026, 2, 26, 9, 0, tzinfo=TAIPEI),  # counting runs over the end of February
        datetime(2025, 12, 30, 9, 0, tzinfo=TAIPEI),  # and over the end of the year
    ],
)
def test_a_serious_reaction_in_taiwan_is_due_by_the_end_of_the_seventh_day_after_awareness(
    aware_at,
):
    # Day 1 is the day after awareness; the report is due before day 8 begins.
    seventh_day = aware_at.date() + timedelta(days=7)

    deadline = taiwan_technology_rule().deadline(aware_at)

    assert deadline == end_of_day(seventh_day, TAIPEI)
    assert deadline.utcoffset() == timedelta(hours=8)
    assert deadline < datetime.combine(seventh_day + timedelta(days=1), time(), tzinfo=TAIPEI)


def test_the_taiwan_count_follows_taiwans_calendar_whatever_offset_awareness_is_given_in():
    # 01:00 on 3 March in Taipei is still 2 March in UTC: the count runs on Taipei's calendar,
    # because Taiwanese law counts the days, not the reporter's clock.
    aware_at = datetime(2026, 3, 3, 1, 0, tzinfo=TAIPEI)
    rule = taiwan_technology_rule()

    deadline = rule.deadline(aware_at)

    assert deadline == end_of_day(date(2026, 3, 10), TAIPEI)
    assert deadline.utcoffset() == timedelta(hours=8)
    # The same instant given in UTC gives the same deadline.
    assert rule.deadline(aware_at.astimezone(UTC)) == deadline


def test_each_product_says_whose_cells_it_is_made_from():
    for code, spec in PRODUCTS.items():
        assert reference.product(code).origin == reference.Origin(spec["origin"])
    assert reference.product("CART-CD19-AUTO").origin is reference.Origin.AUTOLOGOUS
    assert reference.product("MSC-ALLO").origin is reference.Origin.ALLOGENEIC


def test_a_product_is_kept_within_its_storage_range_and_not_outside_it():
    storage = reference.product("CART-CD19-AUTO").storage
    assert storage.min_celsius == PRODUCTS["CART-CD19-AUTO"]["storage"]["min_celsius"]

    assert storage.allows(-160.0)
    assert storage.allows(storage.max_celsius)
    assert not storage.allows(-60.0)
    assert not storage.allows(storage.min_celsius - 1)
    assert "°C" in storage.describe()
