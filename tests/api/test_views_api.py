"""The regulatory views and recalls over GraphQL, as regulators and recall investigators ask them,
on SQLite and PostgreSQL.

Answers are compared with the tests' own fold of the stored events
(``tests.integration.independent``), now and ``asOf`` earlier moments. The demo and a small world
are seeded once per module and database and only read; commands run on a ledger of each test's own.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.app import create_app
from tests.api.client import GraphQL, client_for
from tests.conftest import DIALECTS, ledger_size
from tests.integration.independent import (
    CTRL,
    CTRL2,
    HOSP,
    HSA,
    MU1,
    MU2,
    MU3,
    PHYSICIAN,
    PV,
    Seeded,
    World,
    demo_database,
    fold,
    head_of,
    lone_site,
    position_at,
    positions_of,
    read_ledger,
    small_world,
    small_world_database,
    source_and_flow,
    stored_at,
    trace,
)

DEMO_CONTROL = "TW-CTRL-TPE"
# The demo's control sites, one per regulatory area (each spoke answers to its own area's).
DEMO_CONTROLS = (DEMO_CONTROL, "DE-CTRL-BERLIN", "GB-CTRL-LONDON")

RECORD = """
fragment Record on SourceAndFlowRecord {
  batchId product status
  source {
    donorCode donationId donationType consentReference consentedAt
    eligibility { outcome determinedAt determinedBy criteriaVersion revoked }
    acquisitionSite { id kind }
    acquiredAt
  }
  manufacture { step site { id } startedAt completedAt materialLots }
  release { decision qualifiedPerson decidedAt signatureMeaning }
  flow { shipmentId fromSite { id } toSite { id } dispatchedAt receivedAt }
  finalDisposition { kind site { id } at patientCode }
}
"""

SOURCE_AND_FLOW = (
    RECORD
    + """
query SourceAndFlow($batchId: ID!, $asOf: DateTime) {
  sourceAndFlow(batchId: $batchId, asOf: $asOf) { ...Record }
}
"""
)

RECORDS = (
    RECORD
    + """
query Records($filter: SourceAndFlowFilter, $first: Int, $after: String, $asOf: DateTime) {
  sourceAndFlowRecords(filter: $filter, first: $first, after: $after, asOf: $asOf) {
    nodes { ...Record }
    pageInfo { hasNextPage endCursor }
  }
}
"""
)

REPORT = """
  id batchId patientCode reportedBySite { id jurisdiction } serious awareAt reportingDeadline
  submittedToAuthorityAt overdue
"""

ADVERSE_EVENTS = f"""
query AdverseEvents($filter: AdverseEventFilter, $asOf: DateTime) {{
  adverseEvents(filter: $filter, asOf: $asOf) {{ {REPORT} }}
}}
"""

HISTORY = "history { status at reason actor position }"

DM_MASTER_FILE = f"""
query DmMasterFile($controlSiteId: ID!, $asOf: DateTime) {{
  dmMasterFile(controlSiteId: $controlSiteId, asOf: $asOf) {{
    controlSite {{ id kind status {HISTORY} }}
    sites {{ id kind status controlSiteId {HISTORY} }}
    adverseReactionReports {{ {REPORT} }}
  }}
}}
"""

TRACE_FIELDS = """
  origin { kind id } direction nodes { kind id } edges { fromId toId relation at }
  affectedBatches affectedPatients affectedSites position
"""

RECALL_TRACE = f"""
query RecallTrace($origin: TraceOrigin!, $direction: TraceDirection!, $asOf: DateTime) {{
  recallTrace(origin: $origin, direction: $direction, asOf: $asOf) {{ {TRACE_FIELDS} }}
}}
"""

INITIATE_RECALL = f"""
mutation InitiateRecall($input: InitiateRecallInput!) {{
  initiateRecall(input: $input) {{ id reason trace {{ {TRACE_FIELDS} }} }}
}}
"""

BATCH = """
query Batch($id: ID!) { batch(id: $id) { id status recalls } }
"""

RELEASE_BATCH = """
mutation ReleaseBatch($input: ReleaseBatchInput!) {
  releaseBatch(input: $input) { position aggregateId version }
}
"""

REPORT_ADVERSE_EVENT = """
mutation ReportAdverseEvent($input: ReportAdverseEventInput!) {
  reportAdverseEvent(input: $input) { position aggregateId version }
}
"""


# ----------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module", params=DIALECTS)
def demo(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Seeded:
    return demo_database(request, tmp_path_factory)


@pytest.fixture(scope="module", params=DIALECTS)
def world(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Seeded:
    return small_world_database(request, tmp_path_factory)


async def partner(seeded: Seeded) -> AsyncIterator[GraphQL]:
    async with client_for(create_app(seeded.settings, seeded.service)) as http:
        yield GraphQL(http)


@pytest.fixture
async def demo_gql(demo: Seeded) -> AsyncIterator[GraphQL]:
    async for gql in partner(demo):
        yield gql


@pytest.fixture
async def world_gql(world: Seeded) -> AsyncIterator[GraphQL]:
    async for gql in partner(world):
        yield gql


# ------------------------------------------------------------------------------------ helpers


def times(value: Any, key: str = "") -> Any:
    """A GraphQL answer with every DateTime (fields named ``at`` or ``...At``) parsed."""
    if isinstance(value, dict):
        return {k: times(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [times(v, key) for v in value]
    if isinstance(value, str) and (key == "at" or key.endswith("At") or key == "reportingDeadline"):
        return datetime.fromisoformat(value)
    return value


def record_document(world: World, batch_id: str) -> dict[str, Any]:
    """What ``sourceAndFlow`` must answer for ``batch_id`` at ``world.position``."""
    r = source_and_flow(world, batch_id)
    s = r["source"]
    eligibility = s["eligibility"]
    release = r["release"]
    disposition = r["disposition"]
    return {
        "batchId": batch_id,
        "product": r["product"],
        "status": "RECALLED" if r["recalls"] else r["status"],
        "source": {
            "donorCode": s["donor_code"],
            "donationId": s["donation_id"],
            "donationType": s["donation_type"],
            "consentReference": s["consent_reference"],
            "consentedAt": s["consented_at"],
            "eligibility": None
            if eligibility is None
            else dict(
                zip(
                    ("outcome", "determinedAt", "determinedBy", "criteriaVersion", "revoked"),
                    eligibility,
                    strict=True,
                )
            ),
            "acquisitionSite": {
                "id": s["acquisition_site"],
                "kind": world.sites[s["acquisition_site"]]["kind"],
            },
            "acquiredAt": s["acquired_at"],
        },
        "manufacture": [
            {
                "step": m[0],
                "site": {"id": m[1]},
                "startedAt": m[2],
                "completedAt": m[3],
                "materialLots": m[4],
            }
            for m in r["manufacture"]
        ],
        "release": None
        if release is None
        else dict(
            zip(
                ("decision", "qualifiedPerson", "decidedAt", "signatureMeaning"),
                release,
                strict=True,
            )
        ),
        "flow": [
            {
                "shipmentId": f[0],
                "fromSite": {"id": f[1]},
                "toSite": {"id": f[2]},
                "dispatchedAt": f[3],
                "receivedAt": f[4],
            }
            for f in r["flow"]
        ],
        "finalDisposition": None
        if disposition is None
        else {
            "kind": disposition[0],
            "site": {"id": disposition[1]},
            "at": disposition[2],
            "patientCode": disposition[3],
        },
    }


def report_document(world: World, report_id: str, moment: datetime) -> dict[str, Any]:
    r = world.reports[report_id]
    return {
        "id": report_id,
        "batchId": r["batch_id"],
        "patientCode": r["patient_code"],
        "reportedBySite": {"id": r["reported_by_site_id"], "jurisdiction": r["jurisdiction"]},
        "serious": r["serious"],
        "awareAt": r["aware_at"],
        "reportingDeadline": r["deadline"],
        "submittedToAuthorityAt": r["submitted_at"],
        "overdue": r["open"] and moment > r["deadline"],
    }


def reports_in_order(world: World, keep: Any = lambda r: True) -> list[str]:
    chosen = [i for i, r in world.reports.items() if keep(r)]
    return sorted(chosen, key=lambda i: (world.reports[i]["aware_at"], i))


def moments(events: list[Any], positions: list[int]) -> list[tuple[str, World]]:
    """(asOf, the world a replay up to it shows) for the ledger time of each position."""
    found = []
    for position in positions:
        moment = stored_at(events, position).recorded_at
        found.append((moment.isoformat(), fold(events, position_at(events, moment))))
    return found


def trace_document(found: dict[str, Any]) -> tuple[set[tuple[str, str]], Counter[Any]]:
    nodes = [(n["kind"], n["id"]) for n in found["nodes"]]
    assert len(nodes) == len(set(nodes)), nodes
    assert all(e["relation"] for e in found["edges"])
    edges = Counter(
        (e["fromId"], e["toId"], datetime.fromisoformat(e["at"])) for e in found["edges"]
    )
    return set(nodes), edges


def expected_trace(
    world: World, kind: str, node_id: str, direction: str, window: Any = None
) -> tuple[set[tuple[str, str]], Counter[Any], Any]:
    t = trace(world, kind, node_id, direction, window)
    return t.nodes, Counter((e.from_id, e.to_id, e.at) for e in t.edges), t


async def errors_of(gql: GraphQL, document: str, variables: dict[str, Any], field: str) -> list:
    body = await gql(document, variables)
    assert "errors" in body, body
    assert (body.get("data") or {}).get(field) is None, body
    return [e.get("extensions", {}).get("code") for e in body["errors"]]


# ----------------------------------------------------------------------------- source-and-flow


async def test_a_batch_record_answers_what_the_ledger_shows_now_and_as_of_earlier_moments(
    demo, demo_gql
):
    events = demo.events
    positions = [
        positions_of(events, "Batch.Started")[0] + 3,
        positions_of(events, "Shipment.Received")[0] - 1,
        positions_of(events, "Donor.ConsentWithdrawn")[0],
        positions_of(events, "Donor.EligibilityRevoked")[0] - 1,
        positions_of(events, "Recall.Initiated")[0] - 1,
    ]
    batches = ["CART-26000", "CART-26003", "CART-26005", "CART-26008", "CART-26011", "MSC-31000"]
    cases = [*moments(events, positions), (None, fold(events))]

    for as_of, world in cases:
        for batch_id in batches:
            data = await demo_gql.data(SOURCE_AND_FLOW, {"batchId": batch_id, "asOf": as_of})

            found = data["sourceAndFlow"]
            if batch_id not in world.batches:
                assert found is None, (as_of, batch_id)
            else:
                assert times(found) == record_document(world, batch_id), (as_of, batch_id)

    head = fold(events)
    statuses = {record_document(head, b)["status"] for b in batches}
    assert statuses >= {"RECALLED", "DESTROYED", "ADMINISTERED"}
    data = await demo_gql.data(SOURCE_AND_FLOW, {"batchId": "NO-SUCH-BATCH"})
    assert data["sourceAndFlow"] is None


async def test_source_and_flow_records_page_through_every_matching_batch_exactly_once(
    demo, demo_gql
):
    events = demo.events
    revoked = positions_of(events, "Donor.EligibilityRevoked")[0]
    (as_of, then), (_, now) = moments(events, [revoked - 1, head_of(events)])
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 30, tzinfo=UTC)
    cases: list[tuple[str | None, World, dict[str, Any], Any]] = [
        (None, now, {}, lambda b: True),
        (None, now, {"siteId": "TW-MI-NTUH"}, lambda b: "TW-MI-NTUH" in b["involved"]),
        (None, now, {"donorCode": "DNR-ALLO-0001"}, lambda b: b["donor_code"] == "DNR-ALLO-0001"),
        (None, now, {"product": "CART-BCMA-AUTO"}, lambda b: b["product"] == "CART-BCMA-AUTO"),
        (
            None,
            now,
            {"releasedFrom": start.isoformat(), "releasedTo": end.isoformat()},
            lambda b: b["released_at"] is not None and start <= b["released_at"] <= end,
        ),
        (as_of, then, {}, lambda b: True),
        (as_of, then, {"siteId": "DE-LAB-QC"}, lambda b: "DE-LAB-QC" in b["involved"]),
    ]
    for as_of_case, world, filters, keep in cases:
        expected = sorted(b for b, batch in world.batches.items() if keep(batch))
        assert expected, filters
        walked: list[dict[str, Any]] = []
        after = None
        for _ in range(len(expected) + 1):
            data = await demo_gql.data(
                RECORDS, {"filter": filters, "first": 4, "after": after, "asOf": as_of_case}
            )
            page = data["sourceAndFlowRecords"]
            assert len(page["nodes"]) <= 4
            walked += page["nodes"]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
            assert after
        assert [r["batchId"] for r in walked] == expected, (as_of_case, filters)
        assert [times(r) for r in walked] == [record_document(world, b) for b in expected]


async def test_source_and_flow_paging_refuses_a_cursor_it_did_not_issue_and_a_bad_page_size(
    demo_gql,
):
    for variables in ({"first": 0}, {"first": 501}, {"after": "not a cursor!"}):
        codes = await errors_of(demo_gql, RECORDS, variables, "sourceAndFlowRecords")
        assert codes == ["BAD_INPUT"], variables


# ----------------------------------------------------------------------------- adverse events


async def test_adverse_events_show_deadlines_submissions_and_what_was_overdue_as_of_a_moment(
    demo, demo_gql
):
    events = demo.events
    positions = sorted(
        {
            *(p - 1 for p in positions_of(events, "AdverseEvent.Reported")),
            *(p - 1 for p in positions_of(events, "AdverseEvent.SubmittedToAuthority")),
            *positions_of(events, "AdverseEvent.SubmittedToAuthority"),
        }
    )
    head = fold(events)
    a_report = head.reports[reports_in_order(head)[0]]
    filters = [
        {},
        {"batchId": a_report["batch_id"]},
        {"siteId": a_report["reported_by_site_id"]},
        {"overdue": True},
        {"overdue": False},
    ]
    seen = set()
    for as_of, world in moments(events, positions):
        moment = datetime.fromisoformat(as_of)
        for f in filters:
            data = await demo_gql.data(ADVERSE_EVENTS, {"filter": f, "asOf": as_of})

            documents = {i: report_document(world, i, moment) for i in world.reports}
            expected = [
                documents[i]
                for i in reports_in_order(
                    world,
                    lambda r, f=f: (
                        f.get("batchId") in (None, r["batch_id"])
                        and f.get("siteId") in (None, r["reported_by_site_id"])
                    ),
                )
                if f.get("overdue") in (None, documents[i]["overdue"])
            ]
            assert times(data["adverseEvents"]) == expected, (as_of, f)
            seen |= {(d["id"], d["overdue"]) for d in expected}
    assert {i for i, overdue in seen if overdue} == set(head.reports)
    assert {i for i, overdue in seen if not overdue}, "every report was always overdue"


async def test_a_report_is_overdue_only_once_past_its_deadline_and_never_once_submitted(
    service, gql
):
    small_world(service)
    aware = datetime.now(UTC) - timedelta(hours=1)
    await gql.data(
        REPORT_ADVERSE_EVENT,
        {
            "input": {
                "adverseEventId": "AE-NEW",
                "batchId": "B2",
                "patientCode": "PT-2",
                "reportedBySiteId": "DE-MI-1",
                "serious": True,
                "description": "Grade 2 cytokine release syndrome",
                "onsetAt": (aware - timedelta(hours=2)).isoformat(),
                "awareAt": aware.isoformat(),
            }
        },
    )
    world = fold(read_ledger(service))
    now = datetime.now(UTC)

    data = await gql.data(ADVERSE_EVENTS, {})

    found = {r["id"]: times(r) for r in data["adverseEvents"]}
    assert found == {i: report_document(world, i, now) for i in world.reports}
    assert found["AE-NEW"]["reportingDeadline"] == aware + timedelta(days=15)
    assert not found["AE-NEW"]["overdue"], "due in fifteen days"
    assert found["AE-TW"]["overdue"], "never submitted, due weeks ago"
    assert not found["AE-EU"]["overdue"]
    assert not found["AE-UK"]["overdue"], "submitted late, but submitted"
    overdue = await gql.data(ADVERSE_EVENTS, {"filter": {"overdue": True}})
    assert {r["id"] for r in overdue["adverseEvents"]} == {
        i for i, r in found.items() if r["overdue"]
    }
    service.app.distribution.submit_adverse_event_to_authority(PV, "AE-TW", "TFDA", now)
    after = await gql.data(ADVERSE_EVENTS, {"filter": {"batchId": "B1"}})
    assert {r["id"]: r["overdue"] for r in after["adverseEvents"]}["AE-TW"] is False


async def test_overdue_is_judged_at_the_as_of_moment_not_at_the_moment_of_asking(service, gql):
    small_world(service)
    # Aware fifteen days ago less a second and a half: due a second and a half from now.
    aware = datetime.now(UTC) - timedelta(days=15) + timedelta(seconds=1.5)
    report = {
        "adverseEventId": "AE-SOON",
        "batchId": "B2",
        "patientCode": "PT-2",
        "reportedBySiteId": "DE-MI-1",
        "serious": True,
        "description": "Grade 1 fever",
        "onsetAt": (aware - timedelta(hours=2)).isoformat(),
        "awareAt": aware.isoformat(),
    }
    before_report = datetime.now(UTC).isoformat()
    await asyncio.sleep(0.01)
    await gql.data(REPORT_ADVERSE_EVENT, {"input": report})
    await asyncio.sleep(0.01)
    reported = datetime.now(UTC)
    due = aware + timedelta(days=15)
    assert reported < due, "the machine was too slow for this test's second and a half"
    await asyncio.sleep((due - datetime.now(UTC)).total_seconds() + 0.05)
    soon = {"filter": {"batchId": "B2"}}

    then = await gql.data(ADVERSE_EVENTS, {**soon, "asOf": reported.isoformat()})
    now = await gql.data(ADVERSE_EVENTS, soon)
    earlier = await gql.data(ADVERSE_EVENTS, {**soon, "asOf": before_report})

    assert {r["id"]: r["overdue"] for r in then["adverseEvents"]}["AE-SOON"] is False
    assert {r["id"]: r["overdue"] for r in now["adverseEvents"]}["AE-SOON"] is True
    assert "AE-SOON" not in {r["id"] for r in earlier["adverseEvents"]}
    world = fold(read_ledger(service))
    assert [times(r) for r in now["adverseEvents"]] == [
        report_document(world, i, datetime.now(UTC))
        for i in reports_in_order(world, lambda r: r["batch_id"] == "B2")
    ]


# -------------------------------------------------------------------------- DM master file


def dm_document(world: World, control: str, moment: datetime) -> dict[str, Any]:
    def site_document(site_id: str, *, spoke: bool) -> dict[str, Any]:
        site = world.sites[site_id]
        document = {
            "id": site_id,
            "kind": site["kind"],
            "status": site["status"],
            "history": [
                dict(zip(("status", "at", "reason", "actor", "position"), h, strict=True))
                for h in site["history"]
            ],
        }
        if spoke:
            document["controlSiteId"] = site["control_site_id"]
        return document

    spokes = sorted(s for s, site in world.sites.items() if site["control_site_id"] == control)
    return {
        "controlSite": site_document(control, spoke=False),
        "sites": [site_document(s, spoke=True) for s in spokes],
        "adverseReactionReports": [
            report_document(world, i, moment)
            for i in reports_in_order(world, lambda r: r["control_site_id"] == control)
        ],
    }


async def test_the_dm_master_file_lists_every_site_under_the_control_site_and_its_adverse_reactions(
    world, world_gql
):
    events = world.events
    marks = world.built.marks
    for name in ("donated", "made", "reported", "MU2 suspended", None):
        as_of = None if name is None else marks[name][0].isoformat()
        position = head_of(events) if name is None else marks[name][1]
        folded = fold(events, position)
        for control in (CTRL, CTRL2):
            before = datetime.now(UTC)
            data = await world_gql.data(DM_MASTER_FILE, {"controlSiteId": control, "asOf": as_of})

            moment = before if as_of is None else datetime.fromisoformat(as_of)
            assert times(data["dmMasterFile"]) == dm_document(folded, control, moment), (
                name,
                control,
            )

    now = fold(events)
    assert {s for s, x in now.sites.items() if x["control_site_id"] == CTRL} == {MU1, MU2}
    assert [h[0] for h in now.sites[MU2]["history"]] == [
        "REGISTERED",
        "ACTIVE",
        "SUSPENDED",
        "ACTIVE",
    ]
    assert len(now.reports) == 4
    assert {x["control_site_id"] for x in now.reports.values()} == {CTRL}
    suspended = fold(events, marks["MU2 suspended"][1])
    assert suspended.sites[MU2]["status"] == "SUSPENDED"
    assert MU3 in suspended.sites


async def test_the_demo_dm_master_file_agrees_with_the_ledger_through_the_site_history(
    demo, demo_gql
):
    events = demo.events
    positions = [
        positions_of(events, "Site.Suspended")[0],
        positions_of(events, "Site.Relocated")[0],
        positions_of(events, "AdverseEvent.Reported")[1],
        positions_of(events, "Site.Terminated")[0],
    ]
    cases = [*moments(events, positions), (None, fold(events))]
    for as_of, world in cases:
        for control in DEMO_CONTROLS:
            before = datetime.now(UTC)
            data = await demo_gql.data(DM_MASTER_FILE, {"controlSiteId": control, "asOf": as_of})

            moment = before if as_of is None else datetime.fromisoformat(as_of)
            assert times(data["dmMasterFile"]) == dm_document(world, control, moment), as_of
    head = fold(events)
    assert sum(len(dm_document(head, c, before)["sites"]) for c in DEMO_CONTROLS) >= 8


async def test_the_dm_master_file_of_an_unknown_or_a_non_control_site_is_null(world, world_gql):
    for site_id in ("NO-SUCH-SITE", MU1, HOSP):
        data = await world_gql.data(DM_MASTER_FILE, {"controlSiteId": site_id})
        assert data["dmMasterFile"] is None, site_id
    before_anything = world.events[0].recorded_at - timedelta(seconds=1)
    data = await world_gql.data(
        DM_MASTER_FILE, {"controlSiteId": CTRL, "asOf": before_anything.isoformat()}
    )
    assert data["dmMasterFile"] is None, "the control site was not registered yet then"
    data = await world_gql.data(DM_MASTER_FILE, {"controlSiteId": CTRL})
    assert data["dmMasterFile"]["controlSite"]["id"] == CTRL


# ------------------------------------------------------------------------------- recall traces


async def test_recall_trace_answers_the_lineage_from_any_origin_now_and_as_of_earlier_moments(
    demo, demo_gql
):
    events = demo.events
    origins = [
        ({"kind": "MATERIAL_LOT", "id": "LV-CD19-25A01"}, "FORWARD"),
        ({"kind": "ADVERSE_EVENT", "id": "AE-CART-26013"}, "BACKWARD"),
        ({"kind": "DONOR", "id": "DNR-ALLO-0001"}, "BOTH"),
        ({"kind": "BATCH", "id": "CART-26008"}, "BOTH"),
        ({"kind": "SHIPMENT", "id": "SHP-CART-26001"}, "BACKWARD"),
        (
            {
                "kind": "SITE",
                "id": "DE-MU-BERLIN",
                "window": {"from": "2025-12-01T00:00:00+00:00", "to": "2025-12-31T23:59:00Z"},
            },
            "FORWARD",
        ),
    ]
    positions = [
        positions_of(events, "Shipment.Received")[2] - 1,
        positions_of(events, "AdverseEvent.Reported")[-1],
    ]
    cases = [*moments(events, positions), (None, fold(events))]
    for as_of, world in cases:
        for origin, direction in origins:
            data = await demo_gql.data(
                RECALL_TRACE, {"origin": origin, "direction": direction, "asOf": as_of}
            )

            found = data["recallTrace"]
            window = None
            if "window" in origin:
                w = origin["window"]
                window = (datetime.fromisoformat(w["from"]), datetime.fromisoformat(w["to"]))
            nodes, edges, t = expected_trace(world, origin["kind"], origin["id"], direction, window)
            where = (as_of, origin, direction)
            assert trace_document(found) == (nodes, edges), where
            assert found["origin"] == {"kind": origin["kind"], "id": origin["id"]}
            assert found["direction"] == direction
            assert found["position"] == world.position, where
            assert found["affectedBatches"] == t.ids("BATCH"), where
            assert found["affectedPatients"] == t.ids("PATIENT"), where
            assert found["affectedSites"] == t.ids("SITE"), where

    default = await demo_gql.data(
        """query($origin: TraceOrigin!) { recallTrace(origin: $origin) { direction } }""",
        {"origin": {"kind": "DONOR", "id": "DNR-0001"}},
    )
    assert default["recallTrace"]["direction"] == "FORWARD"


async def test_recall_trace_refuses_a_bad_kind_or_window_and_an_unknown_origin(demo_gql):
    window = {"from": "2025-12-01T00:00:00Z", "to": "2025-12-31T00:00:00Z"}
    cases = [
        ("BAD_INPUT", {"kind": "FREEZER", "id": "F-1"}),
        ("BAD_INPUT", {"kind": "BATCH", "id": "CART-26001", "window": window}),
        ("BAD_INPUT", {"kind": "DONOR", "id": "DNR-0001", "window": window}),
        ("BAD_INPUT", {"kind": "SITE", "id": "DE-MU-BERLIN", "window": {"from": window["from"]}}),
        ("BAD_INPUT", {"kind": "SITE", "id": "DE-MU-BERLIN", "window": {**window, "to": "soon"}}),
        ("NOT_FOUND", {"kind": "BATCH", "id": "CART-99999"}),
        ("NOT_FOUND", {"kind": "MATERIAL_LOT", "id": "LV-NONE"}),
        ("NOT_FOUND", {"kind": "SITE", "id": "XX-NONE", "window": window}),
        ("NOT_FOUND", {"kind": "ADVERSE_EVENT", "id": "AE-NONE"}),
    ]
    wrong = []
    for code, origin in cases:
        codes = await errors_of(
            demo_gql, RECALL_TRACE, {"origin": origin, "direction": "FORWARD"}, "recallTrace"
        )
        if codes != [code]:
            wrong.append((origin, codes, code))

    assert wrong == []


# ------------------------------------------------------------------------------------ recalls


async def test_initiate_recall_returns_the_trace_it_keeps_and_the_batches_show_the_recall(
    service, gql
):
    w = small_world(service)
    w.run(w.app.donors.revoke_eligibility, PHYSICIAN, "DNR-3", "Look-back: HBV NAT positive")
    position = ledger_size(service)

    data = await gql.data(
        INITIATE_RECALL,
        {
            "input": {
                "recallId": "RCL-2026-001",
                "origin": {"kind": "DONOR", "id": "DNR-3"},
                "reason": "Donor eligibility revoked on look-back",
            }
        },
    )

    recall = data["initiateRecall"]
    assert recall["id"] == "RCL-2026-001"
    assert recall["reason"] == "Donor eligibility revoked on look-back"
    world = fold(read_ledger(service), position)
    nodes, edges, t = expected_trace(world, "DONOR", "DNR-3", "FORWARD")
    assert trace_document(recall["trace"]) == (nodes, edges)
    assert recall["trace"]["position"] == position
    assert recall["trace"]["affectedBatches"] == t.ids("BATCH") == ["B3", "B4", "B5", "B6"]
    assert recall["trace"]["affectedPatients"] == t.ids("PATIENT")
    assert recall["trace"]["affectedSites"] == t.ids("SITE") == [HOSP]
    for batch_id, status, recalls in (
        ("B3", "RECALLED", ["RCL-2026-001"]),
        ("B4", "REJECTED", []),
        ("B5", "RECALLED", ["RCL-2026-001"]),
        ("B6", "RECALLED", ["RCL-2026-001"]),
        ("B1", "ADMINISTERED", []),
    ):
        batch = (await gql.data(BATCH, {"id": batch_id}))["batch"]
        assert (batch["status"], batch["recalls"]) == (status, recalls), batch_id
    record = (await gql.data(SOURCE_AND_FLOW, {"batchId": "B6"}))["sourceAndFlow"]
    assert record["status"] == "RECALLED"
    trace_now = await gql.data(
        RECALL_TRACE,
        {"origin": {"kind": "DONOR", "id": "DNR-3"}, "direction": "FORWARD", "asOf": None},
    )
    assert trace_document(trace_now["recallTrace"]) == trace_document(recall["trace"])

    before = ledger_size(service)
    codes = await errors_of(
        gql,
        RELEASE_BATCH,
        {
            "input": {
                "batchId": "B5",
                "signatureMeaning": "QP certification",
                "releasedAt": w.h(70).isoformat(),
            }
        },
        "releaseBatch",
    )
    assert codes == ["RULE_VIOLATION"]
    assert ledger_size(service) == before


async def test_initiate_recall_refuses_a_taken_id_an_unknown_origin_or_a_bad_window(service, gql):
    w = small_world(service)
    window = {"from": w.h(45).isoformat(), "to": w.h(70).isoformat()}
    first = await gql.data(
        INITIATE_RECALL,
        {
            "input": {
                "recallId": "RCL-1",
                "origin": {"kind": "SITE", "id": MU2, "window": window},
                "reason": "Environmental monitoring",
            }
        },
    )
    assert first["initiateRecall"]["trace"]["affectedBatches"] == ["B4", "B6"]
    cases = [
        ("CONFLICT", "RCL-1", {"kind": "MATERIAL_LOT", "id": HSA}),
        ("NOT_FOUND", "RCL-2", {"kind": "MATERIAL_LOT", "id": "LOT-NONE"}),
        ("NOT_FOUND", "RCL-2", {"kind": "DONOR", "id": "DNR-NONE"}),
        ("BAD_INPUT", "RCL-2", {"kind": "MATERIAL_LOT", "id": HSA, "window": window}),
        ("BAD_INPUT", "RCL-2", {"kind": "PLANET", "id": "MARS"}),
    ]
    wrong = []
    for code, recall_id, origin in cases:
        before = ledger_size(service)
        codes = await errors_of(
            gql,
            INITIATE_RECALL,
            {"input": {"recallId": recall_id, "origin": origin, "reason": "x"}},
            "initiateRecall",
        )
        if codes != [code]:
            wrong.append((recall_id, origin, codes, code))
        if ledger_size(service) != before:
            wrong.append((recall_id, origin, "stored something"))

    assert wrong == []
    b1 = (await gql.data(BATCH, {"id": "B1"}))["batch"]
    assert (b1["status"], b1["recalls"]) == ("ADMINISTERED", [])


async def test_a_window_that_ends_before_it_starts_is_bad_input_and_stores_nothing(service, gql):
    """Like any other malformed window (half of one, one on a batch, a bad time): BAD_INPUT."""
    now = datetime.now(UTC)
    backwards = {
        "from": (now - timedelta(days=2)).isoformat(),
        "to": (now - timedelta(days=3)).isoformat(),
    }
    origin = {"kind": "SITE", "id": lone_site(service), "window": backwards}
    before = ledger_size(service)

    traced = await errors_of(
        gql, RECALL_TRACE, {"origin": origin, "direction": "FORWARD"}, "recallTrace"
    )
    recalled = await errors_of(
        gql,
        INITIATE_RECALL,
        {"input": {"recallId": "RCL-1", "origin": origin, "reason": "x"}},
        "initiateRecall",
    )

    assert (traced, recalled) == (["BAD_INPUT"], ["BAD_INPUT"])
    assert ledger_size(service) == before
