"""The audit commands as real processes, on each database: ``regentrace verify`` (exit 0 when
intact, 1 naming the first position that fails), ``regentrace export ledger`` checked by the
independent ``tools/verify_ledger_export.py`` (run with the standard library only), and
``regentrace replay``.

The ledger is filled in this process through the ledger's commands (``tests/integration/chain.py``)
and tampered with as an insider would (``tests/tamper.py``); the commands then run against the
same database.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
import time
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from api.export import write_ledger
from api.settings import Settings
from api.wiring import Regentrace
from domain.shared import utcnow
from projections.audit import verify
from projections.ledger import LedgerIndex
from projections.sites import find_sites
from tests.e2e.conftest import Cli
from tests.integration import chain as c
from tests.tamper import tamper

ROOT = Path(__file__).resolve().parents[2]
VERIFIER = ROOT / "tools" / "verify_ledger_export.py"


@pytest.fixture
def cli(settings: Settings, regentrace: Cli) -> Cli:
    """``regentrace`` against the test's ledger (SQLite or PostgreSQL)."""
    regentrace.database_url = settings.database_url
    return regentrace


@pytest.fixture
def chain(service: Regentrace) -> c.Chain:
    built = c.build(service, "administered")
    c.report_adverse_event(built)
    return built


def ledger_rows(service: Regentrace) -> list[dict[str, Any]]:
    with service.read() as sql:
        return sql.all("SELECT * FROM ledger ORDER BY position")


def independent(export: Path) -> subprocess.CompletedProcess[str]:
    """The inspector's own check: Python without site-packages (-S) and isolated (-I), so
    nothing of regentrace can be imported."""
    return subprocess.run(
        [sys.executable, "-I", "-S", str(VERIFIER), str(export)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def export_ledger(cli: Cli, out: Path, *more: str) -> subprocess.CompletedProcess[str]:
    result = cli("export", "ledger", "--out", str(out), *more)
    assert result.returncode == 0, result.stderr
    return result


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def write_lines(path: Path, lines: list[dict[str, Any]]) -> None:
    path.write_text(
        "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8"
    )


def alter_state(service: Regentrace, p: int) -> None:
    with service.read() as sql:
        state = json.loads(
            bytes(sql.scalar("SELECT state FROM stored_events WHERE notification_id = ?", (p,)))
        )
    state["actor"] = "someone-else"
    edited = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
    tamper(service, "UPDATE stored_events SET state = ? WHERE notification_id = ?", (edited, p))


# ------------------------------------------------------------------------------------- verify


def test_verify_exits_0_on_an_intact_ledger_and_prints_the_head_position_and_hash(
    cli, service, chain
):
    result = cli("verify")

    last = ledger_rows(service)[-1]
    assert result.returncode == 0, result.stderr
    assert re.search(
        r"verify: OK, 31 events in [\d.]+s; head position 31, head hash ", result.stderr
    )
    assert result.stderr.rstrip().endswith(f"head hash {last['hash'].strip()}")
    assert "verify: 31/31 events" in result.stderr


def test_verify_of_an_empty_ledger_succeeds(cli, service):
    result = cli("verify")

    assert result.returncode == 0, result.stderr
    assert "verify: OK, 0 events" in result.stderr


@pytest.mark.parametrize("p", [1, 31])
def test_verify_exits_1_naming_the_first_altered_position(cli, service, chain, p):
    alter_state(service, p)

    result = cli("verify")

    assert result.returncode == 1, result.stderr
    assert f"verify: FAILED at position {p}: hash does not match" in result.stderr
    assert f"({p - 1:,} events checked before it)" in result.stderr
    assert "Traceback" not in result.stderr


def test_verify_exits_1_when_an_event_and_its_ledger_row_are_gone(cli, service, chain):
    tamper(service, "DELETE FROM ledger WHERE position = ?", (20,))
    tamper(service, "DELETE FROM stored_events WHERE notification_id = ?", (20,))

    result = cli("verify")

    assert result.returncode == 1
    assert "verify: FAILED at position 21:" in result.stderr


def test_verify_from_to_checks_only_that_range(cli, service, chain):
    alter_state(service, 18)

    inside = cli("verify", "--from", "16", "--to", "24")
    before = cli("verify", "--to", "17")
    linked_into = cli("verify", "--from", "19")
    after = cli("verify", "--from", "20")

    assert inside.returncode == 1
    assert "FAILED at position 18" in inside.stderr
    assert before.returncode == 0, before.stderr
    assert "verify: OK, 17 events" in before.stderr
    # From 19 the range links into 19 from 18's hash, so 18 is checked too.
    assert linked_into.returncode == 1, linked_into.stderr
    assert "verify: FAILED at position 18: " in linked_into.stderr
    assert "the event before the range" in linked_into.stderr
    assert after.returncode == 0, after.stderr
    assert "verify: OK, 12 events" in after.stderr


# ------------------------------------------------------------- the export, checked independently


def test_the_exported_ledger_verifies_independently_with_the_same_head_hash(
    cli, service, chain, tmp_path
):
    out = tmp_path / "ledger.jsonl"

    exported = export_ledger(cli, out)
    checked = independent(out)
    verified = cli("verify")

    head = ledger_rows(service)[-1]["hash"].strip()
    assert "export: done, 31 events" in exported.stderr
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.strip() == f"OK: 31 events verified; head hash {head}"
    assert verified.stderr.rstrip().endswith(f"head hash {head}")
    header, *events = lines_of(out)
    assert header == {
        "format": "regentrace-ledger-export/1",
        "chain": "sha256, see docs/ledger-chain.md",
        "anchor": "0" * 64,
        "until_position": 31,
    }
    assert [e["position"] for e in events] == list(range(1, 32))
    for event in events:
        state = base64.b64decode(event["state_base64"])
        assert json.loads(state) == event["payload"]
        assert event["actor"] == event["payload"]["actor"]


def test_an_export_made_by_write_ledger_in_process_verifies_independently(service, chain, tmp_path):
    out = tmp_path / "ledger.jsonl"
    with out.open("w", encoding="utf-8") as file:
        count = write_ledger(service, file, None, lambda _: None)

    checked = independent(out)

    assert count == 31
    assert checked.returncode == 0, checked.stdout
    assert checked.stdout.strip().endswith(verify(service.read).head_hash.strip())


def flip_a_payload_byte(lines: list[dict[str, Any]], p: int) -> None:
    state = bytearray(base64.b64decode(lines[p]["state_base64"]))
    index = state.index(b'"actor":"') + len(b'"actor":"')
    state[index] ^= 0x01  # one bit of one character of the actor
    lines[p]["state_base64"] = base64.b64encode(bytes(state)).decode()


def delete_line(lines: list[dict[str, Any]], p: int) -> None:
    del lines[p]


def swap_lines(lines: list[dict[str, Any]], p: int) -> None:
    lines[p], lines[p + 1] = lines[p + 1], lines[p]


# (edit of the export at position p, what the verifier names)
EXPORT_TAMPERING = [
    (flip_a_payload_byte, "position {p}: hash does not match"),
    (delete_line, "position {next}: hash does not match"),
    (swap_lines, "position {next}: hash does not match"),
]


@pytest.mark.parametrize(
    ("edit", "message"), EXPORT_TAMPERING, ids=[e.__name__ for e, _ in EXPORT_TAMPERING]
)
@pytest.mark.parametrize("p", [14])
def test_a_tampered_export_fails_the_independent_check_naming_the_position(
    cli, service, chain, tmp_path, edit, message, p
):
    out = tmp_path / "ledger.jsonl"
    export_ledger(cli, out)
    lines = lines_of(out)
    assert lines[p]["position"] == p  # line 0 is the header

    edit(lines, p)
    write_lines(out, lines)
    checked = independent(out)

    assert checked.returncode == 1, checked.stdout
    assert checked.stdout.startswith(f"FAILED after {p - 1} good events: ")
    assert message.format(p=p, next=p + 1) in checked.stdout


def test_an_export_with_a_line_missing_and_the_chain_relinked_fails_on_the_version_gap(
    cli, service, chain, tmp_path
):
    """Without a key the chain can be recomputed by anyone; version continuity still tells."""
    out = tmp_path / "ledger.jsonl"
    export_ledger(cli, out)
    header, *events = lines_of(out)
    removed = next(
        e for e in events if e["originator_id"] == "Batch:B-0001" and e["originator_version"] == 5
    )
    events.remove(removed)
    prev = header["anchor"]
    for event in events:
        line = "\n".join(
            [
                prev,
                str(event["position"]),
                event["originator_id"],
                str(event["originator_version"]),
                event["topic"],
                event["recorded_at"],
                hashlib.sha256(base64.b64decode(event["state_base64"])).hexdigest(),
            ]
        )
        event["hash"] = prev = hashlib.sha256(line.encode()).hexdigest()
    write_lines(out, [header, *events])

    checked = independent(out)

    after = removed["position"] + 1
    assert checked.returncode == 1, checked.stdout
    assert f"position {after}: Batch:B-0001 version gap before 6" in checked.stdout


def test_an_export_of_a_ledger_altered_in_the_database_fails_at_the_altered_position(
    cli, service, chain, tmp_path
):
    alter_state(service, 23)
    out = tmp_path / "ledger.jsonl"

    export_ledger(cli, out)
    checked = independent(out)

    assert checked.returncode == 1
    assert (
        "FAILED after 22 good events: line 24, position 23: hash does not match" in checked.stdout
    )


def test_an_export_until_a_past_moment_holds_only_the_events_up_to_its_position(
    cli, service, tmp_path
):
    chain = c.build(service, "released")
    time.sleep(0.01)
    moment = utcnow()
    time.sleep(0.01)
    c.dispatch(chain)
    c.receive(chain)
    with service.read() as sql:
        position = LedgerIndex(sql).position_at(moment)
    rows = ledger_rows(service)
    assert 0 < position < len(rows)
    out = tmp_path / "ledger.jsonl"

    export_ledger(cli, out, "--until", moment.isoformat())
    checked = independent(out)

    header, *events = lines_of(out)
    assert header["until_position"] == position
    assert [e["position"] for e in events] == list(range(1, position + 1))
    assert checked.returncode == 0, checked.stdout
    then = rows[position - 1]["hash"].strip()
    assert checked.stdout.strip() == f"OK: {position} events verified; head hash {then}"
    whole = cli("verify", "--to", str(position))
    assert whole.returncode == 0
    assert f"verify: OK, {position} events" in whole.stderr


def test_an_export_until_a_moment_in_another_offset_names_the_same_position(cli, service, tmp_path):
    chain = c.build(service, "released")
    time.sleep(0.01)
    moment = utcnow()
    time.sleep(0.01)
    c.dispatch(chain)
    with service.read() as sql:
        position = LedgerIndex(sql).position_at(moment)
    out = tmp_path / "ledger.jsonl"
    taipei = moment.astimezone(timezone(timedelta(hours=8)))

    export_ledger(cli, out, "--until", taipei.isoformat())

    assert lines_of(out)[0]["until_position"] == position


def test_an_export_until_a_day_includes_that_whole_day_as_a_replay_until_it_does(
    cli, service, chain, tmp_path
):
    """``--until 2026-06-30`` is the last day to include, for the export as for the replay."""
    today = utcnow().date().isoformat()  # every event of the chain was recorded today (UTC)
    out = tmp_path / "ledger.jsonl"

    export_ledger(cli, out, "--until", today)
    replayed = cli("replay", "--until", today, "--out", str(tmp_path / "replay.sqlite3"))

    assert replayed.returncode == 0, replayed.stderr
    assert "replay: done, 31 events up to position 31" in replayed.stderr
    assert lines_of(out)[0]["until_position"] == 31
    assert len(lines_of(out)) == 32


# ------------------------------------------------------------------------------------- replay


def test_replay_writes_a_file_that_verifies_and_holds_the_ledger_as_it_stood(
    cli, service, tmp_path
):
    chain = c.build(service, "released")
    time.sleep(0.01)
    moment = utcnow()
    time.sleep(0.01)
    c.suspend(chain, c.LAB, 12)
    c.dispatch(chain)
    with service.read() as sql:
        position = LedgerIndex(sql).position_at(moment)
        then = sql.scalar("SELECT hash FROM ledger WHERE position = ?", (position,))
    out = tmp_path / "replay.sqlite3"

    result = cli("replay", "--until", moment.isoformat(), "--out", str(out))

    assert result.returncode == 0, result.stderr
    assert f"replay: done, {position:,} events up to position {position} in {out}" in result.stderr
    replayed = Cli(tmp_path)
    replayed.database_url = f"sqlite:///{out}"
    verified = replayed("verify")
    assert verified.returncode == 0, verified.stderr
    assert verified.stderr.rstrip().endswith(f"head position {position}, head hash {then.strip()}")
    copy = Regentrace(Settings(database_url=f"sqlite:///{out}", _env_file=None))  # type: ignore[call-arg]
    try:
        with copy.read() as sql:
            head = LedgerIndex(sql).position_at(None)
            sites = {s.site_id: s.status for s in find_sites(sql, head)}
    finally:
        copy.close()
    with service.read() as sql:
        live_then = {s.site_id: s.status for s in find_sites(sql, position)}
    assert head == position
    assert sites == live_then
    assert sites[c.LAB] == "ACTIVE"


def test_replay_refuses_to_overwrite_an_existing_file(cli, service, chain, tmp_path):
    out = tmp_path / "replay.sqlite3"
    out.write_bytes(b"an inspector's earlier work")

    result = cli("replay", "--out", str(out))

    assert result.returncode != 0
    assert "exists" in result.stderr
    assert out.read_bytes() == b"an inspector's earlier work"
