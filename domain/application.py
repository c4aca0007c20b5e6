"""The one ledger: a single eventsourcing Application holding every aggregate.

One application means one global order of events: the order regulators replay and the hash chain
covers. Each aggregate's commands live in a mixin (sites, then donors and donations, then
materials and batches, then distribution and adverse events, then recalls, then corrections,
each building on the one before).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from domain.batch_commands import BatchCommands
from domain.correction_commands import CorrectionCommands
from domain.distribution_commands import DistributionCommands
from domain.donor_commands import DonorCommands
from domain.recall_commands import RecallCommands
from domain.site_commands import SiteCommands

# Each command group and the attribute that holds it on the application.
_GROUPS: dict[type, str] = {
    SiteCommands: "sites",
    DonorCommands: "donors",
    BatchCommands: "batches",
    DistributionCommands: "distribution",
    RecallCommands: "recalls",
    CorrectionCommands: "corrections",
}


class TraceabilityLedger(CorrectionCommands):
    """Every aggregate of regentrace, in one ledger."""

    @classmethod
    def groups(cls) -> Mapping[type, str]:
        """Each command group class and the attribute naming its instance."""
        return _GROUPS

    @classmethod
    def group_of(cls, function: Callable[..., Any]) -> str:
        """The attribute of the group that defines ``function``; raises if none does."""
        owner = function.__qualname__.rpartition(".")[0]
        for group, attribute in cls.groups().items():
            if group.__qualname__ == owner and vars(group).get(function.__name__) is not None:
                return attribute
        raise TypeError(f"{function.__qualname__} is not a command of a command group")

    def bind(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """The command ``function`` (given by reference, e.g. ``SiteCommands.register_site``)
        bound to this application's instance of its group."""
        self.group_of(function)
        return getattr(self, function.__name__)  # type: ignore[no-any-return]
