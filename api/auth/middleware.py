"""The HTTP side of access control: credentials, body size and rate, before GraphQL runs.

Refusals here answer in GraphQL's shape (``errors[0].extensions.code``) with the HTTP status that
fits: 401 UNAUTHENTICATED, 413 BAD_INPUT, 429 RATE_LIMITED (with Retry-After).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio.to_thread
import orjson
from fastapi import FastAPI, Request, Response

from api.auth.authenticate import Authenticator, UnauthenticatedError
from api.auth.identity import ANONYMOUS
from api.auth.limits import RateLimiter
from api.settings import Settings

Next = Callable[[Request], Awaitable[Response]]


def install_authentication(app: FastAPI, settings: Settings) -> None:
    limiter = RateLimiter(settings.rate_limit_per_minute)

    @app.middleware("http")
    async def authenticate(request: Request, call_next: Next) -> Response:
        # The GraphiQL page itself is open; every request it sends carries its own credentials.
        if not request.url.path.startswith("/graphql"):
            return await call_next(request)
        if _is_ide_page(request):
            request.state.identity = ANONYMOUS
            return await call_next(request)
        refusal = await _check_size(request, settings.max_body_bytes)
        if refusal is not None:
            return refusal
        authenticator: Authenticator = request.app.state.authenticator
        try:
            identity = await anyio.to_thread.run_sync(
                authenticator.identify, request.headers.get("authorization")
            )
        except UnauthenticatedError as error:
            return refusal_response(
                401,
                "UNAUTHENTICATED",
                str(error),
                {"WWW-Authenticate": 'Bearer realm="regentrace"'},
            )
        wait = limiter.admit(identity.id)
        if wait:
            return refusal_response(
                429,
                "RATE_LIMITED",
                f"{identity.id} made more than {settings.rate_limit_per_minute} requests in a "
                f"minute; retry in {wait:.1f}s",
                {"Retry-After": str(max(1, round(wait)))},
            )
        request.state.identity = identity
        return await call_next(request)


def _is_ide_page(request: Request) -> bool:
    return request.method == "GET" and "text/html" in request.headers.get("accept", "")


def refusal_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    body = {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


async def _check_size(request: Request, limit: int) -> Response | None:
    """Refuse a body over ``limit`` bytes, whether or not it says its length up front."""
    declared = request.headers.get("content-length")
    too_big = declared is not None and declared.isdigit() and int(declared) > limit
    if not too_big and request.method == "POST":
        too_big = len(await request.body()) > limit
    if too_big:
        return refusal_response(413, "BAD_INPUT", f"the request body is over {limit:,} bytes")
    return None
