"""A recall carried out, through the API on both databases (issue 17): initiation with its class
and authority, notifications to the sites reached and to the institution of every exposed
patient, acknowledgements by the notified party only, an extension with its own trace, actions
accounting for every unit, reports to the authority, an effectiveness check and the closure;
every refusal (RULE_VIOLATION with its rule, nothing stored); `recall` and `recalls` now and at
`asOf`, cut to the caller's reach; the rebuilt rows equal the live ones."""

from __future__ import annotations

from typing import Any

from api.wiring import Regentrace
from domain.batch import Batch, BatchStatus
from projections import rebuild
from projections.recalls import TABLES as RECALL_TABLES
from tests.api.chain_documents import (
    CONTROL,
    HOSPITAL,
    SPOKE,
    VECTOR_LOT,
    Timeline,
    moment,
    run,
    site_input,
)
from tests.api.client import GraphQL
from tests.api.test_use_time_gates import (
    administered,
    caller,
    delivered,
    licensed_network,
    lot,
    qp,
)
from tests.conftest import ledger_size
from tests.epcis import events, violations
from tests.integration.test_projections import dump

ELSEWHERE = "TW-CTRL-KHH"  # another control site's network

INPUT_TYPES = {
    "initiateRecall": "InitiateRecallInput",
    "extendRecall": "ExtendRecallInput",
    "acknowledgeRecallNotification": "AcknowledgeRecallNotificationInput",
    "recordRecallAction": "RecordRecallActionInput",
    "reportRecallToAuthority": "ReportRecallToAuthorityInput",
    "recordRecallEffectivenessCheck": "RecordRecallEffectivenessCheckInput",
    "closeRecall": "CloseRecallInput",
}
RECALL_FIELDS = """
  id reason status jurisdiction classification classificationDefaulted authority
  initiatedAt initiatedBy closedAt closedBy conclusion
  trace { affectedBatches affectedPatients affectedSites }
  progress {
    notified acknowledged overdueAcknowledgements unitsInScope unitsAccountedFor
    unitsQuarantined
  }
  notifications {
    id partyKind siteId patientCode batchIds notifiedAt dueAt acknowledgedAt acknowledgedBy
    note overdue
  }
  units { batchId scopeId accountedFor quarantined }
  actions { id kind batchId containerId siteId shipmentId note at recordedBy position }
  extensions { id reason origin { kind id } trace { affectedBatches } extendedAt position }
  reports { id kind authority reference summary reportedAt position }
  effectivenessChecks { id outcome method note checkedAt position }
"""
RECALL = f"""
query ($id: ID!, $asOf: DateTime) {{ recall(id: $id, asOf: $asOf) {{ {RECALL_FIELDS} }} }}
"""
RECALLS = """
query ($filter: RecallFilter, $first: Int, $after: String, $asOf: DateTime) {
  recalls(filter: $filter, first: $first, after: $after, asOf: $asOf) {
    nodes { id status progress { notified acknowledged overdueAcknowledgements } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


def document(field: str) -> str:
    returns = (
        f"{{ {RECALL_FIELDS} }}"
        if field in ("initiateRecall", "extendRecall")
        else ("{ position aggregateId version }")
    )
    return f"mutation ($input: {INPUT_TYPES[field]}!) {{ {field}(input: $input) {returns} }}"


async def send(gql: GraphQL, field: str, input: dict[str, Any]) -> dict[str, Any]:
    data = await gql.data(document(field), {"input": input})
    found = data[field]
    assert isinstance(found, dict)
    return found


async def refused(
    gql: GraphQL, service: Regentrace, field: str, input: dict[str, Any], code: str
) -> dict[str, Any]:
    """``field`` refused with ``code``; the ledger did not grow."""
    before = ledger_size(service)
    body = await gql(document(field), {"input": input})
    assert ledger_size(service) == before, "a refused command stored something"
    assert [e.get("extensions", {}).get("code") for e in body.get("errors", [])] == [code], body
    error = body["errors"][0]
    assert isinstance(error, dict)
    return error


async def recall(gql: GraphQL, recall_id: str, as_of: str | None = None) -> dict[str, Any] | None:
    found = (await gql.data(RECALL, {"id": recall_id, "asOf": as_of}))["recall"]
    assert found is None or isinstance(found, dict)
    return found


async def recalls(gql: GraphQL, **variables: Any) -> list[str]:
    return [n["id"] for n in (await gql.data(RECALLS, variables))["recalls"]["nodes"]]


def rule_of(error: dict[str, Any]) -> str:
    return str(error["extensions"].get("rule"))


# ------------------------------------------------------------------------------ the world


async def world(gql: GraphQL, t: Timeline) -> None:
    """B-1 and B-2 given to PT-1 and PT-2 at the hospital; B-3 and B-4 there, unused; every
    one made with the vector lot."""
    await licensed_network(gql, t)
    await lot(gql, t)
    for n in (1, 2):
        await administered(gql, t, n)
    for n in (3, 4):
        await delivered(gql, t, n)


def initiation(t: Timeline, **more: Any) -> dict[str, Any]:
    return {
        "recallId": "RCL-1",
        "origin": {"kind": "BATCH", "id": "B-1"},
        "reason": "Sterility failure found on a retained sample of B-1",
        "classification": "CLASS_2",
        "initiatedAt": t(-2),
        **more,
    }


# ------------------------------------------------------------------------------ the walk


async def test_a_recall_walks_from_initiation_to_closure(gql: GraphQL, service: Regentrace) -> None:
    t = Timeline.ending_weeks_ago()
    await world(gql, t)
    quality = qp(gql, service)
    clinic = caller(gql, service, "medical_institution", HOSPITAL)

    started = await send(quality, "initiateRecall", initiation(t))
    assert (started["status"], started["jurisdiction"], started["classification"]) == (
        "OPEN",
        "TW",
        "CLASS_2",
    )
    assert started["classificationDefaulted"] is False
    assert started["authority"] == "Taiwan Food and Drug Administration (TFDA)"
    assert started["initiatedAt"] == t(-2)
    assert started["trace"]["affectedBatches"] == ["B-1"]
    due = t(-2 + 3)  # TW class 2: 72 hours (domain/data/recall_classes.json)
    assert [
        (n["id"], n["partyKind"], n["siteId"], n["patientCode"], n["batchIds"], n["dueAt"])
        for n in started["notifications"]
    ] == [
        ("RCL-1/N1", "SITE", HOSPITAL, None, [], due),
        ("RCL-1/N2", "PHYSICIAN", HOSPITAL, "PT-1", ["B-1"], due),
    ]
    assert started["units"] == [
        {"batchId": "B-1", "scopeId": "", "accountedFor": False, "quarantined": False}
    ]
    assert started["progress"] == {
        "notified": 2,
        "acknowledged": 0,
        "overdueAcknowledgements": 2,  # due 27 days ago
        "unitsInScope": 1,
        "unitsAccountedFor": 0,
        "unitsQuarantined": 0,
    }
    before_acknowledgement = await moment()

    close = {"recallId": "RCL-1", "conclusion": "done", "closedAt": t(-0.5)}
    error = await refused(quality, service, "closeRecall", close, "RULE_VIOLATION")
    assert rule_of(error) == "RECALL_NOTIFICATIONS_UNACKNOWLEDGED"
    assert error["extensions"]["notification_ids"] == ["RCL-1/N1", "RCL-1/N2"]

    for n, note in (("N1", "stock at pharmacy quarantined"), ("N2", "Dr Lin told")):
        ack = {"recallId": "RCL-1", "notificationId": f"RCL-1/{n}", "acknowledgedAt": t(-1.9)}
        await send(clinic, "acknowledgeRecallNotification", {**ack, "note": note})
    acknowledged = await recall(quality, "RCL-1")
    assert acknowledged is not None
    assert [n["acknowledgedAt"] for n in acknowledged["notifications"]] == [t(-1.9)] * 2
    assert all(n["acknowledgedBy"].startswith("apikey:") for n in acknowledged["notifications"])
    assert acknowledged["progress"]["overdueAcknowledgements"] == 0

    error = await refused(quality, service, "closeRecall", close, "RULE_VIOLATION")
    assert (rule_of(error), error["extensions"]["batch_ids"]) == (
        "RECALL_UNITS_UNACCOUNTED",
        ["B-1"],
    )

    # A later finding: the vector lot itself. Its own trace; new units; PT-2's physician.
    extension = {
        "recallId": "RCL-1",
        "extensionId": "EXT-1",
        "origin": {"kind": "MATERIAL_LOT", "id": VECTOR_LOT},
        "reason": "The vector lot's retained sample fails sterility too",
        "extendedAt": t(-1.8),
    }
    extended = await send(quality, "extendRecall", extension)
    assert [
        (e["id"], e["origin"], e["trace"]["affectedBatches"]) for e in extended["extensions"]
    ] == [("EXT-1", {"kind": "MATERIAL_LOT", "id": VECTOR_LOT}, ["B-1", "B-2", "B-3", "B-4"])]
    assert extended["trace"]["affectedBatches"] == ["B-1"]  # the initiation's trace stands
    assert [(u["batchId"], u["scopeId"]) for u in extended["units"]] == [
        ("B-1", ""),
        ("B-2", "EXT-1"),
        ("B-3", "EXT-1"),
        ("B-4", "EXT-1"),
    ]
    assert [(n["id"], n["partyKind"], n["patientCode"]) for n in extended["notifications"]][2:] == [
        ("RCL-1/N3", "PHYSICIAN", "PT-2")
    ]
    for b in ("B-2", "B-3", "B-4"):
        assert (await quality.data(BATCH_RECALLS, {"id": b}))["batch"]["recalls"] == ["RCL-1"]
    ack = {"recallId": "RCL-1", "notificationId": "RCL-1/N3", "acknowledgedAt": t(-1.7)}
    await send(clinic, "acknowledgeRecallNotification", ack)

    # Every unit accounted for: two administered, one destroyed after quarantine, one returned.
    follow_up = "Patient recalled for blood cultures; enrolled in follow-up"
    actions = [
        {"batchId": "B-1", "kind": "ALREADY_ADMINISTERED", "note": follow_up},
        {"batchId": "B-2", "kind": "ALREADY_ADMINISTERED", "note": follow_up},
        {"batchId": "B-3", "kind": "QUARANTINED"},
        {"batchId": "B-3", "kind": "DESTROYED", "note": "incinerated, certificate DC-77"},
        {"batchId": "B-4", "kind": "RETURNED", "shipmentId": "RET-B-4"},
    ]
    for i, action in enumerate(actions):
        await send(
            clinic, "recordRecallAction", {"recallId": "RCL-1", "at": t(-1.5 + i / 10), **action}
        )
    # The recall's destruction is the batch's own (the batch still shows RECALLED).
    destroyed: Batch = service.app.repository.get(Batch.ledger_id("B-3"))
    assert destroyed.status is BatchStatus.DESTROYED

    reported = {"recallId": "RCL-1", "summary": "all units accounted for", "reportedAt": t(-1)}
    error = await refused(
        quality, service, "reportRecallToAuthority", {**reported, "kind": "FINAL"}, "RULE_VIOLATION"
    )
    assert rule_of(error) == "RECALL_INITIAL_REPORT_MISSING"
    for kind, ref in (("INITIAL", "TFDA-RCL-2026-9"), ("PROGRESS", None)):
        await send(quality, "reportRecallToAuthority", {**reported, "kind": kind, "reference": ref})
    error = await refused(quality, service, "closeRecall", close, "RULE_VIOLATION")
    assert rule_of(error) == "RECALL_FINAL_REPORT_MISSING"
    await send(quality, "reportRecallToAuthority", {**reported, "kind": "FINAL"})
    error = await refused(quality, service, "closeRecall", close, "RULE_VIOLATION")
    assert rule_of(error) == "RECALL_EFFECTIVENESS_NOT_SHOWN"
    check = {
        "recallId": "RCL-1",
        "outcome": "EFFECTIVE",
        "method": "every consignee called back; stock counts reconciled",
        "checkedAt": t(-0.8),
    }
    await send(quality, "recordRecallEffectivenessCheck", check)
    await send(quality, "closeRecall", close)

    closed = await recall(quality, "RCL-1")
    assert closed is not None
    assert (closed["status"], closed["closedAt"], closed["conclusion"]) == (
        "CLOSED",
        t(-0.5),
        "done",
    )
    assert closed["progress"] == {
        "notified": 3,
        "acknowledged": 3,
        "overdueAcknowledgements": 0,
        "unitsInScope": 4,
        "unitsAccountedFor": 4,
        "unitsQuarantined": 0,
    }
    assert [(a["id"], a["kind"], a["batchId"], a["shipmentId"]) for a in closed["actions"]] == [
        ("RCL-1/A1", "ALREADY_ADMINISTERED", "B-1", None),
        ("RCL-1/A2", "ALREADY_ADMINISTERED", "B-2", None),
        ("RCL-1/A3", "QUARANTINED", "B-3", None),
        ("RCL-1/A4", "DESTROYED", "B-3", None),
        ("RCL-1/A5", "RETURNED", "B-4", "RET-B-4"),
    ]
    assert [(r["kind"], r["authority"], r["reference"]) for r in closed["reports"]] == [
        ("INITIAL", "Taiwan Food and Drug Administration (TFDA)", "TFDA-RCL-2026-9"),
        ("PROGRESS", "Taiwan Food and Drug Administration (TFDA)", None),
        ("FINAL", "Taiwan Food and Drug Administration (TFDA)", None),
    ]
    assert [c["outcome"] for c in closed["effectivenessChecks"]] == ["EFFECTIVE"]
    assert await recalls(quality, filter={"status": "CLOSED"}) == ["RCL-1"]
    assert await recalls(quality, filter={"status": "OPEN"}) == []

    # As it stood before anything was acknowledged: open, both notifications overdue.
    then = await recall(quality, "RCL-1", as_of=before_acknowledgement)
    assert then is not None
    assert (then["status"], then["progress"]["acknowledged"], then["units"]) == (
        "OPEN",
        0,
        [{"batchId": "B-1", "scopeId": "", "accountedFor": False, "quarantined": False}],
    )
    assert [n["overdue"] for n in then["notifications"]] == [True, True]
    assert then["actions"] == then["reports"] == then["extensions"] == []

    # Nothing more once closed.
    error = await refused(
        quality,
        service,
        "reportRecallToAuthority",
        {**reported, "kind": "PROGRESS"},
        "RULE_VIOLATION",
    )
    assert rule_of(error) == "RECALL_CLOSED"


BATCH_RECALLS = "query ($id: ID!) { batch(id: $id) { status recalls } }"


# ------------------------------------------------------------------------------ refusals


async def test_closure_and_reports_refuse_while_anything_is_outstanding(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await world(gql, t)
    quality = qp(gql, service)
    await send(quality, "initiateRecall", initiation(t))
    reported = {"recallId": "RCL-1", "summary": "s", "reportedAt": t(-1)}
    await send(quality, "reportRecallToAuthority", {**reported, "kind": "INITIAL"})
    error = await refused(
        quality, service, "reportRecallToAuthority", {**reported, "kind": "FINAL"}, "RULE_VIOLATION"
    )
    assert rule_of(error) == "RECALL_NOTIFICATIONS_UNACKNOWLEDGED"
    error = await refused(
        quality, service, "reportRecallToAuthority", {**reported, "kind": "INITIAL"}, "CONFLICT"
    )
    # Bad input stores nothing: an action on a batch outside the recall, a return without its
    # shipment, an administered unit without its follow-up, a class the jurisdiction lacks.
    act = {"recallId": "RCL-1", "at": t(-1)}
    error = await refused(
        quality,
        service,
        "recordRecallAction",
        {**act, "batchId": "B-3", "kind": "QUARANTINED"},
        "RULE_VIOLATION",
    )
    assert rule_of(error) == "RECALL_UNIT_NOT_IN_SCOPE"
    await refused(
        quality,
        service,
        "recordRecallAction",
        {**act, "batchId": "B-1", "kind": "RETURNED"},
        "BAD_INPUT",
    )
    await refused(
        quality,
        service,
        "recordRecallAction",
        {**act, "batchId": "B-1", "kind": "ALREADY_ADMINISTERED"},
        "BAD_INPUT",
    )
    await refused(
        quality,
        service,
        "initiateRecall",
        initiation(t, recallId="RCL-2", classification="CLASS_I"),
        "BAD_INPUT",
    )
    # An action before the recall was initiated.
    error = await refused(
        quality,
        service,
        "recordRecallAction",
        {**act, "at": t(-3), "batchId": "B-1", "kind": "ALREADY_ADMINISTERED", "note": "n"},
        "RULE_VIOLATION",
    )


async def test_a_whole_batch_destroyed_is_neither_returned_nor_quarantined(
    gql: GraphQL, service: Regentrace
) -> None:
    """B-3, destroyed (destroyBatch) after the recall's scope was taken: returning or
    quarantining it is refused (RULE_VIOLATION, rule RECALL_UNIT_DESTROYED, naming the batch,
    when it was destroyed and DESTROYED), storing nothing; DESTROYED accounts for it without
    destroying it again, and it stays refused, now accounted for by its destruction. B-4,
    destroyed by the recall's own DESTROYED, is refused alike; a second DESTROYED is a
    CONFLICT."""
    t = Timeline.ending_weeks_ago()
    await world(gql, t)
    quality = qp(gql, service)
    clinic = caller(gql, service, "medical_institution", HOSPITAL)
    origin = {"kind": "MATERIAL_LOT", "id": VECTOR_LOT}
    await send(quality, "initiateRecall", initiation(t, origin=origin))
    await run(gql, "destroyBatch", {"batchId": "B-3", "reason": "freezer", "decidedAt": t(-1.8)})
    destroyed_at = t(-1.8)

    act = {"recallId": "RCL-1", "batchId": "B-3", "at": t(-1.5)}
    bad = (act | {"kind": "RETURNED", "shipmentId": "RET-EXT-1"}, act | {"kind": "QUARANTINED"})
    for action in bad:
        error = await refused(clinic, service, "recordRecallAction", action, "RULE_VIOLATION")
        assert rule_of(error) == "RECALL_UNIT_DESTROYED", action
        assert f"batch 'B-3' was destroyed at {destroyed_at}" in error["message"]
        assert "account for it as DESTROYED naming that batch" in error["message"]
        assert (error["extensions"]["batch_id"], error["extensions"]["unit_id"]) == ("B-3", "B-3")
    await send(clinic, "recordRecallAction", act | {"kind": "DESTROYED"})
    b3: Batch = service.app.repository.get(Batch.ledger_id("B-3"))
    assert b3.status is BatchStatus.DESTROYED
    assert b3.used_at == t.at(-1.8)  # not destroyed again

    await send(clinic, "recordRecallAction", act | {"batchId": "B-4", "kind": "DESTROYED"})
    for batch_id in ("B-3", "B-4"):
        for first in bad:
            action = first | {"batchId": batch_id, "at": t(-1.2)}
            error = await refused(clinic, service, "recordRecallAction", action, "RULE_VIOLATION")
            assert rule_of(error) == "RECALL_UNIT_DESTROYED", action
            assert f"batch {batch_id!r} was destroyed at" in error["message"]
            assert "already accounted for in recall 'RCL-1' by its destruction" in error["message"]
        again = act | {"batchId": batch_id, "kind": "DESTROYED", "at": t(-1.2)}
        error = await refused(clinic, service, "recordRecallAction", again, "CONFLICT")
        assert "already accounted for" in error["message"]
    found = await recall(quality, "RCL-1")
    assert found is not None
    assert [(a["kind"], a["batchId"]) for a in found["actions"]] == [
        ("DESTROYED", "B-3"),
        ("DESTROYED", "B-4"),
    ]


async def test_a_recall_without_a_class_gets_the_most_urgent_and_recalls_page_by_id(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await world(gql, t)
    quality = qp(gql, service)
    started = await send(quality, "initiateRecall", initiation(t, classification=None))
    assert (started["classification"], started["classificationDefaulted"]) == ("CLASS_1", True)
    assert {n["dueAt"] for n in started["notifications"]} == {t(-2 + 1)}  # 24 hours

    # A page at a time, ordered by id.
    second = initiation(t, recallId="RCL-2", origin={"kind": "BATCH", "id": "B-2"})
    await send(quality, "initiateRecall", second)
    first = (await gql.data(RECALLS, {"first": 1}))["recalls"]
    assert [n["id"] for n in first["nodes"]] == ["RCL-1"]
    assert first["pageInfo"]["hasNextPage"] is True
    after = {"first": 1, "after": first["pageInfo"]["endCursor"]}
    rest = (await gql.data(RECALLS, after))["recalls"]
    assert ([n["id"] for n in rest["nodes"]], rest["pageInfo"]["hasNextPage"]) == (["RCL-2"], False)


# ------------------------------------------------------------------------------ access


async def test_only_the_notified_party_acknowledges_and_each_sees_its_own(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await world(gql, t)
    quality = qp(gql, service)
    await send(quality, "initiateRecall", initiation(t))
    other = site_input(ELSEWHERE, "CONTROL_SITE", t, licenceNumber="LIC-KHH")
    await gql.data(
        "mutation ($input: RegisterSiteInput!) { registerSite(input: $input) { position } }",
        {"input": other},
    )
    spoke = caller(gql, service, "spoke_operator", SPOKE)
    stranger = caller(gql, service, "quality_person", ELSEWHERE)
    ack = {"recallId": "RCL-1", "notificationId": "RCL-1/N1", "acknowledgedAt": t(-1)}
    # The spoke's key naming its own site: no such notification there. Naming the hospital:
    # outside what it may act for.
    await refused(spoke, service, "acknowledgeRecallNotification", ack, "NOT_FOUND")
    await refused(
        spoke, service, "acknowledgeRecallNotification", {**ack, "siteId": HOSPITAL}, "FORBIDDEN"
    )
    # The hospital's physician sees the recall and its own notifications, nothing of elsewhere.
    physician = caller(gql, service, "physician", HOSPITAL)
    seen = await recall(physician, "RCL-1")
    assert seen is not None
    assert [n["id"] for n in seen["notifications"]] == ["RCL-1/N1", "RCL-1/N2"]
    assert await recalls(physician, filter={"siteId": HOSPITAL, "overdue": True}) == ["RCL-1"]
    assert await recall(stranger, "RCL-1") is None
    assert await recalls(stranger) == []
    await send(physician, "acknowledgeRecallNotification", {**ack, "notificationId": "RCL-1/N2"})
    error = await refused(
        physician,
        service,
        "acknowledgeRecallNotification",
        {**ack, "notificationId": "RCL-1/N2"},
        "CONFLICT",
    )
    assert "acknowledged" in error["message"]
    assert await recalls(quality, filter={"overdue": True}) == ["RCL-1"]  # N1 still open
    master = "query ($id: ID!) { dmMasterFile(controlSiteId: $id) { recalls { id status } } }"
    found = (await quality.data(master, {"id": CONTROL}))["dmMasterFile"]
    assert found == {"recalls": [{"id": "RCL-1", "status": "OPEN"}]}
    assert (await stranger.data(master, {"id": ELSEWHERE}))["dmMasterFile"] == {"recalls": []}
    mine = await recall(quality, "RCL-1")
    assert mine is not None
    assert mine["initiatedBy"].startswith("apikey:")
    assert [n["id"] for n in mine["notifications"]] == ["RCL-1/N1", "RCL-1/N2"]


# ------------------------------------------------------------------------------ rebuild


async def test_a_rebuild_writes_exactly_the_recall_rows_written_live(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await world(gql, t)
    quality = qp(gql, service)
    clinic = caller(gql, service, "medical_institution", HOSPITAL)
    await send(quality, "initiateRecall", initiation(t))
    extension = {
        "recallId": "RCL-1",
        "extensionId": "EXT-1",
        "origin": {"kind": "MATERIAL_LOT", "id": VECTOR_LOT},
        "reason": "lot",
        "extendedAt": t(-1.8),
    }
    await send(quality, "extendRecall", extension)
    ack = {"recallId": "RCL-1", "notificationId": "RCL-1/N1", "acknowledgedAt": t(-1.7)}
    await send(clinic, "acknowledgeRecallNotification", ack)
    act = {"recallId": "RCL-1", "at": t(-1.5)}
    await send(clinic, "recordRecallAction", {**act, "batchId": "B-3", "kind": "QUARANTINED"})
    await send(clinic, "recordRecallAction", {**act, "batchId": "B-4", "kind": "DESTROYED"})
    reported = {"recallId": "RCL-1", "summary": "s", "reportedAt": t(-1), "kind": "INITIAL"}
    await send(quality, "reportRecallToAuthority", reported)
    check = {"recallId": "RCL-1", "outcome": "NOT_EFFECTIVE", "method": "m", "checkedAt": t(-1)}
    await send(quality, "recordRecallEffectivenessCheck", check)
    live = dump(service)
    assert all(live[table] for table in RECALL_TABLES), [x for x in RECALL_TABLES if not live[x]]
    for workers in (1, 2):
        rebuild.rebuild(service.recorder, service.app.mapper, workers=workers)
        assert dump(service) == live


# ------------------------------------------------------------------------------ EPCIS

EPCIS = """
query ($scope: EpcisScopeInput!) { epcisDocument(scope: $scope) }
"""


async def test_the_recalls_epcis_document_carries_its_returns_and_destructions(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await world(gql, t)
    quality = qp(gql, service)
    clinic = caller(gql, service, "medical_institution", HOSPITAL)
    origin = {"kind": "MATERIAL_LOT", "id": VECTOR_LOT}
    await send(quality, "initiateRecall", initiation(t, origin=origin))
    act = {"recallId": "RCL-1"}
    await send(
        clinic,
        "recordRecallAction",
        {**act, "batchId": "B-3", "kind": "QUARANTINED", "at": t(-1.5)},
    )
    await send(
        clinic, "recordRecallAction", {**act, "batchId": "B-3", "kind": "DESTROYED", "at": t(-1.4)}
    )
    returned = {"batchId": "B-4", "kind": "RETURNED", "shipmentId": "RET-B-4", "at": t(-1.3)}
    await send(clinic, "recordRecallAction", {**act, **returned})

    document = (await quality.data(EPCIS, {"scope": {"recallId": "RCL-1"}}))["epcisDocument"]
    assert violations(document) == []
    steps = [
        (e["epcList"], e.get("bizStep"), e.get("disposition"), e.get("regentrace:recall"))
        for e in events(document)
        if e.get("bizStep") in ("holding", "destroying") or e.get("disposition") == "returned"
    ]
    recall, b3, b4 = (
        "urn:regentrace:recall:RCL-1",
        "urn:regentrace:batch:B-3",
        "urn:regentrace:batch:B-4",
    )
    assert [s for s in steps if s[0] in ([b3], [b4])] == [
        ([b3], "holding", "recalled", recall),  # B-3 marked recalled
        ([b4], "holding", "recalled", recall),  # B-4 marked recalled
        ([b3], "holding", "recalled", recall),  # B-3 quarantined
        ([b3], "destroying", "destroyed", None),  # B-3's destruction, the batch's own event
        ([b4], "shipping", "returned", recall),  # B-4 sent back
    ]
    back = next(e for e in events(document) if e.get("disposition") == "returned")
    assert back["regentrace:shipment"] == "urn:regentrace:shipment:RET-B-4"
    assert back["bizLocation"] == {"id": f"urn:regentrace:site:{HOSPITAL}"}
