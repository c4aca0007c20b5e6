"""Every field of every kind of line a ledger export holds is checked by the independent
``tools/verify_ledger_export.py``: an edit of any one of them, one at a time, fails with exit 1
and names the line (and position) it is on. On each database, with the export written by the
real ``regentrace export ledger``.

An export has two kinds of line: the header (line 1) and one line per event. The event lines
sampled are the first event, a batch's release (the line a reader reads a qualified person off)
and the last event.
"""

from __future__ import annotations

import base64
import copy
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from api.settings import Settings
from api.wiring import Regentrace
from tests.e2e.conftest import Cli
from tests.integration import chain as c

ROOT = Path(__file__).resolve().parents[2]
VERIFIER = ROOT / "tools" / "verify_ledger_export.py"

Line = dict[str, Any]


@pytest.fixture
def export(settings: Settings, regentrace: Cli, service: Regentrace, tmp_path: Path) -> list[Line]:
    """The lines of an export of one donor-to-patient chain and an adverse reaction."""
    built = c.build(service, "administered")
    c.report_adverse_event(built)
    regentrace.database_url = settings.database_url
    out = tmp_path / "ledger.jsonl"
    result = regentrace("export", "ledger", "--out", str(out))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(text) for text in out.read_text(encoding="utf-8").splitlines()]
    assert check(tmp_path, lines).returncode == 0
    return lines


def check(tmp_path: Path, lines: list[Any], raw: list[str] | None = None) -> Any:
    """The independent verifier (no site-packages, isolated) over these lines."""
    path = tmp_path / "edited.jsonl"
    texts = raw if raw is not None else [json.dumps(x, ensure_ascii=False) for x in lines]
    path.write_text("".join(t + "\n" for t in texts), encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-I", "-S", str(VERIFIER), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def line_of(lines: list[Line], event_type: str) -> int:
    return next(i for i, x in enumerate(lines) if x.get("event_type") == event_type)


def other_text(value: str) -> str:
    return value[:-1] + ("x" if value[-1] != "x" else "y")


def later_time(value: str) -> str:
    """The same moment plus one microsecond, in the same form."""
    digit = int(value[26 - 1])
    return value[:25] + str((digit + 1) % 10) + value[26:]


def forged_state(line: Line) -> str:
    state = json.loads(base64.b64decode(line["state_base64"]))
    state["actor"] = "forged-actor"
    return base64.b64encode(json.dumps(state, separators=(",", ":")).encode()).decode()


def forged_payload(line: Line) -> dict[str, Any]:
    payload = copy.deepcopy(line["payload"])
    key = "qualified_person" if "qualified_person" in payload else sorted(payload)[0]
    payload[key] = "forged-qp" if payload[key] != "forged-qp" else "someone"
    return payload


EVENT_EDITS: dict[str, Callable[[Line], Any]] = {
    "position": lambda x: x["position"] + 1,
    "originator_id": lambda x: other_text(x["originator_id"]),
    "originator_version": lambda x: x["originator_version"] + 1,
    "aggregate_type": lambda x: "Donor" if x["aggregate_type"] != "Donor" else "Batch",
    "event_type": lambda x: "Batch.Rejected" if x["event_type"] != "Batch.Rejected" else "X.Y",
    "topic": lambda x: x["topic"].replace(":", ":Forged"),
    "actor": lambda x: "forged-actor",
    "actor_role": lambda x: "regulator" if x["actor_role"] != "regulator" else "courier",
    "recorded_at": lambda x: later_time(x["recorded_at"]),
    "state_base64": forged_state,
    "payload": forged_payload,
    "hash": lambda x: other_text(x["hash"]),
}
HEADER_EDITS: dict[str, Callable[[Line], Any]] = {
    "format": lambda h: "regentrace-ledger-export/2",
    "chain": lambda h: "sha1",
    "anchor": lambda h: "1" * 64,
    "until_position": lambda h: h["until_position"] - 1,
}


def test_every_event_line_field_is_covered(export):
    assert set(EVENT_EDITS) == set(export[1]), "an edit for every field an event line has"
    assert set(HEADER_EDITS) == set(export[0]), "an edit for every field the header has"


@pytest.mark.parametrize("kind", ["first event", "Batch.Released", "last event"])
def test_an_edit_of_any_one_field_of_an_event_line_is_located(export, tmp_path, kind):
    n = {"first event": 1, "last event": len(export) - 1}.get(kind) or line_of(export, kind)
    position = export[n]["position"]
    missed = []

    for field, edit in EVENT_EDITS.items():
        lines = copy.deepcopy(export)
        lines[n][field] = edit(lines[n])
        assert lines[n] != export[n]
        result = check(tmp_path, lines)
        located = f"FAILED after {position - 1} good events: line {n + 1}, position "
        if result.returncode != 1 or not result.stdout.startswith(located):
            missed.append((field, result.returncode, result.stdout.strip()))

    assert missed == []


def test_an_edit_of_any_one_header_field_is_located(export, tmp_path):
    missed = []

    for field, edit in HEADER_EDITS.items():
        lines = copy.deepcopy(export)
        lines[0][field] = edit(lines[0])
        result = check(tmp_path, lines)
        if result.returncode != 1 or "line 1 (header)" not in result.stdout:
            missed.append((field, result.returncode, result.stdout.strip()))

    assert missed == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("payload.qualified_person", "forged-qp"),
        ("event_type", "Batch.Rejected"),
        ("aggregate_type", "Donor"),
    ],
)
def test_the_forgeries_an_inspector_found_are_located(export, tmp_path, field, value):
    n = line_of(export, "Batch.Released")
    lines = copy.deepcopy(export)
    if field.startswith("payload."):
        lines[n]["payload"][field.split(".", 1)[1]] = value
    else:
        lines[n][field] = value

    result = check(tmp_path, lines)

    assert result.returncode == 1, result.stdout
    assert f"line {n + 1}, position {export[n]['position']}: " in result.stdout
    assert "OK" not in result.stdout


# Edits that change a line's shape or a value's type rather than its text: each is located.
SHAPE_EDITS: dict[str, Callable[[Line], None]] = {
    "a field removed": lambda x: x.pop("actor_role"),
    "a field added": lambda x: x.update({"note": "approved"}),
    "the position as text": lambda x: x.update({"position": str(x["position"])}),
    "the version as text": lambda x: x.update({"originator_version": str(x["originator_version"])}),
    "non-canonical base64": lambda x: x.update({"state_base64": x["state_base64"] + "\n"}),
}


@pytest.mark.parametrize("name", list(SHAPE_EDITS))
def test_an_edit_of_a_lines_shape_or_types_is_located(export, tmp_path, name):
    n = line_of(export, "Batch.Released")
    lines = copy.deepcopy(export)
    SHAPE_EDITS[name](lines[n])

    result = check(tmp_path, lines)

    assert result.returncode == 1, result.stdout
    good = export[n]["position"] - 1
    assert result.stdout.startswith(f"FAILED after {good} good events: line {n + 1}"), result.stdout


def number_in(value: Any) -> list[Any] | None:
    """The path to the first whole number inside a payload."""
    if type(value) is int:
        return []
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, inner in items:
        path = number_in(inner)
        if path is not None:
            return [key, *path]
    return None


@pytest.mark.parametrize("retyped", [float, str, lambda v: v == 1])
def test_a_payload_number_given_another_type_is_located(export, tmp_path, retyped):
    """96 and 96.0 (or 1 and true) are equal to Python, not to every reader: refused."""
    n, path = next(
        (i, number_in(x["payload"])) for i, x in enumerate(export[1:], 1) if number_in(x["payload"])
    )
    lines = copy.deepcopy(export)
    *parents, last = path
    inner = lines[n]["payload"]
    for key in parents:
        inner = inner[key]
    inner[last] = retyped(inner[last])

    result = check(tmp_path, lines)

    assert result.returncode == 1, result.stdout
    assert f"line {n + 1}, position {export[n]['position']}: payload differs" in result.stdout


def test_a_key_given_twice_is_located(export, tmp_path):
    """Two JSON readers may keep different values of a key given twice: refused."""
    n = line_of(export, "Batch.Released")
    raw = [json.dumps(x, ensure_ascii=False) for x in export]
    raw[n] = raw[n][:-1] + ', "actor": "forged-actor"}'

    result = check(tmp_path, export, raw)

    assert result.returncode == 1, result.stdout
    assert f"line {n + 1}: a key appears twice" in result.stdout


@pytest.mark.parametrize("removed", ["the last line", "the last two lines"])
def test_lines_removed_from_the_end_are_found_by_the_header(export, tmp_path, removed):
    lines = export[:-1] if removed == "the last line" else export[:-2]

    result = check(tmp_path, lines)

    assert result.returncode == 1, result.stdout
    assert "line 1 (header): until_position is 31 but the last event is at position" in (
        result.stdout
    )


def test_an_empty_file_or_a_blank_line_is_located(export, tmp_path):
    empty = check(tmp_path, [], [])
    blank = check(tmp_path, export, [*[json.dumps(x) for x in export[:5]], "", "{}"])

    assert (empty.returncode, empty.stdout.strip()) == (
        1,
        "FAILED after 0 good events: line 1 (header): the file is empty",
    )
    assert blank.returncode == 1
    assert "FAILED after 4 good events: line 6: not JSON" in blank.stdout
