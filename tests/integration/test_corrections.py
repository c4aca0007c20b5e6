"""Corrections (21 CFR Part 11, EU GMP Annex 11) on SQLite and PostgreSQL: a wrong entry is never
edited; a correcting event names the position, the field, the old and new value, the reason and
who corrected it. Views show the corrected value from the correction's position on and the
recorded one before it; the history keeps both; refusals store nothing.

The scenario is one donor-to-patient chain (``tests/integration/chain.py``) and an adverse
reaction; the positions corrected are looked up in the ledger by record and event type.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from api.wiring import Regentrace
from domain.shared import (
    BadInputError,
    DomainError,
    NotFoundError,
    Principal,
    RuleViolationError,
    utcnow,
)
from projections.adverse_events import find_adverse_events
from projections.audit import find_events, verify
from projections.chain import DONATIONS, LOTS
from projections.rebuild import rebuild
from projections.registry import projection_tables
from projections.sites import find_sites
from projections.source_and_flow import find_records
from projections.sql import Sql
from tests.conftest import ledger_size
from tests.integration import chain as c
from tests.integration.chain import BATCH, CTRL, HOSPITAL, LOT, SHIPMENT, SPOKE

QA = Principal("qa-reviewer", "quality_assurance")
AE = "AE-0001"
DONATION = c.din(1)


@pytest.fixture
def chain(service: Regentrace) -> c.Chain:
    built = c.build(service, "administered")
    c.report_adverse_event(built)
    return built


def position_of(service: Regentrace, originator_id: str, event_type: str) -> int:
    with service.read() as sql:
        rows = find_events(sql, aggregate_id=originator_id, event_type=event_type, reach=None)
    assert len(rows) == 1, (originator_id, event_type, rows)
    return int(rows[0]["position"])


def payload_at(service: Regentrace, position: int) -> dict[str, Any]:
    with service.read() as sql:
        (row,) = find_events(sql, from_position=position, to_position=position, reach=None)
    return dict(json.loads(bytes(row["state"])))


def row_at(service: Regentrace, position: int) -> dict[str, Any]:
    with service.read() as sql:
        (row,) = find_events(sql, from_position=position, to_position=position, reach=None)
    return row


def head(service: Regentrace) -> int:
    return int(service.app.head_position())


# Readers of each view that shows a correctable field: (sql, position) -> the value shown.
def site_field(site_id: str, attribute: str) -> Callable[[Sql, int], Any]:
    def read(sql: Sql, position: int) -> Any:
        (site,) = find_sites(sql, position, site_ids=[site_id])
        return getattr(site, attribute)

    return read


def step_field(attribute: str) -> Callable[[Sql, int], Any]:
    def read(sql: Sql, position: int) -> Any:
        (record,) = find_records(sql, position, batch_ids=[BATCH], reach=None)
        (step,) = record.manufacture
        return getattr(step, attribute)

    return read


def courier(sql: Sql, position: int) -> Any:
    (record,) = find_records(sql, position, batch_ids=[BATCH], reach=None)
    (flow,) = record.flow
    return flow.courier


def ae_description(sql: Sql, position: int) -> Any:
    (report,) = find_adverse_events(sql, position, utcnow(), batch_id=BATCH, reach=None)
    return report.description


def lot_field(column: str) -> Callable[[Sql, int], Any]:
    def read(sql: Sql, position: int) -> Any:
        (lot,) = LOTS.select(sql, position, ["lot_id = ?"], [LOT])
        return lot[column]

    return read


def donation_material(sql: Sql, position: int) -> Any:
    (donation,) = DONATIONS.select(sql, position, ["donation_id = ?"], [DONATION])
    records = find_records(sql, position, batch_ids=[BATCH], reach=None)
    assert all(r.donation["material"] == donation["material"] for r in records)
    return donation["material"]


# (record, event type corrected, field as given, field as stored, old value, new value, view)
VIEWS: list[tuple[str, str, str, str, Any, str, Callable[[Sql, int], Any]]] = [
    (
        f"Site:{CTRL}",
        "Site.Registered",
        "name",
        "name",
        f"Site {CTRL}",
        "Taipei Regenerative Medicine Control Centre",
        site_field(CTRL, "name"),
    ),
    (
        f"Site:{SPOKE}",
        "Site.Registered",
        "licenceNumber",
        "licence_number",
        f"TFDA-{SPOKE}",  # the chain's Taiwanese spoke is licensed (tests/integration/chain.py)
        "TFDA-DM-2025-0999",
        site_field(SPOKE, "licence_number"),
    ),
    (
        f"Site:{HOSPITAL}",
        "Site.Registered",
        "contact",
        "contact",
        None,
        "pharmacy@tw-mi-1.example",
        site_field(HOSPITAL, "contact"),
    ),
    (
        f"Batch:{BATCH}",
        "Batch.StepRecorded",
        "operator",
        "operator",
        "op-7",
        "op-8",
        step_field("operator"),
    ),
    (
        f"Batch:{BATCH}",
        "Batch.StepRecorded",
        "equipment",
        "equipment",
        "ISOLATOR-1",
        "ISOLATOR-2",
        step_field("equipment"),
    ),
    (
        f"Shipment:{SHIPMENT}",
        "Shipment.Dispatched",
        "courier",
        "courier",
        "ColdChain Express",
        "Polar Cell Logistics",
        courier,
    ),
    (
        f"AdverseEvent:{AE}",
        "AdverseEvent.Reported",
        "description",
        "description",
        "Cytokine release syndrome grade 3",
        "Cytokine release syndrome grade 2",
        ae_description,
    ),
    (
        f"MaterialLot:{LOT}",
        "MaterialLot.Received",
        "supplier",
        "supplier",
        "Formosa Vector Manufacturing",
        "Formosa Vector Manufacturing Co., Ltd.",
        lot_field("supplier"),
    ),
    (
        f"MaterialLot:{LOT}",
        "MaterialLot.Received",
        "material",
        "material",
        "Lentiviral vector",
        "Lentiviral vector (CD19 CAR)",
        lot_field("material"),
    ),
    (
        f"Donation:{DONATION}",
        "Donation.Recorded",
        "material",
        "material",
        "Bone marrow aspirate",
        "Peripheral blood leukapheresis",
        donation_material,
    ),
]
IDS = [f"{v[1]}.{v[3]}" for v in VIEWS]


# ------------------------------------------------------------------------- the correcting event


def test_a_correction_is_a_new_event_naming_position_field_old_and_new_value_reason_and_actor(
    service, chain
):
    corrected = position_of(service, f"Site:{CTRL}", "Site.Registered")
    original = row_at(service, corrected)
    before = ledger_size(service)

    result = service.app.corrections.correct_event(
        QA, corrected, "name", "Taipei Control Centre", "typo in the registration"
    )

    assert ledger_size(service) == before + 1
    assert result.position == head(service)
    assert result.aggregate_id == f"Site:{CTRL}"
    row = row_at(service, result.position)
    assert (row["originator_id"], int(row["originator_version"])) == (
        f"Site:{CTRL}",
        result.version,
    )
    assert row["event_type"] == "Site.Corrected"
    assert (row["actor"], row["actor_role"]) == ("qa-reviewer", "quality_assurance")
    payload = payload_at(service, result.position)
    assert {k: payload[k] for k in payload if k not in ("timestamp", "occurred_at")} == {
        "corrected_position": corrected,
        "corrected_event_type": "Site.Registered",
        "field": "name",
        "old_value": f"Site {CTRL}",
        "new_value": "Taipei Control Centre",
        "reason": "typo in the registration",
        "correction_of": None,
        "actor": "qa-reviewer",
        "actor_role": "quality_assurance",
    }
    assert row_at(service, corrected) == original, "the corrected event is never edited"
    assert verify(service.read).ok


@pytest.mark.parametrize(
    ("record", "event_type", "given", "field", "old", "new", "view"), VIEWS, ids=IDS
)
def test_views_show_the_corrected_value_from_the_corrections_position_on_and_the_old_before(
    service, chain, record, event_type, given, field, old, new, view
):
    corrected = position_of(service, record, event_type)
    with service.read() as sql:
        assert view(sql, head(service)) == old

    result = service.app.corrections.correct_event(QA, corrected, given, new, "entered wrongly")

    with service.read() as sql:
        assert view(sql, result.position) == new
        assert view(sql, head(service)) == new
        assert view(sql, result.position - 1) == old
        assert view(sql, corrected) == old
    payload = payload_at(service, result.position)
    assert (payload["field"], payload["old_value"], payload["new_value"]) == (field, old, new)
    assert payload["corrected_position"] == corrected
    assert payload["corrected_event_type"] == event_type
    assert payload_at(service, corrected).get(field) == old
    assert verify(service.read).ok


def test_the_history_shows_the_original_and_the_correction(service, chain):
    dispatched = position_of(service, f"Shipment:{SHIPMENT}", "Shipment.Dispatched")

    result = service.app.corrections.correct_event(
        QA, dispatched, "courier", "Polar Cell Logistics", "typo"
    )

    with service.read() as sql:
        found = find_events(sql, aggregate_id=f"Shipment:{SHIPMENT}", reach=None)
    assert [(r["event_type"], int(r["position"])) for r in found] == [
        ("Shipment.Dispatched", dispatched),
        ("Shipment.Received", dispatched + 2),
        ("Shipment.Corrected", result.position),
    ]
    assert [int(r["originator_version"]) for r in found] == [1, 2, 3]
    original, _, correction = (json.loads(bytes(r["state"])) for r in found)
    assert original["courier"] == "ColdChain Express"
    assert correction["old_value"] == "ColdChain Express"
    assert correction["new_value"] == "Polar Cell Logistics"


def test_events_after_a_correction_keep_the_corrected_value(service, chain):
    registered = position_of(service, f"Site:{CTRL}", "Site.Registered")
    reported = position_of(service, f"AdverseEvent:{AE}", "AdverseEvent.Reported")
    service.app.corrections.correct_event(QA, registered, "name", "Taipei Control Centre", "typo")
    service.app.corrections.correct_event(
        QA, reported, "description", "CRS grade 2", "grade misread"
    )

    suspended = service.app.sites.suspend_site(c.NETWORK, CTRL, "QP left")
    submitted = service.app.distribution.submit_adverse_event_to_authority(
        c.PHYSICIAN, AE, "TFDA", chain.at(17)
    )

    with service.read() as sql:
        (site,) = find_sites(sql, suspended.position, site_ids=[CTRL])
        (report,) = find_adverse_events(
            sql, submitted.position, utcnow(), batch_id=BATCH, reach=None
        )
    assert (site.name, site.status) == ("Taipei Control Centre", "SUSPENDED")
    assert (report.description, report.authority) == ("CRS grade 2", "TFDA")


# --------------------------------------------------------------------- correcting a correction


def test_a_correction_of_a_correction_names_the_first_corrections_new_value_as_old(service, chain):
    registered = position_of(service, f"Site:{CTRL}", "Site.Registered")
    first = service.app.corrections.correct_event(
        QA, registered, "name", "Taipei Control Center", "typo"
    )

    second = service.app.corrections.correct_event(
        QA, first.position, "newValue", "Taipei Control Centre", "British spelling, per licence"
    )

    payload = payload_at(service, second.position)
    assert payload["correction_of"] == first.position
    assert payload["corrected_position"] == registered
    assert payload["field"] == "name"
    assert payload["old_value"] == "Taipei Control Center"
    assert payload["new_value"] == "Taipei Control Centre"
    assert payload["reason"] == "British spelling, per licence"
    name = site_field(CTRL, "name")
    with service.read() as sql:
        assert name(sql, registered) == f"Site {CTRL}"
        assert name(sql, first.position) == "Taipei Control Center"
        assert name(sql, second.position - 1) == "Taipei Control Center"
        assert name(sql, second.position) == "Taipei Control Centre"
    assert verify(service.read).ok


def test_correcting_the_original_again_names_the_value_then_in_force_as_old(service, chain):
    registered = position_of(service, f"Site:{CTRL}", "Site.Registered")
    service.app.corrections.correct_event(QA, registered, "name", "Taipei Control Center", "typo")

    again = service.app.corrections.correct_event(
        QA, registered, "name", "Taipei Control Centre", "typo"
    )

    payload = payload_at(service, again.position)
    assert (payload["old_value"], payload["new_value"]) == (
        "Taipei Control Center",
        "Taipei Control Centre",
    )
    assert payload["correction_of"] is None


def test_a_correction_is_corrected_only_in_its_new_value(service, chain):
    registered = position_of(service, f"Site:{CTRL}", "Site.Registered")
    first = service.app.corrections.correct_event(
        QA, registered, "name", "Taipei Control Center", "typo"
    )
    before = ledger_size(service)

    with pytest.raises(BadInputError) as refused:
        service.app.corrections.correct_event(QA, first.position, "reason", "another reason", "why")

    assert refused.value.code == "BAD_INPUT"
    assert "newValue" in refused.value.message
    assert ledger_size(service) == before


# ----------------------------------------------------------------------------------- refusals


def qc_position(service: Regentrace) -> int:
    with service.read() as sql:
        rows = find_events(
            sql, aggregate_id=f"Batch:{BATCH}", event_type="Batch.QcResultRecorded", reach=None
        )
    return int(rows[0]["position"])


def step_position(service: Regentrace) -> int:
    return position_of(service, f"Batch:{BATCH}", "Batch.StepRecorded")


def site_position(service: Regentrace) -> int:
    return position_of(service, f"Site:{CTRL}", "Site.Registered")


def activation_position(service: Regentrace) -> int:
    return position_of(service, f"Site:{CTRL}", "Site.Activated")


def release_position(service: Regentrace) -> int:
    return position_of(service, f"Batch:{BATCH}", "Batch.Released")


REFUSALS: list[tuple[str, Callable[[Regentrace], int], str, Any, str, type[DomainError]]] = [
    ("unknown position", lambda s: 9_999, "name", "x", "typo", NotFoundError),
    ("position zero", lambda s: 0, "name", "x", "typo", NotFoundError),
    ("field that does not exist", site_position, "colour", "blue", "typo", BadInputError),
    ("camelCase field that does not exist", site_position, "siteColour", "x", "y", BadInputError),
    ("QC pass or fail", qc_position, "passed", "false", "misread", RuleViolationError),
    (
        "step start time",
        step_position,
        "started_at",
        "2026-01-01T00:00:00+00:00",
        "r",
        RuleViolationError,
    ),
    (
        "step start time, camelCase",
        step_position,
        "startedAt",
        "2026-01-01T00:00:00+00:00",
        "r",
        RuleViolationError,
    ),
    ("step site", step_position, "siteId", "TW-MI-1", "wrong site", RuleViolationError),
    ("site kind", site_position, "kind", "CELL_BANK", "wrong kind", RuleViolationError),
    ("release signer", release_position, "qualifiedPerson", "dr-wu", "r", RuleViolationError),
    (
        "activation reason",
        activation_position,
        "reason",
        "qualified again",
        "r",
        RuleViolationError,
    ),
    ("blank reason", site_position, "name", "Taipei Control Centre", "   ", BadInputError),
    ("empty reason", site_position, "name", "Taipei Control Centre", "", BadInputError),
    ("blank new value", site_position, "name", "   ", "typo", BadInputError),
    ("empty new value", site_position, "name", "", "typo", BadInputError),
    ("new value not text", site_position, "name", 42, "typo", BadInputError),
    ("same value", site_position, "name", f"Site {CTRL}", "typo", BadInputError),
    ("blank field", site_position, "  ", "x", "typo", BadInputError),
]


@pytest.mark.parametrize(
    ("position", "field", "new_value", "reason", "error"),
    [r[1:] for r in REFUSALS],
    ids=[r[0] for r in REFUSALS],
)
def test_a_refused_correction_says_why_and_leaves_the_ledger_and_views_unchanged(
    service, chain, position, field, new_value, reason, error
):
    before = ledger_size(service)
    site_name = site_field(CTRL, "name")
    with service.read() as sql:
        shown = site_name(sql, head(service))

    with pytest.raises(error) as refused:
        service.app.corrections.correct_event(QA, position(service), field, new_value, reason)

    assert type(refused.value) is error
    assert refused.value.code == error.code
    assert refused.value.message
    assert ledger_size(service) == before
    with service.read() as sql:
        assert site_name(sql, head(service)) == shown


def test_a_refused_rule_bearing_field_names_what_may_be_corrected(service, chain):
    with pytest.raises(RuleViolationError) as refused:
        service.app.corrections.correct_event(
            QA, qc_position(service), "passed", "false", "misread"
        )

    assert "method, result, specification" in refused.value.message


def test_after_a_refusal_the_same_correction_put_right_is_recorded(service, chain):
    with pytest.raises(BadInputError):
        service.app.corrections.correct_event(QA, site_position(service), "name", "Taipei", " ")

    result = service.app.corrections.correct_event(
        QA, site_position(service), "name", "Taipei", "typo"
    )

    assert result.position == head(service)


# -------------------------------------------------------------------------------- rebuilding


def dump(service: Regentrace) -> dict[str, list[dict[str, Any]]]:
    """Every projection table, rows ordered by all their columns."""
    tables = {}
    with service.read() as sql:
        for table in projection_tables():
            rows = sql.all(f"SELECT * FROM {table}")
            if rows:
                rows = sql.all(f"SELECT * FROM {table} ORDER BY {', '.join(rows[0])}")
            tables[table] = rows
    return tables


@pytest.mark.parametrize("workers", [1, 2], ids=["in-process", "worker-processes"])
def test_a_rebuild_after_corrections_gives_exactly_the_rows_written_live(service, chain, workers):
    for record, event_type, given, _, _, new, _ in VIEWS:
        service.app.corrections.correct_event(
            QA, position_of(service, record, event_type), given, new, "entered wrongly"
        )
    last = service.app.corrections.correct_event(
        QA, site_position(service), "name", "Taipei Control Centre (HQ)", "full name"
    )
    service.app.corrections.correct_event(
        QA, last.position, "newValue", "Taipei Control Centre", "no HQ"
    )
    live = dump(service)
    assert len(live["site_versions"]) > 8
    with service.recorder.write() as sql:  # damage the views: a rebuild that wrote nothing fails
        sql.execute("UPDATE batch_steps SET operator = 'tampered'")
        sql.execute("DELETE FROM material_lot_versions WHERE valid_to IS NULL")
    assert dump(service) != live

    replayed = rebuild(service.recorder, service.app.mapper, workers=workers)

    assert replayed == ledger_size(service)
    assert dump(service) == live
    with service.read() as sql:
        assert site_field(CTRL, "name")(sql, head(service)) == "Taipei Control Centre"
        assert step_field("operator")(sql, head(service)) == "op-8"
