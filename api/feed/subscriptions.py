"""The partner feed: ledger events after a position, live, over WebSocket (graphql-transport-ws).

A subscriber names the last position it has (``after``) and receives every later event it may see,
in ledger order, then each new one as it is committed. Delivery is at least once: after a
disconnect the subscriber resumes with the last position it received and gets exactly what came
next. Events are read from the ledger itself (polled, so events appended by any process reach
every subscriber), through the same reach as the ``events`` query: a partner sees only the events
of records within its scope, with sealed personal data withheld unless its role needs it.
Clients without WebSocket poll ``events(after:)`` with the cursor of their last page instead.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from functools import partial
from typing import Any

import anyio
import strawberry
from graphql import GraphQLError

from api.audit.types import EventFilter, LedgerEvent
from api.context import Info
from api.errors import masked
from api.resolve import read
from projections.scopes import Reach
from projections.sql import Sql

BATCH = 200


@strawberry.type
class FeedSubscriptions:
    @strawberry.subscription(
        description="Ledger events after position `after` (0: from the start), in ledger order, "
        "then live as they are committed; filtered like `events`. Resume after a disconnect "
        "with the last position received."
    )
    async def ledger_events(
        self,
        info: Info,
        after: int = 0,
        filter: EventFilter | None = None,
        poll_seconds: float = 0.25,
    ) -> AsyncGenerator[LedgerEvent, None]:
        identity = info.context.identity
        if "events" not in identity.role.queries:
            raise GraphQLError(
                f"the role {identity.role.name} may not follow the ledger",
                extensions={"code": "FORBIDDEN"},
            )
        if after < 0 or not 0.05 <= poll_seconds <= 60:
            raise GraphQLError(
                "after must be 0 or more and pollSeconds between 0.05 and 60",
                extensions={"code": "BAD_INPUT"},
            )
        f = filter or EventFilter()
        personal = identity.role.personal_data
        last = after
        while True:
            try:
                rows = await read(info, None, partial(_page, f, last))
            except GraphQLError:
                raise
            except Exception as error:  # a subscription's errors bypass the HTTP masking
                message, extensions = masked(error)
                raise GraphQLError(message, extensions=extensions) from None
            for row in rows:
                last = int(row["position"])
                yield LedgerEvent.of(row, personal)
            if len(rows) < BATCH:
                await anyio.sleep(poll_seconds)


def _page(
    f: EventFilter, after: int, sql: Sql, _position: int, reach: Reach | None
) -> list[dict[str, Any]]:
    return f.find(sql, reach, after, BATCH)
