"""What the reliability tests share: a server process to start, kill and restart, a partner that
speaks GraphQL to it from plain threads, a bounded stream of commands, and ledger readers.

Every wait here has a bound and every process a timeout: nothing runs longer than its safety
limit, whatever the server or the database does.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from api.app import create_app
from api.settings import Settings
from api.wiring import Regentrace
from projections.registry import projection_tables
from tests.api import chain_documents as docs
from tests.api.client import client_for
from tests.e2e.conftest import REGENTRACE, environment, free_port
from tests.integration import chain as ch
from tests.integration.chain import din_with_check

READY_WITHIN = 30.0  # seconds a starting server may take to answer /readyz
REQUEST_TIMEOUT = 15.0  # seconds one HTTP request may take
PROCESS_TIMEOUT = 60.0  # seconds a CLI run may take

# Requests without credentials act as the development principal (who may do everything), and
# no request is throttled: these tests measure what the ledger does under load, not the limiter.
SERVER_SETTINGS = {"dev_principal_enabled": "true", "rate_limit_per_minute": "0"}


def in_process_settings(database_url: str) -> Settings:
    """Settings for an app built in this process, as ``SERVER_SETTINGS`` give a server."""
    return Settings(
        database_url=database_url,
        environment="development",
        dev_principal_enabled=True,
        rate_limit_per_minute=0,
        _env_file=None,
    )


# ------------------------------------------------------------------------------ server process


class ServerProcess:
    """``regentrace serve`` on a loopback port: start, kill -9, terminate, start again."""

    def __init__(self, database_url: str, workdir: Path, **settings: str) -> None:
        if not REGENTRACE.exists():
            pytest.fail(f"the regentrace command is not installed at {REGENTRACE}")
        self.database_url = database_url
        self.workdir = workdir
        self.settings = {**SERVER_SETTINGS, "log_format": "json", **settings}
        self.port = free_port()
        self.log_path = workdir / f"server-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> ServerProcess:
        assert not self.running(), "the server is already running"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(REGENTRACE), "serve", "--port", str(self.port), "--host", "127.0.0.1"],
                cwd=self.workdir,
                env=environment(self.database_url, **self.settings),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        self.starts += 1
        self.wait_until_ready()
        return self

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def readiness(self) -> int | None:
        """The status /readyz answers, or None when nothing answers."""
        try:
            return httpx.get(f"{self.base_url}/readyz", timeout=REQUEST_TIMEOUT).status_code
        except httpx.TransportError:
            return None

    def wait_until_ready(self, within: float = READY_WITHIN) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if not self.running():
                pytest.fail(f"the server exited before it was ready:\n{self.log()}")
            if self.readiness() == 200:
                return
            time.sleep(0.1)
        pytest.fail(f"the server was not ready within {within}s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, no goodbye."""
        assert self.process is not None
        assert self.running(), "the server is not running"
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=PROCESS_TIMEOUT)
        assert self.process.returncode == -signal.SIGKILL, self.process.returncode

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not go within its timeout; safe to call twice."""
        if self.process is None or not self.running():
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)


def regentrace_cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``regentrace ARGS`` against ``database_url`` with a timeout."""
    return subprocess.run(
        [str(REGENTRACE), *args],
        env=environment(database_url, **SERVER_SETTINGS),
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
    )


# ----------------------------------------------------------------------------- a plain partner


def encode(payload: dict[str, Any]) -> bytes:
    """JSON as a hostile partner may send it: ``\\u`` escapes for everything outside ASCII, so
    lone surrogates and NUL characters travel as they are."""
    return json.dumps(payload, ensure_ascii=True).encode("ascii")


@dataclass(frozen=True)
class Acknowledged:
    """A command the server answered with a CommandResult."""

    field: str
    position: int
    aggregate_id: str
    version: int


@dataclass(frozen=True)
class Refused:
    """A command the server refused: the ``extensions.code`` of each error (None if missing)."""

    field: str
    codes: tuple[str | None, ...]
    messages: tuple[str, ...]


class Partner:
    """Sends GraphQL over one HTTP connection pool, from whatever thread calls it."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT)

    def close(self) -> None:
        self.http.close()

    def post(self, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
        return self.http.post(
            "/graphql",
            content=encode({"query": query, "variables": variables or {}}),
            headers={"content-type": "application/json"},
        )

    def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.post(query, variables)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        data = body["data"]
        assert isinstance(data, dict)
        return data

    def command(self, field: str, input: dict[str, Any]) -> Acknowledged | Refused:
        """Send one command: answer the acknowledgement or the refusal (raises on transport).

        An answer other than 200 is a refusal coded ``HTTP <status>``."""
        response = self.post(docs.mutation(field), {"input": input})
        if response.status_code != 200:
            return Refused(field, (f"HTTP {response.status_code}",), (response.text,))
        return outcome(field, response.json())

    def verify_ledger(self) -> dict[str, Any]:
        verification = self.data(
            "{ verifyLedger { ok checkedEvents headPosition firstMismatchPosition } }"
        )["verifyLedger"]
        assert isinstance(verification, dict)
        return verification


def outcome(field: str, body: dict[str, Any]) -> Acknowledged | Refused:
    errors = body.get("errors")
    if errors:
        assert (body.get("data") or {}).get(field) is None, body
        return Refused(
            field,
            tuple((e.get("extensions") or {}).get("code") for e in errors),
            tuple(str(e.get("message")) for e in errors),
        )
    result = body["data"][field]
    return Acknowledged(field, result["position"], result["aggregateId"], result["version"])


class SyncGraphQL:
    """The interface of ``tests.api.client.GraphQL`` over a plain ``Partner``, so the chain
    builders of ``tests.api.chain_documents`` drive a real server process."""

    def __init__(self, partner: Partner) -> None:
        self.partner = partner

    async def __call__(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = self.partner.post(query, variables).json()
        assert isinstance(body, dict)
        return body

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.partner.data(query, variables)


def build(partner: Partner, steps: Callable[[Any], Any]) -> Any:
    """Run the chain builders ``steps(gql)`` (a coroutine function) against the server."""
    return asyncio.run(steps(SyncGraphQL(partner)))


async def network_with_lot(gql: Any, t: docs.Timeline) -> None:
    """The Taiwanese network of ``chain_documents``, all four sites ACTIVE, and a released lot."""
    await docs.network(gql, t)
    await docs.released_lot(gql, t)


# ----------------------------------------------------------------------------- bounded load


def chain_commands(t: docs.Timeline, tag: int, units: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """``units`` donor-to-batch chains, seven commands each, identifiers unique to ``tag``.

    Each unit touches most projections: donor, donation, batch, step, QC result and lineage.
    Needs ``network_with_lot`` first.
    """
    for i in range(units):
        n = tag * 10_000 + i
        donor, batch, patient = f"DNR-L{n}", f"B-L{n}", f"PT-L{n}"
        donation = din_with_check(n)
        yield "registerDonor", {"donorCode": donor}
        yield (
            "recordConsent",
            {"donorCode": donor, "consentReference": f"ICF-{donor}", "signedAt": t(-40)},
        )
        yield (
            "determineEligibility",
            {
                "donorCode": donor,
                "outcome": "ELIGIBLE",
                "criteriaVersion": "TFDA-RM-DS-2025.1",
                "screening": docs.SCREENING,
                "determinedAt": t(-39),
            },
        )
        yield (
            "recordDonation",
            {
                "donationId": donation,
                "donorCode": donor,
                "donationType": "AUTOLOGOUS",
                "siteId": docs.HOSPITAL,
                "material": "Leukapheresis product",
                "sourceTissue": "PERIPHERAL_BLOOD_APHERESIS",
                "acquiredAt": t(-38),
                "intendedPatientCode": patient,
            },
        )
        yield (
            "startBatch",
            {
                "batchId": batch,
                "product": docs.PRODUCT,
                "donationId": donation,
                "patientCode": patient,
                "controlSiteId": docs.CONTROL,
                "siteId": docs.SPOKE,
                "startedAt": t(-20),
            },
        )
        yield (
            "recordBatchStep",
            {
                "batchId": batch,
                "step": "Lentiviral transduction",
                "siteId": docs.SPOKE,
                "startedAt": t(-19),
                "completedAt": t(-18),
                "operator": "op-7",
                "materialLots": [docs.VECTOR_LOT],
                "parameters": {"moi": 5},
            },
        )
        yield "recordQcResult", docs.qc_input(batch, "STERILITY", t)


@dataclass
class Load:
    """Sends a bounded stream of commands from a thread of its own and notes what came back.

    ``stop_on_transport_error``: a load against a server about to be killed ends at the first
    request that gets no answer; a load across a database restart carries on after a pause.
    """

    base_url: str
    commands: list[tuple[str, dict[str, Any]]]
    stop_on_transport_error: bool = True
    deadline_seconds: float = 90.0
    acknowledged: list[Acknowledged] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
    sent: int = 0
    # (sent at, answered at, what came back) for every request, on the monotonic clock
    requests: list[tuple[float, float, str]] = field(default_factory=list)
    finished_all: bool = False
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> Load:
        self.thread = threading.Thread(target=self._run, name="load", daemon=True)
        self.thread.start()
        return self

    def _run(self) -> None:
        partner = Partner(self.base_url)
        deadline = time.monotonic() + self.deadline_seconds
        try:
            for field_name, input in self.commands:
                if self.stop.is_set() or time.monotonic() > deadline:
                    return
                self.sent += 1
                sent_at = time.monotonic()
                try:
                    answer = partner.command(field_name, input)
                except httpx.TransportError as error:
                    self.requests.append((sent_at, time.monotonic(), type(error).__name__))
                    self.unanswered.append(f"{field_name}: {type(error).__name__}")
                    if self.stop_on_transport_error:
                        return
                    time.sleep(0.2)
                    continue
                if isinstance(answer, Acknowledged):
                    self.requests.append((sent_at, time.monotonic(), "acknowledged"))
                    self.acknowledged.append(answer)
                else:
                    self.requests.append(
                        (sent_at, time.monotonic(), ",".join(map(str, answer.codes)))
                    )
                    self.refused.append(answer)
            self.finished_all = True
        finally:
            partner.close()

    def wait_for(self, acknowledged: int, within: float = 60.0) -> None:
        """Until at least ``acknowledged`` commands are acknowledged (bounded)."""
        deadline = time.monotonic() + within
        while len(self.acknowledged) < acknowledged:
            assert self.thread is not None
            if not self.thread.is_alive():
                pytest.fail(f"the load ended early: {self.summary()}")
            if time.monotonic() > deadline:
                pytest.fail(
                    f"fewer than {acknowledged} acknowledged in {within}s: {self.summary()}"
                )
            time.sleep(0.02)

    def finish(self, timeout: float = 60.0) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout)
            assert not self.thread.is_alive(), "the load did not stop"

    def summary(self) -> str:
        codes = sorted({str(c) for r in self.refused for c in r.codes})
        return (
            f"{self.sent} sent, {len(self.acknowledged)} acknowledged, "
            f"{len(self.refused)} refused {codes}, "
            f"{len(self.unanswered)} unanswered"
        )


# -------------------------------------------------------------------------------- the ledger


@dataclass(frozen=True)
class LedgerRow:
    position: int
    aggregate_id: str
    version: int
    event_type: str


def ledger_rows(database_url: str, after: int = 0) -> list[LedgerRow]:
    """The ledger's index rows after ``after``, read straight from the database."""
    service = Regentrace(in_process_settings(database_url))
    try:
        with service.read() as sql:
            rows = sql.all(
                "SELECT l.position, l.originator_id, l.originator_version, l.event_type"
                " FROM ledger l JOIN stored_events s ON s.notification_id = l.position"
                " AND s.originator_id = l.originator_id"
                " AND s.originator_version = l.originator_version"
                " WHERE l.position > ? ORDER BY l.position",
                (after,),
            )
            stored = int(
                sql.scalar("SELECT COUNT(*) FROM stored_events WHERE notification_id > ?", (after,))
            )
    finally:
        service.close()
    assert stored == len(rows), "stored events and ledger rows disagree"
    return [
        LedgerRow(
            int(r["position"]), r["originator_id"], int(r["originator_version"]), r["event_type"]
        )
        for r in rows
    ]


def acknowledged_rows(acknowledged: list[Acknowledged]) -> list[LedgerRow]:
    """What the ledger must hold for commands that each recorded one event."""
    return sorted(
        (LedgerRow(a.position, a.aggregate_id, a.version, "") for a in acknowledged),
        key=lambda r: r.position,
    )


def missing_from_ledger(acknowledged: list[Acknowledged], rows: list[LedgerRow]) -> list[Any]:
    """Acknowledged commands whose position does not hold their aggregate's event."""
    held = {(r.position, r.aggregate_id, r.version) for r in rows}
    return [a for a in acknowledged if (a.position, a.aggregate_id, a.version) not in held]


def projections(database_url: str) -> dict[str, list[bytes]]:
    """Every projection table's rows, each as canonical JSON, in sorted order."""
    service = Regentrace(in_process_settings(database_url))
    tables: dict[str, list[bytes]] = {}
    try:
        with service.read() as sql:
            for table in projection_tables():
                rows = sql.all(f"SELECT * FROM {table}")
                tables[table] = sorted(
                    orjson.dumps(row, option=orjson.OPT_SORT_KEYS, default=str) for row in rows
                )
    finally:
        service.close()
    return tables


# ----------------------------------------------------------------- a seeded ledger in-process


class Seeded:
    """A ledger seeded through ``tests.integration.chain`` (a batch administered, a second one in
    process, an adverse event reported), the app in front of it, and an event loop of its own so
    that synchronous (hypothesis) tests can send requests through the ASGI app."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.service = Regentrace(settings)
        chain = ch.build(self.service, "received")
        ch.record_qc(chain, "STERILITY", at=10, batch_id=ch.another_batch(chain, 2))
        ch.administer(chain)
        ch.report_adverse_event(chain)
        self.now = datetime.now(UTC)
        self.runner = asyncio.Runner()
        self.stack = AsyncExitStack()
        app = create_app(settings, self.service)
        self.http: httpx.AsyncClient = self.runner.run(
            self.stack.enter_async_context(client_for(app))
        )

    def send(self, query: str, variables: dict[str, Any]) -> httpx.Response:
        return self.post(encode({"query": query, "variables": variables}))

    def post(self, body: bytes) -> httpx.Response:
        """POST ``body`` to /graphql as it is, declared as JSON."""
        return self.runner.run(
            self.http.post("/graphql", content=body, headers={"content-type": "application/json"})
        )

    def close(self) -> None:
        try:
            self.runner.run(self.stack.aclose())
        finally:
            self.runner.close()
            self.service.close()
