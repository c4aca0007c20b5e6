"""Thin resolvers: run the synchronous ledger in a worker thread and translate its answers."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from functools import partial
from typing import Annotated, Any, TypeVar

import anyio.to_thread
import strawberry

from api.context import Info
from api.errors import from_domain
from domain.application import TraceabilityLedger
from domain.command_ids import CommandKey
from domain.shared import BadInputError, CommandResult, DomainError, require_offset
from projections.ledger import LedgerIndex
from projections.sql import Sql

T = TypeVar("T")


COMMAND_ID_DESCRIPTION = (
    "Your id for this command: 1 to 128 of the letters A-Z a-z, digits and . _ ~ : / + = - "
    "(a UUID will do). Send one with every command. Sent again with the same id and the same "
    "input, the command answers the result it got the first time and stores nothing; with "
    "other input it is refused (CONFLICT). Your ids are yours: another caller's never collide "
    "with them. A refused command stored nothing, and its id stays free."
)
CommandId = Annotated[
    str | None, strawberry.argument(name="commandId", description=COMMAND_ID_DESCRIPTION)
]


async def command(
    info: Info,
    method: Callable[..., CommandResult],
    /,
    *args: Any,
    identified_by: tuple[str | None, object] = (None, None),
    **kwargs: Any,
) -> CommandResult:
    """Run a command of the ledger as the request's principal.

    ``identified_by``: the sender's command id and the mutation's input, whose content (with
    the mutation's name) the id stands for; with an id the command runs at most once (ADR 7).
    """
    context = info.context
    run = partial(method, context.principal, *args, **kwargs)
    try:
        command_id, input = identified_by
        if command_id is not None:
            content = arguments(input) if input is not None else {}
            key = CommandKey.of(context.principal, command_id, info.field_name, content)
            run = partial(ledger(info).once, key, run)
        result = await anyio.to_thread.run_sync(run)
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

    async def resolve(info: Info, input: Any, command_id: str | None = None) -> CommandResult:
        app = info.context.service.app
        group = next(g for g in TraceabilityLedger.groups() if name in vars(g))
        method = app.bind(getattr(group, name))
        result = await command(info, method, identified_by=(command_id, input), **arguments(input))
        return CommandResult.of(result)

    resolve.__annotations__ = {
        "info": Info,
        "input": input_type,
        "command_id": CommandId,
        "return": CommandResult,
    }
    return strawberry.mutation(resolver=resolve, description=description)
