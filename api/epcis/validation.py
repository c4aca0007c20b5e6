"""Checking an EPCIS document against GS1's JSON Schema, offline and with formats checked.

GS1 publishes the schema (https://ref.gs1.org/standards/epcis/epcis-json-schema.json); pass the
path of a local copy. Every ``$ref`` is resolved from the JSON files in that copy's folder, keyed
by their ``$id``, never over the network. Formats are checked: without a FormatChecker (and the
``format-nongpl`` validators it relies on) ``"format": "uri"`` is silently ignored, and documents
with non-CBV business steps or bare extension keys would pass.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator, FormatChecker  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource

# The formats the EPCIS schema uses; each must really be checked, or validation proves nothing.
REQUIRED_FORMATS = ("uri", "date-time")


def _registry(folder: Path) -> Registry:
    resources = []
    for path in sorted(folder.glob("*.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(contents, dict) and "$id" in contents:
            resources.append((contents["$id"], Resource.from_contents(contents)))

    def refuse(uri: str) -> Resource:
        # Not in the local copy: never fetched from the network.
        raise NoSuchResource(ref=uri)  # type: ignore[call-arg]

    return Registry(retrieve=refuse).with_resources(resources)  # type: ignore[call-arg]


def validator(schema_path: Path) -> Draft7Validator:
    """A validator of EPCIS documents against the schema at ``schema_path``, formats checked."""
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    checker = FormatChecker()
    missing = [f for f in REQUIRED_FORMATS if f not in checker.checkers]
    if missing:
        raise RuntimeError(
            f"format checks {', '.join(missing)} are unavailable; install jsonschema[format-nongpl]"
        )
    return Draft7Validator(schema, registry=_registry(schema_path.parent), format_checker=checker)


def problems(check: Draft7Validator, document: Any) -> list[str]:
    """Every way ``document`` breaks the schema, each with where it is (empty when valid)."""
    found = sorted(check.iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(document)'}: {e.message}" for e in found]
