"""The EPCIS validator the export tests rely on agrees with GS1: it accepts the standard's own
example documents and refuses documents that break the schema (a validator that accepted
everything would make every EPCIS test pass)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.epcis import DATA, violations

VALID = sorted(p for p in (DATA / "valid").rglob("*") if p.is_file())
INVALID = sorted((DATA / "invalid").glob("*.json"))


def name(path: Path) -> str:
    return str(path.relative_to(DATA))


def test_the_reference_documents_are_all_there():
    assert len(VALID) == 83
    assert len(INVALID) == 15


@pytest.mark.parametrize("path", VALID, ids=name)
def test_gs1_and_openepcis_valid_documents_are_accepted(path: Path):
    assert violations(json.loads(path.read_text(encoding="utf-8"))) == []


@pytest.mark.parametrize("path", INVALID, ids=name)
def test_documents_that_break_the_schema_are_refused(path: Path):
    assert violations(json.loads(path.read_text(encoding="utf-8"))) != []
