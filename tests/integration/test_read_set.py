"""The read set (domain/ledger.py): a decision taken on a stale read is refused with CONFLICT.

Two ``Regentrace`` services open the same database, as two server processes would. One of them
takes a cross-aggregate decision ("the spoke may be activated: its control site is ACTIVE") inside
a unit of work, exactly as a command does; the other changes what that decision read before
the first one writes. The append must then refuse (CONFLICT) and store nothing. Without the
concurrent change, the same sequence is recorded.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from api.wiring import Regentrace
from domain import ledger
from domain.batch import Batch
from domain.ledger import UnitOfWork
from domain.material_lot import MaterialLot
from domain.shared import ConflictError, utcnow
from domain.site import Site, SiteStatus
from tests.conftest import ADMIN, ledger_size

CTRL = "TW-CTRL"
SPOKE = "TW-MU-1"
T0 = (utcnow() - timedelta(days=10)).replace(microsecond=0)
ACTOR = {"actor": ADMIN.id, "actor_role": ADMIN.role}


def hours(n: float):
    return T0 + timedelta(hours=n)


@pytest.fixture
def services(settings) -> Iterator[tuple[Regentrace, Regentrace]]:
    """Two services on one database: ``mine`` decides, ``theirs`` writes concurrently."""
    mine, theirs = Regentrace(settings), Regentrace(settings)
    try:
        yield mine, theirs
    finally:
        mine.close()
        theirs.close()


def network(service: Regentrace) -> None:
    """An ACTIVE control site and a spoke registered under it, not yet active."""
    app = service.app
    for site_id, kind, control in ((CTRL, "CONTROL_SITE", None), (SPOKE, "MODULAR_UNIT", CTRL)):
        app.sites.register_site(
            ADMIN,
            site_id=site_id,
            name=site_id,
            kind=kind,
            jurisdiction="TW",
            country="TW",
            supervising_authority="TFDA",
            licence_number=f"TFDA-{site_id}",  # Taiwanese sites are licensed
            control_site_id=control,
            registered_at=hours(0),
        )
    app.sites.activate_site(ADMIN, CTRL, "qualified", hours(1))


def activate_spoke_after_checking_control(service: Regentrace, concurrently=None):
    """The decision, step by step: read the control site, check it, then write the spoke."""
    with service.app.unit_of_work() as uow:
        control = uow.load(Site, CTRL)
        assert uow.loaded_versions() == {control.id: control.version}
        assert control.status is SiteStatus.ACTIVE
        if concurrently is not None:
            concurrently()
        spoke = uow.load(Site, SPOKE)
        spoke.activate("qualified", hours(2), **ACTOR)
        return uow.save(spoke)


def status(service: Regentrace, site_id: str) -> SiteStatus:
    site = service.app.repository.get(Site.ledger_id(site_id))
    return site.status


# --------------------------------------------------------------------------------------- tests


def test_a_decision_on_a_control_site_suspended_meanwhile_is_a_conflict(services):
    mine, theirs = services
    network(mine)

    def suspend_control_site():
        theirs.app.sites.suspend_site(ADMIN, CTRL, "QP left", hours(1.5))

    with pytest.raises(ConflictError) as caught:
        activate_spoke_after_checking_control(mine, concurrently=suspend_control_site)

    assert caught.value.code == "CONFLICT"
    assert ledger_size(mine) == 4  # two registrations, an activation, the suspension
    assert status(mine, SPOKE) is SiteStatus.REGISTERED
    assert status(theirs, CTRL) is SiteStatus.SUSPENDED


def test_the_same_decision_without_a_concurrent_change_is_recorded(services):
    mine, _ = services
    network(mine)
    before = ledger_size(mine)

    result = activate_spoke_after_checking_control(mine)

    assert ledger_size(mine) == before + 1
    assert (result.aggregate_id, result.version) == (Site.ledger_id(SPOKE), 2)
    assert status(mine, SPOKE) is SiteStatus.ACTIVE


def test_a_concurrent_change_to_an_aggregate_that_was_not_read_is_no_conflict(services):
    mine, theirs = services
    network(mine)
    theirs.app.sites.register_site(
        ADMIN,
        site_id="TW-LAB",
        name="lab",
        kind="TESTING_LABORATORY",
        jurisdiction="TW",
        country="TW",
        supervising_authority="TFDA",
        registered_at=hours(0),
    )

    def activate_an_unrelated_lab():
        theirs.app.sites.activate_site(ADMIN, "TW-LAB", "qualified", hours(1.5))

    activate_spoke_after_checking_control(mine, concurrently=activate_an_unrelated_lab)

    assert status(mine, SPOKE) is SiteStatus.ACTIVE
    assert status(mine, "TW-LAB") is SiteStatus.ACTIVE


def test_a_concurrent_write_to_the_aggregate_being_written_is_a_conflict(services):
    mine, theirs = services
    network(mine)
    before = ledger_size(mine)
    app = mine.app

    def activate_spoke_read_before_theirs_activated_it():
        with app.unit_of_work() as uow:
            assert uow.load(Site, CTRL).status is SiteStatus.ACTIVE
            spoke = uow.load(Site, SPOKE)
            theirs.app.sites.activate_site(ADMIN, SPOKE, "qualified elsewhere", hours(1.8))
            spoke.activate("qualified", hours(2), **ACTOR)
            return uow.save(spoke)

    with pytest.raises(ConflictError):
        activate_spoke_read_before_theirs_activated_it()

    assert ledger_size(mine) == before + 1  # only theirs
    spoke = mine.app.repository.get(Site.ledger_id(SPOKE))
    assert spoke.history[-1] == (SiteStatus.ACTIVE, hours(1.8))


def test_an_aggregate_loaded_twice_in_one_command_is_one_object_read_once(services):
    mine, _ = services
    network(mine)
    app = mine.app
    with app.unit_of_work() as uow:
        first = uow.load(Site, CTRL)
        again = uow.load(Site, CTRL)
        assert again is first  # events triggered on either are stored once
        assert uow.loaded_versions() == {first.id: first.version}
    # Outside a command every load is a copy of its own.
    assert app.get(Site, CTRL) is not app.get(Site, CTRL)


def test_a_command_that_commits_twice_reads_on_from_what_it_stored(services):
    mine, _ = services
    network(mine)
    app = mine.app
    with app.unit_of_work() as uow:
        spoke = uow.load(Site, SPOKE)
        spoke.activate("qualified", hours(2), **ACTOR)
        uow.save(spoke)
        again = uow.load(Site, SPOKE)
        control = uow.load(Site, CTRL)
        control.suspend("audit", hours(4), **ACTOR)
        result = uow.save(control)  # the spoke, read at its stored version, has not moved

    assert again is spoke
    assert result.version == control.version
    assert ledger._OPEN.get() is None


def test_outside_a_unit_of_work_nothing_is_noted(services):
    mine, _ = services
    network(mine)

    assert ledger._OPEN.get() is None
    mine.app.get(Site, CTRL)
    assert ledger._OPEN.get() is None


def test_every_public_command_runs_in_a_unit_of_work_of_its_own(services, monkeypatch):
    mine, _ = services
    network(mine)
    seen: list[dict[str, int] | None] = []
    original = UnitOfWork.save

    def spy(uow, *aggregates):
        seen.append(uow.loaded_versions())
        return original(uow, *aggregates)

    monkeypatch.setattr(UnitOfWork, "save", spy)
    mine.app.sites.activate_site(ADMIN, SPOKE, "qualified", hours(2))

    # The command read the spoke (which it writes) and the control site (which it only read).
    assert seen == [{Site.ledger_id(SPOKE): 1, Site.ledger_id(CTRL): 2}]
    assert ledger._OPEN.get() is None


def test_a_batch_step_using_a_lot_rejected_meanwhile_is_a_conflict(services):
    """The same on the chain: the lot was RELEASED when read and REJECTED before the write."""
    mine, theirs = services
    network(mine)
    mine.app.sites.activate_site(ADMIN, SPOKE, "qualified", hours(2))
    mine.app.batches.receive_material_lot(ADMIN, "LOT-1", "vector", "supplier", SPOKE, hours(3))
    mine.app.batches.release_material_lot(ADMIN, "LOT-1", None, hours(3.5))
    mine.app.donors.register_donor(ADMIN, "DNR-1")
    mine.app.donors.record_consent(ADMIN, "DNR-1", "ICF-1", hours(3))
    mine.app.donors.record_donation(
        ADMIN,
        "DON-1",
        "DNR-1",
        "AUTOLOGOUS",
        SPOKE,
        "cells",
        hours(4),
        intended_patient_code="PT-1",
        source_tissue="PERIPHERAL_BLOOD_APHERESIS",
    )
    mine.app.batches.start_batch(
        ADMIN, "B-1", "CART-CD19-AUTO", "DON-1", "PT-1", CTRL, SPOKE, hours(5)
    )
    before = ledger_size(mine)

    app = mine.app

    def step_with_the_lot_read_before_theirs_rejected_it():
        with app.unit_of_work() as uow:
            batch = uow.load(Batch, "B-1")
            uow.load(MaterialLot, "LOT-1").require_usable(hours(6))
            theirs.app.batches.reject_material_lot(ADMIN, "LOT-1", "supplier recall")
            batch.record_step(
                step="Expansion",
                site_id=SPOKE,
                started_at=hours(6),
                completed_at=hours(7),
                operator="op",
                equipment=None,
                material_lots=("LOT-1",),
                parameters=None,
                **ACTOR,
            )
            return uow.save(batch)

    with pytest.raises(ConflictError):
        step_with_the_lot_read_before_theirs_rejected_it()

    assert ledger_size(mine) == before + 1  # only the rejection
    assert mine.app.repository.get(Batch.ledger_id("B-1")).version == 1
