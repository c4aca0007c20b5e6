"""The demo's hold stories (domain/holds.py): an out-of-specification result investigated,
its hold lifted and the batch retested and released; an excursion judged against stability
data; and a treating centre acknowledging that the physician was told of a hold raised after
infusion.

The hold keys name the events that raised them, so each step finds them when it runs, after
the steps before it have recorded those events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from domain import holds
from domain.application import TraceabilityLedger
from domain.holds import HoldKind
from domain.shared import Principal, utcnow

Step = Callable[[], object]


def lift(
    app: TraceabilityLedger,
    qp: Principal,
    batch: str,
    kind: HoldKind,
    reason: str,
    at: datetime,
    deviation_id: str | None = None,
) -> Step:
    """The QP lifts the batch's active holds of ``kind``."""

    def step() -> object:
        keys = [r.key for r in holds.active_holds(app, batch, at) if r.kind is kind]
        return app.holds.lift_batch_hold(
            qp, batch, keys, reason, "QP decision: hold lifted", at, deviation_id
        )

    return step


def acknowledge(app: TraceabilityLedger, clinic: Principal, batch: str, note: str) -> Step:
    """The administering institution records that the physician was told of every open duty."""

    def step() -> object:
        keys = [r.key for r in holds.holds_of(app, batch).open_duties]
        return app.holds.acknowledge_physician_notification(clinic, batch, keys, utcnow(), note)

    return step


def investigated_failure(
    app: TraceabilityLedger,
    batch: str,
    lab: tuple[Principal, str],
    qp: Principal,
    start: datetime,
) -> Iterator[tuple[str, Step]]:
    """MYCOPLASMA fails on day 10.3; the deviation finds a sampling error; the QP lifts the
    hold naming it; the retest of day 10.5 (with the other results) then counts."""
    analyst, lab_site = lab
    deviation = f"OOS-{batch}"

    def at(days: float) -> datetime:
        return start + timedelta(days=days)

    yield (
        f"{batch}: QC MYCOPLASMA (out of specification)",
        lambda: app.batches.record_qc_result(
            analyst,
            batch,
            "MYCOPLASMA",
            "Ph. Eur. 2.6.7 (NAT)",
            "Not detected",
            "Detected (M. orale)",
            False,
            at(10.3),
            lab_site,
        ),
    )
    yield (
        f"{batch}: OOS investigation opened",
        lambda: app.batches.open_deviation(
            analyst,
            batch,
            deviation,
            "Out-of-specification mycoplasma result (NAT, day 10)",
            at(10.31),
        ),
    )
    yield (
        f"{batch}: OOS investigation closed",
        lambda: app.batches.close_deviation(
            qp,
            batch,
            deviation,
            "Phase I laboratory investigation: the sample was contaminated at the bench (positive "
            "environmental control at the same bench); the result is invalidated and a retest "
            "of the retained sample is ordered (OOS-2026-003)",
            at(10.38),
        ),
    )
    yield (
        f"{batch}: QC_FAILED hold lifted",
        lift(
            app,
            qp,
            batch,
            HoldKind.QC_FAILED,
            "Laboratory error confirmed by investigation OOS-2026-003; retest on the retained "
            "sample decides",
            at(10.4),
            deviation,
        ),
    )
