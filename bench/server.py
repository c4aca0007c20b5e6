"""The product as its users meet it: a ``regentrace serve`` process on a free loopback port,
GraphQL over HTTP from clients in this process (one keep-alive connection each)."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from bench.timing import percentiles

HOST = "127.0.0.1"
STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class Server:
    """``regentrace serve`` against ``url``, started on entry and stopped on exit."""

    def __init__(
        self, url: str, log: Path, workers: int = 1, env: dict[str, str] | None = None
    ) -> None:
        self.url, self.log, self.port, self.workers = url, log, free_port(), workers
        self.env = env or {}  # more REGENTRACE_* settings for this server
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        env = (
            os.environ
            | {
                "REGENTRACE_DATABASE_URL": self.url,
                # Acts as the development principal, which may do everything the benchmark asks.
                "REGENTRACE_DEV_PRINCIPAL_ENABLED": "true",
                "REGENTRACE_ENVIRONMENT": "development",
                # The benchmark measures how fast the server answers, not its rate limiter (which
                # the test suite covers); at full speed one client passes any sensible limit.
                "REGENTRACE_RATE_LIMIT_PER_MINUTE": "0",
                # A page of 50 whole source-and-flow records (bench/reads.py) is estimated at
                # about 14,000, over the default document limit of 10,000: a deployment serving
                # such pages raises the limit, as this one does.
                "REGENTRACE_MAX_QUERY_COST": "20000",
            }
            | self.env
        )
        cli = str(Path(sys.executable).parent / "regentrace")
        command = [cli, "serve", "--host", HOST, "--port", str(self.port), "--no-migrate"]
        command += ["--workers", str(self.workers)]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        self._wait_ready()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited; see {self.log}")
            conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
            try:
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            finally:
                conn.close()
            time.sleep(0.2)
        raise RuntimeError(f"the server did not answer /readyz in {STARTUP_SECONDS}s")

    def peak_rss_mb(self) -> float:
        """The process's resident-memory high-water mark so far (VmHWM)."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
        return 0.0

    def client(self, token: str | None = None) -> Client:
        return Client(self.port, token)


class Client:
    """One keep-alive connection posting GraphQL, with an API key or as the development
    principal (no credentials); an answer with errors raises."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self.conn = http.client.HTTPConnection(HOST, port, timeout=120)
        self.headers = {"Content-Type": "application/json"}
        if token is not None:
            self.headers["Authorization"] = f"Bearer {token}"

    def post(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables or {}})
        self.conn.request("POST", "/graphql", body, self.headers)
        answer = json.loads(self.conn.getresponse().read())
        if answer.get("errors"):
            raise RuntimeError(f"GraphQL errors: {answer['errors']}")
        data: dict[str, Any] = answer["data"]
        return data

    def timed(self, runs: int, query: str, variables: dict[str, Any]) -> dict[str, float]:
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            self.post(query, variables)
            samples.append(time.perf_counter() - started)
        return percentiles(samples)


RECORD_STEP = (
    """mutation($input: RecordBatchStepInput!) { recordBatchStep(input: $input) { position } }"""
)


def record_steps(
    server: Server, batches: list[str], site: str, count: int, token: str
) -> dict[str, float]:
    """``count`` recordBatchStep commands spread over one client per batch, all at once, each
    client a partner with the API key ``token``: latency percentiles over every command, and
    commands per second over the whole run."""
    samples: list[float] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def run(batch_id: str, share: int) -> None:
        client, mine = server.client(token), []
        try:
            for n in range(share):
                started = time.perf_counter()
                client.post(RECORD_STEP, {"input": _step(batch_id, site, n)})
                mine.append(time.perf_counter() - started)
        except BaseException as error:  # reported once the others have finished
            failures.append(error)
        with lock:
            samples.extend(mine)

    share = max(count // len(batches), 1)
    threads = [threading.Thread(target=run, args=(b, share)) for b in batches]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise failures[0]
    return {
        **percentiles(samples),
        "clients": len(batches),
        "commands_per_s": round(len(samples) / elapsed, 1),
    }


def floor(server: Server, count: int, token: str) -> dict[str, float]:
    """The least any request costs: ``{ __typename }`` over HTTP with the same credentials,
    which authenticates, parses and answers but reads nothing (one client)."""
    client = server.client(token)
    started = time.perf_counter()
    result = client.timed(count, "{ __typename }", {})
    return {**result, "requests_per_s": round(count / (time.perf_counter() - started), 1)}


def _step(batch_id: str, site: str, n: int) -> dict[str, Any]:
    # Within the batch's life (started at the generator's START) and never in the future.
    return {
        "batchId": batch_id,
        "step": f"bench step {n}",
        "siteId": site,
        "startedAt": "2024-01-02T00:00:00+00:00",
        "completedAt": "2024-01-02T01:00:00+00:00",
        "operator": "bench operator",
        "materialLots": [],
    }
