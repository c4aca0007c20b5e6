"""Every rule of the donor-to-patient chain, on SQLite and PostgreSQL: a clear error, no change.

Each refusal is checked for its error class, its ``code`` (what partner systems receive) and an
unchanged ledger (events, and every projection table alike). Most refusals are paired with the
same command succeeding once the one thing wrong is put right, so the refusal is known to come
from the rule under test. The chain is built by ``tests/integration/chain.py`` (its docstring
gives the timeline: business times are hours after a base 30 days ago).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, time, timedelta, timezone
from typing import Any

import pytest

from domain.adverse_event import AdverseEvent
from domain.batch import Batch, BatchStatus
from domain.donation import Donation
from domain.shared import (
    BadInputError,
    ConflictError,
    DomainError,
    NotFoundError,
    RuleViolationError,
    SiteNotActiveError,
    utcnow,
)
from domain.shipment import Shipment
from projections.chain import find_batches
from projections.sql import Dialect
from tests.conftest import ledger_size
from tests.integration import chain as c
from tests.integration.chain import (
    ANALYST,
    BATCH,
    CLINIC,
    COURIER,
    CTRL,
    DONOR,
    HOSPITAL,
    LAB,
    LOT,
    OPERATOR,
    PATIENT,
    PHYSICIAN,
    QP,
    SCREENING,
    SHIPMENT,
    SPOKE,
    Chain,
)

TAIPEI = timezone(timedelta(hours=8))


# ----------------------------------------------------------------------------------- helpers


def snapshot(service) -> dict[str, int]:
    """Row counts of every table: a refused command leaves every one of them as it was."""
    with service.read() as sql:
        if sql.dialect is Dialect.SQLITE:
            tables = sql.all(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        else:
            tables = sql.all(
                "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()"
            )
        return {t["name"]: int(sql.scalar(f'SELECT COUNT(*) FROM "{t["name"]}"')) for t in tables}


def refused(service, error: type[DomainError], code: str, call, *args, **kwargs) -> DomainError:
    events_before, tables_before = ledger_size(service), snapshot(service)
    head_before = service.app.head_position()
    with pytest.raises(error) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value.message
    assert ledger_size(service) == events_before
    assert snapshot(service) == tables_before
    assert service.app.head_position() == head_before
    return caught.value


def rule_violation(service, call, *args, **kwargs) -> DomainError:
    return refused(service, RuleViolationError, "RULE_VIOLATION", call, *args, **kwargs)


def stored(service, call, *args, **kwargs) -> Any:
    """The command succeeds and adds to the ledger."""
    before = ledger_size(service)
    result = call(*args, **kwargs)
    assert ledger_size(service) > before
    return result


def batch_view(ch: Chain, batch_id: str = BATCH, position: int | None = None):
    with ch.service.read() as sql:
        at = ch.app.head_position() if position is None else position
        views = find_batches(sql, at, batch_ids=[batch_id], reach=None)
    return views[0] if views else None


def batch_of(ch: Chain, batch_id: str = BATCH) -> Batch:
    batch = ch.app.repository.get(Batch.ledger_id(batch_id))
    assert isinstance(batch, Batch)
    return batch


def register_hospital(ch: Chain, site_id: str = "TW-MI-2") -> str:
    c.register_site(ch, site_id, "MEDICAL_INSTITUTION", 1)
    c.activate(ch, site_id, 2)
    return site_id


def withdraw(ch: Chain, at: float, donor: str = DONOR):
    return ch.app.donors.withdraw_consent(CLINIC, donor, "donor withdrew consent", ch.at(at))


def revoke(ch: Chain, donor: str = DONOR):
    return ch.app.donors.revoke_eligibility(PHYSICIAN, donor, "look-back: HCV NAT positive")


# ------------------------------------------------------------------- donations: consent first


@pytest.mark.parametrize("donation_type", ["AUTOLOGOUS", "ALLOGENEIC"])
def test_no_donation_from_a_donor_who_never_gave_consent(service, donation_type):
    ch = c.prepared(service)
    c.donor(ch, "DNR-0002", consent=None)

    error = rule_violation(
        service, c.record_donation, ch, c.din(2), "DNR-0002", donation_type=donation_type
    )

    assert "consent" in error.message
    assert not service.app.exists(Donation, c.din(2))


@pytest.mark.parametrize("donation_type", ["AUTOLOGOUS", "ALLOGENEIC"])
def test_no_donation_acquired_after_consent_was_withdrawn(service, donation_type):
    ch = c.prepared(service)
    withdraw(ch, 5.5)

    error = rule_violation(service, c.record_donation, ch, donation_type=donation_type, at=6)

    assert "consent" in error.message
    # Cells taken while consent still stood are recorded, even after the withdrawal.
    stored(service, c.record_donation, ch, donation_type=donation_type, at=5.2)


def test_no_donation_acquired_before_consent_was_signed(service):
    ch = c.prepared(service)

    error = rule_violation(service, c.record_donation, ch, donation_type="AUTOLOGOUS", at=3.5)

    assert "consent" in error.message


def test_a_donation_after_a_new_consent_is_recorded(service):
    ch = c.prepared(service)
    withdraw(ch, 5.5)
    service.app.donors.record_consent(CLINIC, DONOR, "ICF-2", ch.at(5.8))

    stored(service, c.record_donation, ch, at=6)

    rule_violation(service, c.record_donation, ch, c.din(2), at=5.6)


# ------------------------------------------------------------ donations: allogeneic eligibility


def revoked_donor(ch: Chain, code: str) -> None:
    c.donor(ch, code)
    revoke(ch, code)


ELIGIBILITY_CASES: dict[str, Callable[[Chain], None]] = {
    "none": lambda ch: c.donor(ch, "DNR-0002", eligibility=None),
    "INELIGIBLE": lambda ch: c.donor(ch, "DNR-0002", eligibility="INELIGIBLE"),
    "revoked": lambda ch: revoked_donor(ch, "DNR-0002"),
    "determined after acquisition": lambda ch: c.donor(ch, "DNR-0002", determined=6.5),
}


@pytest.mark.parametrize("case", list(ELIGIBILITY_CASES))
def test_no_allogeneic_donation_without_an_eligible_unrevoked_determination(service, case):
    ch = c.prepared(service)
    ELIGIBILITY_CASES[case](ch)

    error = rule_violation(
        service, c.record_donation, ch, c.din(2), "DNR-0002", donation_type="ALLOGENEIC", at=6
    )

    assert "ELIGIBLE" in error.message


@pytest.mark.parametrize("case", list(ELIGIBILITY_CASES))
def test_an_autologous_donation_needs_consent_but_no_eligibility(service, case):
    ch = c.prepared(service)
    ELIGIBILITY_CASES[case](ch)

    result = stored(
        service, c.record_donation, ch, c.din(2), "DNR-0002", donation_type="AUTOLOGOUS", at=6
    )

    assert result.aggregate_id == Donation.ledger_id(c.din(2))


# -------------------------------------------------------------------- donations: the site


def test_no_donation_at_a_site_suspended_at_acquisition(service):
    ch = c.prepared(service)
    c.suspend(ch, SPOKE, 5.5)

    error = refused(
        service, SiteNotActiveError, "RULE_VIOLATION", c.record_donation, ch, site=SPOKE, at=6
    )

    assert error.details["site_id"] == SPOKE
    stored(service, c.record_donation, ch, site=SPOKE, at=5.2)


def test_no_donation_at_a_spoke_whose_control_site_was_suspended_at_acquisition(service):
    ch = c.prepared(service)
    c.suspend(ch, CTRL, 5.5)
    c.reinstate(ch, CTRL, 6.5)

    error = refused(
        service, SiteNotActiveError, "RULE_VIOLATION", c.record_donation, ch, site=SPOKE, at=6
    )

    assert CTRL in error.message
    stored(service, c.record_donation, ch, site=SPOKE, at=7)


def test_no_donation_at_a_site_never_activated(service):
    ch = c.prepared(service)
    c.register_site(ch, "TW-MI-2", "MEDICAL_INSTITUTION", 1)

    refused(service, SiteNotActiveError, "RULE_VIOLATION", c.record_donation, ch, site="TW-MI-2")


# ------------------------------------------------------------ donations: ISBT 128 identifiers


def test_a_din_with_a_wrong_check_character_is_bad_input(service):
    ch = c.prepared(service)
    right = c.din_with_check(1)
    wrong = right[:-1] + ("0" if right[-1] != "0" else "1")

    error = refused(service, BadInputError, "BAD_INPUT", c.record_donation, ch, wrong)

    assert error.details["field"] == "donationId"
    assert error.details["expected"] == right[-1]
    stored(service, c.record_donation, ch, right)


def din_forms(n: int) -> dict[str, str]:
    bare, with_check = c.din(n), c.din_with_check(n)
    flag = 60 + "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*".index(with_check[-1])
    return {"13": bare, "14": with_check, "15": f"{bare}{flag}", "lower": with_check.lower()}


@pytest.mark.parametrize(
    ("first", "second"), [("13", "14"), ("14", "13"), ("13", "15"), ("15", "14"), ("14", "lower")]
)
def test_one_din_written_with_and_without_its_check_character_is_one_donation(
    service, first, second
):
    ch = c.prepared(service)
    forms = din_forms(1)
    result = c.record_donation(ch, forms[first])
    assert result.aggregate_id == Donation.ledger_id(c.din(1))

    refused(service, ConflictError, "CONFLICT", c.record_donation, ch, forms[second])


def test_a_local_donation_identifier_is_kept_as_given_and_recorded_once(service):
    ch = c.prepared(service)
    c.record_donation(ch, "NTUH-APH-2025-0042")

    refused(service, ConflictError, "CONFLICT", c.record_donation, ch, "NTUH-APH-2025-0042")
    assert service.app.exists(Donation, "NTUH-APH-2025-0042")


def test_a_batch_names_its_donation_in_any_written_form_of_the_din(service):
    ch = c.prepared(service)
    c.record_donation(ch, c.din(1))

    c.start_batch(ch, donation_id=din_forms(1)["15"])

    assert batch_of(ch).donation_id == c.din(1)


def test_a_donation_type_other_than_autologous_or_allogeneic_is_bad_input(service):
    ch = c.prepared(service)

    refused(service, BadInputError, "BAD_INPUT", c.record_donation, ch, donation_type="XENOGENEIC")


# ----------------------------------------------------------------------------- donor commands


def test_consent_with_a_legal_representative_must_be_notarised(service):
    ch = c.prepared(service)
    service.app.donors.register_donor(CLINIC, "DNR-0002")

    rule_violation(
        service,
        service.app.donors.record_consent,
        CLINIC,
        "DNR-0002",
        "ICF-2",
        ch.at(4),
        legal_representative="parent",
        notarised=False,
    )
    stored(
        service,
        service.app.donors.record_consent,
        CLINIC,
        "DNR-0002",
        "ICF-2",
        ch.at(4),
        legal_representative="parent",
        notarised=True,
    )


def test_a_donor_with_standing_consent_gets_no_second_one(service):
    ch = c.prepared(service)

    rule_violation(service, service.app.donors.record_consent, CLINIC, DONOR, "ICF-2", ch.at(5))


def test_consent_is_withdrawn_only_if_it_stands_and_not_before_it_was_signed(service):
    ch = c.prepared(service)
    c.donor(ch, "DNR-0002", consent=None, eligibility=None)

    rule_violation(service, withdraw, ch, 5, "DNR-0002")
    rule_violation(service, withdraw, ch, 3.5)
    stored(service, withdraw, ch, 4)
    rule_violation(service, withdraw, ch, 5)


def test_an_eligible_determination_with_reactive_or_missing_screening_is_refused(service):
    ch = c.prepared(service)
    reactive = [{**s, "reactive": s["test"] == "HCV"} for s in SCREENING]
    missing = [s for s in SCREENING if s["test"] != "HBV"]
    determine = service.app.donors.determine_eligibility

    for screening in (reactive, missing):
        rule_violation(service, determine, PHYSICIAN, DONOR, "ELIGIBLE", "v2", screening, ch.at(6))
    stored(service, determine, PHYSICIAN, DONOR, "INELIGIBLE", "v2", reactive, ch.at(6))


@pytest.mark.parametrize(
    ("outcome", "screening"),
    [("ELIGIBLE", []), ("MAYBE", SCREENING), ("eligible", SCREENING)],
)
def test_an_eligibility_determination_needs_a_known_outcome_and_its_screening(
    service, outcome, screening
):
    ch = c.prepared(service)

    refused(
        service,
        BadInputError,
        "BAD_INPUT",
        service.app.donors.determine_eligibility,
        PHYSICIAN,
        DONOR,
        outcome,
        "v2",
        screening,
        ch.at(6),
    )


def test_only_a_standing_eligible_determination_is_revoked(service):
    ch = c.prepared(service)
    c.donor(ch, "DNR-0002", eligibility="INELIGIBLE")
    c.donor(ch, "DNR-0003", eligibility=None)

    rule_violation(service, revoke, ch, "DNR-0002")
    rule_violation(service, revoke, ch, "DNR-0003")
    stored(service, revoke, ch)
    rule_violation(service, revoke, ch)


# ------------------------------------------------------------------------------ material lots


def test_a_lot_is_received_only_at_a_site_active_at_that_time(service):
    ch = c.prepared(service)
    c.suspend(ch, SPOKE, 3.5)

    refused(service, SiteNotActiveError, "RULE_VIOLATION", c.material_lot, ch, "LOT-2", received=4)
    stored(service, c.material_lot, ch, "LOT-2", received=3.2, release=False)


def test_a_lot_cannot_expire_before_it_was_received(service):
    ch = c.prepared(service)

    rule_violation(service, c.material_lot, ch, "LOT-2", received=4, expires=3.5, release=False)


def test_a_lot_is_released_once_and_rejected_once(service):
    c.prepared(service)

    rule_violation(service, service.app.batches.release_material_lot, QP, LOT)
    stored(service, service.app.batches.reject_material_lot, QP, LOT, "supplier recall")
    rule_violation(service, service.app.batches.reject_material_lot, QP, LOT, "again")
    rule_violation(service, service.app.batches.release_material_lot, QP, LOT)


# ------------------------------------------------------------------------------ starting batches


def test_a_batch_is_not_started_before_its_donation_was_acquired(service):
    ch = c.prepared(service)
    c.record_donation(ch, at=6)

    rule_violation(service, c.start_batch, ch, at=5.9)
    stored(service, c.start_batch, ch, at=6)


def test_a_batch_is_not_started_from_a_donor_whose_consent_was_withdrawn_by_then(service):
    ch = c.prepared(service)
    c.record_donation(ch, at=6)
    withdraw(ch, 6.5)

    error = rule_violation(service, c.start_batch, ch, at=7)

    assert "consent" in error.message


def test_an_allogeneic_batch_is_not_started_once_eligibility_is_revoked(service):
    ch = c.prepared(service)
    c.record_donation(ch, at=6)
    revoke(ch)

    error = rule_violation(service, c.start_batch, ch, at=7)

    assert "ELIGIBLE" in error.message


def test_a_batch_is_started_only_under_a_control_site_at_a_site_it_controls(service):
    ch = c.prepared(service)
    c.second_control_site(ch)
    c.record_donation(ch)

    rule_violation(service, c.start_batch, ch, control=SPOKE)  # not a control site
    rule_violation(service, c.start_batch, ch, site="TW-MU-B")  # another control site's spoke
    rule_violation(service, c.start_batch, ch, site=HOSPITAL)  # answers to no control site
    stored(service, c.start_batch, ch, site="TW-MU-B", control="TW-CTRL-B")


def test_a_batch_is_not_started_at_a_site_not_active_at_that_time(service):
    ch = c.prepared(service)
    c.record_donation(ch)
    c.suspend(ch, SPOKE, 6.5)

    refused(service, SiteNotActiveError, "RULE_VIOLATION", c.start_batch, ch, at=7)


def test_a_batch_of_an_unconfigured_product_is_bad_input(service):
    ch = c.prepared(service, product="CART-CD20-AUTO")
    c.record_donation(ch)

    error = refused(service, BadInputError, "BAD_INPUT", c.start_batch, ch)

    assert error.details["field"] == "product"


# -------------------------------------------------------------------------------------- steps


def test_no_step_at_a_site_not_active_at_the_stated_time(service):
    ch = c.build(service)
    c.suspend(ch, SPOKE, 7.5)
    c.reinstate(ch, SPOKE, 9.5)

    error = refused(
        service, SiteNotActiveError, "RULE_VIOLATION", c.record_step, ch, begin=8, end=9
    )

    assert error.details["site_id"] == SPOKE
    stored(service, c.record_step, ch, begin=10, end=10.5)


def test_no_step_completed_after_its_site_was_suspended(service):
    ch = c.build(service)
    c.suspend(ch, SPOKE, 8.5)

    refused(service, SiteNotActiveError, "RULE_VIOLATION", c.record_step, ch, begin=8, end=9)
    stored(service, c.record_step, ch, begin=7.5, end=8.4)


def test_no_step_at_a_spoke_while_its_control_site_is_suspended(service):
    ch = c.build(service)
    c.suspend(ch, CTRL, 7.5)

    refused(service, SiteNotActiveError, "RULE_VIOLATION", c.record_step, ch)


def test_no_step_at_a_site_not_under_the_batch_s_control_site(service):
    ch = c.build(service)
    c.second_control_site(ch)

    for site in ("TW-MU-B", "TW-CTRL-B", HOSPITAL, LAB):
        error = rule_violation(service, c.record_step, ch, site=site)
        assert CTRL in error.message
    stored(service, c.record_step, ch, site=CTRL)


@pytest.mark.parametrize("end_of_life", ["release", "reject", "destroy"])
def test_no_step_on_a_released_rejected_or_destroyed_batch(service, end_of_life):
    ch = c.build(service, "tested")
    if end_of_life == "release":
        c.release(ch)
    elif end_of_life == "reject":
        service.app.batches.reject_batch(QP, BATCH, "out of specification")
    else:
        service.app.batches.destroy_batch(QP, BATCH, "patient died before infusion")

    error = rule_violation(service, c.record_step, ch, begin=11.5, end=12)

    assert error.details["status"] == batch_of(ch).status.value


@pytest.mark.parametrize("lot_state", ["quarantined", "rejected", "expired"])
def test_no_step_uses_a_lot_that_is_quarantined_rejected_or_expired(service, lot_state):
    ch = c.build(service)
    if lot_state == "quarantined":
        c.material_lot(ch, "LOT-2", release=False)
    elif lot_state == "rejected":
        c.material_lot(ch, "LOT-2")
        service.app.batches.reject_material_lot(QP, "LOT-2", "supplier recall")
    else:
        c.material_lot(ch, "LOT-2", expires=7.5)

    error = rule_violation(service, c.record_step, ch, lots=(LOT, "LOT-2"))

    assert error.details["lot_id"] == "LOT-2"
    stored(service, c.record_step, ch, lots=(LOT,))


def test_a_step_cannot_complete_before_it_started(service):
    ch = c.build(service)

    error = rule_violation(service, c.record_step, ch, begin=9, end=8.5)

    assert error.details["field"] == "completedAt"


def test_a_step_cannot_start_before_the_batch_started(service):
    ch = c.build(service)

    rule_violation(service, c.record_step, ch, begin=6.5, end=8)


# --------------------------------------------------------------------------- QC and deviations


def test_a_qc_result_comes_only_from_a_laboratory_active_at_testing_time(service):
    ch = c.build(service, "stepped")
    c.suspend(ch, LAB, 9.5)

    refused(service, SiteNotActiveError, "RULE_VIOLATION", c.record_qc, ch, "STERILITY")
    stored(service, c.record_qc, ch, "STERILITY", at=9.2)


def test_a_qc_sample_is_not_tested_before_the_batch_started(service):
    ch = c.build(service)

    rule_violation(service, c.record_qc, ch, "STERILITY", at=6.5)


def test_a_deviation_is_opened_once_and_closed_once(service):
    c.build(service)
    app = service.app

    rule_violation(
        service, app.batches.close_deviation, OPERATOR, BATCH, "DEV-1", "nothing to close"
    )
    stored(service, app.batches.open_deviation, OPERATOR, BATCH, "DEV-1", "CO2 alarm")
    rule_violation(service, app.batches.open_deviation, OPERATOR, BATCH, "DEV-1", "again")
    stored(service, app.batches.close_deviation, OPERATOR, BATCH, "DEV-1", "no impact")
    rule_violation(service, app.batches.close_deviation, OPERATOR, BATCH, "DEV-1", "again")


def test_no_step_spanning_a_suspension_of_its_site(service):
    # Active when the step started and again when it completed, suspended in between: the step
    # was not made at a site active at that time.
    ch = c.build(service)
    c.suspend(ch, SPOKE, 8.3)
    c.reinstate(ch, SPOKE, 8.6)

    rule_violation(service, c.record_step, ch, begin=8, end=9)
    stored(service, c.record_step, ch, begin=8.7, end=9)


# ------------------------------------------------------------------------------------ release


def test_release_is_refused_with_every_reason_at_once(service):
    ch = c.build(service, "stepped")
    failed, *missing = ch.required_tests
    c.record_qc(ch, failed, passed=False)
    service.app.batches.open_deviation(OPERATOR, BATCH, "DEV-1", "CO2 alarm during expansion")
    c.suspend(ch, LAB, 10.5)
    withdraw(ch, 10.5)
    revoke(ch)

    error = rule_violation(service, c.release, ch, at=11)

    reasons, holds = blockers_and_holds(error)
    assert reasons == [
        f"required QC results missing: {', '.join(missing)}",
        f"required QC tests not passed: {failed}",
        "deviations still open: DEV-1",
        f"site {LAB} is SUSPENDED",
        f"consent of donor {DONOR} does not stand",
        f"eligibility of donor {DONOR} was revoked",
    ]
    # The failed result and the donor's look-back facts are also holds (domain/holds.py).
    assert holds == ["QC_FAILED", "CONSENT_WITHDRAWN", "ELIGIBILITY_REVOKED"]
    for reason in error.details["reasons"]:
        assert reason in error.message
    assert batch_of(ch).status is BatchStatus.IN_PROCESS


def blockers_and_holds(error: Any) -> tuple[list[str], list[str]]:
    """The reasons a release was refused for, apart from its holds; the kinds of those holds
    (each named ``hold KIND:<record>@<version> (...)``)."""
    reasons = error.details["reasons"]
    holds = [r.split()[1].split(":")[0] for r in reasons if r.startswith("hold ")]
    return [r for r in reasons if not r.startswith("hold ")], holds


# The holds a release blocker also raises (domain/holds.py).
HOLDS_OF_BLOCKER = {
    "a required QC test failed": ["QC_FAILED"],
    "consent withdrawn": ["CONSENT_WITHDRAWN"],
    "eligibility revoked": ["ELIGIBILITY_REVOKED"],
}


def missing_one(ch: Chain) -> str:
    *passed, missing = ch.required_tests
    for test in passed:
        c.record_qc(ch, test)
    return f"required QC results missing: {missing}"


def failed_one(ch: Chain) -> str:
    *passed, failed = ch.required_tests
    for test in passed:
        c.record_qc(ch, test)
    c.record_qc(ch, failed, passed=False)
    return f"required QC tests not passed: {failed}"


def open_deviation(ch: Chain) -> str:
    c.pass_qc(ch)
    ch.app.batches.open_deviation(OPERATOR, BATCH, "DEV-7", "bioburden alert")
    return "deviations still open: DEV-7"


def site_suspended(site_id: str) -> Callable[[Chain], str]:
    def given(ch: Chain) -> str:
        c.pass_qc(ch)
        c.suspend(ch, site_id, 10.5)
        return f"site {site_id} is SUSPENDED"

    return given


def consent_withdrawn(ch: Chain) -> str:
    c.pass_qc(ch)
    withdraw(ch, 10.5)
    return f"consent of donor {DONOR} does not stand"


def eligibility_revoked(ch: Chain) -> str:
    c.pass_qc(ch)
    revoke(ch)
    return f"eligibility of donor {DONOR} was revoked"


BLOCKERS: dict[str, Callable[[Chain], str]] = {
    "a required QC result missing": missing_one,
    "a required QC test failed": failed_one,
    "a deviation open": open_deviation,
    "the manufacturing site suspended": site_suspended(SPOKE),
    "the QC laboratory suspended": site_suspended(LAB),
    "the control site suspended": site_suspended(CTRL),
    "consent withdrawn": consent_withdrawn,
    "eligibility revoked": eligibility_revoked,
}


@pytest.mark.parametrize("blocker", list(BLOCKERS))
def test_release_is_refused_for_each_reason_on_its_own(service, blocker):
    ch = c.build(service, "stepped")
    expected = BLOCKERS[blocker](ch)

    error = rule_violation(service, c.release, ch, at=11)

    assert blockers_and_holds(error) == ([expected], HOLDS_OF_BLOCKER.get(blocker, []))
    assert error.details["batch_id"] == BATCH


def test_release_is_allowed_once_every_reason_is_cleared(service):
    ch = c.build(service, "stepped")
    first, *others = ch.required_tests
    for test in others:
        c.record_qc(ch, test)
    service.app.batches.open_deviation(OPERATOR, BATCH, "DEV-1", "CO2 alarm")
    c.suspend(ch, SPOKE, 10.5)
    assert len(rule_violation(service, c.release, ch, at=11).details["reasons"]) == 3

    c.record_qc(ch, first, at=11)
    service.app.batches.close_deviation(OPERATOR, BATCH, "DEV-1", "no impact on product quality")
    c.reinstate(ch, SPOKE, 11.5)
    result = stored(service, c.release, ch, at=12)

    assert batch_of(ch).status is BatchStatus.RELEASED
    view = batch_view(ch, position=result.position)
    assert (view.status, view.released_at, view.qualified_person) == (
        "RELEASED",
        ch.at(12),
        QP.id,
    )


def test_release_is_signed_once_and_not_before_the_batch_started(service):
    ch = c.build(service, "tested")

    rule_violation(service, c.release, ch, at=6.5)
    stored(service, c.release, ch)
    rule_violation(service, c.release, ch, at=11.5)


def test_a_release_is_not_dated_before_the_qc_results_it_relies_on(service):
    ch = c.build(service, "tested")  # every required test done at hour 10

    rule_violation(service, c.release, ch, at=9.5)
    stored(service, c.release, ch, at=10)


def test_a_release_is_not_dated_before_the_last_manufacturing_step_completed(service):
    ch = c.build(service)
    c.pass_qc(ch, at=7.5)
    c.record_step(ch, begin=8, end=9)

    rule_violation(service, c.release, ch, at=8.5)
    stored(service, c.release, ch, at=9)


# ----------------------------------------------------------------------------------- dispatch


@pytest.mark.parametrize("stage", ["started", "stepped", "tested"])
def test_no_dispatch_of_an_unreleased_batch(service, stage):
    ch = c.build(service, stage)

    rule_violation(service, c.dispatch, ch)

    assert not service.app.exists(Shipment, SHIPMENT)
    assert batch_of(ch).status is BatchStatus.IN_PROCESS


def test_a_shipment_with_one_unreleased_batch_is_refused_whole(service):
    ch = c.build(service, "released")
    other = c.another_batch(ch, 2)

    rule_violation(service, c.dispatch, ch, batch_ids=[BATCH, other])

    assert batch_of(ch).status is BatchStatus.RELEASED
    assert batch_of(ch).in_transit is None


def test_a_batch_is_dispatched_only_from_the_site_holding_it_and_not_before_release(service):
    ch = c.build(service, "released")
    register_hospital(ch)

    rule_violation(service, c.dispatch, ch, frm=LAB)
    rule_violation(service, c.dispatch, ch, at=10.5)
    stored(service, c.dispatch, ch)
    rule_violation(service, c.dispatch, ch, shipment="SHP-0002", to="TW-MI-2", at=12.5)


def test_a_shipment_goes_only_between_sites_active_at_dispatch(service):
    ch = c.build(service, "released")
    c.suspend(ch, HOSPITAL, 11.5)

    refused(service, SiteNotActiveError, "RULE_VIOLATION", c.dispatch, ch)
    stored(service, c.dispatch, ch, at=11.2)


@pytest.mark.parametrize("fault", ["same site", "no batches"])
def test_a_shipment_needs_two_sites_and_at_least_one_batch(service, fault):
    ch = c.build(service, "released")
    if fault == "same site":
        refused(service, BadInputError, "BAD_INPUT", c.dispatch, ch, to=SPOKE)
    else:
        refused(
            service,
            BadInputError,
            "BAD_INPUT",
            service.app.distribution.dispatch_shipment,
            COURIER,
            SHIPMENT,
            [],
            SPOKE,
            HOSPITAL,
            "ColdChain",
            ch.at(12),
        )


# ------------------------------------------------------------------------------------ receipt


def test_a_shipment_is_not_received_twice(service):
    ch = c.build(service, "received")

    rule_violation(service, c.receive, ch, at=13.5)


def test_a_shipment_is_not_received_before_it_was_dispatched(service):
    ch = c.build(service, "dispatched")

    error = rule_violation(service, c.receive, ch, at=11.5)

    assert error.details["shipment_id"] == SHIPMENT
    assert batch_of(ch).in_transit == SHIPMENT


def test_a_shipment_is_received_only_at_a_site_active_at_receipt(service):
    ch = c.build(service, "dispatched")
    c.suspend(ch, HOSPITAL, 12.5)

    refused(service, SiteNotActiveError, "RULE_VIOLATION", c.receive, ch)


def test_a_temperature_excursion_is_recorded_only_within_the_time_in_transit(service):
    ch = c.build(service, "received")
    record = service.app.distribution.record_temperature_excursion

    rule_violation(service, record, COURIER, SHIPMENT, ch.at(11.5), -70.0, 10)
    rule_violation(service, record, COURIER, SHIPMENT, ch.at(13.5), -70.0, 10)
    refused(service, BadInputError, "BAD_INPUT", record, COURIER, SHIPMENT, ch.at(12.5), -70.0, 0)
    stored(service, record, COURIER, SHIPMENT, ch.at(12.5), -70.0, 10)


# ----------------------------------------------------------------------------- administration


def test_no_administration_at_an_institution_that_did_not_receive_the_batch(service):
    ch = c.build(service, "received")
    other = register_hospital(ch)

    error = rule_violation(service, c.administer, ch, site=other)

    assert other in error.message
    stored(service, c.administer, ch)


def test_no_administration_of_a_batch_still_in_transit(service):
    ch = c.build(service, "dispatched")

    rule_violation(service, c.administer, ch)


def test_no_administration_of_a_batch_received_in_unacceptable_condition(service):
    ch = c.build(service, "dispatched")
    c.receive(ch, acceptable=False)

    rule_violation(service, c.administer, ch)


@pytest.mark.parametrize(
    ("patient", "verified"), [("PT-0002", True), (PATIENT, False), ("PT-0002", False)]
)
def test_no_administration_without_a_matching_chain_of_identity_check(service, patient, verified):
    ch = c.build(service, "received")

    error = rule_violation(service, c.administer, ch, patient=patient, verified=verified)

    assert "chain-of-identity" in error.message
    assert batch_of(ch).status is BatchStatus.DISTRIBUTED


def test_no_administration_before_receipt(service):
    ch = c.build(service, "received")

    rule_violation(service, c.administer, ch, at=12.5)
    stored(service, c.administer, ch, at=13)


def test_no_administration_at_an_institution_not_active_at_that_time(service):
    ch = c.build(service, "received")
    c.suspend(ch, HOSPITAL, 13.5)

    refused(service, SiteNotActiveError, "RULE_VIOLATION", c.administer, ch)


def test_no_administration_twice(service):
    ch = c.build(service, "administered")

    rule_violation(service, c.administer, ch, at=14.5)


# ----------------------------------------------------------------------------- adverse events


def test_an_adverse_event_is_reported_only_against_a_batch_administered_to_that_patient(service):
    ch = c.build(service, "received")

    rule_violation(service, c.report_adverse_event, ch)  # not administered yet
    c.administer(ch)
    rule_violation(service, c.report_adverse_event, ch, patient="PT-0002")
    stored(service, c.report_adverse_event, ch)


def test_an_adverse_event_is_submitted_once_and_not_before_awareness(service):
    ch = c.build(service, "administered")
    c.report_adverse_event(ch, aware=16)
    submit = service.app.distribution.submit_adverse_event_to_authority

    rule_violation(service, submit, PHYSICIAN, "AE-0001", "TFDA", ch.at(15.5))
    stored(service, submit, PHYSICIAN, "AE-0001", "TFDA", ch.at(17))
    rule_violation(service, submit, PHYSICIAN, "AE-0001", "TFDA", ch.at(18))


def test_an_adverse_reaction_cannot_set_in_before_the_batch_was_administered(service):
    ch = c.build(service, "administered")  # administered at hour 14

    rule_violation(service, c.report_adverse_event, ch, onset=13.5, aware=16)
    stored(service, c.report_adverse_event, ch, onset=14, aware=16)


def test_an_eligible_determination_entered_late_does_not_open_the_way_to_a_donation(service):
    # INELIGIBLE (reactive HIV) on hour 5.5; then an ELIGIBLE determination dated hour 5.2 is
    # entered. An allogeneic donation at hour 6 follows the latest determination by then: refused,
    # whether the late entry itself is refused or accepted.
    ch = c.prepared(service)
    c.donor(ch, "DNR-0002", eligibility="INELIGIBLE", determined=5.5)
    with contextlib.suppress(RuleViolationError):
        ch.app.donors.determine_eligibility(
            PHYSICIAN, "DNR-0002", "ELIGIBLE", "v1", SCREENING, ch.at(5.2)
        )

    rule_violation(service, c.record_donation, ch, c.din(2), "DNR-0002", at=6)


def test_awareness_cannot_precede_onset(service):
    ch = c.build(service, "administered")

    error = rule_violation(service, c.report_adverse_event, ch, onset=16, aware=15.5)

    assert error.details["field"] == "awareAt"


def test_a_serious_reaction_reported_from_a_taiwan_site_gets_the_taiwan_deadline(service):
    ch = c.build(service, "administered")
    aware = ch.at(16).astimezone(TAIPEI)

    c.report_adverse_event(ch, aware=aware)

    report = service.app.repository.get(AdverseEvent.ledger_id("AE-0001"))
    seventh_day = aware.date() + timedelta(days=7)
    assert report.jurisdiction == "TW"
    assert report.reporting_deadline == datetime.combine(seventh_day, time.max, tzinfo=TAIPEI)
    assert report.reporting_deadline.utcoffset() == timedelta(hours=8)
    assert report.control_site_id == CTRL


@pytest.mark.parametrize(("serious", "days"), [(True, 15), (False, 90)])
def test_a_reaction_reported_from_an_eu_site_gets_the_eu_deadline(service, serious, days):
    ch = c.build(service, "administered")
    eu_site = c.eu_hospital(ch)
    aware = ch.at(16)

    c.report_adverse_event(ch, site=eu_site, serious=serious, aware=aware)

    report = service.app.repository.get(AdverseEvent.ledger_id("AE-0001"))
    assert (report.jurisdiction, report.serious) == ("EU", serious)
    assert report.reporting_deadline == aware + timedelta(days=days)


# ------------------------------------------------------------------------------ times given


def ae_reported(ch: Chain) -> None:
    c.report_adverse_event(ch, aware=16)


def ready_donor(ch: Chain) -> None:
    c.donor(ch, "DNR-0009", consent=None, eligibility=None)


def donated(ch: Chain) -> None:
    c.record_donation(ch)


def start_batch_at(ch: Chain, t: datetime) -> Any:
    return ch.app.batches.start_batch(
        OPERATOR, BATCH, ch.product, c.din(1), PATIENT, CTRL, SPOKE, t
    )


# name: (stage to build, extra setup, the command with time t, a valid t, refused in future)
TIMED: dict[str, tuple[str | None, Callable[[Chain], None] | None, Callable, float, bool]] = {
    "signedAt": (
        None,
        ready_donor,
        lambda ch, t: ch.app.donors.record_consent(CLINIC, "DNR-0009", "ICF-9", t),
        4,
        True,
    ),
    "withdrawnAt": (
        None,
        None,
        lambda ch, t: ch.app.donors.withdraw_consent(CLINIC, DONOR, "x", t),
        6,
        True,
    ),
    "determinedAt": (
        None,
        None,
        lambda ch, t: ch.app.donors.determine_eligibility(
            PHYSICIAN, DONOR, "ELIGIBLE", "v", SCREENING, t
        ),
        6,
        True,
    ),
    "acquiredAt": (
        None,
        None,
        lambda ch, t: ch.app.donors.record_donation(
            CLINIC, c.din(1), DONOR, "ALLOGENEIC", HOSPITAL, "BM", t, source_tissue="BONE_MARROW"
        ),
        6,
        True,
    ),
    "lot receivedAt": (
        None,
        None,
        lambda ch, t: ch.app.batches.receive_material_lot(
            OPERATOR, "LOT-9", "media", "X", SPOKE, t
        ),
        3,
        True,
    ),
    "lot expiresAt": (
        None,
        None,
        lambda ch, t: ch.app.batches.receive_material_lot(
            OPERATOR, "LOT-9", "media", "X", SPOKE, ch.at(3), t
        ),
        400,
        False,  # an expiry date lies in the future
    ),
    "batch startedAt": (None, donated, start_batch_at, 7, True),
    "step startedAt": (
        "started",
        None,
        lambda ch, t: ch.app.batches.record_batch_step(
            OPERATOR, BATCH, "s", SPOKE, t, ch.at(9), "op"
        ),
        8,
        True,
    ),
    "step completedAt": (
        "started",
        None,
        lambda ch, t: ch.app.batches.record_batch_step(
            OPERATOR, BATCH, "s", SPOKE, ch.at(8), t, "op"
        ),
        9,
        True,
    ),
    "testedAt": (
        "started",
        None,
        lambda ch, t: ch.app.batches.record_qc_result(
            ANALYST, BATCH, "STERILITY", "m", "s", "r", True, t, LAB
        ),
        10,
        True,
    ),
    "releasedAt": (
        "tested",
        None,
        lambda ch, t: ch.app.batches.release_batch(QP, BATCH, "ok", t),
        11,
        True,
    ),
    "dispatchedAt": (
        "released",
        None,
        lambda ch, t: ch.app.distribution.dispatch_shipment(
            COURIER, SHIPMENT, [BATCH], SPOKE, HOSPITAL, "x", t
        ),
        12,
        True,
    ),
    "observedAt": (
        "dispatched",
        None,
        lambda ch, t: ch.app.distribution.record_temperature_excursion(
            COURIER, SHIPMENT, t, -60.0, 5
        ),
        12.5,
        True,
    ),
    "shipment receivedAt": (
        "dispatched",
        None,
        lambda ch, t: ch.app.distribution.receive_shipment(CLINIC, SHIPMENT, t, True),
        13,
        True,
    ),
    "administeredAt": (
        "received",
        None,
        lambda ch, t: ch.app.distribution.record_administration(
            CLINIC, BATCH, HOSPITAL, PATIENT, t, True
        ),
        14,
        True,
    ),
    "onsetAt": (
        "administered",
        None,
        lambda ch, t: ch.app.distribution.report_adverse_event(
            PHYSICIAN, "AE-9", BATCH, PATIENT, HOSPITAL, True, "CRS", t, ch.at(16)
        ),
        15,
        True,
    ),
    "awareAt": (
        "administered",
        None,
        lambda ch, t: ch.app.distribution.report_adverse_event(
            PHYSICIAN, "AE-9", BATCH, PATIENT, HOSPITAL, True, "CRS", ch.at(15), t
        ),
        16,
        True,
    ),
    "submittedAt": (
        "administered",
        ae_reported,
        lambda ch, t: ch.app.distribution.submit_adverse_event_to_authority(
            PHYSICIAN, "AE-0001", "TFDA", t
        ),
        17,
        True,
    ),
}


def timed(service, name: str) -> tuple[Chain, Callable, float, bool]:
    stage, setup, call, valid, future_refused = TIMED[name]
    ch = c.prepared(service) if stage is None else c.build(service, stage)
    if setup is not None:
        setup(ch)
    return ch, call, valid, future_refused


@pytest.mark.parametrize("name", list(TIMED))
def test_a_time_without_a_utc_offset_is_bad_input(service, name):
    ch, call, valid, _ = timed(service, name)
    naive = ch.at(valid).replace(tzinfo=None)

    error = refused(service, BadInputError, "BAD_INPUT", call, ch, naive)

    assert "UTC offset" in error.message


@pytest.mark.parametrize("name", list(TIMED))
def test_a_time_in_the_future_is_bad_input(service, name):
    ch, call, _, future_refused = timed(service, name)
    tomorrow = utcnow() + timedelta(days=1)

    if future_refused:
        error = refused(service, BadInputError, "BAD_INPUT", call, ch, tomorrow)
        assert "future" in error.message
    else:
        stored(service, call, ch, tomorrow)


@pytest.mark.parametrize("name", list(TIMED))
def test_the_same_command_with_a_proper_time_is_recorded(service, name):
    ch, call, valid, _ = timed(service, name)

    stored(service, call, ch, ch.at(valid).astimezone(TAIPEI))


# --------------------------------------------------------------------------------- unknown ids


UNKNOWN: dict[str, Callable[[Chain], Any]] = {
    "donor: consent": lambda ch: ch.app.donors.record_consent(CLINIC, "DNR-X", "ICF", ch.at(4)),
    "donor: withdrawal": lambda ch: ch.app.donors.withdraw_consent(CLINIC, "DNR-X", "x", ch.at(4)),
    "donor: eligibility": lambda ch: ch.app.donors.determine_eligibility(
        PHYSICIAN, "DNR-X", "ELIGIBLE", "v", SCREENING, ch.at(5)
    ),
    "donor: revocation": lambda ch: ch.app.donors.revoke_eligibility(PHYSICIAN, "DNR-X", "x"),
    "donor: donation": lambda ch: c.record_donation(ch, c.din(5), "DNR-X"),
    "site: donation": lambda ch: c.record_donation(ch, c.din(5), site="TW-NOWHERE"),
    "donation: batch start": lambda ch: c.start_batch(ch, "B-X", c.din(5)),
    "site: batch control site": lambda ch: c.start_batch(ch, "B-X", control="TW-NOWHERE"),
    "site: lot receipt": lambda ch: ch.app.batches.receive_material_lot(
        OPERATOR, "LOT-X", "m", "s", "TW-NOWHERE", ch.at(3)
    ),
    "lot: release": lambda ch: ch.app.batches.release_material_lot(QP, "LOT-X"),
    "lot: rejection": lambda ch: ch.app.batches.reject_material_lot(QP, "LOT-X"),
    "lot: step": lambda ch: c.record_step(ch, batch_id="B-0002", lots=("LOT-X",)),
    "batch: step": lambda ch: c.record_step(ch, batch_id="B-X"),
    "batch: QC": lambda ch: c.record_qc(ch, "STERILITY", batch_id="B-X"),
    "site: QC laboratory": lambda ch: ch.app.batches.record_qc_result(
        ANALYST, "B-0002", "STERILITY", "m", "s", "r", True, ch.at(10), "TW-NOWHERE"
    ),
    "batch: deviation": lambda ch: ch.app.batches.open_deviation(OPERATOR, "B-X", "DEV-1", "x"),
    "batch: release": lambda ch: c.release(ch, batch_id="B-X"),
    "batch: rejection": lambda ch: ch.app.batches.reject_batch(QP, "B-X", "x"),
    "batch: destruction": lambda ch: ch.app.batches.destroy_batch(QP, "B-X", "x"),
    "batch: dispatch": lambda ch: c.dispatch(ch, shipment="SHP-X", batch_ids=["B-X"]),
    "site: dispatch destination": lambda ch: c.dispatch(ch, shipment="SHP-X", to="TW-NOWHERE"),
    "batch: administration": lambda ch: ch.app.distribution.record_administration(
        CLINIC, "B-X", HOSPITAL, PATIENT, ch.at(14), True
    ),
    "batch: adverse event": lambda ch: c.report_adverse_event(ch, "AE-X", batch_id="B-X"),
    "site: adverse event reporter": lambda ch: c.report_adverse_event(
        ch, "AE-X", site="TW-NOWHERE"
    ),
    "shipment: receipt": lambda ch: ch.app.distribution.receive_shipment(
        CLINIC, "SHP-X", ch.at(13), True
    ),
    "shipment: excursion": lambda ch: ch.app.distribution.record_temperature_excursion(
        COURIER, "SHP-X", ch.at(12.5), -60.0, 5
    ),
    "adverse event: submission": lambda ch: ch.app.distribution.submit_adverse_event_to_authority(
        PHYSICIAN, "AE-X", "TFDA", ch.at(17)
    ),
}


@pytest.fixture
def full_chain(service) -> Chain:
    """One batch administered, and a second (B-0002) started from another donor."""
    ch = c.build(service, "administered")
    c.another_batch(ch, 2)
    return ch


@pytest.mark.parametrize("what", list(UNKNOWN))
def test_an_identifier_naming_nothing_is_not_found(service, full_chain, what):
    error = refused(service, NotFoundError, "NOT_FOUND", UNKNOWN[what], full_chain)

    assert error.details["id"] in {"DNR-X", "TW-NOWHERE", c.din(5), "LOT-X", "B-X", "SHP-X", "AE-X"}


# ------------------------------------------------------------------------------- duplicate ids


DUPLICATE: dict[str, Callable[[Chain], Any]] = {
    "donor": lambda ch: ch.app.donors.register_donor(CLINIC, DONOR),
    "donation": lambda ch: c.record_donation(ch, c.din_with_check(1)),
    "material lot": lambda ch: c.material_lot(ch, LOT, release=False),
    "batch": lambda ch: c.start_batch(ch, BATCH, c.din(2), patient="PT-0002"),
    "shipment": lambda ch: c.dispatch(ch, shipment=SHIPMENT, batch_ids=["B-0002"]),
    "adverse event": lambda ch: c.report_adverse_event(ch, "AE-0001"),
}


@pytest.mark.parametrize("what", list(DUPLICATE))
def test_an_identifier_already_taken_is_a_conflict(service, full_chain, what):
    c.pass_qc(full_chain, batch_id="B-0002")
    c.release(full_chain, batch_id="B-0002")
    c.report_adverse_event(full_chain, "AE-0001")

    error = refused(service, ConflictError, "CONFLICT", DUPLICATE[what], full_chain)

    assert error.details["id"]


# ---------------------------------------------------------------------- consequences downstream


def all_versions(ch: Chain, up_to: int) -> list[list[Any]]:
    """Every batch as it stood at each position up to ``up_to``."""
    with ch.service.read() as sql:
        return [find_batches(sql, p, reach=None) for p in range(1, up_to + 1)]


def batch_events(ch: Chain, batch_id: str = BATCH) -> list[tuple[int, bytes]]:
    with ch.service.read() as sql:
        rows = sql.all(
            "SELECT originator_version, state FROM stored_events WHERE originator_id = ? "
            "ORDER BY originator_version",
            (Batch.ledger_id(batch_id),),
        )
    return [(r["originator_version"], bytes(r["state"])) for r in rows]


LOOK_BACK = {
    "CONSENT_WITHDRAWN": (lambda ch: withdraw(ch, 9.5), f"consent of donor {DONOR} does not stand"),
    "ELIGIBILITY_REVOKED": (revoke, f"eligibility of donor {DONOR} was revoked"),
}


@pytest.mark.parametrize("reason", list(LOOK_BACK))
def test_a_look_back_fact_marks_the_batch_affected_from_its_position_on_and_rewrites_nothing(
    service, reason
):
    ch = c.build(service, "stepped")
    other = c.another_batch(ch, 2)
    head = service.app.head_position()
    history_before, events_before = all_versions(ch, head), batch_events(ch)
    assert batch_view(ch).affected_reasons == []

    act, blocker = LOOK_BACK[reason]
    result = act(ch)

    # Earlier events and earlier versions are untouched ...
    assert batch_events(ch) == events_before
    assert batch_of(ch).version == len(events_before)
    assert all_versions(ch, head) == history_before
    assert batch_view(ch, position=result.position - 1).affected_reasons == []
    # ... the batch is affected from this position on, the other donor's batch is not.
    assert batch_view(ch, position=result.position).affected_reasons == [reason]
    assert batch_view(ch, other, result.position).affected_reasons == []
    with service.read() as sql:
        affected = find_batches(sql, result.position, affected=True, reach=None)
        unaffected = find_batches(sql, result.position, affected=False, reach=None)
    assert [b.batch_id for b in affected] == [BATCH]
    assert [b.batch_id for b in unaffected] == [other]
    # ... it stays affected, and its release is blocked.
    c.pass_qc(ch)
    error = rule_violation(service, c.release, ch)
    assert blockers_and_holds(error) == ([blocker], [reason])
    assert batch_view(ch).affected_reasons == [reason]


def test_both_look_back_facts_are_listed_on_the_batch(service):
    ch = c.build(service, "stepped")
    withdrawn = withdraw(ch, 9.5)
    revoked = revoke(ch)

    assert batch_view(ch, position=withdrawn.position).affected_reasons == ["CONSENT_WITHDRAWN"]
    assert batch_view(ch, position=revoked.position).affected_reasons == [
        "CONSENT_WITHDRAWN",
        "ELIGIBILITY_REVOKED",
    ]


def test_a_batch_recorded_after_consent_was_withdrawn_is_affected_from_its_first_version(
    service,
):
    ch = c.prepared(service)
    c.record_donation(ch, at=6)
    withdraw(ch, 7.5)  # recorded now, effective after the batch started

    started = c.start_batch(ch, at=7)

    assert batch_view(ch, position=started.position).affected_reasons == ["CONSENT_WITHDRAWN"]
    c.record_step(ch)
    c.pass_qc(ch)
    error = rule_violation(service, c.release, ch)
    reasons = [f"consent of donor {DONOR} does not stand"]
    assert blockers_and_holds(error) == (reasons, ["CONSENT_WITHDRAWN"])


def test_a_released_batch_stays_released_when_consent_is_withdrawn_later(service):
    ch = c.build(service, "released")
    released_at = batch_view(ch)

    result = withdraw(ch, 11.5)

    view = batch_view(ch, position=result.position)
    assert (view.status, view.released_at) == ("RELEASED", released_at.released_at)
    assert view.affected_reasons == ["CONSENT_WITHDRAWN"]
    assert batch_of(ch).status is BatchStatus.RELEASED


def test_the_chain_records_the_donor_and_the_batch_it_was_built_from(service):
    ch = c.build(service, "administered")

    view = batch_view(ch)

    assert (view.donor_code, view.donation_id, view.patient_code, view.status) == (
        DONOR,
        c.din(1),
        PATIENT,
        "ADMINISTERED",
    )
    assert view.started_at == ch.at(7)
    assert view.started_at.tzinfo is not None
    assert ch.at(14) < utcnow() - timedelta(days=29)
