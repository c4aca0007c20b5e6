"""The installed ``regentrace`` command, run as a real process with its own environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REGENTRACE = Path(sys.executable).parent / "regentrace"


def environment(database_url: str, **more: str) -> dict[str, str]:
    """This process's environment without any REGENTRACE_* setting, plus the given ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGENTRACE_")}
    env["REGENTRACE_DATABASE_URL"] = database_url
    # Feature tests act as the development principal; tests/e2e/test_access_cli.py does not.
    env["REGENTRACE_DEV_PRINCIPAL_ENABLED"] = "true"
    env.update({f"REGENTRACE_{k.upper()}": v for k, v in more.items()})
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cli:
    """Runs ``regentrace ARGS`` in an empty directory against one SQLite ledger."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.database_url = f"sqlite:///{cwd / 'cli.sqlite3'}"

    def __call__(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(REGENTRACE), *args],
            cwd=self.cwd,
            env=environment(self.database_url),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture
def regentrace(tmp_path: Path) -> Cli:
    if not REGENTRACE.exists():
        pytest.fail(f"the regentrace command is not installed at {REGENTRACE}")
    return Cli(tmp_path)
