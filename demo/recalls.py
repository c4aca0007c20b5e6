"""The demo's recalls carried out (issue 17).

RCL-2026-001 (the contaminated vector lot) is carried to closure: every notified hospital and
treating physician acknowledges, every exposed unit is accounted for as already administered
with the patient's follow-up, TFDA gets its initial and final reports, an effectiveness check
finds it effective, and the QP closes it. RCL-2026-002 (the donor found ineligible on look-back)
stays open: both MSC batches in quarantine, the initial report filed (its units also count each
vial of the split MSC-31002, each given to its patient before the recall and not yet accounted
for).
RCL-2026-003 (the Berlin unit over December 2025) was initiated in January and stays open with
overdue acknowledgements: the unit acknowledged, Charité and its treating physician have not.

Every step reads what the recall decided (its notifications, its units) when it runs, and states
its business time then, after the initiation it follows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from domain.application import TraceabilityLedger
from domain.recall import PHYSICIAN_PARTY, Recall, unit_parts
from domain.shared import Principal, utcnow

Step = Callable[[], object]

QP = Principal("dr-lin-qp", "qualified_person")
OPERATOR = Principal("demo-spoke-operator", "spoke_operator")
CLINIC = Principal("demo-hospital-pharmacist", "medical_institution")
PHYSICIAN = Principal("dr-chen-physician", "physician")

CLOSED_RECALL = "RCL-2026-001"
LOOK_BACK_RECALL = "RCL-2026-002"
BERLIN_RECALL = "RCL-2026-003"
# When the Berlin unit's EM trend led to its recall; its acknowledgements were due in 48 hours.
BERLIN_INITIATED = datetime(2026, 1, 20, 9, 0, tzinfo=UTC)
BERLIN_ACKNOWLEDGED = datetime(2026, 1, 20, 15, 30, tzinfo=UTC)
FOLLOW_UP = (
    "Treating physician informed; patient enrolled in long-term follow-up for "
    "replication-competent lentivirus (RCL testing at 3, 6 and 12 months, then yearly)"
)


def _recall(app: TraceabilityLedger, recall_id: str) -> Recall:
    found: object = app.repository.get(Recall.ledger_id(recall_id))
    assert isinstance(found, Recall)
    return found


def _acknowledge_all(app: TraceabilityLedger, recall_id: str) -> None:
    for n in _recall(app, recall_id).notifications.values():
        physician = n["party_kind"] == PHYSICIAN_PARTY
        app.recalls.acknowledge_recall_notification(
            PHYSICIAN if physician else CLINIC,
            recall_id,
            n["id"],
            n["site_id"],
            utcnow(),
            note="treating physician informed by phone and letter" if physician else None,
        )


def _account_for_all(app: TraceabilityLedger, recall_id: str) -> None:
    """Each unit given before the recall (a batch, or a container of a split batch) accounted
    for as ALREADY_ADMINISTERED with the patient's follow-up."""
    recall = _recall(app, recall_id)
    for unit in recall.unaccounted:
        batch_id, container_id = unit_parts(unit)
        app.recalls.record_recall_action(
            CLINIC,
            recall_id,
            batch_id,
            "ALREADY_ADMINISTERED",
            utcnow(),
            container_id=container_id,
            note=FOLLOW_UP,
        )


def _quarantine(app: TraceabilityLedger, batch_id: str) -> Step:
    def step() -> object:
        return app.recalls.record_recall_action(
            OPERATOR,
            LOOK_BACK_RECALL,
            batch_id,
            "QUARANTINED",
            utcnow(),
            note="held in the Hsinchu unit's quarantine freezer pending the look-back review",
        )

    return step


def steps(app: TraceabilityLedger) -> Iterator[tuple[str, Step]]:
    r = app.recalls
    yield (
        f"{CLOSED_RECALL}: initial report to TFDA",
        lambda: r.report_recall_to_authority(
            QP,
            CLOSED_RECALL,
            "INITIAL",
            "Vector lot LV-CD19-25A01 contaminated; every treating centre notified",
            utcnow(),
            reference="TFDA-RCL-2026-0117",
        ),
    )
    yield (
        f"{CLOSED_RECALL}: every notification acknowledged",
        lambda: _acknowledge_all(app, CLOSED_RECALL),
    )
    yield (
        f"{CLOSED_RECALL}: every exposed unit accounted for",
        lambda: _account_for_all(app, CLOSED_RECALL),
    )
    yield (
        f"{CLOSED_RECALL}: effectiveness check",
        lambda: r.record_recall_effectiveness_check(
            QP,
            CLOSED_RECALL,
            "EFFECTIVE",
            "every notified centre called back; every exposed patient confirmed in follow-up",
            utcnow(),
        ),
    )
    yield (
        f"{CLOSED_RECALL}: final report to TFDA",
        lambda: r.report_recall_to_authority(
            QP,
            CLOSED_RECALL,
            "FINAL",
            "All units administered before the recall; all patients in long-term follow-up",
            utcnow(),
            reference="TFDA-RCL-2026-0117",
        ),
    )
    yield (
        f"{CLOSED_RECALL}: closed",
        lambda: r.close_recall(
            QP,
            CLOSED_RECALL,
            "No unit remained in the chain; every exposed patient is followed up for RCL",
            utcnow(),
        ),
    )
    for batch_id in ("MSC-31000", "MSC-31001"):
        yield f"{LOOK_BACK_RECALL}: {batch_id} in quarantine", _quarantine(app, batch_id)
    yield (
        f"{LOOK_BACK_RECALL}: initial report to TFDA",
        lambda: r.report_recall_to_authority(
            QP,
            LOOK_BACK_RECALL,
            "INITIAL",
            "Donor DNR-ALLO-0001 HBV NAT positive on look-back; both MSC batches withdrawn",
            utcnow(),
        ),
    )
    yield (
        f"{BERLIN_RECALL}: the Berlin unit acknowledges",
        lambda: r.acknowledge_recall_notification(
            OPERATOR,
            BERLIN_RECALL,
            f"{BERLIN_RECALL}/N2",
            "DE-MU-BERLIN",
            BERLIN_ACKNOWLEDGED,
            note="production paused pending the EM investigation",
        ),
    )
