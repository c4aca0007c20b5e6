"""``regentrace export epcis``: the EPCIS 2.0 document of a batch, a shipment, a recall or a
window, written to a file or standard output, checked against GS1's schema when asked."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import Cli
from tests.epcis import events, schema_path, violations


@pytest.fixture
def seeded(regentrace: Cli) -> Cli:
    assert regentrace("demo").returncode == 0
    return regentrace


@pytest.mark.parametrize(
    "scope",
    [
        ["--batch", "CART-26008"],
        ["--shipment", "SHP-CART-26008"],
        ["--recall", "RCL-2026-001"],
        ["--from", "2025-12-01", "--to", "2025-12-31"],
    ],
)
def test_each_scope_is_exported_to_a_file_that_validates(seeded: Cli, scope: list[str]):
    out = seeded.cwd / "epcis.jsonld"

    result = seeded("export", "epcis", *scope, "--validate", str(schema_path()), "--out", str(out))

    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text(encoding="utf-8"))
    assert violations(document) == []
    assert f"export: done, {len(events(document)):,} EPCIS events in {out}" in result.stderr


def test_without_out_the_document_goes_to_standard_output(seeded: Cli):
    result = seeded("export", "epcis", "--batch", "CART-26005")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["type"] == "EPCISDocument"


def test_an_unknown_batch_is_refused_with_its_name(seeded: Cli):
    result = seeded("export", "epcis", "--batch", "NO-SUCH-BATCH")

    assert result.returncode == 1
    assert "NO-SUCH-BATCH" in result.stderr
    assert result.stdout == ""


def test_a_window_needs_both_ends(seeded: Cli):
    result = seeded("export", "epcis", "--from", "2025-12-01")

    assert result.returncode == 2  # a usage error
    assert "--from and --to" in result.stderr


def test_two_scopes_at_once_are_a_usage_error(seeded: Cli):
    result = seeded("export", "epcis", "--batch", "CART-26008", "--recall", "RCL-2026-001")

    assert result.returncode == 2
    assert "not allowed with argument" in result.stderr
