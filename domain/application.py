"""The one ledger: a single eventsourcing Application holding every aggregate.

One application means one global order of events: the order regulators replay and the hash chain
covers. Its commands live in sibling groups, one per area (``sites``, ``donors``, ``batches``,
``distribution``, ``recalls``, ``corrections``, ``holds``, ``containers``...), each a plain class
given the ledger core (``domain.ledger.LedgerApplication``) and running each command in a unit of
work of it.

Adding a command: the aggregate method that decides and triggers the event; the group method
that checks the input and runs ``load``, decide, ``save`` in ``self.ledger.unit_of_work()``;
and one GraphQL declaration naming the group method by reference (``SiteCommands.register_site``),
which the API runs through ``TraceabilityLedger.bind``. Rules shared by groups are functions
taking the unit of work, in the module of the aggregate they are about
(``domain.site.operating_site``, ``domain.donor.require_donor_may_give``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from domain.batch_commands import BatchCommands
from domain.cell_bank_commands import CellBankCommands
from domain.container_commands import ContainerCommands
from domain.correction_commands import CorrectionCommands
from domain.custody_commands import CustodyCommands
from domain.distribution_commands import DistributionCommands
from domain.donor_commands import DonorCommands
from domain.hold_commands import HoldCommands
from domain.institution_records import InstitutionRecordCommands
from domain.ledger import LedgerApplication
from domain.recall_commands import RecallCommands
from domain.site_commands import SiteCommands
from domain.vigilance_commands import VigilanceCommands

# Each command group and the attribute that holds it on the application.
_GROUPS: dict[type, str] = {
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


class TraceabilityLedger(LedgerApplication):
    """Every aggregate of regentrace, in one ledger, and its command groups."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sites = SiteCommands(self)
        self.donors = DonorCommands(self)
        self.batches = BatchCommands(self)
        self.distribution = DistributionCommands(self)
        self.recalls = RecallCommands(self)
        self.corrections = CorrectionCommands(self)
        self.holds = HoldCommands(self)
        self.vigilance = VigilanceCommands(self)
        self.containers = ContainerCommands(self)
        self.institution_records = InstitutionRecordCommands(self)
        self.custody = CustodyCommands(self)
        self.cell_banks = CellBankCommands(self)

    @classmethod
    def groups(cls) -> Mapping[type, str]:
        """Each command group class and the attribute naming its instance."""
        return _GROUPS

    @classmethod
    def group_of(cls, function: Callable[..., Any]) -> str:
        """The attribute of the group that defines ``function``; raises if none does."""
        owner = function.__qualname__.rpartition(".")[0]
        for group, attribute in cls.groups().items():
            if group.__qualname__ == owner and vars(group).get(function.__name__) is function:
                return attribute
        raise TypeError(f"{function.__qualname__} is not a command of a command group")

    def bind(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """The command ``function`` (given by reference, e.g. ``SiteCommands.register_site``)
        bound to this application's instance of its group."""
        group = getattr(self, self.group_of(function))
        return getattr(group, function.__name__)  # type: ignore[no-any-return]
