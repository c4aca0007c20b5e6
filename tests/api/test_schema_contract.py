"""The schema the service serves is the one committed in api/schema.graphql, and it honours the
partner contract kept in api/contract.graphql (checked with graphql-core, inside the repository)."""

from __future__ import annotations

import subprocess
import sys

from graphql import build_schema

from api.contract import COMMITTED_SCHEMA, CONTRACT, compare
from api.schema import sdl


def test_the_committed_schema_is_the_one_the_code_builds():
    # If this fails, run `make schema` and review the difference like any other change.
    assert COMMITTED_SCHEMA.read_text() == sdl()


def test_the_served_schema_honours_the_contract():
    report = compare(sdl())

    assert report.breaking == []
    assert report.contract_fields > 250


def test_the_check_catches_a_schema_that_changes_a_contract_field():
    schema = sdl()
    broken = schema.replace("  aggregateId: ID!\n", "  aggregateId: String\n", 1)
    assert broken != schema

    report = compare(broken)

    assert not report.ok
    assert any("CommandResult.aggregateId" in line for line in report.breaking)


def test_the_check_catches_a_removed_contract_operation():
    schema = sdl()
    broken = schema.replace("  suspendSite(", "  suspendSiteRenamed(", 1)
    assert broken != schema

    assert any("suspendSite" in line for line in compare(broken).breaking)


def test_dangerous_changes_are_reported_without_failing():
    contract = CONTRACT.read_text()
    line = "enum SiteStatus { REGISTERED ACTIVE SUSPENDED TERMINATED }"
    assert line in contract
    widened = contract.replace(line, line.replace(" }", " RETIRED }"), 1)

    # A product that adds an enum value to a contract enum is only dangerous; a product that
    # lacks one of the contract's values breaks partners.
    added = compare(widened, contract)
    removed = compare(contract, widened)

    assert added.ok
    assert any("RETIRED" in d and "SiteStatus" in d for d in added.dangerous)
    assert any("RETIRED" in b for b in removed.breaking)


def test_the_contract_check_runs_as_a_command_and_fails_on_a_breaking_change(tmp_path):
    good = tmp_path / "good.graphql"
    good.write_text(sdl())
    bad = tmp_path / "bad.graphql"
    bad.write_text(sdl().replace("  aggregateId: ID!\n", "  aggregateId: String\n", 1))

    ok = subprocess.run(
        [sys.executable, "-m", "api.contract", "--sdl", str(good)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    failed = subprocess.run(
        [sys.executable, "-m", "api.contract", "--sdl", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "contract: ok" in ok.stdout
    assert failed.returncode == 1
    assert "CommandResult.aggregateId" in failed.stdout


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
