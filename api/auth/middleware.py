"""The HTTP side of access control: credentials, body size and rate, before GraphQL runs.

Refusals here answer in GraphQL's shape (``errors[0].extensions.code``) with the HTTP status that
fits: 401 UNAUTHENTICATED, 413 BAD_INPUT, 429 RATE_LIMITED (with Retry-After), and 503
UNAVAILABLE (with Retry-After) when the key cannot be looked up because the database is down.

A plain ASGI middleware: it sees every request to /graphql, so it stays off the streaming and
task-group machinery a ``BaseHTTPMiddleware`` wraps around each request.
"""

from __future__ import annotations

import logging
import sqlite3

import anyio.to_thread
import orjson
import psycopg
from eventsourcing import persistence
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth.authenticate import Authenticator, UnauthenticatedError
from api.auth.identity import ANONYMOUS, Identity
from api.auth.limits import RateLimiter
from api.settings import Settings


class Authentication:
    """Puts the caller's ``identity`` on the request state, or answers the refusal itself."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.limiter = RateLimiter(settings.rate_limit_per_minute)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/graphql"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        state = scope.setdefault("state", {})
        # The GraphiQL page itself is open; every request it sends carries its own credentials.
        if scope["method"] == "GET" and "text/html" in headers.get("accept", ""):
            state["identity"] = ANONYMOUS
            await self.app(scope, receive, send)
            return
        limit = self.settings.max_body_bytes
        body: bytes | None = None
        declared = headers.get("content-length")
        too_big = declared is not None and declared.isdigit() and int(declared) > limit
        if not too_big and scope["method"] == "POST":
            body = await _read_body(receive, limit)
            too_big = body is None
        if too_big:
            await _refuse(send, 413, "BAD_INPUT", f"the request body is over {limit:,} bytes")
            return
        try:
            identity = await self._identify(scope, headers.get("authorization"))
        except UnauthenticatedError as error:
            await _refuse(
                send, 401, "UNAUTHENTICATED", str(error), {"WWW-Authenticate": _CHALLENGE}
            )
            return
        except DATABASE_UNREACHABLE as error:  # the key's lookup: not the caller's fault, nor ours
            log.warning("authentication could not read the API keys: %s", error)
            await _refuse(send, 503, "UNAVAILABLE", _UNAVAILABLE, {"Retry-After": "1"})
            return
        wait = self.limiter.admit(identity.id)
        if wait:
            await _refuse(
                send,
                429,
                "RATE_LIMITED",
                f"{identity.id} made more than {self.settings.rate_limit_per_minute} requests "
                f"in a minute; retry in {wait:.1f}s",
                {"Retry-After": str(max(1, round(wait)))},
            )
            return
        state["identity"] = identity
        await self.app(scope, receive if body is None else _replay(body, receive), send)

    @staticmethod
    async def _identify(scope: Scope, authorization: str | None) -> Identity:
        authenticator: Authenticator = scope["app"].state.authenticator
        if not authorization:  # the development principal or a refusal: nothing to read
            return authenticator.identify(None)
        cached = authenticator.cached(authorization)  # a key read lately: no thread, no query
        if cached is not None:
            return cached
        return await anyio.to_thread.run_sync(authenticator.identify, authorization)


_CHALLENGE = 'Bearer realm="regentrace"'
_UNAVAILABLE = (
    "the ledger's database cannot be reached just now; nothing was done, send the request again "
    "shortly"
)
# What reading the key table raises while the database is down or the connection was lost.
DATABASE_UNREACHABLE = (
    persistence.OperationalError,
    persistence.InterfaceError,
    psycopg.OperationalError,  # psycopg_pool's PoolTimeout among them
    psycopg.InterfaceError,
    sqlite3.OperationalError,
)
log = logging.getLogger("regentrace.auth")


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None as soon as it passes ``limit`` bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the application the body already read, then waits as before."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _refuse(
    send: Send, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> None:
    body = orjson.dumps(
        {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
    )
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in (headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
