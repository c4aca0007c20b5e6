"""The one ledger: a single eventsourcing Application holding every aggregate.

One application means one global order of events: the order regulators replay and the hash chain
covers. Each aggregate's commands live in a mixin (sites, then donors and donations, then
materials and batches, then distribution and adverse events, then recalls, then corrections,
each building on the one before).
"""

from __future__ import annotations

from domain.correction_commands import CorrectionCommands


class TraceabilityLedger(CorrectionCommands):
    """Every aggregate of regentrace, in one ledger."""
