"""A real PostgreSQL streaming pair for the read-replica tests: a primary and a hot standby.

Both clusters live in a temporary folder on private ports: ``initdb`` makes the primary
(wal_level=replica, a replication line in pg_hba.conf), ``pg_basebackup -R`` copies it into the
standby, which streams the primary's WAL from then on. PostgreSQL's programs refuse to run as
root: as root they run as the ``postgres`` user (runuser). Without the programs the tests skip,
and fail when CI is set, like every PostgreSQL test.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from api.settings import parse_database_url
from api.wiring import migrate

DATABASE = "regentrace"


def _bindir() -> Path | None:
    found = os.environ.get("REGENTRACE_TEST_PG_BINDIR")
    candidates = [Path(found)] if found else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).parent)
    for folder in candidates:
        if all((folder / p).is_file() for p in ("initdb", "pg_ctl", "pg_basebackup")):
            return folder
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class StreamingPair:
    folder: Path
    bindir: Path
    primary_port: int
    standby_port: int
    as_postgres: list[str]

    def url(self, port: int, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{port}/{DATABASE}?application_name={name}"

    @property
    def primary_url(self) -> str:
        return self.url(self.primary_port, "regentrace-primary")

    @property
    def standby_url(self) -> str:
        return self.url(self.standby_port, "regentrace-standby")

    def run(self, program: str, *args: str) -> None:
        subprocess.run(
            [*self.as_postgres, str(self.bindir / program), *args],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def pg_ctl(self, cluster: str, *args: str) -> None:
        folder = self.folder / cluster
        self.run("pg_ctl", "-D", str(folder), "-l", str(self.folder / f"{cluster}.log"), *args)

    def on_standby(self, statement: str) -> object:
        conninfo = parse_database_url(self.standby_url).conninfo
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
            row = conn.execute(statement).fetchone()
            return None if row is None else row[0]

    def pause_replay(self) -> None:
        self.on_standby("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        self.on_standby("SELECT pg_wal_replay_resume()")

    def stop_standby(self) -> None:
        self.pg_ctl("standby", "-m", "immediate", "-w", "stop")

    def start_standby(self) -> None:
        self.pg_ctl("standby", "-w", "start")
        self.wait_for_standby()

    def wait_for_standby(self, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                if self.on_standby("SELECT pg_is_in_recovery()") is True:
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)

    def standby_head(self) -> int:
        return int(str(self.on_standby("SELECT COALESCE(MAX(position), 0) FROM ledger")))


def _cluster_settings(folder: Path, port: int) -> str:
    return (
        f"\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{folder}'\n"
        "wal_level = replica\nmax_wal_senders = 5\nhot_standby = on\n"
        "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
    )


@contextmanager
def streaming_pair() -> Iterator[StreamingPair]:
    """A migrated primary and its streaming standby, stopped and removed afterwards."""
    bindir = _bindir()
    if bindir is None:
        message = "the PostgreSQL server programs (initdb, pg_ctl, pg_basebackup) are not found"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    folder = Path(tempfile.mkdtemp(prefix="regentrace-replica-"))
    if as_postgres:
        shutil.chown(folder, "postgres")
    pair = StreamingPair(folder, bindir, _free_port(), _free_port(), as_postgres)
    started: list[str] = []
    try:
        pair.run("initdb", "-D", str(folder / "primary"), "-A", "trust", "-U", "postgres",
                 "--no-sync")  # fmt: skip
        with (folder / "primary" / "postgresql.conf").open("a") as conf:
            conf.write(_cluster_settings(folder, pair.primary_port))
        with (folder / "primary" / "pg_hba.conf").open("a") as hba:
            hba.write("host replication postgres 127.0.0.1/32 trust\n")
        pair.pg_ctl("primary", "-w", "start")
        started.append("primary")
        admin = parse_database_url(pair.primary_url.replace(f"/{DATABASE}?", "/postgres?"))
        with psycopg.connect(admin.conninfo, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        migrate(parse_database_url(pair.primary_url))
        pair.run("pg_basebackup", "-h", "127.0.0.1", "-p", str(pair.primary_port), "-U",
                 "postgres", "-D", str(folder / "standby"), "-R", "-X", "stream", "-c", "fast",
                 "--no-sync")  # fmt: skip
        with (folder / "standby" / "postgresql.conf").open("a") as conf:
            conf.write(f"\nport = {pair.standby_port}\n")
        pair.pg_ctl("standby", "-w", "start")
        started.append("standby")
        pair.wait_for_standby()
        yield pair
    finally:
        for cluster in reversed(started):
            with suppress(subprocess.CalledProcessError):  # already stopped by the test
                pair.pg_ctl(cluster, "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)
