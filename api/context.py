"""What a GraphQL request carries: the service, who is acting, and what it wrote (for the log)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.fastapi import BaseContext
from strawberry.types import Info as StrawberryInfo

from api.auth.identity import Identity
from api.replicas import MIN_POSITION_HEADER, min_position_hint
from api.wiring import Regentrace
from domain.shared import Principal
from projections.sql import Sql

T = TypeVar("T")


@dataclass
class RequestLog:
    """Filled while a request runs; written as one structured line when it ends."""

    request_id: str = ""  # the X-Request-ID answered, and the reference of an INTERNAL error
    operation: str | None = None
    outcome: str = "ok"
    error_codes: list[str] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)


class Context(BaseContext):
    def __init__(self, service: Regentrace, identity: Identity, log: RequestLog) -> None:
        super().__init__()
        self.service = service
        self.identity = identity
        self.log = log

    @property
    def principal(self) -> Principal:
        """Who acts: the authenticated caller, recorded on every event it causes."""
        return self.identity.principal

    def query(self, operation: str, as_of: datetime | None, read: Callable[[Sql], T]) -> T:
        """``read(sql)`` where this request's reads go: a mutation's answer reads the primary
        it wrote to; a query or subscription reads a replica that holds ``min_position()``."""
        if operation == "mutation":
            with self.service.read() as sql:
                return read(sql)
        return self.service.query(read, self.min_position(), as_of)

    def min_position(self) -> int:
        """The position a replica must have replayed to answer: the caller's last write through
        this process, or the X-Regentrace-Min-Position header's, whichever is later."""
        request = self.request
        try:
            hint = min_position_hint(
                request.headers.get(MIN_POSITION_HEADER) if request is not None else None
            )
        except ValueError as error:
            raise GraphQLError(str(error), extensions={"code": "BAD_INPUT"}) from None
        return max(hint, self.service.last_written(self.principal.id))


class NoteWrites(SchemaExtension):
    """Once a mutation has run, and before it is answered, remembers the last position it wrote
    for its caller: the caller's next query waits for a replica to hold it (api/replicas.py)."""

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        if isinstance(context, Context) and context.log.positions:
            context.service.note_written(context.principal.id, max(context.log.positions))


Info = StrawberryInfo[Context, Any]
