"""The AdverseEvent aggregate on its own, without any I/O: submission to the authority.

``given(*history)`` reports a reaction (aware on day 0) and applies past events to it as recorded
facts, leaving no pending events.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from domain.adverse_event import AdverseEvent
from domain.shared import RuleViolationError

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
TAIPEI = timezone(timedelta(hours=8))
ACTOR = {"actor": "pv-officer", "actor_role": "pharmacovigilance"}
KEY = "AE-2025-0003"

History = tuple[type[AdverseEvent.Event], dict[str, Any]]


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def submitted(at: datetime) -> History:
    return AdverseEvent.SubmittedToAuthority, {
        "authority": "TFDA",
        "submitted_at": at,
        "occurred_at": at,
    }


def reported() -> AdverseEvent:
    return AdverseEvent.create(
        adverse_event_id=KEY,
        batch_id="CART-26001",
        patient_code="PT-0001",
        reported_by_site_id="TW-MI-1",
        control_site_id="TW-CTRL",
        jurisdiction="TW",
        serious=True,
        description="Cytokine release syndrome grade 3",
        onset_at=day(-1),
        aware_at=T0,
        reporting_deadline=day(8),
        occurred_at=T0,
        **ACTOR,
    )


def given(*history: History) -> AdverseEvent:
    report = reported()
    for event_cls, fields in history:
        report.trigger_event(event_cls, **fields, **ACTOR)
    report.collect_events()
    return report


def refused(report: AdverseEvent, *args: Any) -> RuleViolationError:
    before = (report.version, report.submitted_at)
    with pytest.raises(RuleViolationError) as caught:
        report.submit(*args, **ACTOR)
    assert caught.value.code == "RULE_VIOLATION"
    assert caught.value.details["adverse_event_id"] == KEY
    assert report.collect_events() == []
    assert (report.version, report.submitted_at) == before
    return caught.value


def test_a_reported_reaction_keeps_its_deadline_and_is_not_yet_submitted():
    report = reported()

    (event,) = report.collect_events()
    assert isinstance(event, AdverseEvent.Reported)
    assert (event.jurisdiction, event.serious, event.reporting_deadline) == ("TW", True, day(8))
    assert (report.aware_at, report.reporting_deadline, report.submitted_at) == (
        T0,
        day(8),
        None,
    )


def test_a_reported_reaction_is_submitted_to_the_authority():
    report = given()

    report.submit("TFDA", day(3), **ACTOR)

    (event,) = report.collect_events()
    assert isinstance(event, AdverseEvent.SubmittedToAuthority)
    assert (event.authority, event.submitted_at, event.occurred_at, event.actor) == (
        "TFDA",
        day(3),
        day(3),
        "pv-officer",
    )
    assert report.submitted_at == day(3)


def test_a_reaction_is_submitted_only_once():
    report = given(submitted(day(3)))

    error = refused(report, "TFDA", day(4))

    assert day(3).isoformat() in error.message


def test_a_reaction_is_not_submitted_before_the_reporter_became_aware_of_it():
    report = given()

    refused(report, "TFDA", T0 - timedelta(microseconds=1))
    # The same instant written in Taipei time is not earlier.
    report.submit("TFDA", T0.astimezone(TAIPEI), **ACTOR)
    assert report.submitted_at == T0


def test_a_submission_after_the_deadline_is_still_recorded():
    report = given()

    report.submit("TFDA", day(30), **ACTOR)

    assert report.submitted_at is not None
    assert report.submitted_at > report.reporting_deadline
