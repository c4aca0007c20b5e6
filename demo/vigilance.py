"""Vigilance in the demo: an adverse-reaction case followed up after its initial report, a
treated patient's long-term follow-up with a visit now due, and a deviation reportable to FDA.

- AE-CART-26001 (Taipei, CRS grade 3, submitted three days after awareness): the patient's
  hospital stay is reported as new information (HOSPITALISATION), which owes TFDA a follow-up
  report; it is submitted two days later.
- CART-26000's patient (treated at NTUH in December 2025): the 3- and 6-month visits of the
  15-year schedule are recorded; the 12-month visit is then due. Other treated patients' visits
  show as overdue (none recorded).
- OOS-CART-26006 (London, the out-of-specification mycoplasma investigation): the batch's
  product is also supplied to a US trial site, so the deviation is marked reportable to FDA
  (45 days from discovery, 21 CFR 1271.350(b)) and stays unsubmitted: the UK DM master file
  shows it overdue.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from domain.application import TraceabilityLedger
from domain.shared import Principal

Step = Callable[[], object]
At = Callable[[float], datetime]


def steps(
    app: TraceabilityLedger,
    days: list[At],
    *,
    pharmacovigilance: Principal,
    clinic: Principal,
    uk_quality_person: Principal,
) -> Iterator[tuple[str, Step]]:
    """The stories above; ``days`` are the demo plans' clocks (demo.chain gives them, with its
    people, so that this module does not import it back)."""
    yield from _follow_up(app, pharmacovigilance, days[1])
    yield from _long_term(app, clinic, days[0])
    yield from _reportable(app, uk_quality_person, days[6])


def _follow_up(app: TraceabilityLedger, pv: Principal, at: At) -> Iterator[tuple[str, Step]]:
    report = "AE-CART-26001"
    yield (
        f"{report}: follow-up information",
        lambda: app.distribution.record_adverse_event_follow_up(
            pv,
            report,
            "Hospitalised 6 days; CRS resolved after tocilizumab (2 doses)",
            at(20),
            criteria=["HOSPITALISATION"],
        ),
    )
    yield (
        f"{report}: follow-up submitted",
        lambda: app.distribution.submit_adverse_event_to_authority(
            pv, report, "TFDA", at(22), kind="FOLLOW_UP"
        ),
    )


def _long_term(app: TraceabilityLedger, clinic: Principal, at: At) -> Iterator[tuple[str, Step]]:
    batch, patient, hospital = "CART-26000", "PT-0001", "TW-MI-NTUH"
    given = 14  # administered on the plan's day 14

    def visit(number: int, day: float, outcome: str) -> Step:
        return lambda: app.vigilance.record_follow_up_visit(
            clinic, batch, patient, number, "COMPLETED", at(day), hospital, outcome
        )

    yield (
        f"{batch}: long-term follow-up visit 1",
        visit(1, given + 91, "No new malignancy; CAR transgene detectable; RCL PCR negative"),
    )
    yield (
        f"{batch}: long-term follow-up visit 2",
        visit(2, given + 183, "Well; B-cell aplasia persists; RCL PCR negative"),
    )


def _reportable(app: TraceabilityLedger, qp: Principal, at: At) -> Iterator[tuple[str, Step]]:
    batch, deviation = "CART-26006", "OOS-CART-26006"
    yield (
        f"{batch}: {deviation} reportable to FDA",
        lambda: app.vigilance.mark_deviation_reportable(
            qp, batch, deviation, at(10.31) + timedelta(hours=2), "US"
        ),
    )
