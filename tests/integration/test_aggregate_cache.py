"""The aggregate cache shared by a process's commands (domain/ledger.py): what another process
wrote is seen at the next command, with one read per command rather than one per aggregate.

Two ``Regentrace`` services open the same database, as two server processes would. ``mine``
keeps sites in its cache; ``theirs`` changes them. ``mine``'s next command must decide on what
is stored (the rule's own refusal, not a CONFLICT from a decision taken on a stale copy), also
when ``theirs`` wrote more than one look reads. A copy read before a look passed a newer event
of it is not cached, a late save never replaces a newer copy, and a stale copy put back by a
race the looks cannot see costs at most one refusal.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from eventsourcing.application import project_aggregate

from api.wiring import Regentrace
from domain import ledger
from domain.shared import ConflictError, DomainError, utcnow
from domain.site import Site, SiteStatus
from tests.conftest import ADMIN, ledger_size

CTRL = "TW-CTRL"
SPOKE = "TW-MU-1"
T0 = (utcnow() - timedelta(days=10)).replace(microsecond=0)


def hours(n: float):
    return T0 + timedelta(hours=n)


@pytest.fixture
def services(settings) -> Iterator[tuple[Regentrace, Regentrace]]:
    mine, theirs = Regentrace(settings), Regentrace(settings)
    try:
        yield mine, theirs
    finally:
        mine.close()
        theirs.close()


def register(service: Regentrace, site_id: str, kind: str, control: str | None) -> None:
    service.app.sites.register_site(
        ADMIN,
        site_id=site_id,
        name=site_id,
        kind=kind,
        jurisdiction="TW",
        country="TW",
        supervising_authority="TFDA",
        licence_number=f"TFDA-{site_id}",
        control_site_id=control,
        registered_at=hours(0),
    )


@pytest.fixture
def cached(services) -> tuple[Regentrace, Regentrace]:
    """An active control site with a registered spoke, both in ``mine``'s cache."""
    mine, theirs = services
    register(mine, CTRL, "CONTROL_SITE", None)
    register(mine, SPOKE, "MODULAR_UNIT", CTRL)
    mine.app.sites.activate_site(ADMIN, CTRL, "qualified", hours(1))
    assert mine.app.get(Site, CTRL).status is SiteStatus.ACTIVE  # loaded, so cached
    assert Site.ledger_id(CTRL) in mine.app.repository.cache.cache
    return mine, theirs


def activating_the_spoke_is_refused_for_the_suspended_control_site(mine: Regentrace) -> None:
    before = ledger_size(mine)
    with pytest.raises(DomainError) as refused:
        mine.app.sites.activate_site(ADMIN, SPOKE, "qualified", hours(2))
    assert not isinstance(refused.value, ConflictError), refused.value
    assert refused.value.code == "RULE_VIOLATION"
    assert "SUSPENDED" in str(refused.value)
    assert ledger_size(mine) == before


def test_a_change_another_process_made_is_seen_by_the_next_command(cached):
    mine, theirs = cached
    theirs.app.sites.suspend_site(ADMIN, CTRL, "QP left", hours(1.5))

    activating_the_spoke_is_refused_for_the_suspended_control_site(mine)
    assert mine.app.get(Site, CTRL).status is SiteStatus.SUSPENDED


def test_a_look_reads_once_per_command_whatever_it_loads(cached, monkeypatch):
    mine, theirs = cached
    looks: list[int] = []
    recorder = mine.app.recorder
    changed_since = recorder.changed_since
    monkeypatch.setattr(
        recorder, "changed_since", lambda p, n: looks.append(p) or changed_since(p, n)
    )
    theirs.app.sites.suspend_site(ADMIN, CTRL, "QP left", hours(1.5))

    activating_the_spoke_is_refused_for_the_suspended_control_site(mine)  # loads both sites
    assert len(looks) == 1
    mine.app.sites.reinstate_site(ADMIN, CTRL, "QP back", hours(3))
    assert len(looks) == 2


def test_a_process_far_behind_starts_again_from_the_database(cached, monkeypatch):
    mine, theirs = cached
    monkeypatch.setattr(ledger, "CATCH_UP_LIMIT", 3)
    for n in range(4):  # more events than one look reads
        register(theirs, f"TW-LAB-{n}", "TESTING_LABORATORY", None)
    theirs.app.sites.suspend_site(ADMIN, CTRL, "QP left", hours(1.5))
    kept_before = mine.app.repository.cache

    activating_the_spoke_is_refused_for_the_suspended_control_site(mine)
    assert mine.app.repository.cache is not kept_before  # dropped whole
    assert mine.app.get(Site, "TW-LAB-3").status is SiteStatus.REGISTERED


def test_a_copy_read_before_a_look_passed_a_newer_event_is_not_cached(cached):
    mine, theirs = cached
    repository = mine.app.repository
    control = Site.ledger_id(CTRL)
    mine.app.forget(control)
    # A load in another thread of mine reads the control site, ACTIVE, from the database...
    epoch = repository.epoch
    stale = project_aggregate(None, repository.event_store.get(control))
    # ...then, before it caches its copy, theirs suspends the site and a look of mine sees it.
    theirs.app.sites.suspend_site(ADMIN, CTRL, "QP left", hours(1.5))
    mine.app.get(Site, SPOKE)
    repository.keep(control, stale, epoch)

    assert control not in repository.cache.cache
    activating_the_spoke_is_refused_for_the_suspended_control_site(mine)


def test_a_saved_copy_never_replaces_a_newer_one(cached):
    mine, _ = cached
    repository = mine.app.repository
    control = Site.ledger_id(CTRL)
    older = repository.get(control)
    mine.app.sites.suspend_site(ADMIN, CTRL, "audit", hours(1.5))

    repository.keep(control, older, repository.epoch)  # a save that finished late
    assert repository.cache.get(control).status is SiteStatus.SUSPENDED


def test_a_stale_copy_costs_at_most_one_refusal(cached):
    mine, theirs = cached
    mine.app.sites.suspend_site(ADMIN, CTRL, "audit", hours(1.5))
    control = Site.ledger_id(CTRL)
    suspended = mine.app.repository.cache.get(control)
    theirs.app.sites.reinstate_site(ADMIN, CTRL, "audit closed", hours(1.8))
    mine.app.get(Site, SPOKE)  # a look passes the reinstatement
    # As if a race the looks cannot see had put the suspended copy back afterwards.
    mine.app.repository.cache.put(control, suspended)

    with pytest.raises(DomainError) as refused:
        mine.app.sites.activate_site(ADMIN, SPOKE, "qualified", hours(2))
    assert "SUSPENDED" in str(refused.value)  # decided on the stale copy, once
    mine.app.sites.activate_site(ADMIN, SPOKE, "qualified", hours(2))
    assert mine.app.get(Site, SPOKE).status is SiteStatus.ACTIVE


def test_a_process_keeps_what_it_saved_without_reading_it_again(cached):
    mine, _ = cached
    mine.app.sites.suspend_site(ADMIN, CTRL, "audit", hours(1.5))
    kept = mine.app.repository.cache.get(Site.ledger_id(CTRL))
    assert kept.status is SiteStatus.SUSPENDED  # the saved aggregate, as stored

    mine.app.sites.reinstate_site(ADMIN, CTRL, "audit closed", hours(2))
    assert mine.app.get(Site, CTRL).status is SiteStatus.ACTIVE
