"""The HTTP service: GraphQL at /graphql, health at /healthz and /readyz, one log line a request."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
import orjson
from fastapi import FastAPI, Request, Response, WebSocket
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.exceptions import ConnectionRejectionError
from strawberry.extensions import SchemaExtension
from strawberry.http import GraphQLHTTPResponse, process_result
from strawberry.types import ExecutionResult
from strawberry.types.unset import UnsetType

from api import console, graphiql
from api.auth.authenticate import Authenticator, UnauthenticatedError
from api.auth.identity import ANONYMOUS
from api.auth.middleware import Authentication
from api.context import Context, NoteWrites, RequestLog
from api.errors import with_code
from api.feed.frames import TextFrames
from api.graphql_http import StrictGraphQLRouter
from api.logs import request_id
from api.schema import build_schema
from api.settings import Settings
from api.wiring import Regentrace
from projections.ledger import LedgerIndex

access_log = logging.getLogger("regentrace.access")


class OperationLog(SchemaExtension):
    """Notes the operation's name and outcome on the request log."""

    def on_operation(self) -> Iterator[None]:
        yield
        execution = self.execution_context
        if isinstance(execution.context, Context) and execution.graphql_document is not None:
            # operation_type needs a parsed document; a request that did not parse has none.
            execution.context.log.operation = (
                execution.operation_name or execution.operation_type.value
            )


class LedgerGraphQLRouter(StrictGraphQLRouter):
    # A browser reads no binary frame (api/feed/frames.py); strawberry's own router needs the
    # same ignore.
    websocket_adapter_class = TextFrames  # type: ignore[assignment]
    # GraphiQL's page on the app's own scripts and styles (api/graphiql.py), when installed.
    offline_ide_html: str | None = None

    @property
    def graphql_ide_html(self) -> str:
        return self.offline_ide_html or super().graphql_ide_html

    def encode_json(self, data: object) -> bytes:
        try:
            return orjson.dumps(data)
        except TypeError:
            # An error message may quote the caller's own invalid text (a lone surrogate), which
            # orjson refuses; the standard encoder escapes it instead.
            return json.dumps(data, ensure_ascii=True, default=str).encode()

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """A WebSocket client sends its credential in connection_init's payload, as
        ``{"Authorization": "Bearer ..."}``; a bad one closes the socket (4403)."""
        params = context.connection_params if isinstance(context.connection_params, dict) else {}
        header = params.get("Authorization") or params.get("authorization")
        assert context.request is not None  # strawberry sets it before calling this
        authenticator: Authenticator = context.request.app.state.authenticator
        try:
            context.identity = await anyio.to_thread.run_sync(
                authenticator.identify, header if isinstance(header, str) else None
            )
        except UnauthenticatedError as error:
            access_log.info("websocket refused: %s", error)
            rejection: dict[str, object] = {"code": "UNAUTHENTICATED", "message": str(error)}
            raise ConnectionRejectionError(rejection) from error
        return None

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        if result.errors:
            log: RequestLog = request.state.log
            result.errors = [with_code(e, log.request_id) for e in result.errors]
            log.error_codes = sorted({str((e.extensions or {}).get("code")) for e in result.errors})
            log.outcome = "error" if result.data is None else "partial"
        return process_result(result)


def create_app(settings: Settings | None = None, service: Regentrace | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.service = service or Regentrace(settings)
        app.state.authenticator = Authenticator(settings, app.state.service)
        if settings.dev_principal_enabled:
            logging.getLogger("regentrace.auth").warning(
                "the development principal is on: requests without credentials act as %s (%s)",
                settings.dev_principal,
                settings.dev_principal_role,
            )
        try:
            yield
        finally:
            if service is None:
                app.state.service.close()

    app = FastAPI(
        title="regentrace",
        description="Regulatory traceability ledger for decentralised manufacture of "
        "regenerative medicines",
        lifespan=lifespan,
        # The OpenAPI pages describe the service to anyone without credentials: development only.
        docs_url=None if settings.is_production else "/docs",
        redoc_url=None if settings.is_production else "/redoc",
        openapi_url=None if settings.is_production else "/openapi.json",
    )

    async def get_context(connection: HTTPConnection) -> Context:
        if isinstance(connection, WebSocket):
            # A WebSocket authenticates in its connection_init message (on_ws_connect below);
            # until then it is nobody.
            return Context(connection.app.state.service, ANONYMOUS, RequestLog())
        state = connection.state
        return Context(connection.app.state.service, state.identity, state.log)

    schema = build_schema(settings)
    schema.extensions = (*schema.extensions, OperationLog, NoteWrites)
    router = LedgerGraphQLRouter(
        schema,
        context_getter=get_context,
        graphql_ide="graphiql" if settings.graphiql_enabled else None,
    )
    if settings.graphiql_enabled:
        router.offline_ide_html = graphiql.serve(app, settings.graphiql_assets)
    app.include_router(router, prefix="/graphql")
    # The web console (api/console.py): static pages that use only /graphql, with the user's own
    # credential.
    console.serve(app, settings)

    @app.get("/healthz", summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="The ledger's database answers")
    async def readyz(request: Request) -> Response:
        service: Regentrace = request.app.state.service
        try:
            with anyio.fail_after(5):
                head = await anyio.to_thread.run_sync(
                    _head_position, service, abandon_on_cancel=True
                )
        except Exception as error:  # any failure to reach the database means not ready
            access_log.warning("not ready: %s", error)
            return JSONResponse(
                {"status": "unavailable", "reason": type(error).__name__}, status_code=503
            )
        return JSONResponse({"status": "ready", "headPosition": head})

    # The last added is the outermost: the log sees every request, refusals included.
    app.add_middleware(Authentication, settings=settings)
    app.add_middleware(AccessLog)
    return app


class AccessLog:
    """One structured log line a request: its id, method, path, status, principal, operation,
    outcome, duration and the ledger position it wrote (a plain ASGI middleware, as cheap as the
    request allows). The id is the caller's X-Request-ID, or ours; the response carries it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["log"] = log = RequestLog(request_id(Headers(scope=scope).get("x-request-id")))
        started, status = time.perf_counter(), 500

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                tagged = (b"x-request-id", log.request_id.encode())
                message = {**message, "headers": [*message.get("headers", ()), tagged]}
            await send(message)

        try:
            await self.app(scope, receive, noting_status)
        finally:
            identity = state.get("identity")  # put there by Authentication, when it knew it
            fields: dict[str, Any] = {
                "request_id": log.request_id,
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "principal": identity.id if identity is not None else None,
                "operation": log.operation,
                "outcome": log.outcome if status < 400 else "error",
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            }
            if log.error_codes:
                fields["error_codes"] = log.error_codes
            if log.positions:
                fields["ledger_position"] = max(log.positions)
            access_log.info("request", extra={"fields": fields})


def _head_position(service: Regentrace) -> int:
    with service.read() as sql:
        return LedgerIndex(sql).position_at(None)
