"""What a projection declares: the tables it writes and the events it reads.

Each projection module states this once, as ``PROJECTION``; projections/registry.py lists the
modules and builds from their declarations everything that dispatches events (inline, in a
rebuild, in a rebuild's worker processes). A projection module never imports the registry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from projections.ledger import Appended
from projections.sql import Sql

Handler = Callable[[Sql, Appended], None]


@dataclass(frozen=True)
class Projection:
    """One view's declaration.

    ``handles``: the event classes it reads, each with its handler; a handler also receives
    the subclasses of its class, so one serves a family (every site status change).
    ``tables``: the tables it writes and owns, children before parents (the order to empty
    them in).
    ``borrows``: rows of another projection its handlers read, as (that projection's name, the
    aggregate whose events write them); a rebuild worker building this projection without that
    one also runs that one's handlers of those events, into its own scratch file.
    ``amends``: handled event classes whose handler changes rows of a table another projection
    owns (a correction), and that table; a rebuild runs the handler where the table is built.
    """

    name: str
    tables: tuple[str, ...]
    handles: Mapping[type, Handler]
    borrows: tuple[tuple[str, type], ...] = ()
    amends: Mapping[type, str] = field(default_factory=dict)
