"""Thin resolvers: run the synchronous ledger in a worker thread and translate its answers."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from functools import partial
from typing import Any, TypeVar

import anyio.to_thread
import strawberry

from api.context import Info
from api.errors import from_domain
from domain.application import TraceabilityLedger
from domain.shared import BadInputError, CommandResult, DomainError, require_offset
from projections.ledger import LedgerIndex
from projections.sql import Sql

T = TypeVar("T")


async def command(
    info: Info, method: Callable[..., CommandResult], /, *args: Any, **kwargs: Any
) -> CommandResult:
    """Run a command of the ledger as the request's principal."""
    context = info.context
    try:
        result = await anyio.to_thread.run_sync(partial(method, context.principal, *args, **kwargs))
    except DomainError as error:
        raise from_domain(error) from error
    context.log.positions.append(result.position)
    return result


async def read(info: Info, as_of: datetime | None, query: Callable[[Sql, int], T]) -> T:
    """Answer ``query`` at the ledger position that stood at ``as_of`` (the head when None).

    Every read resolves a position first, so one answer never mixes two moments, whether it is
    about now or about the past.
    """
    try:
        if as_of is not None:
            require_offset(as_of, "asOf")
    except BadInputError as error:
        raise from_domain(error) from error

    def run() -> T:
        with info.context.service.read() as sql:
            sql.reach = info.context.identity.reach(sql)
            return query(sql, LedgerIndex(sql).position_at(as_of))

    return await anyio.to_thread.run_sync(run)


def arguments(input: object) -> dict[str, Any]:
    """A GraphQL input as the keyword arguments of the command it feeds.

    Input fields are named as the parameters of the command (``consentReference`` becomes
    ``consent_reference``), so a resolver passes them through without restating each one.
    """
    return {f.name: _plain(getattr(input, f.name)) for f in dataclasses.fields(input)}  # type: ignore[arg-type]


def _plain(value: Any) -> Any:
    if value is strawberry.UNSET:
        return None
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return arguments(value)
    return value


def ledger(info: Info) -> TraceabilityLedger:
    return info.context.service.app


def command_mutation(name: str, input_type: type, description: str) -> Any:
    """A mutation that passes its input to the ledger command ``name`` and answers where it
    landed: one definition for every command whose input fields are the command's parameters."""
    from api.common import CommandResult

    async def resolve(info: Info, input: Any) -> CommandResult:
        method = getattr(info.context.service.app, name)
        return CommandResult.of(await command(info, method, **arguments(input)))

    resolve.__annotations__ = {"info": Info, "input": input_type, "return": CommandResult}
    return strawberry.mutation(resolver=resolve, description=description)
