"""Fixtures of the reliability tests: server processes that are always stopped, and a private
PostgreSQL instance of the test's own (never the machine's shared one), always removed."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from api.wiring import migrate
from tests.conftest import DIALECTS, _pid_alive, reset_postgres
from tests.e2e.conftest import free_port
from tests.reliability.harness import Seeded, ServerProcess, in_process_settings

PG_TIMEOUT = 60  # seconds initdb or pg_ctl may take
STEM = "regentrace-pg-"  # private clusters live in $TMPDIR/regentrace-pg-<pytest pid>-*


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """``servers(database_url, **settings)``: a started server process, stopped at teardown."""
    started: list[ServerProcess] = []

    def start(database_url: str, **settings: str) -> ServerProcess:
        server = ServerProcess(database_url, tmp_path, **settings)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


def _unavailable(reason: str) -> None:
    message = f"a private PostgreSQL instance is needed for this test and cannot run: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _postgres_bin() -> Path | None:
    """Where initdb and pg_ctl are: on PATH, or the newest Debian-packaged server."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0,
    )
    return Path(versions[-1]).parent if versions else None


class PrivatePostgres:
    """A PostgreSQL cluster in a temporary directory, on a free loopback port, trust auth.

    initdb refuses to run as root, so as root the cluster belongs to the ``postgres`` system user
    and every server command runs as that user (``runuser``); otherwise as the current user.
    """

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix=f"{STEM}{os.getpid()}-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                _unavailable("running as root and there is no postgres user to run initdb as")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/regentrace"

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.as_user, str(self.bin_dir / tool), *args],
            capture_output=True,
            text=True,
            timeout=PG_TIMEOUT,
            check=False,
            cwd=self.root,
        )

    def _check(self, result: subprocess.CompletedProcess[str], what: str) -> None:
        if result.returncode != 0:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            pytest.fail(f"{what} failed:\n{result.stdout}\n{result.stderr}\n{log}")

    def initialise(self) -> None:
        result = self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        self._check(result, "initdb")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        result = self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w",
            "-t", str(PG_TIMEOUT), "start",
        )  # fmt: skip
        self._check(result, "pg_ctl start")

    def stop(self, mode: str = "fast") -> None:
        result = self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")
        self._check(result, f"pg_ctl stop -m {mode}")

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status").returncode == 0

    def create_database(self) -> None:
        admin = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
            conn.execute("CREATE DATABASE regentrace")

    @classmethod
    def remove_abandoned(cls, bin_dir: Path) -> None:
        """Stop and delete clusters left by test runs that died before their teardown."""
        for root in Path(tempfile.gettempdir()).glob(f"{STEM}*-*"):
            pid = root.name.removeprefix(STEM).split("-", 1)[0]
            if pid.isdigit() and not _pid_alive(int(pid)):
                abandoned = cls.__new__(cls)
                abandoned.bin_dir, abandoned.root = bin_dir, root
                abandoned.data, abandoned.log = root / "data", root / "postgres.log"
                abandoned.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
                abandoned.remove()

    def remove(self) -> None:
        """Stop the cluster if it runs (immediately), then delete its directory."""
        try:
            if self.data.exists() and self.running():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A started private PostgreSQL with an empty ``regentrace`` database; always removed."""
    bin_dir = _postgres_bin()
    if bin_dir is None or not (bin_dir / "initdb").exists():
        _unavailable("initdb and pg_ctl are not installed")
    assert bin_dir is not None
    PrivatePostgres.remove_abandoned(bin_dir)
    instance = PrivatePostgres(bin_dir)
    try:
        instance.initialise()
        instance.start()
        instance.create_database()
        yield instance
    finally:
        instance.remove()


@pytest.fixture(scope="module", params=DIALECTS)
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Seeded]:
    """A seeded ledger in-process for each module that asks, on each database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'ledger.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_database")
        reset_postgres(url)
    settings = in_process_settings(url)
    migrate(settings.database)
    ledger = Seeded(settings)
    yield ledger
    ledger.close()
