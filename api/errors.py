"""How failures reach partner systems: every error carries ``extensions.code``.

Refusals by the domain keep their code and message. Errors in the request itself (syntax,
unknown fields, values of the wrong type) are BAD_INPUT. Anything else is a fault of ours: it is
logged with a reference, and the partner sees only INTERNAL and that reference, never a trace.
Over HTTP the reference is the request's id (X-Request-ID), the same as on its access-log line.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from graphql import GraphQLError

from domain.shared import DomainError

log = logging.getLogger("regentrace.api")


def from_domain(error: DomainError) -> GraphQLError:
    extensions: dict[str, Any] = {"code": error.code}
    for key, value in error.details.items():
        if isinstance(value, (str, int)) or (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            extensions[key] = value
    return GraphQLError(error.message, extensions=extensions, original_error=error)


def with_code(error: GraphQLError, reference: str | None = None) -> GraphQLError:
    """Give every error a code; mask the unexpected ones (under ``reference``, when given)."""
    extensions = dict(error.extensions or {})
    if "code" in extensions:
        return error
    original = error.original_error
    if error.path is None and (original is None or isinstance(original, GraphQLError)):
        # No path and no foreign exception: the request failed before any field ran (syntax,
        # validation, a variable of the wrong type). That is the caller's input, not our fault.
        extensions["code"] = "BAD_INPUT"
        return _copy(error, error.message, extensions)
    return _copy(error, *masked(original or error, extensions, reference))


def masked(
    error: BaseException,
    extensions: dict[str, Any] | None = None,
    reference: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """A fault of ours, logged in full under a reference (a new one unless given); the caller
    sees only the reference."""
    reference = reference or uuid.uuid4().hex[:12]
    log.error("internal error %s", reference, exc_info=error)
    extensions = {**(extensions or {}), "code": "INTERNAL", "reference": reference}
    # Not "nothing was stored": a fault may follow a command that was (ADR 7); a command sent
    # with a commandId is safe to send again either way.
    message = f"internal error (reference {reference}); a command with a commandId may be resent"
    return message, extensions


def _copy(error: GraphQLError, message: str, extensions: dict[str, Any]) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=extensions,
    )
