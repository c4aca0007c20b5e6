"""The Site aggregate on its own, without any I/O: given past events, when a command, then events.

``given(*events)`` replays events into a fresh aggregate exactly as the repository would (the
first event creates it, each following one mutates it), numbering versions in order, so each
test states the history it needs in domain terms.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from domain.shared import RuleViolationError, SiteNotActiveError, SiteTerminatedError
from domain.site import Site, SiteKind, SiteStatus

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
TAIPEI = timezone(timedelta(hours=8))
ACTOR = {"actor": "qa-officer-7", "actor_role": "administrator"}
KEY = "MU-HSINCHU-1"


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


# ----------------------------------------------------------------------------- given / when


def registered(
    kind: str = "MODULAR_UNIT",
    at: datetime = T0,
    key: str = KEY,
    control_site_id: str | None = "TW-CTRL",
) -> Site.Registered:
    return Site.Registered(
        originator_id=Site.ledger_id(key),
        originator_version=0,
        timestamp=at,
        occurred_at=at,
        originator_topic="domain.site:Site",
        name="Hsinchu Modular Cell Processing Unit 1",
        kind=kind,
        jurisdiction="TW",
        country="TW",
        supervising_authority="TFDA",
        licence_number="TFDA-DM-0102",
        control_site_id=None if kind == "CONTROL_SITE" else control_site_id,
        location="Hsinchu Science Park",
        **ACTOR,
    )


def changed(event_cls: type[Site.Event], at: datetime, key: str = KEY, **fields: Any) -> Any:
    if issubclass(event_cls, Site.StatusChanged):
        fields.setdefault("reason", "per SOP-DM-004")
    return event_cls(  # type: ignore[call-arg]
        originator_id=Site.ledger_id(key),
        originator_version=0,
        timestamp=at,
        occurred_at=at,
        **ACTOR,
        **fields,
    )


def given(*events: Any) -> Site:
    """Replay ``events`` (versions numbered 1, 2, ...) into a site with no pending events."""
    site: Any = None
    for version, event in enumerate(events, start=1):
        site = dataclasses.replace(event, originator_version=version).mutate(site)
    assert isinstance(site, Site)
    return site


def relocated(at: datetime) -> Any:
    return changed(
        Site.Relocated,
        at,
        location="Tainan Science Park",
        country="TW",
        supervising_authority="TFDA",
        reason="moved",
    )


# A site in each live status, with effective times one day apart.
HISTORIES: dict[SiteStatus, Callable[[str], list[Any]]] = {
    SiteStatus.REGISTERED: lambda kind: [registered(kind)],
    SiteStatus.ACTIVE: lambda kind: [registered(kind), changed(Site.Activated, day(1))],
    SiteStatus.SUSPENDED: lambda kind: [
        registered(kind),
        changed(Site.Activated, day(1)),
        changed(Site.Suspended, day(2)),
    ],
    SiteStatus.TERMINATED: lambda kind: [
        registered(kind),
        changed(Site.Activated, day(1)),
        changed(Site.Terminated, day(2)),
    ],
}


def site_in(status: SiteStatus, kind: str = "MODULAR_UNIT") -> Site:
    return given(*HISTORIES[status](kind))


LAST_CHANGE = {
    SiteStatus.REGISTERED: day(0),
    SiteStatus.ACTIVE: day(1),
    SiteStatus.SUSPENDED: day(2),
    SiteStatus.TERMINATED: day(2),
}


def command(site: Site, verb: str, at: datetime) -> None:
    if verb == "relocate":
        site.relocate("Tainan Science Park", "TW", "TFDA", "host changed", at, **ACTOR)
    else:
        getattr(site, verb)("per SOP-DM-004", at, **ACTOR)


def assert_refused(
    site: Site, verb: str, at: datetime, error: type[Exception] = RuleViolationError
) -> None:
    status, history, version = site.status, list(site.history), site.version
    with pytest.raises(error) as caught:
        command(site, verb, at)
    assert getattr(caught.value, "code", None) == "RULE_VIOLATION"
    assert site.collect_events() == []
    assert (site.status, site.history, site.version) == (status, history, version)


# ------------------------------------------------------------------------------ registration


def test_a_new_site_is_registered_with_every_field_it_was_given():
    site = Site.create(
        site_id=KEY,
        name="Hsinchu unit",
        kind="MODULAR_UNIT",
        jurisdiction="TW",
        country="TW",
        supervising_authority="TFDA",
        licence_number="TFDA-DM-0102",
        control_site_id="TW-CTRL",
        location="Hsinchu",
        occurred_at=T0,
        **ACTOR,
    )

    (event,) = site.collect_events()
    assert isinstance(event, Site.Registered)
    assert (event.originator_id, event.originator_version) == ("Site:MU-HSINCHU-1", 1)
    assert (event.actor, event.actor_role, event.occurred_at) == (
        "qa-officer-7",
        "administrator",
        T0,
    )
    assert (event.kind, event.control_site_id, event.licence_number) == (
        "MODULAR_UNIT",
        "TW-CTRL",
        "TFDA-DM-0102",
    )
    assert site.key == KEY
    assert site.kind is SiteKind.MODULAR_UNIT
    assert site.status is SiteStatus.REGISTERED
    assert site.history == [(SiteStatus.REGISTERED, T0)]
    assert not site.is_control_site


def test_a_replayed_registration_gives_the_same_site_as_the_original():
    original = Site.create(
        site_id="TW-CTRL",
        name="Taipei control",
        kind="CONTROL_SITE",
        jurisdiction="TW",
        country="TW",
        supervising_authority="TFDA",
        licence_number=None,
        control_site_id=None,
        location=None,
        occurred_at=T0,
        **ACTOR,
    )
    replayed = given(*original.collect_events())

    assert replayed.is_control_site
    assert (replayed.id, replayed.version, replayed.status, replayed.history) == (
        original.id,
        original.version,
        original.status,
        original.history,
    )


# ------------------------------------------------------------------------------- transitions


def test_a_registered_site_is_activated():
    site = given(registered())

    site.activate("IQ/OQ/PQ complete", day(1), **ACTOR)

    (event,) = site.collect_events()
    assert isinstance(event, Site.Activated)
    assert (event.reason, event.occurred_at, event.originator_version) == (
        "IQ/OQ/PQ complete",
        day(1),
        2,
    )
    assert (event.actor, event.actor_role) == ("qa-officer-7", "administrator")
    assert site.status is SiteStatus.ACTIVE
    assert site.history[-1] == (SiteStatus.ACTIVE, day(1))


def test_an_active_site_is_suspended():
    site = given(registered(), changed(Site.Activated, day(1)))

    site.suspend("HEPA filter integrity test failed", day(2), **ACTOR)

    (event,) = site.collect_events()
    assert isinstance(event, Site.Suspended)
    assert event.reason == "HEPA filter integrity test failed"
    assert site.status is SiteStatus.SUSPENDED
    assert site.history[-1] == (SiteStatus.SUSPENDED, day(2))


def test_a_suspended_site_is_reinstated_to_active():
    site = given(registered(), changed(Site.Activated, day(1)), changed(Site.Suspended, day(2)))

    site.reinstate("Requalification passed", day(3), **ACTOR)

    (event,) = site.collect_events()
    assert isinstance(event, Site.Reinstated)
    assert site.status is SiteStatus.ACTIVE
    assert [status for status, _ in site.history] == [
        SiteStatus.REGISTERED,
        SiteStatus.ACTIVE,
        SiteStatus.SUSPENDED,
        SiteStatus.ACTIVE,
    ]


@pytest.mark.parametrize("status", [SiteStatus.REGISTERED, SiteStatus.ACTIVE, SiteStatus.SUSPENDED])
def test_a_site_in_any_live_status_can_be_terminated(status):
    site = site_in(status)

    site.terminate("Agreement ended", day(5), **ACTOR)

    (event,) = site.collect_events()
    assert isinstance(event, Site.Terminated)
    assert site.status is SiteStatus.TERMINATED
    assert site.history[-1] == (SiteStatus.TERMINATED, day(5))


@pytest.mark.parametrize("kind", ["MODULAR_UNIT", "POC_MOBILE"])
@pytest.mark.parametrize("status", [SiteStatus.REGISTERED, SiteStatus.SUSPENDED])
def test_a_relocatable_unit_that_is_not_active_is_relocated(kind, status):
    site = site_in(status, kind)

    site.relocate("UMC Utrecht", "TW", "TFDA Southern Centre", "host changed", day(4), **ACTOR)

    (event,) = site.collect_events()
    assert isinstance(event, Site.Relocated)
    assert (event.location, event.country, event.supervising_authority, event.reason) == (
        "UMC Utrecht",
        "TW",
        "TFDA Southern Centre",
        "host changed",
    )
    assert (site.location, site.supervising_authority) == ("UMC Utrecht", "TFDA Southern Centre")
    assert site.status is status, "relocation is not a status change"


def test_a_relocated_unit_must_be_reinstated_before_it_is_active_again():
    site = given(
        registered(),
        changed(Site.Activated, day(1)),
        changed(Site.Suspended, day(2)),
        relocated(day(3)),
    )
    assert site.status is SiteStatus.SUSPENDED

    site.reinstate("Requalified at the new host", day(4), **ACTOR)

    assert site.status is SiteStatus.ACTIVE
    assert site.location == "Tainan Science Park"


# --------------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("verb", "status"),
    [
        ("activate", SiteStatus.ACTIVE),
        ("activate", SiteStatus.SUSPENDED),
        ("suspend", SiteStatus.REGISTERED),
        ("suspend", SiteStatus.SUSPENDED),
        ("reinstate", SiteStatus.REGISTERED),
        ("reinstate", SiteStatus.ACTIVE),
    ],
)
def test_a_transition_from_the_wrong_status_is_refused(verb, status):
    site = site_in(status)

    assert_refused(site, verb, day(10))


@pytest.mark.parametrize("verb", ["activate", "suspend", "reinstate", "terminate", "relocate"])
@pytest.mark.parametrize("kind", ["MODULAR_UNIT", "POC_MOBILE"])
def test_a_terminated_site_never_comes_back(verb, kind):
    site = site_in(SiteStatus.TERMINATED, kind)

    assert_refused(site, verb, day(10), SiteTerminatedError)


def test_a_site_terminated_straight_from_registration_never_comes_back():
    site = given(registered(), changed(Site.Terminated, day(1)))

    assert_refused(site, "activate", day(2), SiteTerminatedError)


@pytest.mark.parametrize(
    "kind",
    [kind.value for kind in SiteKind if kind not in (SiteKind.MODULAR_UNIT, SiteKind.POC_MOBILE)],
)
@pytest.mark.parametrize("status", [SiteStatus.REGISTERED, SiteStatus.SUSPENDED])
def test_only_modular_and_mobile_units_are_relocated(kind, status):
    site = site_in(status, kind)

    assert_refused(site, "relocate", day(10))


@pytest.mark.parametrize("kind", ["MODULAR_UNIT", "POC_MOBILE"])
def test_an_active_unit_is_not_relocated(kind):
    site = site_in(SiteStatus.ACTIVE, kind)

    assert_refused(site, "relocate", day(10))


@pytest.mark.parametrize(
    ("verb", "status"),
    [
        ("activate", SiteStatus.REGISTERED),
        ("suspend", SiteStatus.ACTIVE),
        ("reinstate", SiteStatus.SUSPENDED),
        ("terminate", SiteStatus.REGISTERED),
        ("terminate", SiteStatus.ACTIVE),
        ("terminate", SiteStatus.SUSPENDED),
        ("relocate", SiteStatus.REGISTERED),
        ("relocate", SiteStatus.SUSPENDED),
    ],
)
def test_a_change_effective_before_the_last_status_change_is_refused(verb, status):
    site = site_in(status)

    assert_refused(site, verb, LAST_CHANGE[status] - timedelta(microseconds=1))


def test_effective_times_are_ordered_as_instants_whatever_their_zone():
    site = given(registered(), changed(Site.Activated, day(1)))  # 2025-03-04 09:00 UTC
    # Taipei wall clocks read later than 09:00, but 16:59:59+08:00 is 08:59:59 UTC.
    earlier = datetime(2025, 3, 4, 16, 59, 59, tzinfo=TAIPEI)
    later = datetime(2025, 3, 4, 17, 0, 1, tzinfo=TAIPEI)

    assert_refused(site, "suspend", earlier)
    site.suspend("deviation", later, **ACTOR)

    assert site.status is SiteStatus.SUSPENDED


def test_a_reinstatement_effective_before_the_relocation_is_refused():
    # The unit was relocated on day 3 because it was not ACTIVE; reinstating it with effect
    # from day 2.5 would record it as ACTIVE while it was being moved.
    site = given(
        registered(),
        changed(Site.Activated, day(1)),
        changed(Site.Suspended, day(2)),
        relocated(day(3)),
    )

    assert_refused(site, "reinstate", day(2.5))


# ---------------------------------------------------------------------------- status in force


STORY_TIMES = {
    "before registration": (day(-1), None),
    "at registration": (day(0), SiteStatus.REGISTERED),
    "registered, not yet active": (day(0.5), SiteStatus.REGISTERED),
    "the instant of activation": (day(1), SiteStatus.ACTIVE),
    "active": (day(1.5), SiteStatus.ACTIVE),
    "suspended": (day(2.5), SiteStatus.SUSPENDED),
    "just before reinstatement": (day(3) - timedelta(microseconds=1), SiteStatus.SUSPENDED),
    "reinstated": (day(3.5), SiteStatus.ACTIVE),
    "terminated": (day(4), SiteStatus.TERMINATED),
    "long after termination": (day(4000), SiteStatus.TERMINATED),
}


def storied_site() -> Site:
    return given(
        registered(),
        changed(Site.Activated, day(1)),
        changed(Site.Suspended, day(2)),
        changed(Site.Reinstated, day(3)),
        changed(Site.Terminated, day(4)),
    )


@pytest.mark.parametrize("moment", list(STORY_TIMES), ids=list(STORY_TIMES))
def test_status_at_answers_the_status_in_force_at_that_business_time(moment):
    at, expected = STORY_TIMES[moment]

    assert storied_site().status_at(at) is expected


def test_status_at_compares_instants_not_wall_clock_times():
    site = given(registered(), changed(Site.Activated, day(1)))
    # 16:59 in Taipei on day 1 is 08:59 UTC, a minute before the 09:00 UTC activation.
    just_before = datetime(2025, 3, 4, 16, 59, tzinfo=TAIPEI)

    assert site.status_at(just_before) is SiteStatus.REGISTERED
    assert site.status_at(just_before + timedelta(minutes=1)) is SiteStatus.ACTIVE


def test_require_active_refuses_a_site_that_was_not_active_at_that_time():
    site = storied_site()

    site.require_active(day(1.5))
    for at in (day(-1), day(0.5), day(2.5), day(4.5)):
        with pytest.raises(SiteNotActiveError) as caught:
            site.require_active(at)
        assert caught.value.code == "RULE_VIOLATION"
    with pytest.raises(SiteNotActiveError):
        site.require_active()
