"""A storage period recorded after the fact is checked against where the batch or container was
THEN, not where it is now (issue 18, item 2), through the API on both databases: a storage at
the manufacturing site before the dispatch is recorded after the receipt at the hospital, one
at the hospital from before the receipt is refused, a period crossing a dispatch (or an
administration) is refused, as is an end after the item left; a container that travelled
apart from its batch answers for itself. Each refusal is RULE_VIOLATION (NOT_AT_SITE, naming
where the item was) and leaves the ledger as it was."""

from __future__ import annotations

from typing import Any

from api.wiring import Regentrace
from tests.api.chain_documents import (
    CHAIN_OF_IDENTITY,
    COMMAND_RESULT,
    HOSPITAL,
    PATIENT,
    SPOKE,
    Timeline,
    delivered,
    donor_with_donation,
    network,
    qc,
    release,
    released_lot,
    run,
    started_batch,
    transduction,
)
from tests.api.client import GraphQL
from tests.api.test_containers import CART, autologous, given, send, shipment
from tests.conftest import ledger_size

BATCH = "CART-46000"
SHIPMENT = f"SHP-{BATCH}"  # dispatched at the spoke at t(-9.9), received at the hospital t(-9.5)


def document(field: str, input_type: str) -> str:
    return f"mutation ($input: {input_type}!) {{ {field}(input: $input) {COMMAND_RESULT} }}"


STORE = document("recordStorage", "RecordStorageInput")
END = document("endStorage", "EndStorageInput")


def storage(
    t: Timeline, storage_id: str, site: str, days: float, batch: str = BATCH, **more: Any
) -> dict[str, Any]:
    return {
        "storageId": storage_id,
        "batchId": batch,
        "siteId": site,
        "location": "LN2 tank 2, rack 4, box 7",
        "storedFrom": t(days),
        **more,
    }


async def stored(gql: GraphQL, input: dict[str, Any]) -> None:
    result = (await gql.data(STORE, {"input": input}))["recordStorage"]
    assert result["aggregateId"] == f"Storage:{input['storageId']}"


async def refused(
    gql: GraphQL,
    service: Regentrace,
    document: str,
    input: dict[str, Any],
    reason: str | None = "NOT_AT_SITE",
) -> str:
    """Send a command that must be refused as a RULE_VIOLATION (with ``reason``) storing
    nothing; answer its message."""
    before = ledger_size(service)
    body = await gql(document, {"input": input})
    assert ledger_size(service) == before, "a refused command stored something"
    assert [e["extensions"]["code"] for e in body["errors"]] == ["RULE_VIOLATION"], body
    error = body["errors"][0]
    assert error["extensions"].get("reason") == reason, error
    message = error["message"]
    assert isinstance(message, str)
    return message


async def received_at_hospital(gql: GraphQL, t: Timeline) -> None:
    """BATCH made at the spoke (from t(-20)), released, dispatched at t(-9.9) and received at
    the hospital at t(-9.5): everything below is recorded after that."""
    await network(gql, t)
    await donor_with_donation(gql, t)
    await released_lot(gql, t)
    await started_batch(gql, t, BATCH)
    await transduction(gql, t, BATCH)
    await qc(gql, t, BATCH)
    await release(gql, t, BATCH)
    await delivered(gql, t, BATCH)


async def test_a_storage_is_recorded_where_the_batch_was_then_not_where_it_is_now(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await received_at_hospital(gql, t)

    # (a) At the spoke before the dispatch, recorded now that the batch is at the hospital.
    await stored(gql, storage(t, "ST-SPOKE", SPOKE, -12, storedUntil=t(-10)))
    # Until the very moment of the dispatch is still at the spoke.
    await stored(gql, storage(t, "ST-SPOKE-2", SPOKE, -10, storedUntil=t(-9.9)))

    # (b) At the hospital while the batch was still at the spoke: refused, naming the spoke.
    message = await refused(gql, service, STORE, storage(t, "ST-H", HOSPITAL, -12))
    assert f"batch {BATCH!r} was at site {SPOKE!r} at {t(-12)}" in message
    assert f"at site {HOSPITAL!r}" in message
    # Nor while it travelled, nor at the spoke once it had left.
    message = await refused(gql, service, STORE, storage(t, "ST-H", HOSPITAL, -9.7))
    assert f"was in transit on leg {SHIPMENT!r} at {t(-9.7)}" in message
    message = await refused(gql, service, STORE, storage(t, "ST-S", SPOKE, -9))
    assert f"was at site {HOSPITAL!r} at {t(-9)}" in message
    # At the hospital from its receipt on it is.
    await stored(gql, storage(t, "ST-H", HOSPITAL, -9.5))

    # A period at the spoke crossing the dispatch is refused, naming the shipment and when.
    crossing = storage(t, "ST-X", SPOKE, -12, storedUntil=t(-9.7))
    message = await refused(gql, service, STORE, crossing)
    assert f"was in transit on leg {SHIPMENT!r} from {t(-9.9)}, before {t(-9.7)}" in message
    # A closed period at the hospital after the receipt: the batch has not left since.
    await stored(gql, storage(t, "ST-H-2", HOSPITAL, -9.4, storedUntil=t(-9)))


async def test_an_end_after_the_item_left_is_refused(gql: GraphQL, service: Regentrace) -> None:
    t = Timeline.ending_weeks_ago()
    await received_at_hospital(gql, t)
    # An open period at the spoke, recorded late: its end is held to where the batch was.
    await stored(gql, storage(t, "ST-OPEN", SPOKE, -12))
    for late in (-9.7, -9):
        end = {"storageId": "ST-OPEN", "storedUntil": t(late)}
        message = await refused(gql, service, END, end)
        assert f"batch {BATCH!r} was in transit on leg {SHIPMENT!r} from {t(-9.9)}" in message
    await gql.data(END, {"input": {"storageId": "ST-OPEN", "storedUntil": t(-9.95)}})
    # Ending again is refused as before (no NOT_AT_SITE: it is the storage's own rule).
    again = {"storageId": "ST-OPEN", "storedUntil": t(-9.92)}
    assert "already ended" in await refused(gql, service, END, again, reason=None)


async def test_a_batch_given_is_stored_only_before_it_was_given(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await received_at_hospital(gql, t)
    infusion = {
        "batchId": BATCH,
        "siteId": HOSPITAL,
        "patientCode": PATIENT,
        "administeredAt": t(-9),
        "identityVerified": True,
        "chainOfIdentityId": CHAIN_OF_IDENTITY,
    }
    await run(gql, "recordAdministration", infusion)
    # The pharmacy's storage until the infusion, recorded afterwards.
    await stored(gql, storage(t, "ST-PHARMACY", HOSPITAL, -9.4, storedUntil=t(-9.1)))
    after = storage(t, "ST-AFTER", HOSPITAL, -8)
    assert "already given or destroyed" in await refused(gql, service, STORE, after, None)
    beyond = storage(t, "ST-BEYOND", HOSPITAL, -9.4, storedUntil=t(-8.5))
    message = await refused(gql, service, STORE, beyond)
    assert f"given or destroyed at {t(-9)}" in message


async def test_a_container_that_travelled_apart_from_its_batch_answers_for_itself(
    gql: GraphQL, service: Regentrace
) -> None:
    t = Timeline.ending_weeks_ago()
    await autologous(gql, t)  # BAG-0 and BAG-1 filled at the spoke at t(-12)
    await send(gql, "dispatchShipment", shipment("SHP-BAG-0", CART, t, "BAG-0"))
    receipt = {"shipmentId": "SHP-BAG-0", "receivedAt": t(-9.5), "conditionAcceptable": True}
    await send(gql, "receiveShipment", receipt)

    def bag(storage_id: str, container: str, site: str, days: float, **more: Any) -> dict[str, Any]:
        return storage(t, storage_id, site, days, batch=CART, containerId=container, **more)

    # BAG-1 never left the spoke; BAG-0 went to the hospital.
    await stored(gql, bag("ST-B1", "BAG-1", SPOKE, -9))
    message = await refused(gql, service, STORE, bag("ST-B0", "BAG-0", SPOKE, -9))
    assert f"container 'BAG-0' of batch {CART!r} was at site {HOSPITAL!r} at {t(-9)}" in message
    message = await refused(gql, service, STORE, bag("ST-B0", "BAG-0", HOSPITAL, -9.7))
    assert "in transit on leg 'SHP-BAG-0'" in message
    # Back-dated: BAG-0 at the spoke before its dispatch, then at the hospital.
    await stored(gql, bag("ST-B0-SPOKE", "BAG-0", SPOKE, -11, storedUntil=t(-10)))
    crossing = bag("ST-B0-X", "BAG-0", SPOKE, -11, storedUntil=t(-9.6))
    assert "in transit on leg 'SHP-BAG-0'" in await refused(gql, service, STORE, crossing)
    # BAG-1's period at the spoke is not cut by BAG-0's shipment.
    await stored(gql, bag("ST-B1-LONG", "BAG-1", SPOKE, -11, storedUntil=t(-9)))
    # Before its filling a container was nowhere.
    message = await refused(gql, service, STORE, bag("ST-EARLY", "BAG-1", SPOKE, -15))
    assert "was not yet there" in message

    # Given at the hospital at t(-9): its past storage is still recorded, but not beyond.
    bedside = given(CART, "BAG-0", PATIENT, t, chainOfIdentityId=CHAIN_OF_IDENTITY)
    await send(gql, "recordAdministration", bedside)
    await stored(gql, bag("ST-B0-H", "BAG-0", HOSPITAL, -9.4, storedUntil=t(-9.2)))
    await stored(gql, bag("ST-B0-OPEN", "BAG-0", HOSPITAL, -9.3))
    late = {"storageId": "ST-B0-OPEN", "storedUntil": t(-8.5)}
    assert f"given or destroyed at {t(-9)}" in await refused(gql, service, END, late)
    await gql.data(END, {"input": {"storageId": "ST-B0-OPEN", "storedUntil": t(-9.05)}})
    after = bag("ST-B0-AFTER", "BAG-0", HOSPITAL, -8)
    assert "already given or destroyed" in await refused(gql, service, STORE, after, None)
