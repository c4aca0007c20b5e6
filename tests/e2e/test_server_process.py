"""``regentrace serve`` as a real process on loopback, driven over HTTP like a partner would."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.settings import Settings
from tests.api.documents import (
    ACTIVATE_SITE,
    CONTROL,
    LINKS,
    REGISTER_SITE,
    SITE,
    SPOKE,
    SUSPEND_SITE,
    control_site,
    eu_spoke,
)
from tests.e2e.conftest import REGENTRACE, environment, free_port

READY_WITHIN = 20.0


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    stderr_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


@contextmanager
def start(
    database_url: str, tmp_path: Path, serve_args: tuple[str, ...] = (), **settings: str
) -> Iterator[Server]:
    """Start ``regentrace serve``, wait (bounded) until /readyz answers, stop it afterwards."""
    if not REGENTRACE.exists():
        pytest.fail(f"the regentrace command is not installed at {REGENTRACE}")
    port = free_port()
    stderr_path = tmp_path / "server.stderr"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [str(REGENTRACE), "serve", "--port", str(port), "--host", "127.0.0.1", *serve_args],
            cwd=tmp_path,
            env=environment(database_url, log_format="json", **settings),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    server = Server(process, port, stderr_path)
    try:
        wait_until_ready(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_until_ready(server: Server) -> None:
    deadline = time.monotonic() + READY_WITHIN
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(
                f"the server exited with {server.process.returncode} before it was ready:\n"
                + server.stderr()
            )
        try:
            response = httpx.get(f"{server.base_url}/readyz", timeout=1)
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        if response.status_code == 200:
            return
        time.sleep(0.1)
    pytest.fail(f"the server was not ready within {READY_WITHIN}s:\n" + server.stderr())


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[Server]:
    """The server on each database of the ``settings`` fixture (already migrated)."""
    with start(settings.database_url, tmp_path) as server:
        yield server


def post(client: httpx.Client, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    data = body["data"]
    assert isinstance(data, dict)
    return data


def test_a_partner_drives_the_site_lifecycle_over_http_and_reads_the_past(server: Server):
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        post(client, REGISTER_SITE, {"input": control_site()})
        post(client, REGISTER_SITE, {"input": eu_spoke()})
        post(client, ACTIVATE_SITE, {"input": {"siteId": CONTROL, "reason": "QMS certified"}})
        post(client, ACTIVATE_SITE, {"input": {"siteId": SPOKE, "reason": "Qualified"}})
        time.sleep(0.01)
        before_suspension = datetime.now(UTC).isoformat()
        time.sleep(0.01)
        suspended = post(
            client, SUSPEND_SITE, {"input": {"siteId": SPOKE, "reason": "Sterility failure"}}
        )["suspendSite"]

        now = post(client, LINKS, {})["unionDatabaseSiteLinks"]
        then = post(client, LINKS, {"asOf": before_suspension})["unionDatabaseSiteLinks"]
        site_then = post(client, SITE, {"id": SPOKE, "asOf": before_suspension})["site"]
        ready = client.get("/readyz").json()

    assert suspended == {"position": 5, "aggregateId": f"Site:{SPOKE}", "version": 3}
    assert [(x["decentralisedSite"]["id"], x["status"]) for x in now] == [(SPOKE, "SUSPENDED")]
    assert now[0]["history"][-1]["reason"] == "Sterility failure"
    assert [(x["decentralisedSite"]["id"], x["status"]) for x in then] == [(SPOKE, "ACTIVE")]
    assert site_then["status"] == "ACTIVE"
    assert ready == {"status": "ready", "headPosition": 5}


def test_the_server_announces_graphiql_and_serves_it(server: Server):
    response = httpx.get(f"{server.base_url}/graphql", headers={"Accept": "text/html"}, timeout=10)

    assert f"GraphiQL at http://localhost:{server.port}/graphql" in server.stderr()
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


def test_the_server_logs_one_json_line_per_request(server: Server):
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        post(client, REGISTER_SITE, {"input": control_site()})
        client.get("/healthz")

    deadline = time.monotonic() + 5
    while True:
        lines = [json.loads(x) for x in server.stderr().splitlines() if x.startswith("{")]
        requests = [x for x in lines if x.get("logger") == "regentrace.access"]
        if any(x.get("path") == "/healthz" for x in requests) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    graphql = [x for x in requests if x["path"] == "/graphql"]
    assert [(x["operation"], x["outcome"], x["ledger_position"]) for x in graphql] == [
        ("RegisterSite", "ok", 1)
    ]
    assert isinstance(graphql[0]["duration_ms"], float)
    assert graphql[0]["principal"] == "dev-operator"
    assert len({x["request_id"] for x in requests}) == len(requests)  # one id each
    assert [x["status"] for x in requests if x["path"] == "/healthz"] == [200]


REGISTER_DONOR = """
mutation ($input: RegisterDonorInput!) { registerDonor(input: $input) { position } }
"""


def test_several_serving_processes_share_the_port_and_the_ledger(
    settings: Settings, tmp_path: Path
):
    """``serve --workers 2``: commands sent at once over many connections all land, once each,
    whichever process takes them, and every position is taken once."""
    with start(settings.database_url, tmp_path, ("--workers", "2")) as server:
        # /readyz answers once the first process is up; on a busy machine the second may still
        # be importing. Wait (bounded) for both, so that the commands meet two processes.
        deadline = time.monotonic() + 60
        while server.stderr().count("Started server process") < 2 and time.monotonic() < deadline:
            time.sleep(0.1)

        def register(n: int) -> int:
            with httpx.Client(base_url=server.base_url, timeout=30) as client:
                data = post(client, REGISTER_DONOR, {"input": {"donorCode": f"DNR-{n:03d}"}})
            return int(data["registerDonor"]["position"])

        with ThreadPoolExecutor(max_workers=8) as pool:
            positions = list(pool.map(register, range(40)))
        ready = httpx.get(f"{server.base_url}/readyz", timeout=10).json()
        started = server.stderr().count("Started server process")

    assert sorted(positions) == list(range(1, 41))
    assert ready == {"status": "ready", "headPosition": 40}
    assert started == 2


def test_serve_in_development_migrates_a_new_sqlite_database_first(tmp_path: Path):
    database_url = f"sqlite:///{tmp_path / 'new.sqlite3'}"

    with start(database_url, tmp_path) as server:
        ready = httpx.get(f"{server.base_url}/readyz", timeout=10)
        assert ready.json() == {"status": "ready", "headPosition": 0}
        assert "migrate: " in server.stderr()


def test_the_server_shuts_down_gracefully_when_terminated(tmp_path: Path):
    database_url = f"sqlite:///{tmp_path / 'stop.sqlite3'}"
    with start(database_url, tmp_path) as server:
        pass  # leaving sends SIGTERM and waits

    # uvicorn re-raises the signal once it has shut down, so the status may report SIGTERM
    assert server.process.returncode in (0, -signal.SIGTERM), server.stderr()
    assert "Application shutdown complete." in server.stderr()
    assert "Traceback" not in server.stderr()
