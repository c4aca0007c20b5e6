"""GraphQL over HTTP, strictly: one parser for request bodies, and every refusal of a request as
a JSON GraphQL error with ``extensions.code``, never plain text and never a fault.

A body must be UTF-8 JSON holding one object (``{"query": ...}``) nested at most
``MAX_REQUEST_DEPTH`` levels; anything else is 400 BAD_INPUT before GraphQL sees it. A
subscription is refused over HTTP: it is served over the WebSocket (graphql-transport-ws).
"""

from __future__ import annotations

import json
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from fastapi import Request, Response, WebSocket
from fastapi.responses import JSONResponse
from strawberry.exceptions import MissingQueryError
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLRequestData
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET

from api.context import Context
from domain.shared import MAX_JSON_DEPTH, nests_deeper

# A body holds variables, inputs within them and JSON values within those: room for a JSON value
# at its own limit (domain MAX_JSON_DEPTH), and a bound on what any request may nest.
MAX_REQUEST_DEPTH = 2 * MAX_JSON_DEPTH
SUBSCRIPTIONS_NEED_A_WEBSOCKET = (
    "subscriptions are served over the WebSocket at /graphql (subprotocol graphql-transport-ws), "
    "not over HTTP; over HTTP, poll events(after:) instead"
)
_CODES = {404: "NOT_FOUND"}  # any other refusal of a request is the caller's input


class StrictGraphQLRouter(GraphQLRouter[Context, None]):
    def parse_json(self, data: str | bytes) -> Any:
        """The one parser of request bodies (and of a GET's variables and extensions)."""
        try:
            text = data.decode("utf-8") if isinstance(data, bytes) else data
        except UnicodeDecodeError as error:
            raise HTTPException(
                400, f"the request body is not UTF-8 text (byte {error.start} is not)"
            ) from None
        try:
            value = json.loads(text)
        except RecursionError:  # the standard parser's stack ends before any real request's
            raise HTTPException(400, _too_deep()) from None
        except ValueError as error:
            raise HTTPException(400, f"the request body is not JSON: {error}") from None
        if not isinstance(value, dict):
            raise HTTPException(
                400,
                'a GraphQL request is one JSON object, {"query": ..., "variables": {...}}; '
                f"this is a JSON {_kind(value)}",
            )
        if nests_deeper(value, MAX_REQUEST_DEPTH):
            raise HTTPException(400, _too_deep())
        return value

    async def execute_single(
        self,
        request: Request,  # noqa: ARG002 (strawberry's signature)
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,  # noqa: ARG002
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """strawberry's, without subscriptions: over HTTP they would run as a query and fail."""
        allowed = {OperationType.QUERY}
        if request_adapter.method == "POST":
            allowed.add(OperationType.MUTATION)
        try:
            return await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=request_data.extensions,
            )
        except CannotGetOperationTypeError as error:
            raise HTTPException(400, error.as_http_error_reason()) from error
        except InvalidOperationTypeError as error:
            if error.operation_type is OperationType.SUBSCRIPTION:
                raise HTTPException(400, SUBSCRIPTIONS_NEED_A_WEBSOCKET) from error
            raise HTTPException(400, error.as_http_error_reason(request_adapter.method)) from error
        except MissingQueryError as error:
            raise HTTPException(400, "no GraphQL query found in the request") from error

    async def run(  # type: ignore[override]
        self,
        request: Request | WebSocket,
        context: Context = UNSET,
        root_value: None = UNSET,
    ) -> Response | WebSocket:
        try:
            return await super().run(request, context, root_value)
        except HTTPException as error:
            if isinstance(request, WebSocket):
                raise
            return _refusal(request, error.status_code, error.reason)


def _refusal(request: Request, status: int, message: str) -> JSONResponse:
    """A refusal of the request itself, in GraphQL's shape, noted on the request's log line."""
    code = _CODES.get(status, "BAD_INPUT")
    log = getattr(request.state, "log", None)
    if log is not None:
        log.error_codes, log.outcome = [code], "error"
    body = {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
    return JSONResponse(body, status_code=status)


def _too_deep() -> str:
    return f"the request body nests deeper than {MAX_REQUEST_DEPTH} levels, the limit"


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return "array (batched requests are not served: send one request at a time)"
    return {bool: "boolean", str: "string"}.get(type(value), "number")
