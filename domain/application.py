"""The one ledger: a single eventsourcing Application holding every aggregate.

One application means one global order of events: the order regulators replay and the hash chain
covers. Each aggregate's commands live in a mixin; this class composes them.
"""

from __future__ import annotations

from domain.site_commands import SiteCommands


class TraceabilityLedger(SiteCommands):
    """Every aggregate of regentrace, in one ledger."""
