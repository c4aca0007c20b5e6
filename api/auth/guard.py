"""Access control on every root field: the role may use it, the records it names are within the
caller's reach, and what it answers holds nothing beyond that reach.

Three layers, so that no path around one of them leaks:
1. the role's table of queries and mutations (api/auth/roles.py), checked before anything runs;
2. the records a request names (a batch, a site, a donor, an event's position) must be within
   the caller's reach; acts a control site's quality unit signs need that very control site;
3. reads carry the caller's reach into SQL (``Sql.reach``), so lists, filters, event history,
   nested records and traces only ever hold what the caller may see: each answer is cut where it
   is built, never afterwards, so what a query selects cannot change what it is shown.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread
from graphql import GraphQLError
from strawberry.extensions import FieldExtension
from strawberry.types import Info

from api.auth.identity import Identity
from api.auth.roles import Scope
from api.auth.targets import Target, targets_of
from api.auth.values import check_arguments


def forbidden(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "FORBIDDEN"})


class Guard(FieldExtension):
    """Applied to every root query and mutation by api/schema.py."""

    def resolve(  # every root field is async, so this synchronous path never serves one
        self,
        next_: Callable[..., Any],  # noqa: ARG002
        source: Any,  # noqa: ARG002
        info: Info,  # noqa: ARG002
        **kwargs: Any,  # noqa: ARG002
    ) -> Any:
        raise forbidden("this field resolves only asynchronously")

    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: Info, **kwargs: Any
    ) -> Any:
        identity: Identity = info.context.identity
        operation = info.operation.operation.value
        allowed = identity.role.mutations if operation == "mutation" else identity.role.queries
        if info.field_name not in allowed:
            raise forbidden(
                f"the role {identity.role.name} may not use {operation} {info.field_name}"
            )
        check_arguments(kwargs)
        targets = targets_of(info.field_name, kwargs, identity)
        if targets and identity.role.scope is not Scope.ALL:  # every record is within reach
            await anyio.to_thread.run_sync(_check_targets, info, identity, targets)
        return await next_(source, info, **kwargs)


def _check_targets(info: Info, identity: Identity, targets: list[Target]) -> None:
    with info.context.service.read() as sql:
        reach = identity.reach(sql)
        for target in targets:
            refusal = target.refusal(sql, identity, reach)
            if refusal is not None:
                raise forbidden(refusal)
