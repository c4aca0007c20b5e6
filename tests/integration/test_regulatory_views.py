"""The regulatory views against the ledger itself, on SQLite and PostgreSQL.

Taiwan source-and-flow records (來源及流向資料) and adverse-reaction reporting compliance are
compared, at the head and at earlier ledger positions, with what the tests' own fold of the stored
events says (``tests.integration.independent``), never with projection code. The demo and a small
world are each seeded once per module and database and only read here; a rebuild, which rewrites
the projections, runs on a ledger of its own.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from demo.network import seed
from domain.shared import Principal
from projections.adverse_events import find_adverse_events
from projections.chain import find_batches
from projections.rebuild import rebuild
from projections.registry import projection_tables
from projections.source_and_flow import find_records
from tests.conftest import DIALECTS, ledger_size
from tests.integration.independent import (
    TAIPEI,
    Seeded,
    World,
    adverse_events,
    demo_database,
    fold,
    head_of,
    positions_of,
    projected,
    read_ledger,
    sites_named,
    small_world,
    small_world_database,
    source_and_flow,
)

US = 1e-6  # one microsecond, in seconds
DEMO_CONTROL = "TW-CTRL-TPE"
# The demo's control sites, one per regulatory area (each spoke answers to its own area's).
DEMO_CONTROLS = (DEMO_CONTROL, "DE-CTRL-BERLIN", "GB-CTRL-LONDON")


@pytest.fixture(scope="module", params=DIALECTS)
def demo(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Seeded:
    return demo_database(request, tmp_path_factory)


@pytest.fixture(scope="module", params=DIALECTS)
def world(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Seeded:
    return small_world_database(request, tmp_path_factory)


def records(seeded: Seeded, position: int, **filters: Any) -> list[Any]:
    with seeded.service.read() as sql:
        return find_records(sql, position, **filters, reach=None)


def ids(seeded: Seeded, position: int, **filters: Any) -> list[str]:
    return [r.batch.batch_id for r in records(seeded, position, **filters)]


def reports(seeded: Seeded, position: int, moment: datetime, **filters: Any) -> list[Any]:
    with seeded.service.read() as sql:
        return find_adverse_events(sql, position, moment, **filters, reach=None)


def demo_positions(demo: Seeded) -> dict[str, int]:
    """Moments of the demo's stories, as ledger positions (found in the events themselves)."""
    events = demo.events
    return {
        "first batch in process": positions_of(events, "Batch.StepRecorded")[0],
        "third batch started": positions_of(events, "Batch.Started")[2],
        "first shipment in transit": positions_of(events, "Shipment.Received")[0] - 1,
        "batch rejected": positions_of(events, "Batch.Rejected")[0],
        "consent withdrawn": positions_of(events, "Donor.ConsentWithdrawn")[0],
        "before the look-back": positions_of(events, "Donor.EligibilityRevoked")[0] - 1,
        "after the look-back": positions_of(events, "Donor.EligibilityRevoked")[0],
        "before the first recall": positions_of(events, "Recall.Initiated")[0] - 1,
        "head": head_of(events),
    }


def expected_ids(world: World, keep: Any) -> list[str]:
    return sorted(b for b, batch in world.batches.items() if keep(batch))


# ------------------------------------------------------------------------ source-and-flow


def test_every_source_and_flow_record_agrees_with_the_ledger_now_and_at_earlier_positions(demo):
    for moment, position in demo_positions(demo).items():
        world = fold(demo.events, position)

        found = records(demo, position)

        assert [r.batch.batch_id for r in found] == sorted(world.batches), moment
        for view in found:
            batch_id = view.batch.batch_id
            expected = source_and_flow(world, batch_id)
            assert projected(view) == expected, (moment, batch_id)
            named = sites_named(expected, world, batch_id)
            assert named <= set(view.sites), (moment, batch_id)
            assert {s: view.sites[s].kind for s in named} == {
                s: world.sites[s]["kind"] for s in named
            }


def test_the_demo_positions_cover_every_part_of_a_record(demo):
    """The comparison above means something only if the records it compares are full ones."""
    positions = demo_positions(demo)
    head = fold(demo.events)
    in_transit = fold(demo.events, positions["first shipment in transit"])
    before, after = (
        fold(demo.events, positions["before the look-back"]),
        fold(demo.events, positions["after the look-back"]),
    )
    at_head = {b: source_and_flow(head, b) for b in head.batches}

    assert any(source_and_flow(in_transit, b)["flow"][-1:] for b in in_transit.batches)
    assert any(
        flow[4] is None
        for b in in_transit.batches
        for flow in source_and_flow(in_transit, b)["flow"]
    ), "no shipment in transit"
    assert {r["release"][0] for r in at_head.values() if r["release"]} == {"RELEASED", "REJECTED"}
    assert {r["disposition"][0] for r in at_head.values() if r["disposition"]} == {
        "ADMINISTERED",
        "DESTROYED",
    }
    assert any(r["flow"] and r["flow"][0][7] > 0 for r in at_head.values()), "no excursion"
    assert any(len(r["manufacture"]) >= 6 for r in at_head.values())
    assert any(r["recalls"] for r in at_head.values())
    revoked = [b for b, r in at_head.items() if r["source"]["eligibility"][4]]
    assert revoked
    assert not any(source_and_flow(before, b)["source"]["eligibility"][4] for b in revoked)
    assert all(source_and_flow(after, b)["source"]["eligibility"][4] for b in revoked)
    assert {r["source"]["donation_type"] for r in at_head.values()} == {"AUTOLOGOUS", "ALLOGENEIC"}


def test_the_small_world_records_agree_with_the_ledger_at_each_of_its_moments(world):
    for name, (_, position) in world.built.marks.items():
        folded = fold(world.events, position)

        found = records(world, position)

        assert [r.batch.batch_id for r in found] == sorted(folded.batches), name
        for view in found:
            assert projected(view) == source_and_flow(folded, view.batch.batch_id), name


def test_a_batch_not_yet_started_at_a_position_has_no_record_then(world):
    made_at = world.built.marks["B1 made"][1]
    first = min(p for p in positions_of(world.events, "Batch.Started"))

    assert records(world, first - 1, batch_ids=["B1"]) == []
    assert ids(world, first, batch_ids=["B1"]) == ["B1"]
    assert ids(world, made_at, batch_ids=["B1", "B2"]) == ["B1"]


def test_filters_keep_exactly_the_batches_of_a_donor_a_site_a_product_or_a_release_period(demo):
    positions = demo_positions(demo)
    for moment in ("first batch in process", "before the look-back", "head"):
        position = positions[moment]
        world = fold(demo.events, position)
        counts = {}

        for donor in sorted({b["donor_code"] for b in world.batches.values()}):
            assert ids(demo, position, donor_code=donor) == expected_ids(
                world, lambda b, d=donor: b["donor_code"] == d
            ), (moment, donor)
        for site in sorted(world.sites):
            found = ids(demo, position, site_id=site)
            assert found == expected_ids(world, lambda b, s=site: s in b["involved"]), (
                moment,
                site,
            )
            counts[site] = len(found)
        for product in sorted({b["product"] for b in world.batches.values()}):
            assert ids(demo, position, product=product) == expected_ids(
                world, lambda b, p=product: b["product"] == p
            ), (moment, product)
        for start, end in (
            (datetime(2025, 12, 1, tzinfo=UTC), datetime(2026, 1, 31, 23, 59, tzinfo=UTC)),
            (datetime(2026, 3, 1, tzinfo=TAIPEI), datetime(2026, 4, 30, tzinfo=TAIPEI)),
        ):
            within = expected_ids(
                world, lambda b, s=start, e=end: b["released_at"] and s <= b["released_at"] <= e
            )
            assert within or moment != "head", "the period should hold released batches"
            assert ids(demo, position, released_from=start, released_to=end) == within
            assert ids(demo, position, released_from=start) == expected_ids(
                world, lambda b, s=start: b["released_at"] and s <= b["released_at"]
            )
            assert ids(demo, position, released_to=end) == expected_ids(
                world, lambda b, e=end: b["released_at"] and b["released_at"] <= e
            )

        assert sum(counts[c] for c in DEMO_CONTROLS) == len(world.batches)
        assert counts["GB-POC-HOME-LEEDS"] == 0
        if moment == "first batch in process":
            # The batch's laboratory and the hospital it goes to come later.
            (batch,) = world.batches.values()
            assert batch["status"] == "IN_PROCESS"
            assert counts["TW-LAB-QC"] == 0
        if moment == "head":
            # A hospital that only collected cells and received batches counts, so does a QC
            # laboratory; a site that never took part gives nothing.
            assert counts["TW-MI-NTUH"] > 0
            assert counts["DE-LAB-QC"] > 0


def test_filters_combine(demo):
    world = fold(demo.events)
    head = world.position
    start, end = datetime(2025, 12, 1, tzinfo=UTC), datetime(2026, 6, 30, tzinfo=UTC)

    found = ids(
        demo,
        head,
        product="CART-CD19-AUTO",
        site_id="DE-MI-CHARITE",
        released_from=start,
        released_to=end,
    )

    expected = expected_ids(
        world,
        lambda b: (
            b["product"] == "CART-CD19-AUTO"
            and "DE-MI-CHARITE" in b["involved"]
            and b["released_at"] is not None
            and start <= b["released_at"] <= end
        ),
    )
    assert found == expected
    assert expected
    donor = world.batches[expected[0]]["donor_code"]
    assert ids(demo, head, donor_code=donor, site_id="DE-MI-CHARITE") == [expected[0]]
    assert ids(demo, head, donor_code=donor, site_id="TW-MI-NTUH") == []


def test_the_released_period_includes_both_of_its_ends(demo):
    world = fold(demo.events)
    batch_id, released_at = min(
        ((b, x["released_at"]) for b, x in world.batches.items() if x["released_at"]),
        key=lambda pair: pair[1],
    )
    after, before = released_at + timedelta(seconds=US), released_at - timedelta(seconds=US)

    def find(**period: datetime) -> bool:
        return batch_id in ids(demo, world.position, **period)

    assert find(released_from=released_at, released_to=released_at)
    assert find(released_from=released_at.astimezone(TAIPEI))
    assert find(released_to=released_at.astimezone(TAIPEI))
    assert not find(released_from=after)
    assert not find(released_to=before)
    assert not find(released_from=after, released_to=after + timedelta(days=1))


def test_cursor_pages_walk_every_record_exactly_once_in_id_order(demo):
    positions = demo_positions(demo)
    for moment, filters in (
        ("head", {}),
        ("head", {"site_id": "TW-MI-NTUH"}),
        ("before the first recall", {"product": "CART-CD19-AUTO"}),
        ("batch rejected", {}),
    ):
        position = positions[moment]
        everything = ids(demo, position, **filters)
        world = fold(demo.events, position)
        site = filters.get("site_id")
        product = filters.get("product")
        assert everything == expected_ids(
            world,
            lambda b, s=site, p=product: (
                (s is None or s in b["involved"]) and (p is None or b["product"] == p)
            ),
        )
        for limit in (1, 2, 5, 7, len(everything), len(everything) + 1):
            walked: list[str] = []
            after = None
            for _ in range(len(everything) + 2):
                page = ids(demo, position, after=after, limit=limit, **filters)
                assert len(page) <= limit
                walked += page
                if len(page) < limit:
                    break
                after = page[-1]
            assert walked == everything, (moment, filters, limit)
            assert len(set(walked)) == len(walked)


# ---------------------------------------------------------------------------- adverse events


def compare_reports(seeded: Seeded, position: int, moment: datetime, **filters: Any) -> list[Any]:
    found = reports(seeded, position, moment, **filters)
    world = fold(seeded.events, position)
    expected = adverse_events(world, moment)
    keep = {
        "batch_id": filters.get("batch_id"),
        "reported_by_site_id": filters.get("site_id"),
        "control_site_id": filters.get("control_site_id"),
        "overdue": filters.get("overdue"),
    }
    expected = {
        i: r for i, r in expected.items() if all(v is None or r[k] == v for k, v in keep.items())
    }
    assert [v.adverse_event_id for v in found] == sorted(
        expected, key=lambda i: (expected[i]["aware_at"], i)
    ), (position, moment, filters)
    for v in found:
        r = expected[v.adverse_event_id]
        assert (
            v.batch_id,
            v.patient_code,
            v.reported_by_site_id,
            v.control_site_id,
            v.jurisdiction,
            v.serious,
            v.onset_at,
            v.aware_at,
            v.reporting_deadline_at,
            v.submitted_at,
            v.authority,
            v.overdue,
        ) == (
            r["batch_id"],
            r["patient_code"],
            r["reported_by_site_id"],
            r["control_site_id"],
            r["jurisdiction"],
            r["serious"],
            r["onset_at"],
            r["aware_at"],
            r["deadline"],
            r["submitted_at"],
            r["authority"],
            r["overdue"],
        ), (v.adverse_event_id, position, moment)
        late = r["submitted_at"] is not None and r["submitted_at"] > r["deadline"]
        assert v.submitted_late == late
    return found


def moments_around(world: World) -> list[datetime]:
    """Just before, at and just after every deadline, and at every awareness and submission."""
    found = {datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)}
    for r in world.reports.values():
        for delta in (-US, 0, US):
            found.add(r["deadline"] + timedelta(seconds=delta))
        found.add(r["aware_at"])
        if r["submitted_at"]:
            found.add(r["submitted_at"])
    return sorted(found)


def test_adverse_events_agree_with_the_ledger_around_every_deadline_and_position(demo):
    events = demo.events
    positions = sorted(
        {
            head_of(events),
            *(p - 1 for p in positions_of(events, "AdverseEvent.Reported")),
            *(p - 1 for p in positions_of(events, "AdverseEvent.SubmittedToAuthority")),
        }
    )
    head = fold(events)
    assert {r["jurisdiction"] for r in head.reports.values()} >= {"TW", "EU", "UK"}
    assert {r["serious"] for r in head.reports.values()} == {True, False}
    seen_overdue = set()

    for position in positions:
        for moment in moments_around(head):
            found = compare_reports(demo, position, moment)
            seen_overdue |= {(v.adverse_event_id, v.overdue) for v in found}

    # Every report was seen both overdue and not (before its deadline, or once submitted).
    assert {i for i, overdue in seen_overdue if overdue} == set(head.reports)
    assert {i for i, overdue in seen_overdue if not overdue} == set(head.reports)


def test_adverse_events_filter_by_batch_site_control_site_and_overdue(demo):
    head = fold(demo.events)
    now = datetime.now(UTC)
    for report in head.reports.values():
        compare_reports(demo, head.position, now, batch_id=report["batch_id"])
        compare_reports(demo, head.position, now, site_id=report["reported_by_site_id"])
    for overdue in (True, False):
        found = compare_reports(demo, head.position, now, overdue=overdue)
        assert found, f"no report is overdue={overdue} now"
    assert compare_reports(demo, head.position, now, control_site_id=DEMO_CONTROL)
    assert compare_reports(demo, head.position, now, site_id="TW-MU-HSINCHU") == []
    assert compare_reports(demo, head.position, now, batch_id="MSC-31000") == []


def test_a_taiwanese_serious_reaction_is_due_at_the_end_of_the_seventh_day_after_awareness(world):
    aware = fold(world.events).reports["AE-TW"]["aware_at"]
    assert aware.astimezone(TAIPEI).time() == time(23, 30)
    day_of_awareness = aware.astimezone(TAIPEI).date()
    # Days 1..7 are the seven calendar days after the day of awareness; the last instant of day 7.
    due = datetime.combine(day_of_awareness + timedelta(days=8), time(0), tzinfo=TAIPEI)
    due -= timedelta(microseconds=1)
    head = world.built.last

    ae = {v.adverse_event_id: v for v in reports(world, head, due)}["AE-TW"]

    assert ae.reporting_deadline_at == due
    assert ae.submitted_at is None
    assert not ae.overdue
    late = due + timedelta(microseconds=1)
    assert {v.adverse_event_id: v for v in reports(world, head, late)}["AE-TW"].overdue
    assert "AE-TW" in [v.adverse_event_id for v in reports(world, head, late, overdue=True)]
    assert "AE-TW" in [v.adverse_event_id for v in reports(world, head, due, overdue=False)]


def test_eu_and_uk_serious_reactions_are_due_fifteen_days_after_awareness(world):
    folded = fold(world.events)
    before_submission = world.built.marks["reported"][1]
    head = world.built.last
    for report_id in ("AE-EU", "AE-UK"):
        aware = folded.reports[report_id]["aware_at"]
        due = aware + timedelta(days=15)
        (view,) = [v for v in reports(world, head, due) if v.adverse_event_id == report_id]
        assert view.reporting_deadline_at == due
        assert view.jurisdiction == {"AE-EU": "EU", "AE-UK": "UK"}[report_id]

    # AE-EU was submitted three days after awareness; before that it was overdue once past due.
    eu_due = folded.reports["AE-EU"]["aware_at"] + timedelta(days=15)
    after_due = eu_due + timedelta(days=1)
    then = {v.adverse_event_id: v for v in reports(world, before_submission, after_due)}
    now = {v.adverse_event_id: v for v in reports(world, head, after_due)}
    assert then["AE-EU"].overdue
    assert then["AE-EU"].submitted_at is None
    assert not now["AE-EU"].overdue
    assert not now["AE-EU"].submitted_late
    assert "AE-UK" not in then, "AE-UK was reported after that position"

    # AE-UK was submitted sixteen days after awareness: late, but no longer outstanding.
    assert not now["AE-UK"].overdue
    assert now["AE-UK"].submitted_late
    uk_submitted = positions_of(world.events, "AdverseEvent.SubmittedToAuthority")[-1]
    uk_due = folded.reports["AE-UK"]["aware_at"] + timedelta(days=15)
    pending = {v.adverse_event_id: v for v in reports(world, uk_submitted - 1, uk_due)}
    assert not pending["AE-UK"].overdue
    pending = {
        v.adverse_event_id: v
        for v in reports(world, uk_submitted - 1, uk_due + timedelta(microseconds=1))
    }
    assert pending["AE-UK"].overdue


def test_the_small_world_adverse_events_agree_with_the_ledger_at_each_of_its_moments(world):
    folded = fold(world.events)
    for _, position in world.built.marks.values():
        for moment in moments_around(folded):
            compare_reports(world, position, moment)


def test_a_taiwanese_deadline_counts_days_in_taiwan_whatever_offset_the_awareness_is_written_in(
    world,
):
    """AE-TW-Z's partner system wrote the awareness as 03:00 UTC: 11:00 the same day in Taipei.
    The seven days run from the day after that Taiwanese day, to the end of the seventh one in
    Taiwan; how the partner wrote the instant must not move the legal deadline."""
    found = reports(world, world.built.last, datetime.now(UTC), batch_id="B1")
    (view,) = [v for v in found if v.adverse_event_id == "AE-TW-Z"]
    aware = fold(world.events).reports["AE-TW-Z"]["aware_at"]
    assert aware.astimezone(TAIPEI).date() == aware.astimezone(UTC).date()
    day_in_taiwan = aware.astimezone(TAIPEI).date()
    due = datetime.combine(day_in_taiwan + timedelta(days=7), time.max, tzinfo=TAIPEI)

    assert view.reporting_deadline_at == due


# ------------------------------------------------------------------------------ eligibility


def test_a_source_record_shows_the_eligibility_the_donors_own_record_holds_in_force(service):
    """A preliminary INELIGIBLE determination made before the ELIGIBLE one but entered after it:
    the source record must show the determination the Donor aggregate (which release decisions
    consult) holds in force, whatever the order of entry."""
    w = small_world(service)
    physician = Principal("dr-chen-physician", "medical_institution")
    w.run(
        w.app.donors.determine_eligibility,
        physician,
        "DNR-1",
        "INELIGIBLE",
        "TFDA-2025.0",
        [{"test": "HIV", "result": "indeterminate", "reactive": True}],
        w.h(4.5),
    )
    donor = service.app.repository.get("Donor:DNR-1")
    in_force = donor.eligibility
    world = fold(read_ledger(service))

    with service.read() as sql:
        (view,) = find_records(sql, world.position, batch_ids=["B1"], reach=None)

    expected = (
        in_force.outcome,
        in_force.determined_at,
        in_force.determined_by,
        in_force.criteria_version,
        in_force.revoked,
    )
    assert len(donor.determinations) == 2
    assert projected(view)["source"]["eligibility"] == expected
    assert projected(view)["source"] == source_and_flow(world, "B1")["source"]


# ---------------------------------------------------------------------------------- rebuild


def dump(service) -> dict[str, list[dict[str, Any]]]:
    tables = {}
    with service.read() as sql:
        for table in projection_tables():
            rows = sql.all(f"SELECT * FROM {table}")
            if rows:
                rows = sql.all(f"SELECT * FROM {table} ORDER BY {', '.join(rows[0])}")
            tables[table] = rows
    return tables


def test_a_rebuild_after_the_demo_and_further_recalls_gives_exactly_the_live_rows(service):
    seed(service.app)
    qp = Principal("dr-lin-qp", "qualified_person")
    service.app.recalls.initiate_recall(
        qp, "RCL-T-1", "ADVERSE_EVENT", "AE-CART-26013", "Follow-up"
    )
    service.app.recalls.initiate_recall(
        qp, "RCL-T-2", "BATCH", "MSC-31000", "Look-back, second wave"
    )
    service.app.recalls.initiate_recall(
        qp,
        "RCL-T-3",
        "SITE",
        "TW-MU-HSINCHU",
        "Environmental monitoring",
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 3, 31, tzinfo=UTC),
    )
    # An institution's patient and an import declaration (domain/institution_records.py): a
    # batch made in London declared into Taiwan.
    records = service.app.institution_records
    clinic = Principal("ntuh-records", "medical_institution")
    minor = {"name": "Lin Hsiao-hua", "dateOfBirth": "2010-09-15"}
    records.record_patient_identity(
        clinic, "TW-MI-NTUH", "PT-0002", minor, datetime(2026, 1, 5, tzinfo=UTC)
    )
    records.declare_import(
        qp, "TW-CD-2026-0001", ["CART-26006"], 1, datetime(2026, 3, 1, tzinfo=UTC), "TW-CTRL-TPE"
    )
    live = dump(service)
    assert all(live[t] for t in projection_tables()), [t for t in live if not live[t]]
    with service.read() as sql:
        recalled = find_batches(sql, 10**9, status="RECALLED", reach=None)
    assert {r for b in recalled for r in b.recalls} >= {"RCL-T-2", "RCL-T-3", "RCL-2026-001"}

    replayed = rebuild(service.recorder, service.app.mapper)

    assert replayed == ledger_size(service)
    rebuilt = dump(service)
    assert rebuilt.keys() == live.keys()
    for table in live:
        assert rebuilt[table] == live[table], table
