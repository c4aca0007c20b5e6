"""The input validators every command shares (domain/shared.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from domain.shared import (
    BadInputError,
    require_country,
    require_identifier,
    require_not_future,
    require_offset,
    require_text,
)

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)

# The 27 member states, written out here independently of the product's list.
EU_27 = [
    "AT",
    "BE",
    "BG",
    "CY",
    "CZ",
    "DE",
    "DK",
    "EE",
    "ES",
    "FI",
    "FR",
    "GR",
    "HR",
    "HU",
    "IE",
    "IT",
    "LT",
    "LU",
    "LV",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "SE",
    "SI",
    "SK",
]


def refused(call, *args) -> BadInputError:
    with pytest.raises(BadInputError) as caught:
        call(*args)
    assert caught.value.code == "BAD_INPUT"
    return caught.value


# ---------------------------------------------------------------------------------- country


@pytest.mark.parametrize(
    ("jurisdiction", "country"),
    [("TW", "TW"), ("UK", "GB"), ("US", "US"), *(("EU", code) for code in EU_27)],
)
def test_a_country_under_its_jurisdiction_is_accepted(jurisdiction, country):
    assert require_country(country, jurisdiction) == country


def test_surrounding_spaces_around_a_country_code_are_dropped():
    assert require_country(" DE ", "EU") == "DE"


@pytest.mark.parametrize(
    "country",
    [
        "UK",  # the United Kingdom's ISO code is GB
        "EL",  # the EU's own abbreviation for Greece, not ISO 3166
        "EU",
        "TWN",  # alpha-3
        "T",
        "",
        "XK",  # user-assigned (Kosovo), not officially assigned
        "AN",  # Netherlands Antilles, withdrawn in 2010
        "158",  # numeric code of Taiwan
    ],
)
def test_a_country_that_is_not_an_iso_alpha_2_code_is_refused(country):
    error = refused(require_country, country, "EU" if country != "UK" else "UK")

    assert error.details["field"] == "country"


def test_a_missing_country_is_refused():
    assert refused(require_country, None, "TW").details["field"] == "country"


@pytest.mark.parametrize(
    ("jurisdiction", "country"),
    [
        ("EU", "TW"),
        ("EU", "GB"),  # no longer a member state
        ("EU", "CH"),  # EFTA, not EU
        ("EU", "NO"),  # EEA, not EU
        ("UK", "IE"),
        ("UK", "DE"),
        ("TW", "CN"),
        ("TW", "JP"),
        ("US", "CA"),
        ("US", "PR"),  # a separate ISO code
    ],
)
def test_a_country_outside_its_jurisdiction_is_refused(jurisdiction, country):
    error = refused(require_country, country, jurisdiction)

    assert error.details["field"] == "country"
    assert jurisdiction in error.message


@pytest.mark.parametrize("jurisdiction", ["JP", "GB", "eu", ""])
def test_an_unknown_jurisdiction_is_refused(jurisdiction):
    country = "JP" if jurisdiction == "JP" else "GB"

    assert refused(require_country, country, jurisdiction).details["field"] == "jurisdiction"


# ------------------------------------------------------------------------------- timestamps


def test_a_timestamp_without_an_offset_is_refused():
    naive = datetime(2025, 5, 1, 9, 0)

    error = refused(require_offset, naive, "effectiveAt")

    assert error.details["field"] == "effectiveAt"
    assert "UTC offset" in error.message


@pytest.mark.parametrize(
    "offset", [timedelta(0), timedelta(hours=8), timedelta(hours=-5, minutes=-30)]
)
def test_a_timestamp_with_any_offset_is_accepted_unchanged(offset):
    value = datetime(2025, 5, 1, 9, 0, tzinfo=timezone(offset))

    assert require_offset(value, "effectiveAt") is value


def test_require_not_future_also_refuses_a_timestamp_without_an_offset():
    refused(require_not_future, datetime(2025, 5, 1, 9, 0), "effectiveAt", NOW)


@pytest.mark.parametrize(
    "ahead",
    [timedelta(days=-3650), timedelta(0), timedelta(minutes=4, seconds=59), timedelta(minutes=5)],
)
def test_a_timestamp_up_to_five_minutes_ahead_of_the_ledger_clock_is_accepted(ahead):
    assert require_not_future(NOW + ahead, "effectiveAt", NOW) == NOW + ahead


@pytest.mark.parametrize(
    "ahead", [timedelta(minutes=5, microseconds=1), timedelta(minutes=6), timedelta(days=365)]
)
def test_a_timestamp_more_than_five_minutes_in_the_future_is_refused(ahead):
    error = refused(require_not_future, NOW + ahead, "registeredAt", NOW)

    assert error.details["field"] == "registeredAt"


def test_the_future_is_judged_by_instant_not_by_wall_clock():
    # 19:00 in Taipei is 11:00 UTC: an hour before NOW although its wall clock is later.
    taipei_evening = datetime(2026, 1, 15, 19, 0, tzinfo=timezone(timedelta(hours=8)))
    # 07:10 in New York is 12:10 UTC: ten minutes ahead although its wall clock is earlier.
    new_york_morning = datetime(2026, 1, 15, 7, 10, tzinfo=timezone(timedelta(hours=-5)))

    assert require_not_future(taipei_evening, "effectiveAt", NOW) == taipei_evening
    refused(require_not_future, new_york_morning, "effectiveAt", NOW)


# ------------------------------------------------------------------------------------- text


@pytest.mark.parametrize("value", [None, "", " ", "\t\n", "\u3000"])
def test_blank_text_is_refused(value):
    error = refused(require_text, value, "reason")

    assert error.details["field"] == "reason"


def test_text_is_kept_without_surrounding_spaces():
    assert require_text("  HEPA filter failed \n", "reason") == "HEPA filter failed"


@pytest.mark.parametrize("value", ["TW CTRL", "Site:TW-CTRL", "x" * 65, "", "  "])
def test_an_identifier_with_spaces_colons_or_over_64_characters_is_refused(value):
    refused(require_identifier, value, "id")


@pytest.mark.parametrize("value", ["TW-CTRL-TPE", "x" * 64, "台北-中控中心"])
def test_a_well_formed_identifier_is_accepted(value):
    assert require_identifier(value, "id") == value
