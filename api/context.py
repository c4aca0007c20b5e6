"""What a GraphQL request carries: the service, who is acting, and what it wrote (for the log)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.fastapi import BaseContext
from strawberry.types import Info as StrawberryInfo

from api.auth.identity import Identity
from api.wiring import Regentrace
from domain.shared import Principal


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


Info = StrawberryInfo[Context, Any]
