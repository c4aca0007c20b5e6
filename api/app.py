"""The HTTP service: GraphQL at /graphql, health at /healthz and /readyz, one log line a request."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
import orjson
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from strawberry.extensions import SchemaExtension
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse, process_result
from strawberry.types import ExecutionResult

from api.context import Context, RequestLog
from api.errors import with_code
from api.schema import build_schema
from api.settings import Settings
from api.wiring import Regentrace
from domain.shared import Principal
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


class LedgerGraphQLRouter(GraphQLRouter[Context, None]):
    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        if result.errors:
            result.errors = [with_code(e) for e in result.errors]
            log: RequestLog = request.state.log
            log.error_codes = sorted({str((e.extensions or {}).get("code")) for e in result.errors})
            log.outcome = "error" if result.data is None else "partial"
        return process_result(result)


def create_app(settings: Settings | None = None, service: Regentrace | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.service = service or Regentrace(settings)
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
    )
    # Until access control is configured, every request acts as the development principal.
    principal = Principal(settings.dev_principal, settings.dev_principal_role)

    async def get_context(request: Request) -> Context:
        return Context(request.app.state.service, principal, request.state.log)

    schema = build_schema()
    schema.extensions = (*schema.extensions, OperationLog)
    router = LedgerGraphQLRouter(
        schema,
        context_getter=get_context,
        graphql_ide="graphiql" if settings.graphiql_enabled else None,
    )
    app.include_router(router, prefix="/graphql")

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

    @app.middleware("http")
    async def log_requests(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request.state.log = log = RequestLog()
        started = time.perf_counter()
        response = await call_next(request)
        fields: dict[str, Any] = {
            "method": request.method,
            "path": request.url.path,
            "status": response.status_code,
            "operation": log.operation,
            "outcome": log.outcome if response.status_code < 400 else "error",
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        }
        if log.error_codes:
            fields["error_codes"] = log.error_codes
        if log.positions:
            fields["ledger_position"] = max(log.positions)
        access_log.info("request", extra={"fields": fields})
        return response

    return app


def _head_position(service: Regentrace) -> int:
    with service.read() as sql:
        return LedgerIndex(sql).position_at(None)
