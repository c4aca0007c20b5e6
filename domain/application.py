"""The one ledger: a single eventsourcing Application holding every aggregate.

One application means one global order of events: the order regulators replay and the hash chain
covers. Each aggregate's commands live in a mixin (sites, then donors and donations, then
materials and batches, then distribution and adverse events, each building on the one before).
"""

from __future__ import annotations

from domain.distribution_commands import DistributionCommands


class TraceabilityLedger(DistributionCommands):
    """Every aggregate of regentrace, in one ledger."""
