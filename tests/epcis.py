"""GS1's EPCIS 2.0 JSON Schema (a copy kept in tests/data/epcis, see its SOURCES.md) and reading
documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from api.epcis.validation import problems, validator

DATA = Path(__file__).resolve().parent / "data" / "epcis"
SCHEMA = DATA / "schema" / "epcis-json-schema.json"


def schema_path() -> Path:
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
