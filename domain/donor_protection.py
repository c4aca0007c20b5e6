"""Donor protection as data (domain/data/donor_protection.json): the coded source-tissue types and
those each jurisdiction forbids, the age of majority, and the infectious-disease panel an ELIGIBLE
determination must show negative, with the assay names that count for each marker.

The rules are functions the donor commands call before recording; a quality unit changes a
panel or adds a tissue type by editing the data file, not the code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Any

from domain.shared import BadInputError, RuleViolationError


@dataclass(frozen=True)
class Panel:
    markers: tuple[str, ...]
    leukocyte_rich_markers: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class DonorProtection:
    source_tissues: dict[str, str]
    leukocyte_rich: frozenset[str]
    forbidden: dict[str, tuple[frozenset[str], str]]
    age_of_majority: dict[str, int]
    panels: dict[str, Panel]
    assay_markers: dict[str, str]  # normalised assay name -> marker


@cache
def protection() -> DonorProtection:
    text = resources.files("domain.data").joinpath("donor_protection.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return DonorProtection(
        source_tissues=dict(data["source_tissues"]),
        leukocyte_rich=frozenset(data["leukocyte_rich"]["tissues"]),
        forbidden={
            j: (frozenset(rule["tissues"]), rule["source"])
            for j, rule in data["forbidden_tissues"].items()
        },
        age_of_majority={j: int(rule["years"]) for j, rule in data["age_of_majority"].items()},
        panels={
            j: Panel(tuple(p["markers"]), tuple(p["leukocyte_rich_markers"]), p["source"])
            for j, p in data["screening_panels"].items()
        },
        assay_markers={
            _normalised(name): marker
            for marker, names in data["assay_names"].items()
            for name in [marker, *names]
        },
    )


def _normalised(name: str) -> str:
    return re.sub(r"[\s\-_]+", "", name).upper()


# ------------------------------------------------------------------------------ source tissue


def require_source_tissue(code: str | None) -> str:
    """The donation's coded source-tissue type: required, and one of the data file's codes."""
    tissues = protection().source_tissues
    if not code or code not in tissues:
        raise BadInputError(
            f"sourceTissue {code!r} is required and must be one of {', '.join(tissues)}; "
            "the free-text material describes it but is not read as a code",
            field="sourceTissue",
        )
    return code


def require_tissue_allowed(jurisdiction: str, tissue: str) -> None:
    forbidden, source = protection().forbidden.get(jurisdiction, (frozenset(), ""))
    if tissue in forbidden:
        raise RuleViolationError(
            f"{tissue} may not be used as a source in {jurisdiction} ({source})",
            source_tissue=tissue,
        )


# ------------------------------------------------------------------------------------- consent


def age_of_majority(jurisdiction: str | None) -> int:
    """The jurisdiction's age of majority; not knowing where, the highest of them."""
    ages = protection().age_of_majority
    return ages[jurisdiction] if jurisdiction in ages else max(ages.values())


def representative_needed(
    personal_data: Mapping[str, Any], jurisdiction: str | None, signed_at: datetime
) -> str | None:
    """Why consent signed at ``signed_at`` needs a legal representative, or None. The reason
    names no date of birth: it reaches the caller's error message."""
    if personal_data.get("fullCapacity") is False:
        return "the donor is declared without full capacity"
    born = date_of_birth(personal_data)
    if born is None:
        return None
    majority = age_of_majority(jurisdiction)
    day = signed_at.date()
    age = day.year - born.year - ((day.month, day.day) < (born.month, born.day))
    if age < majority:
        where = jurisdiction or "every jurisdiction configured"
        return f"the donor was a minor when consent was signed (majority at {majority} in {where})"
    return None


def date_of_birth(personal_data: Mapping[str, Any]) -> date | None:
    value = personal_data.get("dateOfBirth")
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise BadInputError(
            "personalData.dateOfBirth must be a date (YYYY-MM-DD)", field="personalData"
        ) from None


# ----------------------------------------------------------------------------------- screening


def required_markers(jurisdictions: Iterable[str], tissue: str | None = None) -> tuple[str, ...]:
    """The markers every listed jurisdiction's panel asks for (for ``tissue`` when known)."""
    rules = protection()
    found: list[str] = []
    for jurisdiction in jurisdictions:
        panel = rules.panels.get(jurisdiction)
        if panel is None:
            continue
        found += panel.markers
        if tissue in rules.leukocyte_rich:
            found += panel.leukocyte_rich_markers
    return tuple(dict.fromkeys(found))


def marker_of(test: str) -> str | None:
    """The marker an assay name counts for ("HIV-1/2 NAT" -> HIV), or None if not known."""
    return protection().assay_markers.get(_normalised(test))


def missing_markers(screening: Iterable[Mapping[str, Any]], required: Iterable[str]) -> list[str]:
    """The required markers without a negative (non-reactive) result in ``screening``."""
    negative = {marker_of(str(s["test"])) for s in screening if not s["reactive"]}
    return [m for m in required if m not in negative]


def every_panel_jurisdiction() -> tuple[str, ...]:
    return tuple(protection().panels)
