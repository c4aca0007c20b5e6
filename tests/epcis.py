"""GS1's EPCIS 2.0 JSON Schema, from the shared reference folder, and reading documents."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from api.epcis.validation import problems, validator

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SHARED", ROOT.parent / "shared"))
SCHEMA = SHARED / "reference" / "epcis" / "ref.gs1.org-copies" / "epcis-json-schema.json"


def schema_path() -> Path:
    if not SCHEMA.exists():
        pytest.fail(f"GS1's EPCIS JSON Schema is not at {SCHEMA} (set SHARED=...)")
    return SCHEMA


def violations(document: Any) -> list[str]:
    return problems(validator(schema_path()), document)


def events(document: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = document["epcisBody"]["eventList"]
    return found


def transformations(document: dict[str, Any]) -> set[tuple[str, str]]:
    """Every (input, output) pair the document's TransformationEvents connect."""
    return {
        (given, made)
        for e in events(document)
        if e["type"] == "TransformationEvent"
        for given in e.get("inputEPCList", [])
        for made in e["outputEPCList"]
    }
