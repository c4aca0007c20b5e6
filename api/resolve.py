"""Thin resolvers: read the views in a worker thread at one ledger position. (Commands run
through their declarations, api/commands.py.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import anyio.to_thread

from api.context import Info
from api.errors import from_domain
from domain.application import TraceabilityLedger
from domain.shared import BadInputError, require_offset
from projections.ledger import LedgerIndex
from projections.scopes import Reach
from projections.sql import Sql

T = TypeVar("T")


Query = Callable[[Sql, int, Reach | None], T]


async def read(info: Info, as_of: datetime | None, query: Query[T]) -> T:
    """Answer ``query`` at the ledger position that stood at ``as_of`` (the head when None),
    for the caller's reach: ``query(sql, position, reach)``.

    Every read resolves a position first, so one answer never mixes two moments, whether it is
    about now or about the past. The reach goes to every query that lists records, which cuts
    its answer to it where the answer is built.
    """
    try:
        if as_of is not None:
            require_offset(as_of, "asOf")
    except BadInputError as error:
        raise from_domain(error) from error

    def run(sql: Sql) -> T:
        reach = info.context.identity.reach(sql)
        return query(sql, LedgerIndex(sql).position_at(as_of), reach)

    # A query reads a read replica when there are any (api/replicas.py), a mutation the primary.
    operation = info.operation.operation.value
    return await anyio.to_thread.run_sync(info.context.query, operation, as_of, run)


def ledger(info: Info) -> TraceabilityLedger:
    return info.context.service.app
