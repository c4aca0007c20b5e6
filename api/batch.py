"""Batched submissions (ADR 10): many commands in one request, in as few transactions as
correctness allows.

``submitCommands(input: {mode, commands: [{commandId, mutation, input}]})`` takes an ordered list
of commands, each named by its mutation and sent with the input that mutation takes (as JSON,
the same object a single mutation's ``input`` variable holds) and its sender's ``commandId``.
Each runs through exactly what its own mutation runs (api/commands.py): its input parsed and
checked against the mutation's input type, the role, the values, the declared defaults, the
records' reach, the group method, at most once for its id. Nothing is declared twice: the
commands are looked up in the one registry of declarations.

The commands share database transactions (``TraceabilityLedger.group_commit``): each runs in a
savepoint and sees what the ones before it saved.

- ``ALL_OR_NOTHING``: one transaction; a refusal rolls it back. The refused command is answered
  REFUSED, those before it ROLLED_BACK (or ALREADY_DONE: stored by an earlier call), the rest
  NOT_ATTEMPTED. Nothing is stored.
- ``UNTIL_FIRST_REFUSAL``: a transaction per ``batch_transaction_commands`` commands (which
  also bounds an ALL_OR_NOTHING batch, so that no batch holds the ledger lock long); everything
  before the first refusal is stored, the refused command is answered REFUSED and the rest
  NOT_ATTEMPTED, to be sent again once corrected.

Sent again after an interruption (the same ids, the same inputs), the commands stored already
are answered ALREADY_DONE with the result they got, and nothing is stored twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

import anyio.to_thread
import orjson
import strawberry
from graphql import GraphQLError, GraphQLInputType, Undefined, coerce_input_value
from graphql.utilities.validate_input_value import validate_input_value
from strawberry.scalars import JSON
from strawberry.types.arguments import convert_argument

from api.auth.identity import Identity
from api.commands import BATCHES, DECLARED, Command
from api.common import CommandResult
from api.context import Info
from api.errors import from_domain
from api.wiring import Regentrace
from domain.shared import BadInputError, DomainError
from domain.shared import CommandResult as Result


@strawberry.enum(description="How a batch of commands treats a refusal")
class BatchMode(Enum):
    ALL_OR_NOTHING = strawberry.enum_value(
        "ALL_OR_NOTHING",
        description="one transaction: a refusal stores nothing of the batch",
    )
    UNTIL_FIRST_REFUSAL = strawberry.enum_value(
        "UNTIL_FIRST_REFUSAL",
        description="in order until the first refusal: what came before it is stored, the "
        "rest is not attempted (an offline site's backlog)",
    )


@strawberry.enum(description="What became of one command of a batch")
class CommandStatus(Enum):
    DONE = strawberry.enum_value("DONE", description="stored by this call")
    ALREADY_DONE = strawberry.enum_value(
        "ALREADY_DONE", description="stored earlier under this commandId; its result then"
    )
    REFUSED = strawberry.enum_value("REFUSED", description="refused; see error")
    ROLLED_BACK = strawberry.enum_value(
        "ROLLED_BACK", description="accepted, then undone with its ALL_OR_NOTHING batch"
    )
    NOT_ATTEMPTED = strawberry.enum_value(
        "NOT_ATTEMPTED", description="not run: an earlier command was refused; send it again"
    )


@strawberry.input(description="One command of a batch")
class BatchedCommandInput:
    command_id: str = strawberry.field(
        name="commandId",
        description="your id for this command, required in a batch (as commandId of a mutation)",
    )
    mutation: str = strawberry.field(description="the mutation to run, e.g. recordBatchStep")
    input: JSON = strawberry.field(
        description="that mutation's input, as the object its input variable would hold"
    )


@strawberry.input(description="An ordered list of commands and how to treat a refusal")
class SubmitCommandsInput:
    mode: BatchMode
    commands: list[BatchedCommandInput]


@strawberry.type(description="Why a command of a batch was refused")
class CommandRefusal:
    code: str
    message: str
    field: str | None = None


@strawberry.type(description="One command's outcome, in the order sent")
class CommandOutcome:
    command_id: str = strawberry.field(name="commandId")
    mutation: str
    status: CommandStatus
    result: CommandResult | None = strawberry.field(
        default=None, description="where its events landed (DONE, ALREADY_DONE)"
    )
    error: CommandRefusal | None = strawberry.field(default=None, description="REFUSED only")


@strawberry.type(description="What a batch of commands did")
class SubmittedCommands:
    mode: BatchMode
    stored: int = strawberry.field(description="commands this call stored (DONE)")
    outcomes: list[CommandOutcome]


class RefusedError(Exception):
    """A command of a batch refused: its code, message and field, as its mutation answers."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.refusal = CommandRefusal(code=code, message=message, field=field)

    @classmethod
    def of(cls, error: GraphQLError | DomainError) -> RefusedError:
        if isinstance(error, DomainError):
            error = from_domain(error)
        extensions = error.extensions or {}
        field = extensions.get("field")
        return cls(
            str(extensions.get("code", "BAD_INPUT")),
            error.message,
            field if isinstance(field, str) else None,
        )


@dataclass
class Sent:
    """One command as sent, and what became of it."""

    command_id: str
    mutation: str
    input: Any
    status: CommandStatus = CommandStatus.NOT_ATTEMPTED
    result: Result | None = None
    error: CommandRefusal | None = None

    def outcome(self) -> CommandOutcome:
        return CommandOutcome(
            command_id=self.command_id,
            mutation=self.mutation,
            status=self.status,
            result=None if self.result is None else CommandResult.of(self.result),
            error=self.error,
        )


class Batch:
    """The commands of one call, run in order in the caller's name."""

    def __init__(
        self, service: Regentrace, identity: Identity, schema: strawberry.Schema, mode: BatchMode
    ) -> None:
        self.service, self.identity, self.schema, self.mode = service, identity, schema, mode

    def run(self, commands: list[Sent]) -> None:
        if self.mode is BatchMode.ALL_OR_NOTHING:
            self._transaction(commands, all_or_nothing=True)
            return
        size = self.service.settings.batch_transaction_commands
        for start in range(0, len(commands), size):
            if not self._transaction(commands[start : start + size], all_or_nothing=False):
                return

    def _transaction(self, commands: list[Sent], *, all_or_nothing: bool) -> bool:
        """Run ``commands`` in one transaction; False once one is refused."""
        app = self.service.app
        seen: set[str] = set()
        with app.group_commit() as group:
            head = app.head_position()  # the group holds the write lock: nothing lands meanwhile
            for sent in commands:
                try:
                    with group.step():
                        sent.result = self._execute(sent)
                except RefusedError as refused:
                    sent.status, sent.error = CommandStatus.REFUSED, refused.refusal
                    if all_or_nothing:
                        group.roll_back()
                        for earlier in commands:
                            if earlier.status is CommandStatus.DONE:  # its result never was
                                earlier.status, earlier.result = CommandStatus.ROLLED_BACK, None
                    return False
                again = sent.result.position <= head or sent.command_id in seen
                sent.status = CommandStatus.ALREADY_DONE if again else CommandStatus.DONE
                seen.add(sent.command_id)
        return True

    def _execute(self, sent: Sent) -> Result:
        declared = DECLARED.get(sent.mutation)
        if declared is None:
            raise RefusedError(
                "BAD_INPUT",
                f"{sent.mutation!r} is not a mutation that runs a command",
                field="mutation",
            )
        try:
            input = self._parse(declared, sent.input)
            result, _ = declared.execute(self.service, self.identity, input, sent.command_id)
        except (GraphQLError, DomainError) as error:
            raise RefusedError.of(error) from None
        return result

    def _parse(self, declared: Command, raw: Any) -> object:
        """The input as the mutation would have it: coerced to its GraphQL input type (names,
        types, enums, scalars, required fields), then made the declared input object."""
        name = declared.input.__strawberry_definition__.name  # type: ignore[attr-defined]
        graphql_type = self.schema._schema.get_type(name)
        problems: list[tuple[str, str]] = []

        def note(error: GraphQLError, path: list[str | int]) -> None:
            problems.append((".".join(str(p) for p in path), error.message))

        value = coerce_input_value(raw, _input_type(graphql_type))
        if value is Undefined:  # what is wrong with it, as GraphQL says of a variable
            validate_input_value(raw, _input_type(graphql_type), note)
            where, message = problems[0] if problems else ("", "it is not a valid input")
            raise BadInputError(f"input of {declared.name}: {message}", field=where or "input")
        registry = self.schema.schema_converter.scalar_registry
        return convert_argument(value, declared.input, registry, self.schema.config)


def _input_type(found: Any) -> GraphQLInputType:
    assert found is not None, "every declared input type is in the schema"
    return found  # type: ignore[no-any-return]


def _size_refusal(
    service: Regentrace, mode: BatchMode, commands: list[BatchedCommandInput]
) -> str | None:
    settings = service.settings
    if mode is BatchMode.ALL_OR_NOTHING and len(commands) > settings.batch_transaction_commands:
        return (
            f"an ALL_OR_NOTHING batch is one transaction: at most "
            f"{settings.batch_transaction_commands:,} commands "
            f"(REGENTRACE_BATCH_TRANSACTION_COMMANDS), this one holds {len(commands):,}; send "
            "it UNTIL_FIRST_REFUSAL or in smaller calls"
        )
    if len(commands) > settings.batch_max_commands:
        return (
            f"the batch holds {len(commands):,} commands; at most "
            f"{settings.batch_max_commands:,} are accepted in one call "
            "(REGENTRACE_BATCH_MAX_COMMANDS): send the rest in another call"
        )
    size = 0
    for sent in commands:
        size += len(orjson.dumps(sent.input)) + len(sent.command_id) + len(sent.mutation)
        if size > settings.batch_max_bytes:
            return (
                f"the batch's commands are over {settings.batch_max_bytes:,} bytes as JSON "
                "(REGENTRACE_BATCH_MAX_BYTES): send them in smaller calls"
            )
    return None


def submit(
    service: Regentrace,
    identity: Identity,
    schema: strawberry.Schema,
    mode: BatchMode,
    commands: list[BatchedCommandInput],
) -> list[Sent]:
    """Check the batch's size, then run its commands: the one worker-thread call."""
    refusal = _size_refusal(service, mode, commands)
    if refusal is not None:
        raise GraphQLError(refusal, extensions={"code": "BAD_INPUT", "field": "commands"})
    sent = [Sent(c.command_id, c.mutation, c.input) for c in commands]
    Batch(service, identity, schema, mode).run(sent)
    return sent


BATCHES.add("submitCommands")


@strawberry.type
class BatchMutations:
    @strawberry.mutation(
        name="submitCommands",
        description="Run an ordered list of commands, each with its commandId, through the "
        "same checks and rules as its own mutation, in as few transactions as correctness "
        "allows; answer each one's outcome (ADR 10). Access is checked per command.",
    )
    async def submit_commands(self, info: Info, input: SubmitCommandsInput) -> SubmittedCommands:
        context = info.context
        try:
            sent = await anyio.to_thread.run_sync(
                submit, context.service, context.identity, info.schema, input.mode, input.commands
            )
        except DomainError as error:  # the transaction's own failure: UNAVAILABLE when its
            raise from_domain(error) from error  # commit's outcome is unknown (resend by id)
        stored = [s.result.position for s in sent if s.status is CommandStatus.DONE and s.result]
        if stored:
            context.log.positions.append(max(stored))
        return SubmittedCommands(
            mode=input.mode, stored=len(stored), outcomes=[s.outcome() for s in sent]
        )
