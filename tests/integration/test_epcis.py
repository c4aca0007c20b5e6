"""The EPCIS 2.0 export of the demo ledger: every scope gives a document GS1's own JSON Schema
accepts with formats checked, the TransformationEvents connect lots and donations to batches
exactly as the recall lineage does, and corrections are declared the EPCIS way."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.settings import Settings
from api.wiring import Regentrace, migrate
from demo.chain import LOTS
from demo.network import seed
from domain.recall import TraceOrigin
from domain.shared import BadInputError, NotFoundError, Principal
from projections.epcis import batch_uri, donation_uri, lot_uri
from projections.epcis_document import EpcisScope, epcis_document
from projections.ledger import LedgerIndex
from projections.lineage import trace
from tests.epcis import events, transformations, violations

QA = Principal("qa-reviewer", "quality_assurance")
EXCURSION_BATCH = "CART-26008"  # shipped with a temperature excursion, its vector lot recalled
REJECTED_BATCH = "CART-26005"  # sterility failure, rejected and destroyed
DECEMBER = (datetime(2025, 12, 1, tzinfo=UTC), datetime(2025, 12, 31, 23, 59, tzinfo=UTC))
EVERYTHING = (datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 12, 31, tzinfo=UTC))

SCOPES = {
    "batch": EpcisScope(batch_id=EXCURSION_BATCH),
    "shipment": EpcisScope(shipment_id=f"SHP-{EXCURSION_BATCH}"),
    "recall": EpcisScope(recall_id="RCL-2026-001"),
    "window": EpcisScope(window_from=DECEMBER[0], window_to=DECEMBER[1]),
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    """The demo on SQLite, seeded once for the read-only tests of this module."""
    path = tmp_path_factory.mktemp("epcis") / "demo.sqlite3"
    settings = Settings(database_url=f"sqlite:///{path}", _env_file=None)  # type: ignore[call-arg]
    migrate(settings.database)
    service = Regentrace(settings)
    seed(service.app)
    yield service
    service.close()


def export(service: Regentrace, scope: EpcisScope, as_of: datetime | None = None) -> dict:
    with service.read() as sql:
        position = LedgerIndex(sql).position_at(as_of)
        return epcis_document(sql, position, scope, datetime.now(UTC), reach=None)


def by_id(document: dict) -> dict[str, dict]:
    return {e["eventID"]: e for e in events(document)}


# ------------------------------------------------------------------------------- validation


@pytest.mark.parametrize("kind", SCOPES)
def test_each_scope_of_the_demo_is_a_document_gs1s_schema_accepts(demo, kind):
    document = export(demo, SCOPES[kind])

    assert violations(document) == []
    assert document["type"] == "EPCISDocument"
    assert len(events(document)) > 5


def test_a_batch_export_validates_on_each_database(service):
    seed(service.app)

    document = export(service, SCOPES["batch"])

    assert violations(document) == []
    assert {"TransformationEvent", "ObjectEvent"} == {e["type"] for e in events(document)}


def test_a_broken_document_is_refused_so_the_validator_really_checks(demo):
    document = export(demo, SCOPES["batch"])
    broken = copy.deepcopy(document)
    first, second, third, fourth = events(broken)[:4]
    first["eventID"] = "event 38 of the ledger"  # not a URI: only a format check sees it
    second["eventTime"] = "2025-11-22T09:00:00"  # no offset: not an RFC 3339 date-time
    third["bizStep"] = "transforming"  # not a CBV business step, and not a URI either
    fourth["operator"] = "op-1"  # an extension must be named by a URI (regentrace:operator)

    found = violations(broken)

    assert found == [
        "epcisBody/eventList/0/eventID: 'event 38 of the ledger' is not a 'uri'",
        "epcisBody/eventList/1/eventTime: '2025-11-22T09:00:00' is not a 'date-time'",
        "epcisBody/eventList/2/bizStep: 'transforming' is not valid under any of the given schemas",
        "epcisBody/eventList/3: 'operator' is not valid under any of the given schemas",
    ]
    assert violations(document) == []


def test_a_reference_outside_the_local_schema_folder_is_never_fetched(tmp_path: Path):
    from referencing.exceptions import Unresolvable

    from api.epcis.validation import validator

    schema = tmp_path / "schema.json"
    schema.write_text('{"$ref": "https://ref.gs1.org/standards/epcis/elsewhere.json"}')

    with pytest.raises(Unresolvable):
        validator(schema).validate({})


# --------------------------------------------------------------------------------- lineage


def test_transformations_connect_every_lot_to_the_batches_the_recall_trace_finds(demo):
    document = export(demo, EpcisScope(window_from=EVERYTHING[0], window_to=EVERYTHING[1]))
    pairs = transformations(document)

    with demo.read() as sql:
        position = LedgerIndex(sql).position_at(None)
        for lot in (lot["lot_id"] for lot in LOTS):
            traced = trace(sql, position, TraceOrigin("MATERIAL_LOT", lot), "FORWARD", reach=None)
            made = {out for given, out in pairs if given == lot_uri(lot)}
            assert made == {batch_uri(b) for b in traced.ids_of("BATCH")}, lot


def test_transformations_connect_each_donation_to_the_batches_made_from_it(demo):
    document = export(demo, EpcisScope(window_from=EVERYTHING[0], window_to=EVERYTHING[1]))
    pairs = transformations(document)

    with demo.read() as sql:
        position = LedgerIndex(sql).position_at(None)
        donations = [r["donation_id"] for r in sql.all("SELECT donation_id FROM donation_versions")]
        for donation in set(donations):
            traced = trace(sql, position, TraceOrigin("DONATION", donation), "FORWARD", reach=None)
            made = {out for given, out in pairs if given == donation_uri(donation)}
            # A master cell bank laid down from the donation is an output too (its batches
            # are each also made from the donation itself).
            made = {out for out in made if out.startswith(batch_uri(""))}
            assert made == {batch_uri(b) for b in traced.ids_of("BATCH")}, donation


def test_every_transformation_of_a_batch_shares_the_batch_as_its_transformation_id(demo):
    document = export(demo, SCOPES["batch"])

    ids = {e["transformationID"] for e in events(document) if e["type"] == "TransformationEvent"}

    assert ids == {batch_uri(EXCURSION_BATCH)}


# ------------------------------------------------------------------------------ vocabulary


def steps_of(document: dict) -> list[tuple[str, str | None, str | None]]:
    return [(e["type"], e.get("bizStep"), e.get("disposition")) for e in events(document)]


def test_a_batch_tells_its_story_from_collection_to_recall_in_cbv_terms(demo):
    document = export(demo, SCOPES["batch"])
    story = steps_of(document)
    batch = [s for s, e in zip(story, events(document), strict=True) if "epcList" in e]

    assert ("ObjectEvent", "commissioning", "active") in story  # the donation, its DIN
    assert ("TransformationEvent", "commissioning", "in_progress") in story
    assert ("ObjectEvent", "inspecting", "conformant") in batch
    assert ("ObjectEvent", None, "active") in batch  # the QP's release
    order = ["shipping", "sensor_reporting", "receiving", "dispensing", "holding"]
    assert [s[1] for s in batch if s[1] in order][-5:] == order
    assert batch[-1][2] == "recalled"


def test_a_temperature_excursion_travels_as_sensor_data(demo):
    excursion = next(e for e in events(export(demo, SCOPES["batch"])) if "sensorElementList" in e)

    report = excursion["sensorElementList"][0]["sensorReport"][0]

    assert report == {
        "type": "Temperature",
        "exception": "ALARM_CONDITION",
        "value": -128.5,
        "uom": "CEL",
    }


def test_shipping_names_where_from_and_where_to(demo):
    found = events(export(demo, SCOPES["batch"]))
    shipping = next(e for e in found if e.get("bizStep") == "shipping")
    spoke, hospital = "urn:regentrace:site:TW-POC-NTUH", "urn:regentrace:site:TW-MI-NTUH"

    assert {"type": "location", "source": spoke} in shipping["sourceList"]
    assert {"type": "owning_party", "destination": hospital} in shipping["destinationList"]


def test_a_rejected_batch_fails_inspection_and_is_destroyed(demo):
    document = export(demo, EpcisScope(batch_id=REJECTED_BATCH))
    batch = [e for e in events(document) if batch_uri(REJECTED_BATCH) in e.get("epcList", [])]

    assert ("non_conformant", "inspecting") in {(e["disposition"], e.get("bizStep")) for e in batch}
    assert batch[-1]["disposition"] == "destroyed"
    assert (batch[-1]["action"], batch[-1]["bizStep"]) == ("DELETE", "destroying")


def test_a_donation_is_identified_by_its_din_without_the_check_character(demo):
    donation = events(export(demo, SCOPES["batch"]))[10]

    assert donation["epcList"] == ["urn:regentrace:din:T041725000009"]
    assert donation["action"] == "ADD"


def test_as_of_a_moment_before_the_recall_nothing_is_recalled(demo):
    with demo.read() as sql:
        recalled_at = sql.scalar(
            "SELECT recorded_at FROM ledger WHERE originator_id = 'Recall:RCL-2026-001'"
        )
        before = sql.scalar(
            "SELECT MAX(recorded_at) FROM ledger WHERE recorded_at < ?", (recalled_at,)
        )
    as_of = before if isinstance(before, datetime) else datetime.fromisoformat(before)

    document = export(demo, SCOPES["batch"], as_of=as_of)

    assert "recalled" not in {e.get("disposition") for e in events(document)}
    assert violations(document) == []


# ------------------------------------------------------------------------------------ scopes


def test_an_unknown_batch_shipment_or_recall_is_not_found(demo):
    for scope in (
        EpcisScope(batch_id="NO-SUCH"),
        EpcisScope(shipment_id="NO-SUCH"),
        EpcisScope(recall_id="NO-SUCH"),
    ):
        with pytest.raises(NotFoundError):
            export(demo, scope)


@pytest.mark.parametrize(
    "given",
    [
        {},
        {"batch_id": "CART-26000", "recall_id": "RCL-2026-001"},
        {"window_from": DECEMBER[0]},
        {"window_from": DECEMBER[1], "window_to": DECEMBER[0]},
        {"window_from": datetime(2025, 12, 1), "window_to": DECEMBER[1]},
    ],
)
def test_a_scope_that_is_not_exactly_one_thing_is_bad_input(given):
    with pytest.raises(BadInputError):
        EpcisScope.of(**given)


# ------------------------------------------------------------------------------- corrections


def corrected_operator(service: Regentrace) -> tuple[int, int]:
    """Correct the operator of the excursion batch's first step; (step position, correction)."""
    with service.read() as sql:
        step = int(
            sql.scalar(
                "SELECT MIN(position) FROM ledger WHERE originator_id = ?"
                " AND event_type = 'Batch.StepRecorded'",
                (f"Batch:{EXCURSION_BATCH}",),
            )
        )
    result = service.app.corrections.correct_event(
        QA, step, "operator", "op-tw-poc-ntuh-2", "Typo in badge"
    )
    return step, result.position


def test_a_correction_declares_the_event_in_error_and_adds_the_corrective_event(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'l.sqlite3'}", _env_file=None)  # type: ignore[call-arg]
    migrate(settings.database)
    service = Regentrace(settings)
    seed(service.app)
    step, correction = corrected_operator(service)

    document = export(service, SCOPES["batch"])
    service.close()

    found = [e for e in events(document) if e["eventID"] == f"urn:regentrace:event:{step}"]
    original, declared = found
    corrective = by_id(document)[f"urn:regentrace:event:{correction}"]
    assert "errorDeclaration" not in original
    assert declared["errorDeclaration"]["reason"] == "incorrect_data"
    assert declared["errorDeclaration"]["correctiveEventIDs"] == [corrective["eventID"]]
    assert declared["regentrace:operator"] == original["regentrace:operator"]
    assert corrective["regentrace:operator"] == "op-tw-poc-ntuh-2"
    assert corrective["outputEPCList"] == original["outputEPCList"]
    assert violations(document) == []


def test_correcting_a_correction_declares_the_first_corrective_event_in_error(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'l.sqlite3'}", _env_file=None)  # type: ignore[call-arg]
    migrate(settings.database)
    service = Regentrace(settings)
    seed(service.app)
    _, first = corrected_operator(service)
    second = service.app.corrections.correct_event(
        QA, first, "newValue", "op-tw-poc-ntuh-3", "Wrong badge"
    )

    document = export(service, SCOPES["batch"])
    service.close()

    first_id = f"urn:regentrace:event:{first}"
    declared = [e for e in events(document) if e["eventID"] == first_id and "errorDeclaration" in e]
    assert declared[0]["errorDeclaration"]["correctiveEventIDs"] == [
        f"urn:regentrace:event:{second.position}"
    ]
    assert declared[0]["regentrace:operator"] == "op-tw-poc-ntuh-2"
    assert by_id(document)[f"urn:regentrace:event:{second.position}"]["regentrace:operator"] == (
        "op-tw-poc-ntuh-3"
    )
    assert violations(document) == []
