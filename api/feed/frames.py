"""The live feed's WebSocket messages as text frames.

strawberry sends a message as a binary frame when the view's JSON encoder answers bytes (ours,
orjson, does). The GraphQL over WebSocket protocol carries JSON text, and a browser's client
(GraphiQL's, graphql-ws) cannot read a binary frame: it fails with "Message is missing the 'type'
property". So every message goes as text, whatever the encoder answers.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected


class TextFrames(ASGIWebSocketAdapter):
    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(self.view.encode_json_string(message))
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc
