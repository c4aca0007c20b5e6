"""The schema the service serves honours the partner contract in ../shared/api/contract.graphql."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from graphql import build_schema

from api.schema import sdl

CHECKER = Path(__file__).resolve().parents[3] / "shared" / "api" / "check_contract.py"


def check(schema: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    if not CHECKER.exists():
        pytest.fail(f"the contract checker is missing at {CHECKER}")
    path = tmp_path / "schema.graphql"
    path.write_text(schema)
    return subprocess.run(
        [sys.executable, str(CHECKER), "--partial", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_printed_schema_passes_the_partial_contract_check(tmp_path):
    result = check(sdl(), tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "contract: ok" in result.stdout


def test_the_contract_check_catches_a_schema_that_changes_a_contract_field(tmp_path):
    schema = sdl()
    broken = schema.replace("  aggregateId: ID!\n", "  aggregateId: String\n", 1)
    assert broken != schema

    result = check(broken, tmp_path)

    assert result.returncode == 1, result.stdout
    assert "CommandResult.aggregateId" in result.stdout


def test_the_site_operations_of_the_contract_are_served():
    schema = build_schema(sdl())
    query, mutation = schema.query_type, schema.mutation_type
    assert query is not None
    assert mutation is not None

    assert {"site", "sites", "unionDatabaseSiteLinks"} <= set(query.fields)
    assert {
        "registerSite",
        "activateSite",
        "suspendSite",
        "reinstateSite",
        "terminateSite",
        "relocateSite",
    } <= set(mutation.fields)
    assert set(query.fields["unionDatabaseSiteLinks"].args) == {"centralSiteId", "country", "asOf"}
