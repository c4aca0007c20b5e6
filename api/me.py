"""``me``: who the credential of this request is, what its role may do and which sites it reaches.

Every authenticated caller may ask about itself (the web console shows it on sign-in); it names
no record, so it needs none of the role table's queries: its guard only refuses a caller that is
nobody. The sites it reaches are worked out as every list query's reach is (api/auth/identity.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread
import strawberry
from strawberry.types import Info as StrawberryInfo

from api.auth.guard import Guard, forbidden
from api.auth.identity import Identity
from api.auth.roles import NOBODY
from api.context import Info


class AnyCaller(Guard):
    """The guard of ``me``: any authenticated caller, whatever its role's table of queries."""

    async def resolve_async(
        self,
        next_: Callable[..., Awaitable[Any]],
        source: Any,
        info: StrawberryInfo,
        **kwargs: Any,
    ) -> Any:
        identity: Identity = info.context.identity
        if identity.role is NOBODY or info.operation.operation.value != "query":
            raise forbidden("me answers only an authenticated query")
        return await next_(source, info, **kwargs)


@strawberry.type(description="The caller: its role, what the role may do, and its reach.")
class Me:
    id: str = strawberry.field(description="the actor recorded on the events it causes")
    role: str
    role_description: str
    scope: str = strawberry.field(description="sites, jurisdiction or all")
    sites: list[str] = strawberry.field(description="the sites named on the credential")
    jurisdiction: str | None
    member_state: str | None
    via: str = strawberry.field(description="api-key, oidc or development")
    personal_data: bool = strawberry.field(description="may see donors' personal data")
    queries: list[str] = strawberry.field(description="the root queries the role may use")
    mutations: list[str] = strawberry.field(description="the commands the role may send")
    reach: list[str] | None = strawberry.field(
        description="the sites whose records it sees now (null: every site)"
    )


@strawberry.type
class MeQueries:
    @strawberry.field(
        description="Who the caller is: role, scope, reach and what it may query and send.",
        extensions=[AnyCaller()],
    )
    async def me(self, info: Info) -> Me:
        identity = info.context.identity

        def reach() -> tuple[str, ...] | None:
            with info.context.service.read() as sql:
                return identity.reach(sql)

        sites = await anyio.to_thread.run_sync(reach)
        role = identity.role
        return Me(
            id=identity.id,
            role=role.name,
            role_description=role.description,
            scope=role.scope.value,
            sites=list(identity.sites),
            jurisdiction=identity.jurisdiction,
            member_state=identity.member_state,
            via=identity.via,
            personal_data=role.personal_data,
            queries=sorted(role.queries),
            mutations=sorted(role.mutations),
            reach=None if sites is None else sorted(sites),
        )
