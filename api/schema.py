"""The GraphQL schema: every feature's queries and mutations composed into one."""

from __future__ import annotations

import logging
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from api.audit.mutations import AuditMutations
from api.audit.queries import AuditQueries
from api.chain.mutations import ChainMutations
from api.chain.queries import ChainQueries
from api.sites.mutations import SiteMutations
from api.sites.queries import SiteQueries
from api.views.mutations import ViewMutations
from api.views.queries import ViewQueries

Query = merge_types("Query", (SiteQueries, ChainQueries, ViewQueries, AuditQueries))
Mutation = merge_types("Mutation", (SiteMutations, ChainMutations, ViewMutations, AuditMutations))

log = logging.getLogger("regentrace.api")


class Schema(strawberry.Schema):
    def process_errors(
        self,
        errors: list[GraphQLError],  # noqa: ARG002
        execution_context: ExecutionContext | None = None,  # noqa: ARG002
    ) -> None:
        # Refusals are answers, not faults: errors.with_code logs the faults once, by reference.
        return None


def build_schema() -> Schema:
    return Schema(query=Query, mutation=Mutation)


def sdl() -> str:
    return build_schema().as_str() + "\n"


__all__: list[Any] = ["build_schema", "sdl"]
