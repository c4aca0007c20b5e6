"""Holds as partners read them, on both databases: `batch { holds held }`, the source-and-flow
record's holds, `batches(filter: {held})` and `physicianNotifications`, each now and at `asOf`,
cut to the caller's reach; and the read side agrees with domain/holds.py on every batch of the
demo ledger. The flows that raise each hold are those of the gates' tests."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from api.wiring import Regentrace
from demo.network import seed as seed_demo
from domain import holds
from projections import rebuild
from projections.holds import TABLES as HOLD_TABLES
from tests.api.chain_documents import (
    HOSPITAL,
    SPOKE,
    VECTOR_LOT,
    Timeline,
    qc_input,
    run,
    site_input,
)
from tests.api.client import GraphQL
from tests.api.test_use_time_gates import (
    DISPATCHED,
    administered,
    all_qc_passed,
    caller,
    delivered,
    dispatch_input,
    hold_key,
    licensed_network,
    lift_input,
    lot,
    made,
    qp,
    release_input,
    released,
    released_then_viability_corrected,
    version_of,
)
from tests.integration.test_projections import dump

ELSEWHERE = "TW-CTRL-KHH"  # another control site's network
HOLD_FIELDS = """
  key kind raisedAt raisedPosition description active
  lift { at reason signatureMeaning signedBy role deviationId position }
"""
BATCH_HOLDS = f"""
query ($id: ID!, $asOf: DateTime) {{
  batch(id: $id, asOf: $asOf) {{ held holds {{ {HOLD_FIELDS} }} }}
}}
"""
RECORD_HOLDS = f"""
query ($id: ID!, $asOf: DateTime) {{
  sourceAndFlow(batchId: $id, asOf: $asOf) {{ holds {{ {HOLD_FIELDS} }} }}
}}
"""
HELD = """
query ($filter: BatchFilter, $first: Int, $after: String, $asOf: DateTime) {
  batches(filter: $filter, first: $first, after: $after, asOf: $asOf) {
    nodes { id held holds { key active } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
NOTIFICATIONS = """
query ($filter: PhysicianNotificationFilter, $first: Int, $after: String, $asOf: DateTime) {
  physicianNotifications(filter: $filter, first: $first, after: $after, asOf: $asOf) {
    nodes {
      batchId patientCode siteId holdKeys raisedAt acknowledgedAt acknowledgedBy open
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def holds_of(gql: GraphQL, batch: str, as_of: str | None = None) -> dict[str, Any]:
    found = await gql.data(BATCH_HOLDS, {"id": batch, "asOf": as_of})
    return found["batch"]


async def held(gql: GraphQL, value: bool | None = True, **variables: Any) -> list[str]:
    found = await gql.data(HELD, {"filter": {"held": value}, **variables})
    return [node["id"] for node in found["batches"]["nodes"]]


async def notifications(gql: GraphQL, **variables: Any) -> list[dict[str, Any]]:
    found = await gql.data(NOTIFICATIONS, variables)
    return list(found["physicianNotifications"]["nodes"])


async def moment() -> str:
    """Now (ledger time), with the clock moved on a little either side."""
    await asyncio.sleep(0.01)
    now = datetime.now(UTC)
    await asyncio.sleep(0.01)
    return now.isoformat()


def shown(hold: dict[str, Any]) -> tuple[str, str, int | None, bool]:
    return hold["key"], hold["kind"], hold["raisedPosition"], hold["active"]


# ------------------------------------------------------------------------- each kind shows


async def test_a_rejected_lot_shows_with_its_position_and_leaves_the_active_holds_when_lifted(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await licensed_network(gql, t)
    await lot(gql, t)
    batch = await made(gql, t, 1)
    await all_qc_passed(gql, t, batch)
    before = await moment()
    rejection = {"lotId": VECTOR_LOT, "reason": "RCL detected in retained sample"}
    result = await run(gql, "rejectMaterialLot", {**rejection, "decidedAt": t(-12)})
    key = hold_key("LOT_REJECTED", f"MaterialLot:{VECTOR_LOT}", version_of(result))

    found = await holds_of(gql, batch)
    assert found["held"] is True
    assert [shown(h) for h in found["holds"]] == [(key, "LOT_REJECTED", result["position"], True)]
    assert "RCL detected in retained sample" in found["holds"][0]["description"]
    assert found["holds"][0]["lift"] is None
    assert await held(gql) == [batch]
    assert await held(gql, False) == []
    assert await held(gql, asOf=before) == []
    assert (await holds_of(gql, batch, before))["holds"] == []
    record = await gql.data(RECORD_HOLDS, {"id": batch})
    assert record["sourceAndFlow"]["holds"] == found["holds"]

    lift = lift_input(batch, [key], t, liftedAt=t(-10.5))
    lifted = await run(qp(gql, service), "liftBatchHold", lift)
    after = await holds_of(gql, batch)
    assert after["held"] is False
    assert [shown(h) for h in after["holds"]] == [(key, "LOT_REJECTED", result["position"], False)]
    assert after["holds"][0]["lift"] == {
        "at": t(-10.5),
        "reason": lift["reason"],
        "signatureMeaning": lift["signatureMeaning"],
        "signedBy": after["holds"][0]["lift"]["signedBy"],
        "role": "quality_person",
        "deviationId": None,
        "position": lifted["position"],
    }
    assert after["holds"][0]["lift"]["signedBy"].startswith("apikey:")
    assert (await held(gql), await held(gql, False)) == ([], [batch])
    assert (await holds_of(gql, batch, await moment()))["held"] is False
    await run(gql, "releaseBatch", release_input(batch, t))


async def test_failed_qc_donor_and_excursion_holds_show_on_the_batches_they_stop(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await licensed_network(gql, t)
    await lot(gql, t)
    failing, revoked, withdrawn, warm = [await released(gql, t, n) for n in (1, 2, 3, 4)]
    failed = {**qc_input(failing, "MYCOPLASMA", t, passed=False), "testedAt": t(-9.95)}
    expected: dict[str, tuple[str, str, int]] = {}
    result = await run(gql, "recordQcResult", failed)
    expected[failing] = ("QC_FAILED", f"Batch:{failing}", result)
    result = await run(gql, "revokeEligibility", {"donorCode": "DNR-2", "reason": "HCV NAT+"})
    expected[revoked] = ("ELIGIBILITY_REVOKED", "Donor:DNR-2", result)
    withdrawal = {"donorCode": "DNR-3", "reason": "donor's request", "withdrawnAt": t(-9.2)}
    result = await run(gql, "withdrawConsent", withdrawal)
    expected[withdrawn] = ("CONSENT_WITHDRAWN", "Donor:DNR-3", result)
    await run(gql, DISPATCHED, dispatch_input(warm, t))
    excursion = {"shipmentId": f"SHP-{warm}", "observedAt": t(-9.7), "durationMinutes": 300}
    result = await run(
        gql, "recordTemperatureExcursion", {**excursion, "temperatureCelsius": -60.0}
    )
    expected[warm] = ("TEMPERATURE_EXCURSION", f"Shipment:SHP-{warm}", result)

    for batch, (kind, source, result) in expected.items():
        key = hold_key(kind, source, version_of(result))
        found = await holds_of(gql, batch)
        assert [shown(h) for h in found["holds"]] == [(key, kind, result["position"], True)]
        assert found["held"] is True
    assert await held(gql) == sorted(expected)
    excursion_text = (await holds_of(gql, warm))["holds"][0]["description"]
    assert "-60 °C" in excursion_text
    assert "outside" in excursion_text


async def test_a_back_dated_suspension_and_a_corrected_release_value_show_as_holds(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await licensed_network(gql, t)
    await lot(gql, t)
    made_there = await made(gql, t, 1)  # its step ran at the spoke from t-19 to t-18
    corrected = await made(gql, t, 2)
    fixed = await released_then_viability_corrected(gql, t, corrected)
    suspension = {"siteId": SPOKE, "reason": "EM excursion", "effectiveAt": t(-19.5)}
    suspended = await run(gql, "suspendSite", suspension)

    on_both = hold_key("SITE_SUSPENDED", f"Site:{SPOKE}", version_of(suspended))
    changed = hold_key("RELEASE_VALUE_CORRECTED", f"Batch:{corrected}", version_of(fixed))
    assert [shown(h) for h in (await holds_of(gql, made_there))["holds"]] == [
        (on_both, "SITE_SUSPENDED", suspended["position"], True)
    ]
    assert [shown(h) for h in (await holds_of(gql, corrected))["holds"]] == [
        (changed, "RELEASE_VALUE_CORRECTED", fixed["position"], True),
        (on_both, "SITE_SUSPENDED", suspended["position"], True),
    ]
    assert "55 %" in (await holds_of(gql, corrected))["holds"][0]["description"]


async def test_expiry_shows_from_the_moment_it_passes_without_a_position(
    gql: GraphQL, service: Regentrace
) -> None:
    """Shelf life 365 days from the end of manufacture (t-18), frozen into the release."""
    t = Timeline(datetime.now(UTC).replace(microsecond=0) - timedelta(days=500))
    await licensed_network(gql, t)
    await lot(gql, t)
    batch = await delivered(gql, t, 1)
    expiry = t.at(-18 + 365)
    key = "EXPIRED:Batch:B-1"

    found = await holds_of(gql, batch)
    assert found["held"] is True
    assert [(h["key"], h["kind"], h["raisedAt"], h["raisedPosition"]) for h in found["holds"]] == [
        (key, "EXPIRED", expiry.isoformat(), None)
    ]
    assert (await held(gql), await held(gql, False)) == ([batch], [])


# ----------------------------------------------------------------- the physician's duty


async def test_a_hold_after_administration_is_listed_open_then_acknowledged_for_its_institution(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await licensed_network(gql, t)
    await lot(gql, t)
    batch = await administered(gql, t, 1)
    assert await notifications(gql) == []
    result = await run(gql, "rejectMaterialLot", {"lotId": VECTOR_LOT, "reason": "RCL found"})
    key = hold_key("LOT_REJECTED", f"MaterialLot:{VECTOR_LOT}", version_of(result))
    raised = await moment()

    duty = {
        "batchId": batch,
        "patientCode": "PT-1",
        "siteId": HOSPITAL,
        "holdKeys": [key],
        "acknowledgedAt": None,
        "acknowledgedBy": None,
        "open": True,
    }
    clinic = caller(gql, service, "medical_institution", HOSPITAL)
    listed = await notifications(clinic, filter={"open": True})
    assert [{k: v for k, v in n.items() if k != "raisedAt"} for n in listed] == [duty]
    assert await notifications(clinic, filter={"open": False}) == []
    assert await notifications(clinic, filter={"siteId": SPOKE}) == []

    ack = {"batchId": batch, "holdKeys": [key], "acknowledgedAt": t(-1), "note": "Dr Lin told"}
    await run(clinic, "acknowledgePhysicianNotification", ack)
    done = await notifications(clinic)
    assert len(done) == 1
    assert (done[0]["open"], done[0]["acknowledgedAt"]) == (False, t(-1))
    assert done[0]["acknowledgedBy"].startswith("apikey:")
    assert await notifications(clinic, filter={"open": True}) == []
    then = await notifications(clinic, asOf=raised)
    assert [(n["open"], n["holdKeys"]) for n in then] == [(True, [key])]


async def test_holds_and_duties_are_cut_to_the_callers_reach(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await licensed_network(gql, t)
    await lot(gql, t)
    batch = await administered(gql, t, 1)
    await run(gql, "rejectMaterialLot", {"lotId": VECTOR_LOT, "reason": "RCL found"})
    other = site_input(ELSEWHERE, "CONTROL_SITE", t, licenceNumber="LIC-KHH")
    await run(gql, "registerSite", other)
    await run(gql, "activateSite", {"siteId": ELSEWHERE, "reason": "ok", "effectiveAt": t(-59)})
    stranger = caller(gql, service, "quality_person", ELSEWHERE)
    assert (await stranger.data(BATCH_HOLDS, {"id": batch}))["batch"] is None
    assert await held(stranger) == []
    assert await notifications(stranger) == []
    own = qp(gql, service)
    assert await held(own) == [batch]
    assert [n["batchId"] for n in await notifications(own)] == [batch]


async def test_notifications_page_one_batch_at_a_time(gql: GraphQL, service: Regentrace) -> None:
    t = Timeline.ending_weeks_ago()
    await licensed_network(gql, t)
    await lot(gql, t)
    given = [await administered(gql, t, n) for n in (1, 2, 3)]
    await run(gql, "rejectMaterialLot", {"lotId": VECTOR_LOT, "reason": "RCL found"})
    seen: list[str] = []
    after = None
    while True:
        found = await gql.data(NOTIFICATIONS, {"first": 2, "after": after})
        page = found["physicianNotifications"]
        seen += [n["batchId"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == sorted(given)


# --------------------------------------------------------------- agreement with the rules


async def test_on_every_demo_batch_the_read_side_shows_the_active_holds_the_rules_derive(
    gql: GraphQL, service: Regentrace
) -> None:
    seed_demo(service.app)
    shown_active: dict[str, list[str]] = {}
    after = None
    while True:
        found = await gql.data(HELD, {"filter": None, "first": 100, "after": after})
        page = found["batches"]
        for node in page["nodes"]:
            shown_active[node["id"]] = sorted(h["key"] for h in node["holds"] if h["active"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    derived = {b: sorted(r.key for r in holds.active_holds(service.app, b)) for b in shown_active}
    assert shown_active == derived
    assert any(shown_active.values()), "the demo shows a held batch"


async def test_a_rebuild_writes_exactly_the_hold_rows_written_live(
    gql: GraphQL, service: Regentrace
) -> None:
    """Every kind of row: holds raised before and after use, a lift, a duty and its
    acknowledgement, a suspension recorded after the step it covers; in one process and by the
    rebuild's worker processes."""
    t = Timeline.ending_weeks_ago()
    await licensed_network(gql, t)
    await lot(gql, t)
    given = await administered(gql, t, 1)
    in_process = await made(gql, t, 2)
    await run(gql, "recordQcResult", qc_input(in_process, "STERILITY", t, passed=False))
    rejection = {"lotId": VECTOR_LOT, "reason": "RCL found", "decidedAt": t(-12)}
    result = await run(gql, "rejectMaterialLot", rejection)
    key = hold_key("LOT_REJECTED", f"MaterialLot:{VECTOR_LOT}", version_of(result))
    clinic = caller(gql, service, "medical_institution", HOSPITAL)
    ack = {"batchId": given, "holdKeys": [key], "acknowledgedAt": t(-1), "note": "Dr Lin told"}
    await run(clinic, "acknowledgePhysicianNotification", ack)
    await run(qp(gql, service), "liftBatchHold", lift_input(in_process, [key], t))
    suspension = {"siteId": SPOKE, "reason": "EM excursion", "effectiveAt": t(-18.5)}
    await run(gql, "suspendSite", suspension)
    live = dump(service)
    # Pooled donors and containers given: tests/api/test_genealogy.py rebuilds those.
    kept = [t for t in HOLD_TABLES if t not in ("hold_pool_donors", "hold_container_uses")]
    assert all(live[table] for table in kept), [t for t in kept if not live[t]]

    for workers in (1, 2):
        rebuild.rebuild(service.recorder, service.app.mapper, workers=workers)
        assert dump(service) == live
