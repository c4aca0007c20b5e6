"""The demo's recalls, on each database (demo/recalls.py): the vector-lot recall is carried to
closure, read back from the Recall aggregate's own events and from the recalls view; the Berlin
recall stays open with its overdue acknowledgements."""

from __future__ import annotations

from datetime import UTC, datetime

from demo.recalls import BERLIN_INITIATED, BERLIN_RECALL, CLOSED_RECALL, LOOK_BACK_RECALL
from domain.recall import Recall
from projections.ledger import LedgerIndex
from projections.recalls import find_recalls
from tests.integration.test_demo import seeded  # noqa: F401 (the fixture)


def test_the_demo_recall_is_closed_and_the_berlin_one_is_overdue(seeded) -> None:  # noqa: F811
    closed: Recall = seeded.app.repository.get(Recall.ledger_id(CLOSED_RECALL))
    assert closed.status == "CLOSED"
    assert closed.unacknowledged == []
    assert closed.unaccounted == []
    assert closed.reports == ["INITIAL", "FINAL"]
    assert closed.checks == ["EFFECTIVE"]
    assert len(closed.notifications) == 20  # 4 hospitals, 16 exposed patients' physicians

    with seeded.read() as sql:
        head = LedgerIndex(sql).position_at(None)
        views = {
            v.recall_id: v
            for v in find_recalls(sql, head, datetime.now(UTC), reach=None, details=True)
        }
    assert {k: v.status for k, v in views.items()} == {
        CLOSED_RECALL: "CLOSED",
        LOOK_BACK_RECALL: "OPEN",
        BERLIN_RECALL: "OPEN",
    }
    done = views[CLOSED_RECALL]
    assert (done.units_in_scope, done.units_accounted, done.notified, done.acknowledged) == (
        16,
        16,
        20,
        20,
    )
    assert {a["kind"] for a in done.actions} == {"ALREADY_ADMINISTERED"}

    look_back = views[LOOK_BACK_RECALL]
    assert [(a["batch_id"], a["kind"]) for a in look_back.actions] == [
        ("MSC-31000", "QUARANTINED"),
        ("MSC-31001", "QUARANTINED"),
    ]
    assert (look_back.units_accounted, look_back.units_quarantined) == (0, 2)
    assert [r["kind"] for r in look_back.reports] == ["INITIAL"]

    berlin = views[BERLIN_RECALL]
    assert (berlin.jurisdiction, berlin.classification, berlin.initiated_at) == (
        "EU",
        "CLASS_2",
        BERLIN_INITIATED,
    )
    assert [(n.site_id, n.party_kind, n.overdue) for n in berlin.notifications] == [
        ("DE-MI-CHARITE", "SITE", True),
        ("DE-MU-BERLIN", "SITE", False),
        ("DE-MI-CHARITE", "PHYSICIAN", True),
    ]
    assert berlin.overdue == 2
