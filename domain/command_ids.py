"""A sender's id for a command: what makes sending a command again safe.

A partner names each command it sends (``commandId``, ADR 7). The ledger keeps the id, with a
hash of what the command said and the result its events got, in the transaction that stores
those events: a command is kept with its id or not at all. Sent again with the same id and the
same content, the command answers that result and stores nothing; with other content it is
refused. Ids belong to the principal who sent them: another principal's ids never collide with
them, and nobody can learn whether another principal used an id.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from domain.shared import BadInputError, CommandResult, ConflictError, DomainError, Principal

MAX_COMMAND_ID = 128
# Letters, digits and the punctuation of UUIDs, ULIDs, URLs and base64: nothing to escape in a
# log line, a URL or a CSV cell, and no two spellings of one id.
COMMAND_ID = re.compile(r"[A-Za-z0-9._~:/+=-]+")


def require_command_id(command_id: str) -> str:
    if not command_id:
        raise BadInputError("commandId must not be empty", field="commandId")
    if len(command_id) > MAX_COMMAND_ID:
        raise BadInputError(
            f"commandId is {len(command_id)} characters long; at most {MAX_COMMAND_ID} are allowed",
            field="commandId",
        )
    if not COMMAND_ID.fullmatch(command_id):
        raise BadInputError(
            "commandId may hold only letters A-Z and a-z, digits and . _ ~ : / + = -",
            field="commandId",
        )
    return command_id


def content_hash(name: str, arguments: Mapping[str, Any]) -> str:
    """SHA-256 of the command's canonical content: its name and its arguments as JSON, keys
    sorted (times as sent, with their offset)."""
    try:
        content = orjson.dumps(
            {"command": name, "arguments": arguments}, option=orjson.OPT_SORT_KEYS, default=str
        )
    except (orjson.JSONEncodeError, RecursionError) as error:
        raise BadInputError(
            f"the input of {name} cannot be read as a command: {error}", field="input"
        ) from None
    return hashlib.sha256(content).hexdigest()


@dataclass(frozen=True)
class CommandKey:
    """A command as its sender identified it."""

    principal: str
    command_id: str
    name: str
    content_hash: str

    @classmethod
    def of(
        cls, principal: Principal, command_id: str, name: str, arguments: Mapping[str, Any]
    ) -> CommandKey:
        require_command_id(command_id)
        return cls(principal.id, command_id, name, content_hash(name, arguments))


@dataclass(frozen=True)
class RecordedCommand:
    """A command kept in the ledger: its key and the result its events got."""

    key: CommandKey
    result: CommandResult

    def answer(self, sent: CommandKey) -> CommandResult:
        """The result to answer ``sent``, a command sent with this one's id."""
        if (sent.name, sent.content_hash) != (self.key.name, self.key.content_hash):
            raise ConflictError(
                f"commandId {sent.command_id!r} was used for a different command "
                f"({self.key.name}, ledger position {self.result.position}); nothing was "
                "stored: give every new command a new id",
                command_id=sent.command_id,
            )
        return self.result


class CommandLog(Protocol):
    """Where the commands kept with their events are looked up (the recorder)."""

    def find_command(self, principal: str, command_id: str) -> RecordedCommand | None: ...


class OutcomeUnknownError(DomainError):
    """The database went away while a command was being stored and could not be asked whether
    it was: it may have been stored. Never answered as "nothing was stored"."""

    code = "UNAVAILABLE"

    def __init__(self, key: CommandKey | None) -> None:
        if key is not None:
            advice = (
                f"send it again with the same commandId ({key.command_id!r}): it is stored once "
                "either way"
            )
        else:
            advice = (
                "it may have been stored; look before sending it again (a command sent with a "
                "commandId can always be sent again safely)"
            )
        super().__init__(
            "the database connection was lost while the command was being stored, and the "
            f"database could not be asked whether it was; {advice}"
        )
