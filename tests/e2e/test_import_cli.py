"""``regentrace import FILE.jsonl`` as a real process against a ``regentrace serve`` process, on
both databases: a backlog sent in batches, stopped by a refused line and resumed once it is
corrected, killed halfway and resumed, each command stored once."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from api.wiring import Regentrace
from tests.api.chain_documents import VECTOR_LOT, Timeline
from tests.api.test_batch_submissions import backlog, command, step
from tests.conftest import ledger_size
from tests.e2e.conftest import REGENTRACE, environment, free_port
from tests.e2e.test_server_process import Server, server  # noqa: F401 (the fixture)


def write(path: Path, commands: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(c) + "\n" for c in commands), encoding="utf-8")
    return path


def importing(server: Server, path: Path, *args: str) -> list[str]:  # noqa: F811
    url = f"{server.base_url}/graphql"
    return [str(REGENTRACE), "import", str(path), "--url", url, *args]


def run(arguments: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        arguments,
        cwd=cwd,
        env=environment("sqlite:///unused.sqlite3"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def stored_commands(service: Regentrace) -> int:
    with service.read() as sql:
        return int(sql.scalar("SELECT COUNT(*) FROM commands"))


def test_a_refused_line_stops_the_import_and_a_rerun_finishes_it(
    server: Server,  # noqa: F811
    service: Regentrace,
    tmp_path: Path,
) -> None:
    t = Timeline.ending_weeks_ago()
    commands = backlog(t, 300, batches=3)
    bad = 137
    original = commands[bad]
    commands[bad] = command(original["commandId"], "recordBatchStep", step(t, "B-404", 0))
    path = write(tmp_path / "backlog.jsonl", commands)

    first = run(importing(server, path, "--batch-size", "50"), tmp_path)

    assert first.returncode == 1, first.stderr
    assert f"backlog.jsonl:{bad + 1}: recordBatchStep" in first.stderr
    assert "refused NOT_FOUND" in first.stderr
    assert "correct it and run again" in first.stderr
    assert ledger_size(service) == bad  # everything before the line, nothing after
    assert "import: 137/300 commands" in first.stderr  # progress as it went

    commands[bad] = original
    write(path, commands)
    second = run(importing(server, path, "--batch-size", "50"), tmp_path)

    assert second.returncode == 0, second.stderr
    assert f"import: done, {300 - bad:,} stored now and {bad:,} stored before" in second.stderr
    assert ledger_size(service) == stored_commands(service) == 300


def test_an_import_killed_halfway_resumes_and_stores_each_command_once(
    server: Server,  # noqa: F811
    service: Regentrace,
    tmp_path: Path,
) -> None:
    t = Timeline.ending_weeks_ago()
    commands = backlog(t, 1500, batches=5)
    commands.append(command("transduction", "recordBatchStep", step(t, "B-2", 0, (VECTOR_LOT,))))
    path = write(tmp_path / "backlog.jsonl", commands)
    log = tmp_path / "import.stderr"

    with log.open("w") as stderr:
        process = subprocess.Popen(
            importing(server, path, "--batch-size", "20"),
            cwd=tmp_path,
            env=environment("sqlite:///unused.sqlite3"),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        deadline = time.monotonic() + 120
        while log.read_text().count("commands/s") < 3 and time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            time.sleep(0.05)
        process.kill()
        process.wait(timeout=10)
    partial = ledger_size(service)
    assert 0 < partial < len(commands), log.read_text()

    resumed = run(importing(server, path, "--batch-size", "500"), tmp_path)

    assert resumed.returncode == 0, resumed.stderr
    assert "stored before" in resumed.stderr
    assert ledger_size(service) == stored_commands(service) == len(commands)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"commandId": "a", "mutation": "registerSite", "input": {}}\nnot json\n', ":2: not JSON"),
        ('{"commandId": "a", "input": {}}\n', ":1: a command is an object with commandId"),
    ],
)
def test_a_malformed_file_is_refused_before_anything_is_sent(
    tmp_path: Path, content: str, message: str
) -> None:
    """No server listens at the URL: had the import tried to send, it would exit 4."""
    path = tmp_path / "backlog.jsonl"
    path.write_text(content, encoding="utf-8")
    nowhere = f"http://127.0.0.1:{free_port()}/graphql"

    result = run([str(REGENTRACE), "import", str(path), "--url", nowhere], tmp_path)

    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "cannot reach" not in result.stderr


def test_an_unreachable_server_is_exit_status_4(tmp_path: Path) -> None:
    path = write(tmp_path / "backlog.jsonl", backlog(Timeline.ending_weeks_ago(), 20, batches=1))
    nowhere = f"http://127.0.0.1:{free_port()}/graphql"

    result = run([str(REGENTRACE), "import", str(path), "--url", nowhere], tmp_path)

    assert result.returncode == 4, result.stderr
    assert f"cannot reach {nowhere}" in result.stderr
    assert "run the import again" in result.stderr


def test_import_help_shows_an_example(tmp_path: Path) -> None:
    result = run([str(REGENTRACE), "import", "--help"], tmp_path)

    assert result.returncode == 0
    assert '{"commandId": "mu-7:0001", "mutation": "recordBatchStep"' in result.stdout
    assert "REGENTRACE_API_KEY" in result.stdout
    assert "ALREADY_DONE" in result.stdout
