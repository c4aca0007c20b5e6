"""A recall reaching both organisations, read from the audit trail (the ``events`` query): each
organisation's reader sees, in the recall's stored event, the container units and the containers
destroyed before the recall of its own split batch only, never the other's (projections/scopes.py,
``as_seen``). On SQLite and PostgreSQL, over the two organisations of ``tests.api.access``.

Both split batches are made with A's vector lot LV-A (as B1 is), so a recall from that lot
reaches A1, A2 and AC (A's, AC filled into three bags, one destroyed before the recall) and B1 and
BC (B's, BC filled into two bags, one destroyed before the recall).
"""

from __future__ import annotations

import json
from typing import Any

from domain.recall import Recall
from tests.api.access import (
    A_CONTROL,
    A_HOSPITAL,
    A_SPOKE,
    B_CONTROL,
    B_HOSPITAL,
    B_LAB,
    B_NL_SPOKE,
    B_SPOKE,
    EVENTS,
    Caller,
    Partners,
    _donor,
    _made,
)

RECALL = "RC-SPLIT"
B_SITES = (B_CONTROL, B_SPOKE, B_HOSPITAL, B_LAB, B_NL_SPOKE)
A_UNITS = ["A1", "A2", "AC/V-1", "AC/V-2", "AC/V-3"]
B_UNITS = ["B1", "BC/W-1", "BC/W-2"]


def bag(container_id: str) -> dict[str, Any]:
    return {
        "container_id": container_id,
        "kind": "BAG",
        "volume_ml": 50.0,
        "dose": 1.0e8,
        "dose_unit": "CELLS",
    }


def split(p: Partners, batch: str, n: int, control: str, spoke: str, bags: list[str]) -> None:
    """``batch`` made with LV-A at ``spoke``, filled into ``bags``, the last destroyed there."""
    _made(p, batch, n, control, spoke, ["LV-A"], "", 0)
    p.run(p.app.containers.record_batch_containers, batch, spoke, p.h(9.5), [bag(b) for b in bags])
    p.run(p.app.containers.destroy_batch_containers, batch, bags[-1:], "bag breach", p.h(9.7))


def recall_reaching_both(p: Partners) -> None:
    """The recall from LV-A, initiated by A; B acknowledges its notification, so the recall
    touches a site of B and B's reader finds its events."""
    _donor(p, "DNR-AC", 106, A_HOSPITAL)
    split(p, "AC", 106, A_CONTROL, A_SPOKE, ["V-1", "V-2", "V-3"])
    _donor(p, "DNR-BC", 206, B_HOSPITAL)
    split(p, "BC", 206, B_CONTROL, B_SPOKE, ["W-1", "W-2"])
    p.run(
        p.app.recalls.initiate_recall,
        RECALL,
        "MATERIAL_LOT",
        "LV-A",
        "vector lot LV-A found contaminated",
        initiated_at=p.h(20),
    )
    stored = p.app.repository.get(Recall.ledger_id(RECALL))
    told = next(n for n in stored.notifications.values() if n["site_id"] in B_SITES)
    p.run(
        p.app.recalls.acknowledge_recall_notification,
        RECALL,
        told["id"],
        told["site_id"],
        p.h(21),
    )


async def initiated(caller: Caller) -> dict[str, Any]:
    """The payload of the recall's Recall.Initiated event as ``caller`` reads it."""
    data = await caller.data(EVENTS, {"filter": {"aggregateId": f"Recall:{RECALL}"}})
    found = [n for n in data["events"]["nodes"] if n["type"] == "Recall.Initiated"]
    assert len(found) == 1, data
    payload = found[0]["payload"]
    assert isinstance(payload, dict)
    return payload


async def test_each_organisation_sees_its_own_container_units_of_a_shared_recall(
    partners: Partners, as_: Any
) -> None:
    recall_reaching_both(partners)
    # Stored whole: the recall reaches every unit of both organisations.
    stored = partners.app.repository.get(Recall.ledger_id(RECALL))
    assert sorted(stored.units) == sorted(A_UNITS + B_UNITS)
    assert sorted(stored.destroyed_before) == ["AC/V-3", "BC/W-2"]

    for key, units, gone, others in (
        ("a-qp", A_UNITS, ["AC/V-3"], ("BC", "B1", "W-1", "W-2")),
        ("b-qp", B_UNITS, ["BC/W-2"], ("AC", "A1", "A2", "V-1", "V-2", "V-3")),
    ):
        payload = await initiated(as_(key))
        assert sorted(payload["units"]) == units, key
        assert payload["destroyed_before"] == gone, key
        assert sorted(payload["trace"]["affected_batches"]) == sorted(
            {u.split("/")[0] for u in units}
        ), key
        text = json.dumps(payload)
        assert [o for o in others if f'"{o}' in text or f"/{o}" in text] == [], (key, payload)
