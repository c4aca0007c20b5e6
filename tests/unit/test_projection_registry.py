"""The registry is built from what each projection declares: which share of a rebuild runs which
handler follows from the tables each projection writes, the rows it borrows and the tables it
amends, with no list of its own to keep in step."""

from __future__ import annotations

import pytest

from domain.batch import Batch
from domain.donation import Donation
from domain.donor import Donor
from projections import corrections, registry

SHARES = registry.SHARES


def _running(event_type: type) -> list[int]:
    """The shares (by index) that run any handler of ``event_type``."""
    return [n for n, share in enumerate(SHARES) if share.handles(event_type)]


@pytest.mark.parametrize("event_type", sorted(corrections.VIEWS))
def test_a_correction_runs_in_the_one_share_that_builds_the_view_it_amends(event_type):
    table, _, aggregate = corrections.VIEWS[event_type]
    owners = [n for n, share in enumerate(SHARES) if table.table in share.tables]
    amending = [
        n
        for n, share in enumerate(SHARES)
        if share.runs(corrections.PROJECTION, aggregate.Corrected, aggregate.__name__)
    ]
    assert len(owners) == 1
    assert amending == owners


def test_a_share_runs_the_handlers_it_borrows_rows_from_and_no_others_of_that_projection():
    chain = registry.BY_NAME["chain"]
    source_and_flow = next(s for s in SHARES if "source_and_flow" in s.projections)
    assert "chain" not in source_and_flow.projections

    assert source_and_flow.runs(chain, Donation.Recorded, "Donation")
    assert not source_and_flow.runs(chain, Batch.Released, "Batch")
    assert not source_and_flow.runs(chain, Donor.Registered, "Donor")


def test_every_event_a_projection_handles_is_handled_by_some_share():
    for projection in registry.PROJECTIONS:
        for event_type in projection.handles:
            assert _running(event_type), (projection.name, event_type)
