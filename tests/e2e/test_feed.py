"""The partner feed, end to end: a real server process, a real WebSocket client speaking
graphql-transport-ws. Events after a position arrive in ledger order, live, and a subscriber
that disconnects resumes from the last position it received without missing or repeating any;
a subscriber sees only the events within its scope. Clients without WebSocket poll
``events(after:)`` and get the same sequence."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from api.auth.keys import ApiKeys
from api.settings import Settings
from api.wiring import Regentrace
from tests.api.documents import ACTIVATE_SITE, CONTROL, REGISTER_SITE, control_site, eu_spoke
from tests.e2e.test_server_process import Server, start

FEED = """subscription Feed($after: Int!) {
  ledgerEvents(after: $after, pollSeconds: 0.05) { position aggregateId type actor }
}"""


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[Server]:
    with start(settings.database_url, tmp_path) as server:
        yield server


def command(server: Server, document: str, input: dict[str, Any]) -> int:
    body = httpx.post(
        f"{server.base_url}/graphql",
        json={"query": document, "variables": {"input": input}},
        timeout=10,
    ).json()
    assert "errors" not in body, body
    (result,) = body["data"].values()
    return int(result["position"])


def activate(site_id: str) -> dict[str, Any]:
    return {"siteId": site_id, "reason": "inspection passed"}


@contextmanager
def subscribe(server: Server, after: int, authorization: str = "") -> Iterator[ClientConnection]:
    with connect(
        f"ws://127.0.0.1:{server.port}/graphql",
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        open_timeout=10,
    ) as ws:
        payload = {"Authorization": authorization} if authorization else {}
        ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        ack = ws.recv(timeout=10)
        assert isinstance(ack, str), "a text frame: a browser's client reads no binary one"
        assert json.loads(ack)["type"] == "connection_ack"
        message = {"query": FEED, "variables": {"after": after}}
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": message}))
        yield ws


def receive(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    events = []
    while len(events) < count:
        frame = ws.recv(timeout=10)
        assert isinstance(frame, str), frame
        message = json.loads(frame)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        events.append(message["payload"]["data"]["ledgerEvents"])
    return events


def nothing_more(ws: ClientConnection) -> bool:
    try:
        ws.recv(timeout=0.5)
    except TimeoutError:
        return True
    return False


def test_a_subscriber_resumes_after_a_disconnect_and_receives_every_event_once_in_order(
    server: Server,
):
    first = command(server, REGISTER_SITE, control_site())
    with subscribe(server, after=0) as ws:
        received = receive(ws, 1)
        command(server, ACTIVATE_SITE, activate(CONTROL))  # live, while it listens
        received += receive(ws, 1)
    # While it is away, the ledger moves on.
    command(server, REGISTER_SITE, eu_spoke())
    last = command(server, ACTIVATE_SITE, activate("DE-MU-BERLIN"))
    with subscribe(server, after=received[-1]["position"]) as ws:
        received += receive(ws, 2)
        assert nothing_more(ws)

    positions = [e["position"] for e in received]
    assert positions == list(range(first, last + 1))  # every position, once, in order
    assert [e["type"] for e in received] == [
        "Site.Registered",
        "Site.Activated",
        "Site.Registered",
        "Site.Activated",
    ]


def test_polling_events_after_a_cursor_gives_the_same_sequence(server: Server):
    command(server, REGISTER_SITE, control_site())
    command(server, ACTIVATE_SITE, activate(CONTROL))
    query = (
        "query($after: String) { events(first: 1, after: $after) "
        "{ nodes { position } pageInfo { endCursor hasNextPage } } }"
    )
    seen: list[int] = []
    after = None
    while len(seen) < 10:
        page = httpx.post(
            f"{server.base_url}/graphql",
            json={"query": query, "variables": {"after": after}},
            timeout=10,
        ).json()["data"]["events"]
        seen += [n["position"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert seen == [1, 2]


def test_a_subscriber_sees_only_the_events_within_its_scope(
    settings: Settings, service: Regentrace, tmp_path: Path
):
    (tmp_path / "open").mkdir()
    taiwanese = control_site(
        "TW-CTRL-KHH",
        name="Kaohsiung QA",
        jurisdiction="TW",
        country="TW",
        supervisingAuthority="TFDA",
    )
    with start(settings.database_url, tmp_path / "open") as open_server:
        command(open_server, REGISTER_SITE, control_site())
        command(open_server, REGISTER_SITE, eu_spoke())
        command(open_server, REGISTER_SITE, taiwanese)
    _, qp = ApiKeys(service).create("khh-qp", "quality_person", ["TW-CTRL-KHH"])
    _, tfda = ApiKeys(service).create("tfda", "regulator", [], "TW")
    _, lageso = ApiKeys(service).create("lageso", "regulator", [], "EU", "DE")

    (tmp_path / "strict").mkdir()
    with start(settings.database_url, tmp_path / "strict", dev_principal_enabled="false") as server:
        with subscribe(server, 0, f"Bearer {qp}") as ws:
            own = receive(ws, 1)
            assert nothing_more(ws)
        with subscribe(server, 0, f"Bearer {tfda}") as ws:
            taiwan = receive(ws, 1)
            assert nothing_more(ws)
        with subscribe(server, 0, f"Bearer {lageso}") as ws:
            germany = receive(ws, 2)
            assert nothing_more(ws)

    assert [e["aggregateId"] for e in own] == ["Site:TW-CTRL-KHH"]
    # A regulator sees its own jurisdiction (and member state) only: a spoke answers to a
    # control site of its own regulatory area, so no record spans two of them.
    assert [e["aggregateId"] for e in taiwan] == ["Site:TW-CTRL-KHH"]
    assert [e["aggregateId"] for e in germany] == [f"Site:{CONTROL}", "Site:DE-MU-BERLIN"]


def test_a_websocket_without_credentials_is_refused(settings: Settings, tmp_path: Path):
    with (
        start(settings.database_url, tmp_path, dev_principal_enabled="false") as server,
        connect(
            f"ws://127.0.0.1:{server.port}/graphql",
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            open_timeout=10,
        ) as ws,
    ):
        ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)

    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403
