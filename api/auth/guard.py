"""Access control on every root query: the role may use it, the records it names are within the
caller's reach, and what it answers holds nothing beyond that reach.

Three layers, so that no path around one of them leaks:
1. the role's table of queries (api/auth/roles.py), checked before anything runs;
2. the sites a query names must be within the caller's reach;
3. reads carry the caller's reach into the queries that list records (``api.resolve.read``), so
   lists, filters, event history, nested records and traces only ever hold what the caller may
   see: each answer is cut where it is built, never afterwards, so what a query selects cannot
   change what it is shown.

Mutations are commands, which check the same and more in their own declaration, in the same
worker-thread call that runs them (api/commands.py).
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
from api.auth.targets import Target, first_refusal, targets_of_query
from api.auth.values import check_arguments


def forbidden(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "FORBIDDEN"})


class Guard(FieldExtension):
    """Applied to every root query by api/schema.py."""

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
        if operation != "query" or info.field_name not in identity.role.queries:
            raise forbidden(
                f"the role {identity.role.name} may not use {operation} {info.field_name}"
            )
        check_arguments(kwargs)
        targets = targets_of_query(info.field_name, kwargs)
        if targets and identity.role.scope is not Scope.ALL:  # every record is within reach
            await anyio.to_thread.run_sync(_check_targets, info, identity, targets)
        return await next_(source, info, **kwargs)


def _check_targets(info: Info, identity: Identity, targets: list[Target]) -> None:
    with info.context.service.read() as sql:
        refusal = first_refusal(sql, identity, targets)
    if refusal is not None:
        raise forbidden(refusal)
