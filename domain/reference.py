"""Reference data kept as data, not code: product release requirements (each QC test with the
source it rests on), reporting deadlines and the fields a correction may re-write (jurisdictions
and countries are read in domain/shared.py).

The files live in ``domain/data/``; changing a product's required tests or a jurisdiction's
deadline is an edit to JSON that a quality unit can review, not a code change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from domain.shared import BadInputError


class Origin(StrEnum):
    """Whose cells a product is made from, and for whom."""

    AUTOLOGOUS = "AUTOLOGOUS"  # for the very person the cells came from
    ALLOGENEIC = "ALLOGENEIC"  # from a donor, for other people


@dataclass(frozen=True)
class StorageRange:
    """Where a product must be kept, in transit and in storage (degrees Celsius, inclusive)."""

    condition: str
    min_celsius: float
    max_celsius: float

    def allows(self, celsius: float) -> bool:
        return self.min_celsius <= celsius <= self.max_celsius

    def describe(self) -> str:
        return f"{self.condition}, {self.min_celsius:g} to {self.max_celsius:g} °C"


@dataclass(frozen=True)
class ReleaseRequirement:
    """A QC test that must have passed before release, and the text it rests on (the guideline
    or pharmacopoeia chapter a QP would cite)."""

    test: str
    source: str


@dataclass(frozen=True)
class Product:
    code: str
    name: str
    origin: Origin
    storage: StorageRange
    release_requirements: tuple[ReleaseRequirement, ...]
    shelf_life_days: int

    @property
    def required_qc_tests(self) -> frozenset[str]:
        """The tests of ``release_requirements``, upper-cased (results are matched so)."""
        return frozenset(r.test for r in self.release_requirements)


@dataclass(frozen=True)
class DeadlineRule:
    days: int
    clock_starts: str
    utc_offset: str = "+00:00"

    def deadline(self, aware_at: datetime) -> datetime:
        if self.clock_starts == "day_after_awareness":
            # Days are counted in the jurisdiction's calendar (Taiwan: +08:00, no daylight
            # saving) from the day after the day of awareness; the deadline falls at the end of
            # the last counted day, whatever offset the awareness time was written in.
            local = aware_at.astimezone(datetime.strptime(self.utc_offset, "%z").tzinfo)
            day_of_awareness = local.replace(hour=0, minute=0, second=0, microsecond=0)
            start = day_of_awareness + timedelta(days=1)
            return start + timedelta(days=self.days) - timedelta(microseconds=1)
        return aware_at + timedelta(days=self.days)


def _load(name: str) -> dict[str, Any]:
    text = resources.files("domain.data").joinpath(name).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return {k: v for k, v in data.items() if not k.startswith("_")}


@cache
def products() -> dict[str, Product]:
    return {
        code: Product(
            code=code,
            name=spec["name"],
            origin=Origin(spec["origin"]),
            storage=StorageRange(**spec["storage"]),
            release_requirements=tuple(
                ReleaseRequirement(r["test"].upper(), r["source"])
                for r in spec["release_requirements"]
            ),
            shelf_life_days=int(spec["shelf_life_days"]),
        )
        for code, spec in _load("products.json").items()
    }


def product(code: str) -> Product:
    found = products().get(code)
    if found is None:
        raise BadInputError(
            f"product {code!r} is not configured; configured products: "
            f"{', '.join(sorted(products()))}",
            field="product",
        )
    return found


@cache
def correctable_fields() -> dict[str, frozenset[str]]:
    """The fields a correction may re-write, by recorded event type (``Site.Registered``); the
    views that show a corrected field read the same list (projections/corrections.py)."""
    return {
        event_type: frozenset(fields)
        for event_type, fields in _load("correctable_fields.json").items()
    }
