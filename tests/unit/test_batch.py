"""The Batch aggregate on its own, without any I/O: given past events, when a command, then events.

``given(*history)`` starts a batch at a spoke and applies past events to it as recorded facts
(not through the commands under test), leaving no pending events. ``batch_in(state)`` gives a
batch in each state of its life, with business times one day apart:

    day 0 started at the spoke, day 0-1 a step, day 1.5 QC, day 2 released, day 3 dispatched to
    the hospital, day 4 received there, day 5 administered.
"""

from __future__ import annotations

from copy import deepcopy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.batch import Batch, BatchStatus, Receipt
from domain.shared import RuleViolationError

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
ACTOR = {"actor": "dr-lin-qp", "actor_role": "qualified_person"}
KEY = "CART-26001"
CTRL, SPOKE, LAB, HOSPITAL, OTHER_HOSPITAL = "TW-CTRL", "TW-MU-1", "TW-LAB", "TW-MI-1", "TW-MI-2"
PATIENT = "PT-0001"
REQUIRED = frozenset({"STERILITY", "ENDOTOXIN", "MYCOPLASMA"})

History = tuple[type[Batch.Event], dict[str, Any]]


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


# ----------------------------------------------------------------------------- given / when


def step(begin: float = 0, end: float = 1, site: str = SPOKE) -> History:
    return Batch.StepRecorded, step_fields(day(begin), day(end), site) | {"occurred_at": day(end)}


def step_fields(started: datetime, completed: datetime, site: str = SPOKE) -> dict[str, Any]:
    return {
        "step": "Lentiviral transduction",
        "site_id": site,
        "started_at": started,
        "completed_at": completed,
        "operator": "op-7",
        "equipment": "ISOLATOR-1",
        "material_lots": ("LV-CD19-25A01",),
        "parameters": {"moi": 5},
    }


def qc(test: str, passed: bool = True, at: float = 1.5) -> History:
    return Batch.QcResultRecorded, qc_fields(test, passed, day(at)) | {"occurred_at": day(at)}


def qc_fields(test: str, passed: bool, at: datetime) -> dict[str, Any]:
    return {
        "test": test,
        "method": "Ph. Eur.",
        "specification": "spec",
        "result": "ok" if passed else "out of specification",
        "passed": passed,
        "tested_at": at,
        "laboratory_site_id": LAB,
    }


def opened(deviation: str, at: float = 1) -> History:
    return Batch.DeviationOpened, {
        "deviation_id": deviation,
        "description": "CO2 alarm",
        "occurred_at": day(at),
    }


def closed(deviation: str, at: float = 1.2) -> History:
    return Batch.DeviationClosed, {
        "deviation_id": deviation,
        "resolution": "no impact",
        "occurred_at": day(at),
    }


def released(at: float = 2) -> History:
    return Batch.Released, {
        "signature_meaning": "certified",
        "released_at": day(at),
        "qualified_person": "dr-lin-qp",
        # frozen at release: the product's shelf life from the end of manufacture (day 1)
        "shelf_life_days": 365,
        "expires_at": day(1 + 365),
        "occurred_at": day(at),
    }


def rejected(at: float = 2) -> History:
    return Batch.Rejected, {"reason": "sterility failure", "occurred_at": day(at)}


def destroyed(at: float = 2.5, site: str = SPOKE) -> History:
    return Batch.Destroyed, {"reason": "incinerated", "site_id": site, "occurred_at": day(at)}


def dispatched(
    at: float = 3, shipment: str = "SHP-1", frm: str = SPOKE, to: str = HOSPITAL
) -> History:
    return Batch.Dispatched, {
        "shipment_id": shipment,
        "from_site_id": frm,
        "to_site_id": to,
        "dispatched_at": day(at),
        "occurred_at": day(at),
    }


def received(
    at: float = 4, shipment: str = "SHP-1", site: str = HOSPITAL, acceptable: bool = True
) -> History:
    return Batch.Received, {
        "shipment_id": shipment,
        "site_id": site,
        "received_at": day(at),
        "condition_acceptable": acceptable,
        "occurred_at": day(at),
    }


def administered(at: float = 5) -> History:
    return Batch.Administered, {
        "site_id": HOSPITAL,
        "patient_code": PATIENT,
        "administered_at": day(at),
        "identity_verified": True,
        "occurred_at": day(at),
    }


def created() -> Batch:
    return Batch.create(
        batch_id=KEY,
        product="CART-CD19-AUTO",
        donation_id="T041725000001",
        patient_code=PATIENT,
        control_site_id=CTRL,
        site_id=SPOKE,
        started_at=T0,
        occurred_at=T0,
        **ACTOR,
    )


def given(*history: History) -> Batch:
    batch = created()
    for event_cls, fields in history:
        batch.trigger_event(event_cls, **fields, **ACTOR)
    batch.collect_events()
    return batch


PASSED = tuple(qc(t) for t in sorted(REQUIRED))
STATES: dict[str, tuple[History, ...]] = {
    "IN_PROCESS": (step(),),
    "RELEASED": (step(), *PASSED, released()),
    "REJECTED": (step(), rejected()),
    "REJECTED after release": (step(), *PASSED, released(), rejected(2.5)),
    "DESTROYED": (step(), destroyed()),
    "in transit": (step(), *PASSED, released(), dispatched()),
    "received": (step(), *PASSED, released(), dispatched(), received()),
    "ADMINISTERED": (step(), *PASSED, released(), dispatched(), received(), administered()),
}
STATUS = {
    "IN_PROCESS": BatchStatus.IN_PROCESS,
    "RELEASED": BatchStatus.RELEASED,
    "REJECTED": BatchStatus.REJECTED,
    "REJECTED after release": BatchStatus.REJECTED,
    "DESTROYED": BatchStatus.DESTROYED,
    "in transit": BatchStatus.DISTRIBUTED,
    "received": BatchStatus.DISTRIBUTED,
    "ADMINISTERED": BatchStatus.ADMINISTERED,
}


def batch_in(state: str) -> Batch:
    batch = given(*STATES[state])
    assert batch.status is STATUS[state]
    return batch


def other_than(*states: str) -> list[str]:
    return [s for s in STATES if s not in states]


def refused(batch: Batch, call, *args: Any, **kwargs: Any) -> RuleViolationError:
    before = (
        batch.version,
        batch.status,
        deepcopy(batch.qc),
        dict(batch.deviations),
        batch.location,
    )
    with pytest.raises(RuleViolationError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == "RULE_VIOLATION"
    assert caught.value.details["batch_id"] == KEY
    assert batch.collect_events() == []
    assert (batch.version, batch.status, batch.qc, batch.deviations, batch.location) == before
    return caught.value


def record_step(batch: Batch, started: datetime, completed: datetime, site: str = SPOKE) -> None:
    batch.record_step(**step_fields(started, completed, site), **ACTOR)


def record_qc(batch: Batch, test: str = "STERILITY", passed: bool = True, at: float = 1.6) -> None:
    batch.record_qc_result(**qc_fields(test, passed, day(at)), **ACTOR)


def now(at: float) -> dict[str, Any]:
    return {"occurred_at": day(at), **ACTOR}


# ----------------------------------------------------------------------------------- creation


def test_a_started_batch_is_in_process_at_its_starting_site():
    batch = created()

    (event,) = batch.collect_events()
    assert isinstance(event, Batch.Started)
    assert (event.product, event.donation_id, event.patient_code, event.control_site_id) == (
        "CART-CD19-AUTO",
        "T041725000001",
        PATIENT,
        CTRL,
    )
    assert batch.status is BatchStatus.IN_PROCESS
    assert (batch.location, batch.sites, batch.in_transit) == (SPOKE, {SPOKE}, None)
    assert batch.release_blockers(frozenset(), day(1)) == []


# -------------------------------------------------------------------------------------- steps


def test_a_step_is_recorded_on_a_batch_in_process_and_moves_it_to_the_step_site():
    batch = given()

    record_step(batch, day(0.5), day(1), site="TW-MU-2")

    (event,) = batch.collect_events()
    assert isinstance(event, Batch.StepRecorded)
    assert (event.step, event.site_id, event.occurred_at, event.material_lots) == (
        "Lentiviral transduction",
        "TW-MU-2",
        day(1),
        ("LV-CD19-25A01",),
    )
    assert batch.sites == {SPOKE, "TW-MU-2"}
    assert batch.location == "TW-MU-2"


@pytest.mark.parametrize("state", other_than("IN_PROCESS"))
def test_no_step_is_recorded_on_a_batch_that_is_not_in_process(state):
    batch = batch_in(state)

    error = refused(batch, record_step, batch, day(6), day(7))

    assert error.details["status"] == batch.status.value


def test_no_step_starts_before_the_batch_started():
    batch = given()

    refused(batch, record_step, batch, T0 - timedelta(microseconds=1), day(1))

    record_step(batch, T0, day(1))
    assert len(batch.collect_events()) == 1


# ----------------------------------------------------------------------------------------- QC


@pytest.mark.parametrize("state", ["IN_PROCESS", "RELEASED"])
def test_qc_results_are_recorded_in_process_and_after_release(state):
    batch = batch_in(state)

    record_qc(batch, "potency", passed=False, at=2.5)

    (event,) = batch.collect_events()
    assert isinstance(event, Batch.QcResultRecorded)
    assert (event.test, event.passed, event.occurred_at) == ("potency", False, day(2.5))
    assert batch.qc_outcome("POTENCY", day(2.5)) is False
    assert batch.qc_outcome("POTENCY", day(2.4)) is None
    assert LAB in batch.sites


@pytest.mark.parametrize("state", other_than("IN_PROCESS", "RELEASED"))
def test_no_qc_result_is_recorded_in_any_other_state(state):
    batch = batch_in(state)

    refused(batch, record_qc, batch, at=6)


def test_no_qc_sample_is_tested_before_the_batch_started():
    batch = given()

    refused(batch, record_qc, batch, at=-0.1)


# --------------------------------------------------------------------------------- deviations


def test_a_deviation_is_opened_and_closed():
    batch = given(step())

    batch.open_deviation("DEV-1", "CO2 alarm", **now(1))
    batch.close_deviation("DEV-1", "no impact on product", **now(1.2))

    opened_event, closed_event = batch.collect_events()
    assert isinstance(opened_event, Batch.DeviationOpened)
    assert isinstance(closed_event, Batch.DeviationClosed)
    assert (closed_event.deviation_id, closed_event.resolution) == (
        "DEV-1",
        "no impact on product",
    )
    assert batch.deviations == {"DEV-1": False}
    assert batch.open_deviations == []


@pytest.mark.parametrize(
    "history", [(opened("DEV-1"),), (opened("DEV-1"), closed("DEV-1"))], ids=["open", "closed"]
)
def test_a_deviation_id_is_recorded_once_per_batch(history):
    batch = given(*history)

    refused(batch, batch.open_deviation, "DEV-1", "again", **now(2))


@pytest.mark.parametrize(
    ("history", "state_word"),
    [((), "not recorded"), ((opened("DEV-1"), closed("DEV-1")), "already closed")],
    ids=["never opened", "already closed"],
)
def test_only_an_open_deviation_is_closed(history, state_word):
    batch = given(*history)

    error = refused(batch, batch.close_deviation, "DEV-1", "done", **now(2))

    assert state_word in error.message


@pytest.mark.parametrize("state", ["REJECTED", "DESTROYED", "ADMINISTERED"])
def test_no_deviation_is_opened_on_a_batch_whose_life_has_ended(state):
    batch = batch_in(state)

    refused(batch, batch.open_deviation, "DEV-9", "late", **now(6))


@pytest.mark.parametrize("state", ["IN_PROCESS", "RELEASED", "received"])
def test_a_deviation_may_be_opened_while_the_batch_is_still_live(state):
    batch = batch_in(state)

    batch.open_deviation("DEV-9", "found on review", **now(6))

    assert batch.open_deviations == ["DEV-9"]


# ---------------------------------------------------------------------------- release blockers


def test_release_blockers_list_missing_and_failed_tests_and_open_deviations():
    batch = given(
        step(),
        qc("STERILITY", passed=False),
        qc("ENDOTOXIN"),
        opened("DEV-2"),
        opened("DEV-1"),
        opened("DEV-3"),
        closed("DEV-3"),
    )

    reasons = batch.release_blockers(REQUIRED, day(2))

    assert reasons == [
        "required QC results missing: MYCOPLASMA",
        "required QC tests not passed: STERILITY",
        "deviations still open: DEV-1, DEV-2",
    ]


def test_release_blockers_are_empty_once_every_required_test_passed_and_deviations_closed():
    batch = given(step(), *PASSED, opened("DEV-1"), closed("DEV-1"), qc("POTENCY", False))

    assert batch.release_blockers(REQUIRED, day(2)) == []
    assert batch.release_blockers(REQUIRED | {"POTENCY"}, day(2)) == [
        "required QC tests not passed: POTENCY"
    ]


def test_release_blockers_match_test_names_whatever_their_case():
    batch = given(*(qc(t.lower()) for t in REQUIRED))

    assert batch.release_blockers(REQUIRED, day(2)) == []


def test_release_blockers_name_every_missing_test():
    batch = given()

    (reason,) = batch.release_blockers(REQUIRED, day(2))

    assert reason == "required QC results missing: ENDOTOXIN, MYCOPLASMA, STERILITY"


def test_release_blockers_count_only_results_obtained_by_the_release_time():
    batch = given(step(), qc("STERILITY", at=1.5), qc("ENDOTOXIN", at=1.5), qc("MYCOPLASMA", at=3))

    assert batch.release_blockers(REQUIRED, day(2)) == ["required QC results missing: MYCOPLASMA"]
    assert batch.release_blockers(REQUIRED, day(3)) == []


def test_the_latest_result_of_a_test_obtained_by_then_is_the_one_that_counts():
    batch = given(step(), *PASSED, qc("STERILITY", passed=False, at=1.8))

    assert batch.qc_outcome("STERILITY", day(1.6)) is True
    assert batch.qc_outcome("STERILITY", day(2)) is False
    assert batch.release_blockers(REQUIRED, day(2)) == ["required QC tests not passed: STERILITY"]


# ------------------------------------------------------------------------------------ release


def test_a_batch_in_process_is_released_by_the_signing_qp():
    batch = given(step(), *PASSED)

    batch.release("I certify this batch", day(2), actor="dr-wu-qp", actor_role="qualified_person")

    (event,) = batch.collect_events()
    assert isinstance(event, Batch.Released)
    assert (event.qualified_person, event.signature_meaning, event.released_at) == (
        "dr-wu-qp",
        "I certify this batch",
        day(2),
    )
    assert (batch.status, batch.released_at) == (BatchStatus.RELEASED, day(2))


@pytest.mark.parametrize("state", other_than("IN_PROCESS"))
def test_only_a_batch_in_process_is_released(state):
    batch = batch_in(state)

    refused(batch, batch.release, "certified", day(6), **ACTOR)


# -------------------------------------------------------------------- rejection and destruction


@pytest.mark.parametrize("state", ["IN_PROCESS", "RELEASED"])
def test_a_batch_in_process_or_released_is_rejected(state):
    batch = batch_in(state)

    batch.reject("sterility failure", **now(6))

    (event,) = batch.collect_events()
    assert isinstance(event, Batch.Rejected)
    assert batch.status is BatchStatus.REJECTED


@pytest.mark.parametrize("state", other_than("IN_PROCESS", "RELEASED"))
def test_a_batch_in_transit_delivered_or_finished_is_not_rejected(state):
    batch = batch_in(state)

    refused(batch, batch.reject, "too late", **now(6))


def test_a_batch_in_transit_is_not_rejected():
    batch = batch_in("in transit")

    refused(batch, batch.reject, "courier lost it", **now(3.5))


@pytest.mark.parametrize(
    ("state", "where"),
    [
        ("IN_PROCESS", SPOKE),
        ("RELEASED", SPOKE),
        ("REJECTED", SPOKE),
        ("REJECTED after release", SPOKE),
        ("received", HOSPITAL),
    ],
)
def test_a_batch_is_destroyed_where_it_is_until_it_is_administered(state, where):
    batch = batch_in(state)

    batch.destroy("expired", **now(6))

    (event,) = batch.collect_events()
    assert isinstance(event, Batch.Destroyed)
    assert event.site_id == where
    assert batch.status is BatchStatus.DESTROYED


@pytest.mark.parametrize("state", ["ADMINISTERED", "DESTROYED", "in transit"])
def test_a_batch_administered_destroyed_or_in_transit_is_not_destroyed(state):
    batch = batch_in(state)

    refused(batch, batch.destroy, "cleanup", **now(6))


# ----------------------------------------------------------------------------------- dispatch


def test_a_released_batch_is_dispatched_from_the_site_holding_it():
    batch = batch_in("RELEASED")

    batch.dispatch("SHP-1", SPOKE, HOSPITAL, day(3), **ACTOR)

    (event,) = batch.collect_events()
    assert isinstance(event, Batch.Dispatched)
    assert (event.shipment_id, event.from_site_id, event.to_site_id, event.occurred_at) == (
        "SHP-1",
        SPOKE,
        HOSPITAL,
        day(3),
    )
    assert (batch.status, batch.in_transit) == (BatchStatus.DISTRIBUTED, "SHP-1")


def test_a_received_batch_is_dispatched_onwards_from_where_it_was_received():
    batch = batch_in("received")

    batch.dispatch("SHP-2", HOSPITAL, OTHER_HOSPITAL, day(4.5), **ACTOR)

    assert (batch.status, batch.in_transit) == (BatchStatus.DISTRIBUTED, "SHP-2")


@pytest.mark.parametrize("state", ["IN_PROCESS", "REJECTED", "DESTROYED", "ADMINISTERED"])
def test_only_a_released_or_distributed_batch_is_dispatched(state):
    batch = batch_in(state)

    refused(batch, batch.dispatch, "SHP-9", SPOKE, HOSPITAL, day(6), **ACTOR)


def test_a_batch_in_transit_is_not_dispatched_again():
    batch = batch_in("in transit")

    error = refused(batch, batch.dispatch, "SHP-2", SPOKE, OTHER_HOSPITAL, day(3.5), **ACTOR)

    assert "SHP-1" in error.message


@pytest.mark.parametrize(("state", "elsewhere"), [("RELEASED", HOSPITAL), ("received", SPOKE)])
def test_a_batch_is_dispatched_only_from_the_site_holding_it(state, elsewhere):
    batch = batch_in(state)

    refused(batch, batch.dispatch, "SHP-9", elsewhere, OTHER_HOSPITAL, day(6), **ACTOR)


def test_a_batch_is_not_dispatched_before_its_release():
    batch = batch_in("RELEASED")

    refused(batch, batch.dispatch, "SHP-1", SPOKE, HOSPITAL, day(2) - timedelta(seconds=1), **ACTOR)

    batch.dispatch("SHP-1", SPOKE, HOSPITAL, day(2), **ACTOR)
    assert batch.in_transit == "SHP-1"


def test_a_batch_is_not_dispatched_onwards_before_it_was_received():
    batch = batch_in("received")

    refused(batch, batch.dispatch, "SHP-2", HOSPITAL, OTHER_HOSPITAL, day(3.9), **ACTOR)


# ------------------------------------------------------------------------------------ receipt


def test_a_received_batch_is_at_the_receiving_site_and_no_longer_in_transit():
    batch = batch_in("in transit")

    batch.receive("SHP-1", HOSPITAL, day(4), False, **ACTOR)

    (event,) = batch.collect_events()
    assert isinstance(event, Batch.Received)
    assert (event.shipment_id, event.site_id, event.condition_acceptable) == (
        "SHP-1",
        HOSPITAL,
        False,
    )
    assert (batch.in_transit, batch.location, batch.last_moved_at) == (None, HOSPITAL, day(4))
    assert batch.receipts == [Receipt("SHP-1", HOSPITAL, day(4), False)]
    assert batch.received_at_site(HOSPITAL) == Receipt("SHP-1", HOSPITAL, day(4), False)


def test_a_receipt_counts_only_while_the_batch_is_still_at_that_site():
    batch = given(
        *STATES["received"],
        dispatched(4.5, "SHP-2", HOSPITAL, OTHER_HOSPITAL),
    )
    assert batch.received_at_site(HOSPITAL) is None
    assert batch.received_at_site(OTHER_HOSPITAL) is None

    batch.receive("SHP-2", OTHER_HOSPITAL, day(4.8), True, **ACTOR)

    assert batch.received_at_site(HOSPITAL) is None
    assert batch.received_at_site(OTHER_HOSPITAL) == Receipt(
        "SHP-2", OTHER_HOSPITAL, day(4.8), True
    )


# ----------------------------------------------------------------------------- administration


def test_a_received_batch_is_administered_to_its_patient_at_that_institution():
    batch = batch_in("received")

    batch.administer(HOSPITAL, PATIENT, day(5), True, **ACTOR)

    (event,) = batch.collect_events()
    assert isinstance(event, Batch.Administered)
    assert (event.site_id, event.patient_code, event.identity_verified, event.occurred_at) == (
        HOSPITAL,
        PATIENT,
        True,
        day(5),
    )
    assert batch.status is BatchStatus.ADMINISTERED


@pytest.mark.parametrize(
    "state", ["IN_PROCESS", "RELEASED", "REJECTED", "DESTROYED", "ADMINISTERED"]
)
def test_only_a_distributed_batch_is_administered(state):
    batch = batch_in(state)

    refused(batch, batch.administer, HOSPITAL, PATIENT, day(6), True, **ACTOR)


def test_a_batch_still_in_transit_is_not_administered():
    batch = batch_in("in transit")

    refused(batch, batch.administer, HOSPITAL, PATIENT, day(3.5), True, **ACTOR)


def test_a_batch_is_administered_only_at_the_institution_that_received_it():
    batch = batch_in("received")

    error = refused(batch, batch.administer, OTHER_HOSPITAL, PATIENT, day(5), True, **ACTOR)

    assert OTHER_HOSPITAL in error.message


def test_a_batch_received_in_unacceptable_condition_is_not_administered():
    batch = given(*STATES["in transit"], received(acceptable=False))

    refused(batch, batch.administer, HOSPITAL, PATIENT, day(5), True, **ACTOR)


@pytest.mark.parametrize(
    ("patient", "verified"),
    [("PT-0002", True), ("pt-0001", True), (PATIENT, False), ("PT-0002", False)],
)
def test_administration_needs_the_batch_s_patient_and_a_verified_identity(patient, verified):
    batch = batch_in("received")

    error = refused(batch, batch.administer, HOSPITAL, patient, day(5), verified, **ACTOR)

    assert "chain-of-identity" in error.message


def test_a_batch_is_not_administered_before_it_was_received():
    batch = batch_in("received")

    refused(
        batch, batch.administer, HOSPITAL, PATIENT, day(4) - timedelta(seconds=1), True, **ACTOR
    )

    batch.administer(HOSPITAL, PATIENT, day(4), True, **ACTOR)
    assert batch.status is BatchStatus.ADMINISTERED


# ------------------------------------------------------------------------------------ recalls


def recalled(recall: str = "RCL-1", at: float = 2.5) -> History:
    return Batch.Recalled, {"recall_id": recall, "occurred_at": day(at)}


@pytest.mark.parametrize("state", ["IN_PROCESS", "RELEASED", "received"])
def test_a_recall_marks_a_live_batch_once(state):
    batch = given(*STATES[state])

    batch.mark_recalled("RCL-1", **now(6))
    batch.mark_recalled("RCL-1", **now(6.5))

    (event,) = batch.collect_events()
    assert isinstance(event, Batch.Recalled)
    assert batch.recalls == ["RCL-1"]


@pytest.mark.parametrize("state", ["REJECTED", "DESTROYED"])
def test_a_recall_does_not_mark_a_batch_that_no_longer_exists(state):
    batch = batch_in(state)

    batch.mark_recalled("RCL-1", **now(6))

    assert batch.collect_events() == []
    assert batch.recalls == []


def test_a_recalled_batch_is_not_released():
    batch = given(step(), *PASSED, recalled())

    refused(batch, batch.release, "certified", day(3), **ACTOR)


def test_a_recalled_batch_is_not_dispatched():
    batch = given(*STATES["RELEASED"], recalled())

    refused(batch, batch.dispatch, "SHP-1", SPOKE, HOSPITAL, day(3), **ACTOR)


def test_a_recalled_batch_is_not_administered():
    batch = given(*STATES["received"], recalled(at=4.5))

    error = refused(batch, batch.administer, HOSPITAL, PATIENT, day(5), True, **ACTOR)

    assert "RCL-1" in error.message
