"""Recall lineage and recalls against the ledger itself, on SQLite and PostgreSQL.

Traces (``projections.lineage.trace``) are compared with a graph the tests build from the stored
events (``tests.integration.independent``): forward from a material lot, backward from an adverse
reaction, both ways from every kind of node, a site over a time window, and as of earlier ledger
positions. Recalls are initiated through the ledger's commands on a small world of each test's own.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.recall import Recall, TraceOrigin
from domain.shared import DomainError
from projections.chain import find_batches
from projections.lineage import trace as lineage_trace
from projections.source_and_flow import find_records
from tests.conftest import DIALECTS, ledger_size
from tests.integration.independent import (
    CLINIC,
    COURIER,
    HOSP,
    HSA,
    MU1,
    MU2,
    PHYSICIAN,
    QP,
    Seeded,
    World,
    demo_database,
    din,
    fold,
    head_of,
    lone_site,
    positions_of,
    projected,
    read_ledger,
    record_shape,
    small_world,
    source_and_flow,
    trace,
    trace_shape,
)

COMMON_LOT = "LV-CD19-25A01"
BERLIN = "DE-MU-BERLIN"
DECEMBER = (
    datetime.fromisoformat("2025-12-01T00:00:00+00:00"),
    datetime.fromisoformat("2025-12-31T23:59:00+00:00"),
)


@pytest.fixture(scope="module", params=DIALECTS)
def demo(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Seeded:
    return demo_database(request, tmp_path_factory)


def traced(
    service: Any,
    position: int,
    kind: str,
    node_id: str,
    direction: str = "FORWARD",
    window: tuple[datetime, datetime] | None = None,
) -> Any:
    origin = TraceOrigin(kind, node_id, *(window or (None, None)))
    with service.read() as sql:
        return lineage_trace(sql, position, origin, direction, reach=None)


def agrees(
    seeded: Seeded,
    world: World,
    kind: str,
    node_id: str,
    direction: str = "FORWARD",
    window: tuple[datetime, datetime] | None = None,
) -> Any:
    """Trace with the projection and with the tests' own graph; they must agree in full."""
    found = traced(seeded.service, world.position, kind, node_id, direction, window)
    expected = trace(world, kind, node_id, direction, window)
    nodes, edges = trace_shape(found)
    where = (kind, node_id, direction, window, world.position)
    assert nodes == expected.nodes, where
    assert edges == expected.shapes, where
    assert found.position == world.position
    record = found.as_record()
    assert record["affected_batches"] == expected.ids("BATCH"), where
    assert record["affected_patients"] == expected.ids("PATIENT"), where
    assert record["affected_sites"] == expected.ids("SITE"), where
    assert all(e.relation for e in found.edges), where
    return found


def users_of(world: World, lot: str) -> list[str]:
    return sorted(
        b
        for b, batch in world.batches.items()
        if any(lot in step["material_lots"] for step in batch["steps"])
    )


# ---------------------------------------------------------------------------------- the demo


def test_forward_from_a_vector_lot_reaches_every_batch_that_used_it_where_it_went_and_who_got_it(
    demo,
):
    world = fold(demo.events)

    found = agrees(demo, world, "MATERIAL_LOT", COMMON_LOT)

    users = users_of(world, COMMON_LOT)
    assert len(users) >= 3
    assert found.ids_of("BATCH") == users
    shipments = sorted(s for b in users for s in world.batches[b]["shipments"])
    assert found.ids_of("SHIPMENT") == shipments
    assert found.ids_of("SITE") == sorted(
        {world.shipments[s]["to_site_id"] for s in shipments if world.shipments[s]["received_at"]}
    )
    assert found.ids_of("PATIENT") == sorted(
        world.batches[b]["disposition"][3]
        for b in users
        if world.batches[b]["disposition"] and world.batches[b]["disposition"][0] == "ADMINISTERED"
    )
    lot_edges = [e for e in found.edges if e.from_id == COMMON_LOT]
    assert all("Lentiviral transduction" in e.relation for e in lot_edges)


def test_backward_from_an_adverse_reaction_reaches_the_donor_donation_lots_and_sites_behind_it(
    demo,
):
    world = fold(demo.events)
    assert len(world.reports) >= 3

    for report_id, report in world.reports.items():
        found = agrees(demo, world, "ADVERSE_EVENT", report_id, "BACKWARD")

        batch = world.batches[report["batch_id"]]
        donation = world.donations[batch["donation_id"]]
        lots = {lot for step in batch["steps"] for lot in step["material_lots"]}
        sites = {donation["site_id"], batch["site_id"], report["reported_by_site_id"]}
        sites |= {step["site_id"] for step in batch["steps"]} | batch["labs"]
        assert batch["labs"], "no QC laboratory behind the batch"
        assert set(found.nodes) == {
            ("ADVERSE_EVENT", report_id),
            ("BATCH", report["batch_id"]),
            ("PATIENT", report["patient_code"]),
            ("DONATION", batch["donation_id"]),
            ("DONOR", batch["donor_code"]),
            *(("MATERIAL_LOT", lot) for lot in lots),
            *(("SITE", s) for s in sites),
        }
        assert found.ids_of("BATCH") == [report["batch_id"]]


def test_traces_from_every_kind_of_node_both_ways_agree_with_the_ledger_at_several_positions(demo):
    events = demo.events
    head = fold(events)
    donation_of_allo = head.batches["MSC-31000"]["donation_id"]
    origins = [
        ("DONOR", "DNR-ALLO-0001"),
        ("DONOR", "DNR-0012"),
        ("DONATION", donation_of_allo),
        ("MATERIAL_LOT", "HSA-25-4411"),
        ("BATCH", "CART-26005"),
        ("BATCH", "CART-26008"),
        ("SHIPMENT", "SHP-CART-26001"),
        ("ADVERSE_EVENT", "AE-CART-26009"),
        ("SITE", "DE-LAB-QC"),
        ("SITE", "TW-MI-NTUH"),
        ("PATIENT", "PT-0002"),
    ]
    positions = [
        positions_of(events, "Shipment.Received")[0] - 1,
        positions_of(events, "Donor.ConsentWithdrawn")[0],
        head_of(events),
    ]
    for position in positions:
        world = fold(events, position)
        for kind, node_id in origins:
            for direction in ("FORWARD", "BACKWARD", "BOTH"):
                agrees(demo, world, kind, node_id, direction)


def test_both_directions_are_the_union_of_forward_and_backward(demo):
    world = fold(demo.events)
    for kind, node_id in (
        ("BATCH", "CART-26001"),
        ("DONATION", world.batches["CART-26003"]["donation_id"]),
    ):
        forward = traced(demo.service, world.position, kind, node_id, "FORWARD")
        backward = traced(demo.service, world.position, kind, node_id, "BACKWARD")
        both = traced(demo.service, world.position, kind, node_id, "BOTH")

        assert set(both.nodes) == set(forward.nodes) | set(backward.nodes)
        assert trace_shape(both)[1] == trace_shape(forward)[1] | trace_shape(backward)[1]
        assert any(k == "DONOR" for k, _ in both.nodes)
        assert any(k == "SHIPMENT" for k, _ in both.nodes)


def test_a_site_over_a_window_gives_only_what_was_made_or_handled_there_in_the_window(demo):
    world = fold(demo.events)

    found = agrees(demo, world, "SITE", BERLIN, "FORWARD", DECEMBER)

    start, end = DECEMBER
    from_site = [e for e in found.edges if e.from_id == BERLIN]
    assert from_site
    assert all(start <= e.at <= end for e in from_site)
    handled = sorted(
        {
            e.to_id
            for e in world.edges
            if e.from_id == BERLIN and e.to_kind == "BATCH" and start <= e.at <= end
        }
    )
    assert found.ids_of("BATCH") == handled
    made_there = {
        b for b, batch in world.batches.items() if BERLIN in {s["site_id"] for s in batch["steps"]}
    }
    assert made_there - set(handled), "every Berlin batch fell in the window; the test needs others"
    whole = traced(demo.service, world.position, "SITE", BERLIN)
    assert set(found.ids_of("BATCH")) < set(whole.ids_of("BATCH"))


def test_reaching_a_hospital_or_a_patient_does_not_pull_in_what_else_they_handled(demo):
    world = fold(demo.events)
    hospital = "TW-MI-NTUH"
    received_there = [
        b
        for b, batch in world.batches.items()
        if any(world.shipments[s]["to_site_id"] == hospital for s in batch["shipments"])
    ]
    assert len(received_there) >= 3

    found = agrees(demo, world, "BATCH", "CART-26001")

    assert ("SITE", hospital) in found.nodes
    assert ("PATIENT", world.batches["CART-26001"]["patient_code"]) in found.nodes
    assert found.ids_of("BATCH") == ["CART-26001"]
    backward = agrees(demo, world, "ADVERSE_EVENT", "AE-CART-26001", "BACKWARD")
    assert backward.ids_of("BATCH") == ["CART-26001"]
    shipment = agrees(demo, world, "SHIPMENT", "SHP-CART-26001", "BACKWARD")
    assert shipment.ids_of("BATCH") == ["CART-26001"], "the dispatching site was walked on from"


def test_a_trace_as_of_an_earlier_position_leaves_out_what_was_recorded_later(demo):
    events = demo.events
    uses = [
        s.position
        for s in events
        if s.kind == "Batch.StepRecorded" and COMMON_LOT in s.event.material_lots
    ]
    assert len(uses) >= 3
    earlier_nodes: set[tuple[str, str]] = set()
    for position in (uses[0] - 1, uses[0], uses[1], uses[2] + 40, head_of(events)):
        world = fold(events, position)

        found = agrees(demo, world, "MATERIAL_LOT", COMMON_LOT)

        later = {e.shape for e in fold(events).edges if e.position > position}
        mine = {e.shape for e in world.edges}
        assert all((e.from_kind, e.from_id, e.to_kind, e.to_id, e.at) in mine for e in found.edges)
        assert not {(e.from_kind, e.from_id, e.to_kind, e.to_id, e.at) for e in found.edges} & (
            later - mine
        )
        assert len(found.ids_of("BATCH")) == len([u for u in uses if u <= position])
        assert earlier_nodes <= set(found.nodes)
        earlier_nodes = set(found.nodes)
    assert traced(demo.service, uses[0] - 1, "MATERIAL_LOT", COMMON_LOT).nodes == [
        ("MATERIAL_LOT", COMMON_LOT)
    ]


def test_the_demo_recalls_keep_the_trace_computed_when_they_were_initiated(demo):
    events = demo.events
    initiated = [s for s in events if s.kind == "Recall.Initiated"]
    assert {s.event.origin_kind for s in initiated} == {"MATERIAL_LOT", "DONOR", "SITE"}
    gone = {"REJECTED", "DESTROYED"}
    listed_not_marked = set()

    for stored in initiated:
        recall = demo.service.app.repository.get(Recall.ledger_id(stored.key))
        record = recall.trace
        world = fold(events, stored.position - 1)
        window = None
        if stored.event.window_from is not None:
            window = (stored.event.window_from, stored.event.window_to)
        expected = trace(world, stored.event.origin_kind, stored.event.origin_id, "FORWARD", window)

        assert record == stored.event.trace
        assert record["position"] == stored.position - 1
        assert record_shape(record) == (expected.nodes, expected.shapes)
        assert record["affected_batches"] == expected.ids("BATCH")
        assert record["affected_patients"] == expected.ids("PATIENT")
        assert record["affected_sites"] == expected.ids("SITE")
        now = traced(
            demo.service,
            record["position"],
            stored.event.origin_kind,
            stored.event.origin_id,
            "FORWARD",
            window,
        )
        assert trace_shape(now) == record_shape(record)
        # Marked: exactly the affected batches still in existence when the recall was made.
        marked = {
            s.key for s in events if s.kind == "Batch.Recalled" and s.event.recall_id == stored.key
        }
        assert marked == {
            b for b in expected.ids("BATCH") if world.batches[b]["status"] not in gone
        }
        listed_not_marked |= set(expected.ids("BATCH")) - marked
        assert marked
        with demo.service.read() as sql:
            recalled = find_batches(sql, head_of(events), status="RECALLED", reach=None)
            before = find_batches(sql, stored.position - 1, status="RECALLED", reach=None)
        assert marked <= {b.batch_id for b in recalled if stored.key in b.recalls}
        assert not any(stored.key in b.recalls for b in before)
    assert listed_not_marked, "no recall reached a rejected or destroyed batch"


def test_a_shipment_in_transit_already_names_where_the_batch_is_going(demo):
    """A recall made while a batch is on its way must reach the site it is going to."""
    events = demo.events
    position = positions_of(events, "Shipment.Received")[0] - 1
    world = fold(events, position)
    (shipment_id, shipment), *_ = [
        (s, x) for s, x in world.shipments.items() if x["received_at"] is None
    ]

    found = traced(demo.service, position, "BATCH", shipment["batch_ids"][0])

    assert ("SHIPMENT", shipment_id) in found.nodes
    assert shipment["to_site_id"] in found.ids_of("SITE")


def test_a_hospital_over_a_window_reaches_the_batches_it_received_and_administered_in_it(demo):
    """What was handled at a site in a window includes what it received, stored and gave to
    patients then, not only what it collected or made."""
    world = fold(demo.events)
    batch = world.batches["CART-26001"]
    (shipment_id,) = batch["shipments"]
    hospital = world.shipments[shipment_id]["to_site_id"]
    received_at = world.shipments[shipment_id]["received_at"]
    administered_at = batch["disposition"][2]
    window = (received_at - timedelta(hours=1), administered_at + timedelta(hours=1))
    handled = [e for e in world.edges if e.from_id == hospital and window[0] <= e.at <= window[1]]
    assert {(e.to_kind, e.to_id, e.at) for e in handled} == {
        ("BATCH", "CART-26001", received_at),
        ("BATCH", "CART-26001", administered_at),
    }, "the window should hold only the receipt and the administration"

    found = traced(demo.service, world.position, "SITE", hospital, "FORWARD", window)

    assert "CART-26001" in found.ids_of("BATCH")
    assert batch["patient_code"] in found.ids_of("PATIENT")


# ----------------------------------------------------------------------------------- recalls


def recall_then(service: Any, recall_id: str, *args: Any) -> tuple[Any, World, list[Any]]:
    """Initiate a recall; answer the Recall, the world just before it and the events since."""
    before = ledger_size(service)
    service.app.recalls.initiate_recall(QP, recall_id, *args)
    events = read_ledger(service)
    (at,) = [s.position for s in events if s.kind == "Recall.Initiated" and s.key == recall_id]
    recall = service.app.repository.get(Recall.ledger_id(recall_id))
    since = [s for s in events if s.position >= at]
    assert len(events) == before + len(since)
    return recall, fold(events, at - 1), since


def check_recall(service: Any, recall: Any, world: World, since: list[Any]) -> set[str]:
    """The recall kept the trace of its moment; the batches it marked; the views agree."""
    origin = recall.origin
    window = None if origin.window_from is None else (origin.window_from, origin.window_to)
    expected = trace(world, origin.kind, origin.id, "FORWARD", window)
    record = recall.trace
    assert record["position"] == world.position
    assert record_shape(record) == (expected.nodes, expected.shapes)
    assert record["affected_batches"] == expected.ids("BATCH")
    assert record["affected_patients"] == expected.ids("PATIENT")
    assert record["affected_sites"] == expected.ids("SITE")
    now = traced(service, world.position, origin.kind, origin.id, "FORWARD", window)
    assert trace_shape(now) == record_shape(record)
    marked = {s.key for s in since if s.kind == "Batch.Recalled"}
    assert {s.kind for s in since} <= {"Recall.Initiated", "Batch.Recalled"}
    events = read_ledger(service)
    head = fold(events)
    with service.read() as sql:
        recalled = find_batches(sql, head.position, status="RECALLED", reach=None)
        for view in find_records(sql, head.position, reach=None):
            assert projected(view) == source_and_flow(head, view.batch.batch_id)
    assert {b.batch_id for b in recalled} == {b for b, x in head.batches.items() if x["recalls"]}
    return marked


def refused(service: Any, code: str, call: Any, *args: Any) -> DomainError:
    before = ledger_size(service)
    with pytest.raises(DomainError) as caught:
        call(*args)
    assert caught.value.code == code, caught.value.message
    assert ledger_size(service) == before
    return caught.value


def test_recalling_a_donor_whose_eligibility_was_revoked_marks_every_batch_still_in_existence(
    service,
):
    w = small_world(service)
    w.run(w.app.donors.revoke_eligibility, PHYSICIAN, "DNR-3", "Look-back: HBV NAT positive")

    recall, world, since = recall_then(service, "RCL-1", "DONOR", "DNR-3", "Look-back")

    marked = check_recall(service, recall, world, since)
    assert recall.trace["affected_batches"] == ["B3", "B4", "B5", "B6"]
    assert world.batches["B4"]["status"] == "REJECTED"
    assert marked == {"B3", "B5", "B6"}, "the rejected batch is listed, not marked"
    assert recall.trace["affected_sites"] == [HOSP]
    assert recall.trace["affected_patients"] == []
    assert recall.reason == "Look-back"


def test_a_recalled_batch_can_no_longer_be_released_dispatched_or_administered(service):
    w = small_world(service)

    recall, world, since = recall_then(service, "RCL-2", "MATERIAL_LOT", HSA, "Adventitious agent")

    marked = check_recall(service, recall, world, since)
    assert recall.trace["affected_batches"] == ["B1", "B3", "B5", "B6"]
    assert marked == {"B1", "B3", "B5", "B6"}
    assert recall.trace["affected_patients"] == ["PT-1"]
    assert {"ADVERSE_EVENT"} <= {k for k, _ in recall.trace["nodes"]}
    statuses = {b: world.batches[b]["status"] for b in ("B3", "B5", "B6")}
    assert statuses == {"B3": "DISTRIBUTED", "B5": "IN_PROCESS", "B6": "RELEASED"}
    errors = [
        refused(service, "RULE_VIOLATION", w.app.batches.release_batch, QP, "B5", "QP", w.h(70)),
        refused(
            service,
            "RULE_VIOLATION",
            w.app.distribution.dispatch_shipment,
            COURIER,
            "SHP-6",
            ["B6"],
            MU2,
            HOSP,
            "ColdChain",
            w.h(70),
        ),
        refused(
            service,
            "RULE_VIOLATION",
            w.app.distribution.record_administration,
            CLINIC,
            "B3",
            HOSP,
            "PT-3",
            w.h(70),
            True,
        ),
    ]
    assert all("RCL-2" in e.message for e in errors), [e.message for e in errors]


def test_recalling_a_site_over_a_window_marks_only_what_was_made_there_in_it(service):
    w = small_world(service)
    window = (w.h(45), w.h(70))

    recall, world, since = recall_then(
        service, "RCL-3", "SITE", MU2, "Environmental monitoring", *window
    )

    marked = check_recall(service, recall, world, since)
    assert recall.trace["affected_batches"] == ["B4", "B6"], "B2 was made there before it"
    assert marked == {"B6"}
    assert (recall.origin.window_from, recall.origin.window_to) == window


def test_recalling_a_batch_reaches_where_it_went_and_not_where_it_came_from(service):
    small_world(service)

    recall, world, since = recall_then(service, "RCL-1", "BATCH", "B2", "Complaint")

    assert check_recall(service, recall, world, since) == {"B2"}
    assert recall.trace["affected_batches"] == ["B2"]
    assert recall.trace["affected_patients"] == ["PT-2"]
    assert recall.trace["affected_sites"] == ["DE-MI-1"]
    assert {k for k, _ in recall.trace["nodes"]} == {
        "BATCH",
        "SHIPMENT",
        "SITE",
        "PATIENT",
        "ADVERSE_EVENT",
    }


def test_a_recall_with_a_taken_id_an_unknown_origin_or_a_bad_window_is_refused(service):
    w = small_world(service)
    service.app.recalls.initiate_recall(QP, "RCL-1", "BATCH", "B2", "Complaint")
    start, end = w.h(10), w.h(20)
    cases = [
        ("CONFLICT", ("RCL-1", "BATCH", "B1", "again")),
        ("NOT_FOUND", ("RCL-2", "DONOR", "DNR-404", "x")),
        ("NOT_FOUND", ("RCL-2", "DONATION", din(404), "x")),
        ("NOT_FOUND", ("RCL-2", "MATERIAL_LOT", "LOT-404", "x")),
        ("NOT_FOUND", ("RCL-2", "BATCH", "B-404", "x")),
        ("NOT_FOUND", ("RCL-2", "SHIPMENT", "SHP-404", "x")),
        ("NOT_FOUND", ("RCL-2", "SITE", "XX-404", "x")),
        ("NOT_FOUND", ("RCL-2", "ADVERSE_EVENT", "AE-404", "x")),
        ("NOT_FOUND", ("RCL-2", "SITE", "XX-404", "x", start, end)),
        ("BAD_INPUT", ("RCL-2", "BATCH", "B1", "x", start, end)),
        ("BAD_INPUT", ("RCL-2", "MATERIAL_LOT", HSA, "x", start, end)),
        ("BAD_INPUT", ("RCL-2", "SITE", MU1, "x", start, None)),
        ("BAD_INPUT", ("RCL-2", "SITE", MU1, "x", start.replace(tzinfo=None), end)),
        ("BAD_INPUT", ("RCL-2", "FREEZER", "F-1", "x")),
        ("BAD_INPUT", ("RCL-2", "BATCH", " ", "x")),
        ("BAD_INPUT", ("RCL 2", "BATCH", "B1", "x")),
        ("BAD_INPUT", ("RCL-2", "BATCH", "B1", "  ")),
    ]
    wrong = []
    for code, args in cases:
        before = ledger_size(service)
        try:
            service.app.recalls.initiate_recall(QP, *args)
        except DomainError as error:
            if error.code != code:
                wrong.append((args, f"{error.code} instead of {code}: {error.message}"))
        else:
            wrong.append((args, f"accepted instead of {code}"))
        if ledger_size(service) != before:
            wrong.append((args, "stored something"))

    assert wrong == []
    with service.read() as sql:
        (b1,) = find_batches(sql, 10**9, batch_ids=["B1"], reach=None)
    assert b1.recalls == []


def test_a_recall_window_that_ends_before_it_starts_is_bad_input(service):
    """Like any other malformed window (half of one, one on a batch): BAD_INPUT, nothing kept."""
    site_id = lone_site(service)
    now = datetime.now(UTC)

    error = refused(
        service,
        "BAD_INPUT",
        service.app.recalls.initiate_recall,
        QP,
        "RCL-1",
        "SITE",
        site_id,
        "x",
        now - timedelta(days=2),
        now - timedelta(days=3),
    )

    assert "window" in error.message
