"""A recall accounts for each container of a split batch, through the API on both databases
(issues 17 and 18): for a batch filled into containers the recall's units are its containers;
one given before the recall is accounted for as ALREADY_ADMINISTERED at the institution that
gave it, one destroyed before the recall by the scope itself, the others by their return or
destruction; closure is refused naming each container still outstanding; every bad action is
refused with its code and rule and stores nothing; the rebuilt rows equal the live ones."""

from __future__ import annotations

from typing import Any

from api.wiring import Regentrace
from domain.batch import Batch
from domain.recall import Recall
from projections import rebuild
from projections.epcis import container_uri
from projections.recalls import TABLES as RECALL_TABLES
from tests.api.chain_documents import CONTROL, HOSPITAL, SPOKE, Timeline, run, site_input
from tests.api.client import GraphQL
from tests.api.test_containers import (
    MSC,
    MSC_DONATION,
    allogeneic,
    bag,
    fill,
    given,
    shipment,
    shipped,
)
from tests.api.test_containers import send as send_container
from tests.api.test_recall_lifecycle import recall, refused, rule_of, send
from tests.api.test_use_time_gates import caller, qp
from tests.epcis import events, violations
from tests.integration.test_projections import dump

SECOND_HOSPITAL = "TW-MI-CGMH"
OTHER = "MSC-42001"  # another split batch of the same donation, never recalled
FOLLOW_UP = "Patient recalled for HBV DNA testing at 1, 3 and 6 months; physician informed"
UNITS = "units { batchId containerId scopeId accountedFor accountedBy actionId quarantined }"
PROGRESS = "progress { notified acknowledged unitsInScope unitsAccountedFor unitsQuarantined }"
VIEW = f"query ($id: ID!) {{ recall(id: $id) {{ status {PROGRESS} {UNITS} }} }}"
EPCIS = "query ($scope: EpcisScopeInput!) { epcisDocument(scope: $scope) }"


async def split_at_two_institutions(gql: GraphQL, t: Timeline) -> None:
    """MSC's V-1 given to PT-4201 at the hospital; V-2 delivered to a second institution and
    not given; V-3 destroyed at the spoke before any recall."""
    await allogeneic(gql, t)
    await run(gql, "registerSite", site_input(SECOND_HOSPITAL, "MEDICAL_INSTITUTION", t))
    activation = {"siteId": SECOND_HOSPITAL, "reason": "qualified", "effectiveAt": t(-58)}
    await run(gql, "activateSite", activation)
    await shipped(gql, t, "SHP-MSC-1", MSC, "V-1")
    await run(gql, "recordAdministration", given(MSC, "V-1", "PT-4201", t))
    await run(
        gql, "dispatchShipment", shipment("SHP-MSC-2", MSC, t, "V-2", toSiteId=SECOND_HOSPITAL)
    )
    received = {"shipmentId": "SHP-MSC-2", "receivedAt": t(-9.5), "conditionAcceptable": True}
    await run(gql, "receiveShipment", received)
    destroyed = {
        "batchId": MSC,
        "containerIds": ["V-3"],
        "reason": "bag breach on inspection",
        "decidedAt": t(-8),
    }
    await send_container(gql, "destroyBatchContainers", destroyed)
    # Another split batch of the same donation, filled but never reached by the recall.
    other = {
        "batchId": OTHER,
        "product": "MSC-ALLO",
        "donationId": MSC_DONATION,
        "patientCode": "PT-4299",
        "controlSiteId": CONTROL,
        "siteId": SPOKE,
        "startedAt": t(-20),
    }
    await run(gql, "startBatch", other)
    await run(gql, "recordBatchContainers", fill(OTHER, t, bag("V-1", kind="VIAL")))


def unit(
    container: str, by: str | None = None, quarantined: bool = False, action: str | None = None
) -> dict[str, Any]:
    return {
        "batchId": MSC,
        "containerId": container,
        "scopeId": "",
        "accountedFor": by is not None,
        "accountedBy": by,
        "actionId": action,
        "quarantined": quarantined,
    }


async def view(gql: GraphQL) -> dict[str, Any]:
    found = (await gql.data(VIEW, {"id": "RCL-1"}))["recall"]
    assert isinstance(found, dict)
    return found


async def test_each_container_of_a_split_batch_is_accounted_for_before_closure(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await split_at_two_institutions(gql, t)
    quality = qp(gql, service)
    hospital = caller(gql, service, "medical_institution", HOSPITAL)
    second = caller(gql, service, "medical_institution", SECOND_HOSPITAL)
    started = await send(
        quality,
        "initiateRecall",
        {
            "recallId": "RCL-1",
            "origin": {"kind": "BATCH", "id": MSC},
            "reason": "Donor DNR-0042 HBV NAT positive on look-back",
            "classification": "CLASS_2",
            "initiatedAt": t(-2),
        },
    )
    # Each institution is told; the hospital also for the patient it gave V-1 to (the batch
    # itself is not used up: V-2 is still at the second institution).
    told = [(n["partyKind"], n["siteId"], n["patientCode"]) for n in started["notifications"]]
    assert [n for n in told if n[0] == "PHYSICIAN"] == [("PHYSICIAN", HOSPITAL, "PT-4201")]
    assert {n[1] for n in told if n[0] == "SITE"} >= {HOSPITAL, SECOND_HOSPITAL}
    found = await view(quality)
    assert found["units"] == [
        unit("V-1"),
        unit("V-2"),
        unit("V-3", "DESTROYED_BEFORE_RECALL"),
    ]
    assert found["progress"]["unitsInScope"] == 3
    assert found["progress"]["unitsAccountedFor"] == 1
    for n in started["notifications"]:
        ack = {"recallId": "RCL-1", "notificationId": n["id"], "siteId": n["siteId"]}
        await send(gql, "acknowledgeRecallNotification", ack | {"acknowledgedAt": t(-1.9)})

    close = {"recallId": "RCL-1", "conclusion": "every vial found", "closedAt": t(-0.5)}
    error = await refused(quality, service, "closeRecall", close, "RULE_VIOLATION")
    assert rule_of(error) == "RECALL_UNITS_UNACCOUNTED"
    assert error["extensions"]["unit_ids"] == [f"{MSC}/V-1", f"{MSC}/V-2"]
    assert error["extensions"]["batch_ids"] == [MSC]
    assert f"{MSC}/V-2" in error["message"]

    # Bad actions: each refused with its code and rule, nothing stored.
    act = {"recallId": "RCL-1", "batchId": MSC, "at": t(-1.5)}
    error = await refused(
        quality, service, "recordRecallAction", act | {"kind": "QUARANTINED"}, "RULE_VIOLATION"
    )
    assert rule_of(error) == "RECALL_CONTAINER_REQUIRED"
    assert error["extensions"]["unit_ids"] == [f"{MSC}/V-1", f"{MSC}/V-2"]
    await refused(
        quality,
        service,
        "recordRecallAction",
        act | {"kind": "QUARANTINED", "containerId": "V-9"},
        "NOT_FOUND",
    )
    error = await refused(
        quality,
        service,
        "recordRecallAction",
        act | {"batchId": OTHER, "containerId": "V-1", "kind": "QUARANTINED"},
        "RULE_VIOLATION",
    )
    assert rule_of(error) == "RECALL_UNIT_NOT_IN_SCOPE"
    assert f"{OTHER}/V-1" in error["message"]
    v1, v2, v3 = (act | {"containerId": c} for c in ("V-1", "V-2", "V-3"))
    # Each institution accounts for the container it holds (or gave) only.
    for by, bad, rule in (
        (
            second,
            v2 | {"kind": "ALREADY_ADMINISTERED", "note": FOLLOW_UP},
            "RECALL_UNIT_NOT_ADMINISTERED",
        ),
        (hospital, v1 | {"kind": "DESTROYED"}, "RECALL_UNIT_ADMINISTERED"),
        (hospital, v1 | {"kind": "RETURNED", "shipmentId": "RET-X"}, "RECALL_UNIT_ADMINISTERED"),
        (second, v2 | {"kind": "RETURNED", "shipmentId": "SHP-MSC-2"}, "RECALL_RETURN_SHIPMENT"),
    ):
        error = await refused(by, service, "recordRecallAction", bad, "RULE_VIOLATION")
        assert rule_of(error) == rule, bad
    error = await refused(
        quality, service, "recordRecallAction", v3 | {"kind": "DESTROYED"}, "CONFLICT"
    )
    assert "DESTROYED_BEFORE_RECALL" in error["message"]

    # V-1: already administered, at the hospital that gave it.
    await send(
        hospital, "recordRecallAction", v1 | {"kind": "ALREADY_ADMINISTERED", "note": FOLLOW_UP}
    )
    await refused(
        hospital,
        service,
        "recordRecallAction",
        v1 | {"kind": "ALREADY_ADMINISTERED", "note": FOLLOW_UP, "at": t(-1.4)},
        "CONFLICT",
    )
    error = await refused(quality, service, "closeRecall", close, "RULE_VIOLATION")
    assert error["extensions"]["unit_ids"] == [f"{MSC}/V-2"]

    # V-2: quarantined (not enough), then sent back to the control site on a return.
    await send(second, "recordRecallAction", v2 | {"kind": "QUARANTINED", "at": t(-1.4)})
    found = await view(quality)
    assert found["units"][1] == unit("V-2", quarantined=True)
    assert found["progress"]["unitsQuarantined"] == 1
    error = await refused(quality, service, "closeRecall", close, "RULE_VIOLATION")
    assert error["extensions"]["unit_ids"] == [f"{MSC}/V-2"]
    back = shipment(
        "RET-MSC-V2",
        MSC,
        t,
        "V-2",
        fromSiteId=SECOND_HOSPITAL,
        toSiteId=CONTROL,
        dispatchedAt=t(-1.3),
        isReturn=True,
    )
    await run(gql, "dispatchShipment", back)
    returned = v2 | {"kind": "RETURNED", "shipmentId": "RET-MSC-V2", "at": t(-1.2)}
    await send(second, "recordRecallAction", returned)

    reported = {"recallId": "RCL-1", "summary": "every vial accounted for", "reportedAt": t(-1)}
    for kind in ("INITIAL", "FINAL"):
        await send(quality, "reportRecallToAuthority", reported | {"kind": kind})
    check = {
        "recallId": "RCL-1",
        "outcome": "EFFECTIVE",
        "method": "each institution called back",
        "checkedAt": t(-0.8),
    }
    await send(quality, "recordRecallEffectivenessCheck", check)
    await send(quality, "closeRecall", close)

    done = await view(quality)
    assert done["status"] == "CLOSED"
    assert done["units"] == [
        unit("V-1", "ALREADY_ADMINISTERED", action="RCL-1/A1"),
        unit("V-2", "RETURNED", action="RCL-1/A3"),
        unit("V-3", "DESTROYED_BEFORE_RECALL"),
    ]
    assert (done["progress"]["unitsInScope"], done["progress"]["unitsAccountedFor"]) == (3, 3)
    assert done["progress"]["unitsQuarantined"] == 0
    full = await recall(quality, "RCL-1")
    assert full is not None
    assert [(a["kind"], a["containerId"], a["siteId"]) for a in full["actions"]] == [
        ("ALREADY_ADMINISTERED", "V-1", HOSPITAL),
        ("QUARANTINED", "V-2", SECOND_HOSPITAL),
        ("RETURNED", "V-2", SECOND_HOSPITAL),
    ]


async def test_a_site_accounts_only_for_the_containers_it_holds(
    gql: GraphQL, service: Regentrace
) -> None:
    """A key reaching the split batch may account only for a container at one of its sites:
    the institution that gave it (V-1 at the hospital), the one holding it (V-2 at the second
    institution; while it travels back, still its sender; once received, the control site), the
    site where it was destroyed (V-3 at the spoke). Every other key is refused FORBIDDEN naming
    where the container is, and nothing is stored."""
    t = Timeline.ending_weeks_ago()
    await split_at_two_institutions(gql, t)
    quality = qp(gql, service)
    hospital = caller(gql, service, "medical_institution", HOSPITAL)
    second = caller(gql, service, "medical_institution", SECOND_HOSPITAL)
    spoke = caller(gql, service, "spoke_operator", SPOKE)
    started = {"recallId": "RCL-1", "origin": {"kind": "BATCH", "id": MSC}, "reason": "look-back"}
    await send(quality, "initiateRecall", started | {"initiatedAt": t(-2)})
    act = {"recallId": "RCL-1", "batchId": MSC, "at": t(-1.5)}
    v1, v2, v3 = (act | {"containerId": c} for c in ("V-1", "V-2", "V-3"))
    administered = v1 | {"kind": "ALREADY_ADMINISTERED", "note": FOLLOW_UP}
    quarantined = v2 | {"kind": "QUARANTINED"}

    for by, action, where in (
        (second, administered, HOSPITAL),
        (quality, administered, HOSPITAL),
        (hospital, quarantined, SECOND_HOSPITAL),
        (quality, quarantined, SECOND_HOSPITAL),
        (hospital, v3 | {"kind": "DESTROYED"}, SPOKE),
    ):
        error = await refused(by, service, "recordRecallAction", action, "FORBIDDEN")
        assert f"container {action['containerId']!r} of batch {MSC!r}" in error["message"]
        assert f"is at site {where!r}" in error["message"]
    # The spoke where V-3 was destroyed, and the control site over it, pass the reach: the
    # recall's own rule answers (the scope accounted for V-3).
    for by in (spoke, quality):
        error = await refused(
            by, service, "recordRecallAction", v3 | {"kind": "DESTROYED"}, "CONFLICT"
        )
        assert "DESTROYED_BEFORE_RECALL" in error["message"]

    await send(hospital, "recordRecallAction", administered)
    await send(second, "recordRecallAction", quarantined)
    # V-2 on its way back to the control site: the second institution still answers for it.
    back = shipment(
        "RET-MSC-V2",
        MSC,
        t,
        "V-2",
        fromSiteId=SECOND_HOSPITAL,
        toSiteId=CONTROL,
        dispatchedAt=t(-1.3),
        isReturn=True,
    )
    await run(gql, "dispatchShipment", back)
    returned = v2 | {"kind": "RETURNED", "shipmentId": "RET-MSC-V2", "at": t(-1.1)}
    await refused(quality, service, "recordRecallAction", returned, "FORBIDDEN")
    received = {"shipmentId": "RET-MSC-V2", "receivedAt": t(-1.2), "conditionAcceptable": True}
    await run(gql, "receiveShipment", received)
    # Received at the control site: its quality unit holds V-2 now, the second institution not.
    error = await refused(second, service, "recordRecallAction", returned, "FORBIDDEN")
    assert f"is at site {CONTROL!r}" in error["message"]
    await send(quality, "recordRecallAction", returned)

    full = await recall(quality, "RCL-1")
    assert full is not None
    assert [(a["kind"], a["containerId"], a["siteId"]) for a in full["actions"]] == [
        ("ALREADY_ADMINISTERED", "V-1", HOSPITAL),
        ("QUARANTINED", "V-2", SECOND_HOSPITAL),
        ("RETURNED", "V-2", CONTROL),
    ]


async def test_a_container_destroyed_under_the_recall_is_destroyed_alone(
    gql: GraphQL, service: Regentrace
) -> None:
    """V-2 and V-3 still at the spoke: the recall's destruction of V-2 is that container's own
    (V-3 remains); the rebuilt rows equal the live ones."""
    t = Timeline.ending_weeks_ago()
    await allogeneic(gql, t)
    await shipped(gql, t, "SHP-MSC-1", MSC, "V-1")
    await run(gql, "recordAdministration", given(MSC, "V-1", "PT-4201", t))
    quality = qp(gql, service)
    origin = {"kind": "CONTAINER", "id": f"{MSC}/V-1"}
    await send(
        quality,
        "initiateRecall",
        {"recallId": "RCL-1", "origin": origin, "reason": "vial V-1 failed", "initiatedAt": t(-2)},
    )
    act = {"recallId": "RCL-1", "batchId": MSC, "at": t(-1.5)}
    await send(quality, "recordRecallAction", act | {"containerId": "V-2", "kind": "DESTROYED"})
    batch: Batch = service.app.repository.get(Batch.ledger_id(MSC))
    assert [(c, batch.containers[c].destroyed) for c in ("V-1", "V-2", "V-3")] == [
        ("V-1", False),
        ("V-2", True),
        ("V-3", False),
    ]
    assert batch.status.value == "DISTRIBUTED"
    found = await view(quality)
    assert [(u["containerId"], u["accountedBy"]) for u in found["units"]] == [
        ("V-1", None),
        ("V-2", "DESTROYED"),
        ("V-3", None),
    ]
    assert found["progress"]["unitsAccountedFor"] == 1
    # The recall's EPCIS document deletes V-2's EPC, not the batch's, once: by the batch's
    # record of the destruction (the action accounts for V-2, it adds no second DELETE).
    document = await recall_document(gql)
    assert violations(document) == []
    [destroyed] = deletions(document)
    assert destroyed["epcList"] == [container_uri(f"{MSC}/V-2")]
    assert (destroyed["bizStep"], destroyed["disposition"]) == ("destroying", "destroyed")
    assert destroyed["regentrace:reason"].startswith("recall RCL-1")

    live = dump(service)
    assert len(live["recall_units"]) == 3
    assert len(live["recall_actions"]) == 1
    rebuild.rebuild(service.recorder, service.app.mapper, workers=1)
    assert {t: dump(service)[t] for t in RECALL_TABLES} == {t: live[t] for t in RECALL_TABLES}


async def test_a_recall_stored_before_containers_were_units_loads_with_none_destroyed_before(
    gql: GraphQL, service: Regentrace
) -> None:
    """Version 2 of Recall.Initiated (no ``destroyed_before``) still loads: its units stand as
    stored, none accounted for by the scope."""
    t = Timeline.ending_weeks_ago()
    await allogeneic(gql, t)
    origin = {"kind": "BATCH", "id": MSC}
    started = {"recallId": "RCL-1", "origin": origin, "reason": "r", "initiatedAt": t(-2)}
    await send(qp(gql, service), "initiateRecall", started)
    stored = next(iter(service.app.recorder.select_events(Recall.ledger_id("RCL-1"))))
    mapper = service.app.mapper
    state = mapper.transcoder.decode(stored.state)
    assert state.pop("class_version") == 3
    assert state.pop("destroyed_before") == []
    state["class_version"] = 2
    old = type(stored)(
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=mapper.transcoder.encode(state),
    )
    event = mapper.to_domain_event(old)
    assert isinstance(event, Recall.Initiated)
    assert event.destroyed_before == []
    assert event.units == [f"{MSC}/V-1", f"{MSC}/V-2", f"{MSC}/V-3"]


async def test_a_batch_id_with_a_slash_is_one_unit_whole_or_per_container(
    gql: GraphQL, service: Regentrace
) -> None:
    """Batch ids may hold '/' (container ids may not): a unit is parsed knowing the batches the
    recall reached, so a whole batch named 'MSC/2026/8' is not taken for batch 'MSC/2026' with
    container '8', and a container of 'MSC/2026/7' is found (not a server error)."""
    t = Timeline.ending_weeks_ago()
    await allogeneic(gql, t)
    quality = qp(gql, service)
    for batch_id in ("MSC/2026/7", "MSC/2026/8"):
        started = {
            "batchId": batch_id,
            "product": "MSC-ALLO",
            "donationId": MSC_DONATION,
            "patientCode": "PT-4299",
            "controlSiteId": CONTROL,
            "siteId": SPOKE,
            "startedAt": t(-20),
        }
        await run(gql, "startBatch", started)
    await run(gql, "recordBatchContainers", fill("MSC/2026/7", t, bag("V-1", kind="VIAL")))
    for recall_id, batch_id in (("RCL-7", "MSC/2026/7"), ("RCL-8", "MSC/2026/8")):
        origin = {"kind": "BATCH", "id": batch_id}
        initiated = {"recallId": recall_id, "origin": origin, "reason": "look-back"}
        await send(quality, "initiateRecall", initiated | {"initiatedAt": t(-2)})

    destroy = {"kind": "DESTROYED", "at": t(-1), "note": "destroyed under the recall"}
    await send(
        quality,
        "recordRecallAction",
        {"recallId": "RCL-7", "batchId": "MSC/2026/7", "containerId": "V-1", **destroy},
    )
    await send(
        quality, "recordRecallAction", {"recallId": "RCL-8", "batchId": "MSC/2026/8", **destroy}
    )

    shown = "query ($id: ID!) { recall(id: $id) { units { batchId containerId accountedFor } } }"
    for recall_id, batch_id, container in (
        ("RCL-7", "MSC/2026/7", "V-1"),
        ("RCL-8", "MSC/2026/8", None),
    ):
        found = (await gql.data(shown, {"id": recall_id}))["recall"]
        assert found["units"] == [
            {"batchId": batch_id, "containerId": container, "accountedFor": True}
        ], recall_id


# ------------------------------------------------------------------------------------- EPCIS


async def recall_document(gql: GraphQL, recall_id: str = "RCL-1") -> dict[str, Any]:
    found = (await gql.data(EPCIS, {"scope": {"recallId": recall_id}}))["epcisDocument"]
    assert isinstance(found, dict)
    return found


def fill_output(document: dict[str, Any], container: str) -> str:
    """The EPC the fill of MSC gives ``container`` (one of its outputs)."""
    fills = [
        e for e in events(document) if e.get("transformationID") == f"urn:regentrace:fill:{MSC}"
    ]
    assert len(fills) == 1
    epc = container_uri(f"{MSC}/{container}")
    assert epc in fills[0]["outputEPCList"]
    return epc


def deletions(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in events(document) if e["type"] == "ObjectEvent" and e["action"] == "DELETE"]


def action_event(document: dict[str, Any], action_id: str) -> dict[str, Any]:
    found = [e for e in events(document) if e.get("regentrace:recallAction") == action_id]
    assert len(found) == 1, action_id
    return found[0]


async def test_a_recall_action_on_a_container_names_that_containers_epc(
    gql: GraphQL, service: Regentrace
) -> None:
    """A quarantine and a return of V-2 are exported with V-2's EPC (the one the fill's
    outputEPCList gives it), not the batch's; the document is valid against GS1's schema."""
    t = Timeline.ending_weeks_ago()
    await split_at_two_institutions(gql, t)
    quality = qp(gql, service)
    second = caller(gql, service, "medical_institution", SECOND_HOSPITAL)
    started = {"recallId": "RCL-1", "origin": {"kind": "BATCH", "id": MSC}, "reason": "look-back"}
    await send(quality, "initiateRecall", started | {"initiatedAt": t(-2)})
    v2 = {"recallId": "RCL-1", "batchId": MSC, "containerId": "V-2"}
    await send(second, "recordRecallAction", v2 | {"kind": "QUARANTINED", "at": t(-1.5)})
    back = shipment(
        "RET-MSC-V2",
        MSC,
        t,
        "V-2",
        fromSiteId=SECOND_HOSPITAL,
        toSiteId=CONTROL,
        dispatchedAt=t(-1.3),
        isReturn=True,
    )
    await run(gql, "dispatchShipment", back)
    returned = v2 | {"kind": "RETURNED", "shipmentId": "RET-MSC-V2", "at": t(-1.2)}
    await send(second, "recordRecallAction", returned)

    document = await recall_document(gql)
    assert violations(document) == []
    epc = fill_output(document, "V-2")
    quarantined, sent_back = (action_event(document, a) for a in ("RCL-1/A1", "RCL-1/A2"))
    assert (quarantined["epcList"], quarantined["bizStep"], quarantined["disposition"]) == (
        [epc],
        "holding",
        "recalled",
    )
    assert (sent_back["epcList"], sent_back["bizStep"], sent_back["disposition"]) == (
        [epc],
        "shipping",
        "returned",
    )
    assert sent_back["regentrace:shipment"] == "urn:regentrace:shipment:RET-MSC-V2"
    assert {e["action"] for e in (quarantined, sent_back)} == {"OBSERVE"}


async def test_a_container_destroyed_after_the_scope_is_accounted_for_by_its_destruction(
    gql: GraphQL, service: Regentrace
) -> None:
    """V-2, still at the second institution when the recall was initiated, destroyed there
    afterwards: returning or quarantining it is refused (RULE_VIOLATION, rule
    RECALL_UNIT_DESTROYED, naming the container and DESTROYED) and stores nothing; DESTROYED
    naming it accounts for it, exported as the deletion of V-2's EPC. V-3, destroyed before the
    recall, stays accounted for by the scope (CONFLICT)."""
    t = Timeline.ending_weeks_ago()
    await split_at_two_institutions(gql, t)
    quality = qp(gql, service)
    second = caller(gql, service, "medical_institution", SECOND_HOSPITAL)
    started = {"recallId": "RCL-1", "origin": {"kind": "BATCH", "id": MSC}, "reason": "look-back"}
    await send(quality, "initiateRecall", started | {"initiatedAt": t(-2)})
    destroyed = {
        "batchId": MSC,
        "containerIds": ["V-2"],
        "reason": "thawed on a freezer failure",
        "decidedAt": t(-1.8),
    }
    await send_container(gql, "destroyBatchContainers", destroyed)
    assert (await view(quality))["units"][1] == unit("V-2")

    v2 = {"recallId": "RCL-1", "batchId": MSC, "containerId": "V-2", "at": t(-1.5)}
    for bad in (v2 | {"kind": "RETURNED", "shipmentId": "RET-EXT-1"}, v2 | {"kind": "QUARANTINED"}):
        error = await refused(second, service, "recordRecallAction", bad, "RULE_VIOLATION")
        assert rule_of(error) == "RECALL_UNIT_DESTROYED", bad
        assert f"container {MSC + '/V-2'!r} was destroyed" in error["message"]
        assert "account for it as DESTROYED" in error["message"]
        assert error["extensions"]["container_id"] == "V-2"
    v3 = v2 | {"containerId": "V-3", "kind": "QUARANTINED"}
    error = await refused(quality, service, "recordRecallAction", v3, "CONFLICT")
    assert "DESTROYED_BEFORE_RECALL" in error["message"]
    assert (await view(quality))["units"][1] == unit("V-2")

    await send(second, "recordRecallAction", v2 | {"kind": "DESTROYED"})
    assert (await view(quality))["units"][1] == unit("V-2", "DESTROYED", action="RCL-1/A1")
    document = await recall_document(gql)
    assert violations(document) == []
    # One DELETE of each destroyed container's EPC, V-3's and V-2's: V-2's the destruction as
    # recorded at t-1.8 (the batch's, V-2 its last container), which the action names (and does
    # not repeat).
    destroyed_before, deleted = deletions(document)
    assert destroyed_before["epcList"] == [fill_output(document, "V-3")]
    assert deleted["epcList"] == [f"urn:regentrace:batch:{MSC}", fill_output(document, "V-2")]
    assert (deleted["bizStep"], deleted["disposition"]) == ("destroying", "destroyed")
    assert deleted["regentrace:reason"] == "thawed on a freezer failure"


async def test_a_container_accounted_for_by_its_destruction_is_neither_quarantined_nor_returned(
    gql: GraphQL, service: Regentrace
) -> None:
    """V-2 destroyed at the second institution by the recall's own DESTROYED: quarantining or
    returning it afterwards is refused (RULE_VIOLATION, rule RECALL_UNIT_DESTROYED, naming the
    container, when it was destroyed and that its destruction accounts for it) and stores
    nothing; a second DESTROYED is a CONFLICT, as is any action on V-3 (destroyed before the
    recall, accounted for by the scope)."""
    t = Timeline.ending_weeks_ago()
    await split_at_two_institutions(gql, t)
    quality = qp(gql, service)
    second = caller(gql, service, "medical_institution", SECOND_HOSPITAL)
    started = {"recallId": "RCL-1", "origin": {"kind": "BATCH", "id": MSC}, "reason": "look-back"}
    await send(quality, "initiateRecall", started | {"initiatedAt": t(-2)})
    v2 = {"recallId": "RCL-1", "batchId": MSC, "containerId": "V-2"}
    await send(second, "recordRecallAction", v2 | {"kind": "DESTROYED", "at": t(-1.5)})
    batch: Batch = service.app.repository.get(Batch.ledger_id(MSC))
    assert batch.containers["V-2"].destroyed_at == t.at(-1.5)

    later = v2 | {"at": t(-1.2)}
    for bad in (later | {"kind": "QUARANTINED"}, later | {"kind": "RETURNED", "shipmentId": "R-9"}):
        error = await refused(second, service, "recordRecallAction", bad, "RULE_VIOLATION")
        assert rule_of(error) == "RECALL_UNIT_DESTROYED", bad
        assert error["message"] == (
            f"container {MSC + '/V-2'!r} was destroyed at {t(-1.5)}; it cannot be "
            f"{bad['kind'].lower()}: it is already accounted for in recall 'RCL-1' by its "
            "destruction"
        )
        assert error["extensions"]["container_id"] == "V-2"
    error = await refused(
        second, service, "recordRecallAction", later | {"kind": "DESTROYED"}, "CONFLICT"
    )
    assert "already accounted for" in error["message"]
    v3 = later | {"containerId": "V-3", "kind": "QUARANTINED"}
    error = await refused(quality, service, "recordRecallAction", v3, "CONFLICT")
    assert "DESTROYED_BEFORE_RECALL" in error["message"]
    found = await view(quality)
    assert found["units"][1] == unit("V-2", "DESTROYED", action="RCL-1/A1")
    assert found["progress"]["unitsQuarantined"] == 0
