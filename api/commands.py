"""One declaration per command (ADR 8): the GraphQL mutation, the application method it runs
(named by reference), its input, the roles that may send it and, for every input field naming a
record, the rule that finds that record's sites (from the field's value; an ``InputRule`` also
sees the rest of the input, for a record named by several fields, such as a batch's container).

    register_site = command(
        SiteCommands.register_site,
        input=RegisterSiteInput,
        roles=(ADMINISTRATOR,),
        targets={"id": NoReach("the site it creates"), "control_site_id": site},
        description="Register a control site or a site under one.",
    )

A declaration that names no role, leaves a record-naming field without a rule, names a field
its input lacks or a method of no command group, or whose input does not fit the method's
parameters, fails when its module loads: the service cannot start with it.

A mutation then runs in one worker-thread call: the role, the values, the input's declared
defaults, the records' reach (which reads the database), the command (at most once for a
``commandId``, ADR 7) and the answer, built for the caller. Every refusal comes before the
command runs, and nothing edits the input or the answer afterwards.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import cache, partial
from typing import Annotated, Any

import anyio.to_thread
import strawberry
from graphql import GraphQLError
from strawberry.types.base import StrawberryContainer

from api.auth.identity import Identity
from api.auth.roles import Scope, allow
from api.auth.targets import FieldRule, InputRule, NoReach, Target, first_refusal
from api.auth.values import check_arguments
from api.common import CommandResult
from api.context import Info
from api.errors import from_domain
from api.wiring import Regentrace
from domain.application import TraceabilityLedger
from domain.command_ids import CommandKey
from domain.shared import CommandResult as Result
from domain.shared import DomainError

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

# What a command answers, built in the same call once it has run: (service, caller, the
# command's result, its input as plain values). The default is where its events landed.
Answer = Callable[[Regentrace, Identity, Result, dict[str, Any]], Any]
# Input field -> a value computed for the caller when the input leaves the field out.
Defaults = Mapping[str, Callable[[Identity], Any]]

# How an input field naming a record is checked: a rule of its value, of its value and the
# rest of the input, or no reach (with the reason).
Rule = FieldRule | InputRule | NoReach

# Every declared command by its GraphQL name; api/schema.py serves these and nothing else.
DECLARED: dict[str, Command] = {}
# Mutations that carry declared commands and run each through its own declaration (api/batch.py):
# the only mutations served besides the declared ones.
BATCHES: set[str] = set()


class DeclarationError(TypeError):
    """A command declared without something it needs; raised when its module loads."""


def _where_it_landed(
    service: Regentrace,  # noqa: ARG001
    identity: Identity,  # noqa: ARG001
    result: Result,
    content: dict[str, Any],  # noqa: ARG001
) -> CommandResult:
    return CommandResult.of(result)


@dataclass(frozen=True)
class Command:
    """A command as declared: everything the API knows about it, in one place."""

    name: str
    function: Callable[..., Result]
    input: type
    roles: frozenset[str]
    targets: Mapping[str, Rule]
    defaults: Defaults = field(default_factory=dict)
    # Input field -> the method's parameter, where their names differ.
    renamed: Mapping[str, str] = field(default_factory=dict)
    # The method's keyword arguments from the input, where renaming fields is not enough.
    parameters: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    answer: Answer = _where_it_landed

    def targets_of(self, content: Mapping[str, Any]) -> list[Target]:
        """The records the input (as plain values) names that must lie within reach: the sites
        acted at first, so a refusal names the site before the records there."""
        found: list[Target] = []
        for name, rule in self.targets.items():
            if isinstance(rule, InputRule):
                found += rule(content.get(name), content)
            elif not isinstance(rule, NoReach):
                found += rule(content.get(name))
        return sorted(found, key=lambda target: target.kind != "site")

    def run(
        self, service: Regentrace, identity: Identity, input: object, command_id: str | None
    ) -> tuple[Result, Any]:
        """Check, run and answer the command: the one worker-thread call of a mutation."""
        result, content = self.execute(service, identity, input, command_id)
        return result, self.answer(service, identity, result, content)

    def execute(
        self, service: Regentrace, identity: Identity, input: object, command_id: str | None
    ) -> tuple[Result, dict[str, Any]]:
        """Check and run the command (a batch's commands, api/batch.py, run this alone):
        its result and its content, the input as plain values with the declared defaults."""
        self._authorise(identity, {"input": input, "command_id": command_id})
        content = self._content(input, identity)
        targets = self.targets_of(content)
        if targets and identity.role.scope is not Scope.ALL:  # every record is within reach
            with service.read() as sql:
                refusal = first_refusal(sql, identity, targets)
            if refusal is not None:
                raise GraphQLError(refusal, extensions={"code": "FORBIDDEN"})
        app = service.app
        call = partial(app.bind(self.function), identity.principal, **self._keywords(content))
        if command_id is None:
            result = call()
        else:  # the id stands for the command's name and content as the sender gave them
            key = CommandKey.of(identity.principal, command_id, self.name, content)
            result = app.once(key, call)
        return result, content

    def _authorise(self, identity: Identity, kwargs: dict[str, Any]) -> None:
        if not (identity.role.every_command or identity.role.name in self.roles):
            raise GraphQLError(
                f"the role {identity.role.name} may not use mutation {self.name}",
                extensions={"code": "FORBIDDEN"},
            )
        check_arguments(kwargs)

    def _content(self, input: object, identity: Identity) -> dict[str, Any]:
        """The input as plain values, with the declared defaults of the fields it left out.

        Record ids come without the spaces around them, which the commands strip anyway: the
        reach rules must judge the record the command will act on (no stored id has them)."""
        content = arguments(input)
        for name in _record_fields(self.input):
            content[name] = _stripped(content.get(name))
        for name, default in self.defaults.items():
            value = default(identity) if not content.get(name) else None
            if value is not None:  # None: no default for this caller, the input stands
                content[name] = value
        return content

    def _keywords(self, content: dict[str, Any]) -> dict[str, Any]:
        if self.parameters is not None:
            return self.parameters(content)
        return {self.renamed.get(k, k): v for k, v in content.items()}


def command(
    function: Callable[..., Result],
    *,
    input: type,
    roles: Iterable[str],
    targets: Mapping[str, Rule],
    description: str,
    defaults: Defaults | None = None,
    renamed: Mapping[str, str] | None = None,
    parameters: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    returns: type = CommandResult,
    answer: Answer = _where_it_landed,
) -> Any:
    """Declare a command and answer its GraphQL mutation, named after ``function``
    (``register_site`` is ``registerSite``). ``returns``: the GraphQL type the mutation answers,
    built by ``answer`` (by default where the command's events landed)."""
    name = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), function.__name__)
    declared = Command(
        name=name,
        function=function,
        input=input,
        roles=frozenset(roles),
        targets=dict(targets),
        defaults=dict(defaults or {}),
        renamed=dict(renamed or {}),
        parameters=parameters,
        answer=answer,
    )
    _check(declared)
    allow(name, declared.roles)
    DECLARED[name] = declared
    return _mutation(declared, returns, description)


def _mutation(declared: Command, returns: type, description: str) -> Any:
    async def resolve(info: Info, input: Any, command_id: str | None = None) -> Any:
        context = info.context
        try:
            result, answer = await anyio.to_thread.run_sync(
                declared.run, context.service, context.identity, input, command_id
            )
        except DomainError as error:
            raise from_domain(error) from error
        context.log.positions.append(result.position)
        return answer

    resolve.__annotations__ = {
        "info": Info,
        "input": declared.input,
        "command_id": CommandId,
        "return": returns,
    }
    return strawberry.mutation(resolver=resolve, name=declared.name, description=description)


def _check(declared: Command) -> None:
    """Refuse a declaration that leaves something out (see the module's docstring)."""
    try:
        TraceabilityLedger.group_of(declared.function)
    except TypeError as error:
        raise DeclarationError(f"{declared.name}: {error}") from None
    fields = {f.python_name: f.type for f in declared.input.__strawberry_definition__.fields}  # type: ignore[attr-defined]
    reads = [n for r in declared.targets.values() if isinstance(r, InputRule) for n in r.reads]
    problems = [
        f"{name} is no field of {declared.input.__name__}"
        for name in (*declared.targets, *reads, *declared.defaults, *declared.renamed)
        if name not in fields
    ]
    problems += [
        f"no target rule for {name}, which names a record (or NoReach with the reason)"
        for name, graphql_type in fields.items()
        if _names_a_record(graphql_type) and name not in declared.targets
    ]
    problems += [
        f"the rule of {name} is neither a function of its value, an InputRule nor NoReach"
        for name, rule in declared.targets.items()
        if not (isinstance(rule, NoReach | InputRule) or callable(rule))
    ]
    if declared.parameters is None:
        problems += _parameter_problems(declared, [declared.renamed.get(n, n) for n in fields])
    if problems:
        raise DeclarationError(f"{declared.name}: " + "; ".join(problems))


def _parameter_problems(declared: Command, keywords: list[str]) -> list[str]:
    """The input's fields must be the method's keyword parameters, and cover the required."""
    parameters = list(inspect.signature(declared.function).parameters.values())[2:]
    known = {p.name for p in parameters if p.kind is not p.POSITIONAL_ONLY}
    required = {p.name for p in parameters if p.default is p.empty and p.kind is not p.VAR_KEYWORD}
    qualname = declared.function.__qualname__
    return [f"{qualname} has no parameter {k}" for k in keywords if k not in known] + [
        f"the input gives no {k} for {qualname}" for k in sorted(required - set(keywords))
    ]


@cache
def _record_fields(input: type) -> tuple[str, ...]:
    """The fields of a command's input that name records (an ID, a list of them, or an input
    holding one)."""
    fields = input.__strawberry_definition__.fields  # type: ignore[attr-defined]
    return tuple(f.python_name for f in fields if _names_a_record(f.type))


def _stripped(value: Any) -> Any:
    """``value`` with every text in it stripped of surrounding spaces."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        return [_stripped(v) for v in value]
    if isinstance(value, dict):
        return {k: _stripped(v) for k, v in value.items()}
    return value


def _names_a_record(graphql_type: Any) -> bool:
    """An ID, a list of them, or an input holding one (a trace origin) names a record."""
    while isinstance(graphql_type, StrawberryContainer):
        graphql_type = graphql_type.of_type
    if graphql_type is strawberry.ID:
        return True
    definition = getattr(graphql_type, "__strawberry_definition__", None)
    return definition is not None and any(_names_a_record(f.type) for f in definition.fields)


def check_served(mutations: Iterable[str]) -> None:
    """Every mutation the schema serves is a declared command, with its roles and rules."""
    undeclared = sorted(set(mutations) - set(DECLARED) - BATCHES)
    if undeclared:
        raise DeclarationError("mutations not declared as commands: " + ", ".join(undeclared))


def arguments(input: object) -> dict[str, Any]:
    """A GraphQL input as plain values: the keyword arguments of the command it feeds.

    Input fields are named as the parameters of the command (``consentReference`` becomes
    ``consent_reference``), so a declaration passes them through without restating each one.
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
