"""The application's command groups, and a command found by reference (``bind``)."""

from __future__ import annotations

import inspect

import pytest

from domain.application import TraceabilityLedger
from domain.batch_commands import BatchCommands
from domain.cell_bank_commands import CellBankCommands
from domain.container_commands import ContainerCommands
from domain.correction_commands import CorrectionCommands
from domain.custody_commands import CustodyCommands
from domain.distribution_commands import DistributionCommands
from domain.donor_commands import DonorCommands
from domain.hold_commands import HoldCommands
from domain.institution_records import InstitutionRecordCommands
from domain.recall_commands import RecallCommands
from domain.shared import CommandResult
from domain.site_commands import SiteCommands
from domain.vigilance_commands import VigilanceCommands


def test_every_group_has_its_attribute():
    assert dict(TraceabilityLedger.groups()) == {
        SiteCommands: "sites",
        DonorCommands: "donors",
        BatchCommands: "batches",
        DistributionCommands: "distribution",
        RecallCommands: "recalls",
        CorrectionCommands: "corrections",
        HoldCommands: "holds",
        VigilanceCommands: "vigilance",
        ContainerCommands: "containers",
        InstitutionRecordCommands: "institution_records",
        CustodyCommands: "custody",
        CellBankCommands: "cell_banks",
    }


@pytest.mark.parametrize(
    ("function", "group"),
    [
        (SiteCommands.register_site, "sites"),
        (DonorCommands.record_donation, "donors"),
        (BatchCommands.release_material_lot, "batches"),
        (DistributionCommands.dispatch_shipment, "distribution"),
        (RecallCommands.initiate_recall, "recalls"),
        (CorrectionCommands.correct_event, "corrections"),
        (HoldCommands.lift_batch_hold, "holds"),
    ],
)
def test_a_command_is_bound_to_its_group(function, group):
    app = TraceabilityLedger(env={})  # in memory: binding reads nothing
    try:
        assert TraceabilityLedger.group_of(function) == group
        bound = app.bind(function)
        assert bound.__name__ == function.__name__
        assert inspect.signature(bound) == inspect.signature(function.__get__(app))
        assert inspect.signature(bound).return_annotation in ("CommandResult", CommandResult)
    finally:
        app.close()


def test_a_function_of_no_group_is_refused():
    def register_site() -> None: ...

    with pytest.raises(TypeError, match="not a command of a command group"):
        TraceabilityLedger.group_of(register_site)
    with pytest.raises(TypeError):
        TraceabilityLedger.group_of(len)
