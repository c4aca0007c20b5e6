"""The GraphQL schema: every feature's queries and mutations composed into one."""

from __future__ import annotations

import logging
from typing import Any

import strawberry
from graphql import ASTValidationRule, GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from api.audit.mutations import AuditMutations
from api.audit.queries import AuditQueries
from api.auth.guard import Guard
from api.batch import BatchMutations
from api.chain.custody_queries import CustodyQueries
from api.chain.mutations import ChainMutations
from api.chain.queries import ChainQueries
from api.commands import check_served
from api.document_limits import OneOperation, cost_rule
from api.epcis.queries import EpcisQueries
from api.feed.subscriptions import FeedSubscriptions
from api.json_input import SCALAR_OVERRIDES
from api.me import MeQueries
from api.settings import Settings
from api.sites.mutations import SiteMutations
from api.sites.queries import SiteQueries
from api.views.institution import InstitutionMutations, InstitutionQueries
from api.views.mutations import ViewMutations
from api.views.queries import ViewQueries
from api.views.records import RecordQueries
from api.vigilance import VigilanceMutations, VigilanceQueries

Query = merge_types(
    "Query",
    (
        SiteQueries,
        ChainQueries,
        CustodyQueries,
        ViewQueries,
        RecordQueries,
        InstitutionQueries,
        AuditQueries,
        EpcisQueries,
        MeQueries,
        VigilanceQueries,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        SiteMutations,
        ChainMutations,
        ViewMutations,
        AuditMutations,
        BatchMutations,
        InstitutionMutations,
        VigilanceMutations,
    ),
)
# A mutation without a declaration would be checked against nothing: refuse to load.
check_served(f.graphql_name or f.python_name for f in Mutation.__strawberry_definition__.fields)  # type: ignore[attr-defined]

log = logging.getLogger("regentrace.api")


class Schema(strawberry.Schema):
    def process_errors(
        self,
        errors: list[GraphQLError],  # noqa: ARG002
        execution_context: ExecutionContext | None = None,  # noqa: ARG002
    ) -> None:
        # Refusals are answers, not faults: errors.with_code logs the faults once, by reference.
        return None


def build_schema(settings: Settings | None = None) -> Schema:
    """The schema, with every root query guarded (api/auth/guard.py), every mutation a declared
    command (api/commands.py, which checks its own access) and, given settings, the request
    limits they set: depth, aliases, cost, tokens, and introspection where it is off."""
    for field in Query.__strawberry_definition__.fields:  # type: ignore[attr-defined]
        if not any(isinstance(e, Guard) for e in field.extensions):
            field.extensions.append(Guard())
    # Partners send the same few documents again and again: parse and validate each once. The
    # limits' validation rules are built once too, so the validation cache recognises them.
    extensions: list[Any] = [
        lambda: ParserCache(maxsize=512),
        OneOperation,
        lambda: ValidationCache(maxsize=512),
    ]
    if settings is not None:
        s = settings
        rules: list[type[ASTValidationRule]] = [
            depth_rule(s.max_query_depth, should_ignore=None),
            aliases_rule(s.max_aliases),
            cost_rule(s.max_query_cost),
        ]
        extensions += [
            lambda: AddValidationRules(rules),
            lambda: MaxTokensLimiter(max_token_count=s.max_tokens),
        ]
        if not settings.introspection_enabled:
            extensions.append(DisableIntrospection)
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=FeedSubscriptions,
        extensions=extensions,
        scalar_overrides=SCALAR_OVERRIDES,  # JSON inputs: depth checked first (api/json_input.py)
    )


def sdl() -> str:
    return build_schema().as_str() + "\n"


__all__: list[Any] = ["build_schema", "sdl"]
