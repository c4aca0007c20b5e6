"""Lists kept as data in one place (domain/data/*.json), and the readers that must follow them:
jurisdictions and member states (sites, API keys, tokens, the GraphQL enum), and the fields a
correction may re-write (the command that refuses the others, the views that show the new value).

Expectations are read from the JSON files themselves, so an edit there shows up here.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

import domain
from api.auth.keys import _check_scope
from api.auth.roles import Scope
from api.common import Jurisdiction
from domain import reference
from domain.application import TraceabilityLedger
from domain.correction_commands import BASE_FIELDS
from domain.shared import (
    EU_MEMBER_STATES,
    ISO_3166_ALPHA2,
    JURISDICTION_COUNTRIES,
    JURISDICTIONS,
    BadInputError,
    LedgerAggregate,
)
from projections import corrections

DATA = Path(domain.__file__).parent / "data"


def data_file(name: str) -> dict:
    raw = json.loads((DATA / name).read_text(encoding="utf-8"))
    return {k: v for k, v in raw.items() if not k.startswith("_")}


LISTED_JURISDICTIONS = data_file("jurisdictions.json")
CORRECTABLE = data_file("correctable_fields.json")

# ------------------------------------------------------------------------------ jurisdictions


def test_the_jurisdictions_are_the_files_in_its_order():
    assert tuple(LISTED_JURISDICTIONS) == JURISDICTIONS
    assert {j: sorted(c) for j, c in JURISDICTION_COUNTRIES.items()} == {
        j: sorted(c) for j, c in LISTED_JURISDICTIONS.items()
    }


def test_the_graphql_enum_offers_exactly_the_listed_jurisdictions():
    assert [member.value for member in Jurisdiction] == list(LISTED_JURISDICTIONS)


def test_the_eu_member_states_are_the_countries_eu_law_covers():
    assert sorted(EU_MEMBER_STATES) == sorted(LISTED_JURISDICTIONS["EU"])
    assert len(EU_MEMBER_STATES) == 27


def test_every_listed_country_is_an_iso_code():
    for countries in LISTED_JURISDICTIONS.values():
        assert set(countries) <= ISO_3166_ALPHA2


@pytest.mark.parametrize("jurisdiction", sorted(LISTED_JURISDICTIONS))
def test_a_regulator_key_may_be_scoped_to_any_listed_jurisdiction(jurisdiction):
    _check_scope(Scope.JURISDICTION, [], jurisdiction, None)


def test_an_eu_regulator_key_may_be_scoped_to_any_member_state_and_nothing_else():
    for member_state in LISTED_JURISDICTIONS["EU"]:
        _check_scope(Scope.JURISDICTION, [], "EU", member_state)
    for outside in ("GB", "CH", "TW"):
        with pytest.raises(BadInputError):
            _check_scope(Scope.JURISDICTION, [], "EU", outside)
    with pytest.raises(BadInputError):
        _check_scope(Scope.JURISDICTION, [], "UK", "DE")


# ------------------------------------------------------------------------ correctable fields


def _recorded_event_types() -> dict[str, type]:
    assert TraceabilityLedger  # every aggregate is imported with the application
    found: dict[str, type] = {}
    pending = list(LedgerAggregate.__subclasses__())
    while pending:
        aggregate = pending.pop()
        pending.extend(aggregate.__subclasses__())
        for value in vars(aggregate).values():
            if isinstance(value, type) and dataclasses.is_dataclass(value):
                found[value.__qualname__] = value
    return found


def test_the_command_reads_the_correctable_fields_from_the_file():
    assert reference.correctable_fields() == {t: frozenset(f) for t, f in CORRECTABLE.items()}


@pytest.mark.parametrize("event_type", sorted(CORRECTABLE))
def test_every_correctable_field_is_a_descriptive_field_of_a_recorded_event(event_type):
    event = _recorded_event_types().get(event_type)
    assert event is not None, f"{event_type} is no recorded event"
    fields = {f.name for f in dataclasses.fields(event)} - BASE_FIELDS
    assert set(CORRECTABLE[event_type]) <= fields
    # Identifiers and what decided a rule are never re-written (a new fact is recorded instead).
    assert not {f for f in CORRECTABLE[event_type] if f.endswith(("_id", "_at")) or f == "passed"}


def test_the_views_show_every_correctable_field_of_the_events_they_show():
    shown = set(corrections.SHOWN)
    listed = {(t, f) for t, fields in CORRECTABLE.items() for f in fields}

    assert shown <= listed
    assert {t for t, _ in listed - shown} == {"Batch.QcResultRecorded"}  # no view shows QC text
