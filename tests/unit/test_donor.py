"""The Donor aggregate on its own, without any I/O: given past events, when a command, then events.

``given(*history)`` registers a donor and applies past events to it exactly as recorded facts
(not through the commands under test), leaving no pending events; each test states the history it
needs in domain terms.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.donor import MANDATORY_SCREENING, Donor
from domain.shared import RuleViolationError

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
ACTOR = {"actor": "dr-chen-physician", "actor_role": "medical_institution"}
KEY = "DNR-0042"
CLEAR = (
    {"test": "HIV", "result": "non-reactive", "reactive": False},
    {"test": "HBV", "result": "non-reactive", "reactive": False},
    {"test": "HCV", "result": "non-reactive", "reactive": False},
    {"test": "HTLV", "result": "non-reactive", "reactive": False},
)

History = tuple[type[Donor.Event], dict[str, Any]]


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


# ----------------------------------------------------------------------------- given / when


def consented(at: datetime, reference: str = "ICF-1", representative: str | None = None) -> History:
    return Donor.ConsentRecorded, {
        "consent_reference": reference,
        "signed_at": at,
        "legal_representative": representative,
        "notarised": representative is not None,
        "occurred_at": at,
    }


def withdrawn(at: datetime, reference: str = "ICF-1") -> History:
    return Donor.ConsentWithdrawn, {
        "consent_reference": reference,
        "reason": "donor asked",
        "withdrawn_at": at,
        "occurred_at": at,
    }


def determined(outcome: str, at: datetime, screening: tuple[dict[str, Any], ...] = CLEAR):
    return Donor.EligibilityDetermined, {
        "outcome": outcome,
        "criteria_version": "TFDA-RM-DS-2025.1",
        "screening": screening,
        "determined_at": at,
        "occurred_at": at,
    }


def revoked(at: datetime) -> History:
    return Donor.EligibilityRevoked, {
        "reason": "look-back: recipient seroconverted",
        "occurred_at": at,
    }


def given(*history: History) -> Donor:
    donor = Donor.create(
        donor_code=KEY,
        sealed_personal_data=None,
        occurred_at=T0,
        **ACTOR,
    )
    for event_cls, fields in history:
        donor.trigger_event(event_cls, **fields, **ACTOR)
    donor.collect_events()
    return donor


def refused(donor: Donor, call, *args: Any, **kwargs: Any) -> RuleViolationError:
    version = donor.version
    consents, determinations = list(donor.consents), list(donor.determinations)
    with pytest.raises(RuleViolationError) as caught:
        call(*args, **kwargs, **ACTOR)
    assert caught.value.code == "RULE_VIOLATION"
    assert caught.value.details["donor_code"] == KEY
    assert donor.collect_events() == []
    assert (donor.version, donor.consents, donor.determinations) == (
        version,
        consents,
        determinations,
    )
    return caught.value


def screening_with(**reactive: bool) -> tuple[dict[str, Any], ...]:
    return tuple(
        {"test": s["test"], "result": "x", "reactive": reactive.get(s["test"], False)}
        for s in CLEAR
    )


# ----------------------------------------------------------------------------------- creation


def test_a_registered_donor_has_neither_consent_nor_eligibility():
    donor = Donor.create(
        donor_code=KEY,
        sealed_personal_data="sealed:abc",
        occurred_at=T0,
        **ACTOR,
    )

    (event,) = donor.collect_events()
    assert isinstance(event, Donor.Registered)
    assert (event.originator_id, event.actor, event.sealed_personal_data) == (
        "Donor:DNR-0042",
        "dr-chen-physician",
        "sealed:abc",
    )
    assert donor.key == KEY
    assert (donor.consent, donor.eligibility) == (None, None)
    assert not donor.consent_stands_at(day(1000))
    assert not donor.eligible_at(day(1000))


# ------------------------------------------------------------------------------------ consent


def test_written_consent_is_recorded():
    donor = given()

    donor.record_consent("ICF-CART-v3-0042", day(1), None, False, **ACTOR)

    (event,) = donor.collect_events()
    assert isinstance(event, Donor.ConsentRecorded)
    assert (event.consent_reference, event.signed_at, event.occurred_at, event.notarised) == (
        "ICF-CART-v3-0042",
        day(1),
        day(1),
        False,
    )
    assert donor.consent is not None
    assert (donor.consent.reference, donor.consent.withdrawn_at) == ("ICF-CART-v3-0042", None)
    assert donor.consent_stands_at(day(1))


def test_consent_signed_with_a_legal_representative_must_be_notarised():
    donor = given()

    refused(donor, donor.record_consent, "ICF-1", day(1), "mother (guardian)", False)

    donor.record_consent("ICF-1", day(1), "mother (guardian)", True, **ACTOR)
    (event,) = donor.collect_events()
    assert (event.legal_representative, event.notarised) == ("mother (guardian)", True)
    assert donor.consent is not None
    assert donor.consent.legal_representative == "mother (guardian)"


def test_a_donor_with_standing_consent_cannot_be_given_a_second_one():
    donor = given(consented(day(1)))

    error = refused(donor, donor.record_consent, "ICF-2", day(2), None, False)

    assert "ICF-1" in error.message


def test_after_withdrawal_a_new_consent_can_be_recorded():
    donor = given(consented(day(1)), withdrawn(day(2)))

    donor.record_consent("ICF-2", day(3), None, False, **ACTOR)

    assert donor.consent is not None
    assert donor.consent.reference == "ICF-2"
    assert [c.reference for c in donor.consents] == ["ICF-1", "ICF-2"]
    assert not donor.consent_withdrawn


def test_standing_consent_is_withdrawn():
    donor = given(consented(day(1)))

    donor.withdraw_consent("donor asked", day(2), **ACTOR)

    (event,) = donor.collect_events()
    assert isinstance(event, Donor.ConsentWithdrawn)
    assert (event.consent_reference, event.withdrawn_at, event.occurred_at, event.reason) == (
        "ICF-1",
        day(2),
        day(2),
        "donor asked",
    )
    assert donor.consent_withdrawn
    assert donor.consent is not None
    assert donor.consent.withdrawn_at == day(2)


@pytest.mark.parametrize(
    "history",
    [(), (consented(day(1)), withdrawn(day(2)))],
    ids=["never given", "already withdrawn"],
)
def test_withdrawal_needs_standing_consent(history):
    donor = given(*history)

    refused(donor, donor.withdraw_consent, "donor asked", day(3))


def test_withdrawal_cannot_precede_the_signature():
    donor = given(consented(day(1)))

    refused(donor, donor.withdraw_consent, "donor asked", day(1) - timedelta(microseconds=1))

    donor.withdraw_consent("donor asked", day(1), **ACTOR)
    assert donor.consent_withdrawn


CONSENT_STORY = {
    "before the first signature": (day(0.5), False),
    "at the first signature": (day(1), True),
    "while the first consent stands": (day(1.5), True),
    "just before the withdrawal": (day(2) - timedelta(microseconds=1), True),
    "at the withdrawal": (day(2), False),
    "between withdrawal and new consent": (day(2.5), False),
    "at the second signature": (day(3), True),
    "long after the second signature": (day(3000), True),
}


@pytest.mark.parametrize("moment", list(CONSENT_STORY), ids=list(CONSENT_STORY))
def test_consent_stands_at_answers_for_that_business_time(moment):
    donor = given(
        consented(day(1), "ICF-1"), withdrawn(day(2), "ICF-1"), consented(day(3), "ICF-2")
    )
    at, expected = CONSENT_STORY[moment]

    assert donor.consent_stands_at(at) is expected


def test_a_withdrawn_consent_no_longer_stands_from_the_withdrawal_on():
    donor = given(consented(day(1)), withdrawn(day(2)))

    assert donor.consent_stands_at(day(1.9))
    assert not donor.consent_stands_at(day(2))
    assert not donor.consent_stands_at(day(100))


# -------------------------------------------------------------------------------- eligibility


def test_an_eligible_determination_with_clear_mandatory_screening_is_recorded():
    donor = given()

    donor.determine_eligibility("ELIGIBLE", "TFDA-RM-DS-2025.1", CLEAR, day(1), **ACTOR)

    (event,) = donor.collect_events()
    assert isinstance(event, Donor.EligibilityDetermined)
    assert (event.outcome, event.criteria_version, event.screening, event.occurred_at) == (
        "ELIGIBLE",
        "TFDA-RM-DS-2025.1",
        CLEAR,
        day(1),
    )
    assert donor.eligibility is not None
    assert (donor.eligibility.outcome, donor.eligibility.determined_by) == (
        "ELIGIBLE",
        "dr-chen-physician",
    )
    assert donor.eligible_at(day(1))


@pytest.mark.parametrize("test", [s["test"] for s in CLEAR])
def test_a_donor_cannot_be_eligible_with_reactive_screening(test):
    donor = given()

    error = refused(
        donor,
        donor.determine_eligibility,
        "ELIGIBLE",
        "v1",
        screening_with(**{test: True}),
        day(1),
    )

    assert test in error.message


@pytest.mark.parametrize("missing", MANDATORY_SCREENING)
def test_an_eligible_determination_needs_hiv_hbv_and_hcv_screening(missing):
    screening = tuple(s for s in CLEAR if s["test"] != missing)
    donor = given()

    error = refused(donor, donor.determine_eligibility, "ELIGIBLE", "v1", screening, day(1))

    # The message lists the whole panel, then what is missing from it.
    assert f"missing {missing}" in error.message


def test_the_mandatory_screening_set_is_hiv_hbv_and_hcv():
    assert set(MANDATORY_SCREENING) == {"HIV", "HBV", "HCV"}


def test_screening_test_names_are_matched_whatever_their_case():
    screening = tuple({**s, "test": s["test"].lower()} for s in CLEAR)
    donor = given()

    donor.determine_eligibility("ELIGIBLE", "v1", screening, day(1), **ACTOR)

    assert donor.eligible_at(day(1))


@pytest.mark.parametrize(
    "screening",
    [screening_with(HIV=True), screening_with(HBV=True, HCV=True), (CLEAR[0],)],
    ids=["reactive HIV", "reactive HBV and HCV", "HIV only tested"],
)
def test_an_ineligible_determination_may_rest_on_reactive_or_partial_screening(screening):
    donor = given()

    donor.determine_eligibility("INELIGIBLE", "v1", screening, day(1), **ACTOR)

    (event,) = donor.collect_events()
    assert event.outcome == "INELIGIBLE"
    assert not donor.eligible_at(day(2))


ELIGIBILITY_STORY = {
    "before any determination": (day(0.5), False),
    "at the first ELIGIBLE determination": (day(1), True),
    "while it is the latest": (day(2), True),
    "after an INELIGIBLE one": (day(3), False),
    "still INELIGIBLE": (day(4.9), False),
    "ELIGIBLE again": (day(5), True),
    "long after": (day(900), True),
}


@pytest.mark.parametrize("moment", list(ELIGIBILITY_STORY), ids=list(ELIGIBILITY_STORY))
def test_eligible_at_follows_the_latest_determination_made_by_then(moment):
    donor = given(
        determined("ELIGIBLE", day(1)),
        determined("INELIGIBLE", day(3), screening_with(HCV=True)),
        determined("ELIGIBLE", day(5)),
    )
    at, expected = ELIGIBILITY_STORY[moment]

    assert donor.eligible_at(at) is expected


def test_an_eligible_determination_is_revoked():
    donor = given(determined("ELIGIBLE", day(1)))

    donor.revoke_eligibility("look-back", day(4), **ACTOR)

    (event,) = donor.collect_events()
    assert isinstance(event, Donor.EligibilityRevoked)
    assert (event.reason, event.occurred_at) == ("look-back", day(4))
    assert donor.eligibility_revoked
    assert not donor.eligible_at(day(1))
    assert not donor.eligible_at(day(10))


@pytest.mark.parametrize(
    "history",
    [
        (),
        (determined("INELIGIBLE", day(1), screening_with(HIV=True)),),
        (determined("ELIGIBLE", day(1)), revoked(day(2))),
        (determined("ELIGIBLE", day(1)), determined("INELIGIBLE", day(2))),
    ],
    ids=["no determination", "INELIGIBLE", "already revoked", "superseded by INELIGIBLE"],
)
def test_only_a_standing_eligible_determination_can_be_revoked(history):
    donor = given(*history)

    refused(donor, donor.revoke_eligibility, "look-back", day(5))


def test_a_new_eligible_determination_after_revocation_stands_on_its_own():
    donor = given(determined("ELIGIBLE", day(1)), revoked(day(2)))

    donor.determine_eligibility("ELIGIBLE", "v2", CLEAR, day(3), **ACTOR)

    assert not donor.eligibility_revoked
    assert not donor.eligible_at(day(2.5))
    assert donor.eligible_at(day(3))


def test_an_earlier_eligible_determination_entered_late_does_not_override_a_later_ineligible_one():
    # INELIGIBLE on day 5 (reactive HIV) is entered first; a determination dated day 3, before
    # that screening, is entered afterwards. On day 6 the latest determination made by then is
    # still the INELIGIBLE one of day 5: the donor is not eligible.
    donor = given(
        determined("INELIGIBLE", day(5), screening_with(HIV=True)),
        determined("ELIGIBLE", day(3)),
    )

    assert donor.eligible_at(day(4))
    assert not donor.eligible_at(day(6))
