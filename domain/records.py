"""What an inspector's records are filed by, as data: each product's licence or conditional-approval
number per jurisdiction (domain/data/products.json, ``licences``), the calendar a jurisdiction
counts its days in (the offset domain/data/adverse_reaction_deadlines.json counts Taiwan's
deadlines in), how long each party keeps a record (domain/data/record_retention.json) and what a
label must say (domain/data/label_statements.json). Every rule names its source in its file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timezone, tzinfo
from functools import cache

from domain import adverse_reporting
from domain.reference import _load
from domain.shared import BadInputError

# ------------------------------------------------------------------------------------ licences


@dataclass(frozen=True)
class Licence:
    """A product's authorisation in one jurisdiction: its number (許可證字號 in Taiwan)."""

    product: str
    jurisdiction: str
    number: str
    kind: str  # LICENCE or CONDITIONAL_APPROVAL
    source: str


@cache
def licences() -> dict[tuple[str, str], Licence]:
    """Every configured licence, by (product, jurisdiction)."""
    return {
        (code, jurisdiction): Licence(code, jurisdiction, **rule)
        for code, spec in _load("products.json").items()
        for jurisdiction, rule in spec.get("licences", {}).items()
    }


def licence(product: str, jurisdiction: str | None) -> Licence | None:
    """The licence ``product`` is made or imported under in ``jurisdiction`` (None if none)."""
    return licences().get((product, jurisdiction or ""))


def licensed_as(number: str) -> list[tuple[str, str]]:
    """The (product, jurisdiction) pairs a licence number names (none when it is unknown)."""
    return sorted(key for key, found in licences().items() if found.number == number.strip())


def licence_numbers() -> list[str]:
    return sorted({found.number for found in licences().values()})


def isbt128_product_code(product: str) -> str | None:
    """The ISBT 128 product description code a product's labels carry, where one is assigned
    (products.json ``isbt128_product_code``, from ICCBBA's product description code database)."""
    code = _load("products.json").get(product, {}).get("isbt128_product_code")
    return str(code) if code else None


# ------------------------------------------------------------------------------------ calendar


@cache
def calendar(jurisdiction: str | None) -> tzinfo:
    """The offset a jurisdiction counts calendar days in: the one its reporting deadlines are
    counted in (Taiwan +08:00, no daylight saving); UTC where none is configured."""
    for rule in adverse_reporting.rules():
        if rule.jurisdiction == jurisdiction and rule.clock_starts == "day_after_awareness":
            offset = datetime.strptime(rule.utc_offset, "%z").utcoffset()
            assert offset is not None
            return timezone(offset)
    return UTC


def local_time(moment: datetime, jurisdiction: str | None) -> datetime:
    return moment.astimezone(calendar(jurisdiction))


def local_day(moment: datetime, jurisdiction: str | None) -> date:
    """The calendar day ``moment`` falls on in the jurisdiction (2026-11-04T07:00+08:00 is
    2026-11-04 in Taiwan, though it is 2026-11-03 in UTC)."""
    return local_time(moment, jurisdiction).date()


# ----------------------------------------------------------------------------------- retention


@dataclass(frozen=True)
class RetentionRule:
    years: int
    start: str  # EXPIRY or USE
    source: str
    minor_years_after_majority: int | None = None


@cache
def retention_rules() -> dict[str, dict[str, RetentionRule]]:
    return {
        jurisdiction: {
            party: RetentionRule(
                years=int(rule["years"]),
                start=rule["from"],
                source=rule["source"],
                minor_years_after_majority=rule.get("minor_years_after_majority"),
            )
            for party, rule in parties.items()
        }
        for jurisdiction, parties in _load("record_retention.json").items()
    }


def years_after(day: date, years: int) -> date:
    """The same calendar day ``years`` later (29 February becomes 1 March)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, month=3, day=1)


def firm_retention_until(jurisdiction: str | None, expires_at: datetime) -> date | None:
    """The last day the manufacturer's record of a batch is kept (None: no rule configured)."""
    rule = retention_rules().get(jurisdiction or "", {}).get("FIRM")
    if rule is None:
        return None
    return years_after(local_day(expires_at, jurisdiction), rule.years)


def institution_retention_until(
    jurisdiction: str | None,
    used_at: datetime,
    expires_at: datetime,
    adult_on: date | None = None,
) -> date | None:
    """The last day the institution's record of a use is kept: from the use (or the expiry) by
    the jurisdiction's years, and for a patient who was a minor (``adult_on`` after the day of
    use) at least until the years after adulthood the rule names."""
    rule = retention_rules().get(jurisdiction or "", {}).get("INSTITUTION")
    if rule is None:
        return None
    start = used_at if rule.start == "USE" else expires_at
    until = years_after(local_day(start, jurisdiction), rule.years)
    minor = adult_on is not None and adult_on > local_day(used_at, jurisdiction)
    if minor and rule.minor_years_after_majority is not None:
        assert adult_on is not None
        until = max(until, years_after(adult_on, rule.minor_years_after_majority))
    return until


# -------------------------------------------------------------------------------------- labels


@dataclass(frozen=True)
class LabelStatement:
    text: str
    when: str  # ALWAYS, AUTOLOGOUS, ALLOGENEIC or DONOR_NOT_TESTED
    source: str


@dataclass(frozen=True)
class LabelRule:
    jurisdiction: str
    particulars_source: str
    licence_on_label: bool
    statements: tuple[LabelStatement, ...]


CONDITIONS = frozenset({"ALWAYS", "AUTOLOGOUS", "ALLOGENEIC", "DONOR_NOT_TESTED"})


@cache
def label_rules() -> dict[str, LabelRule]:
    rules = {}
    for jurisdiction, spec in _load("label_statements.json").items():
        statements = tuple(LabelStatement(**s) for s in spec["statements"])
        unknown = {s.when for s in statements} - CONDITIONS
        assert not unknown, f"label_statements.json {jurisdiction}: unknown conditions {unknown}"
        rules[jurisdiction] = LabelRule(
            jurisdiction,
            spec["particulars_source"],
            bool(spec["licence_on_label"]),
            statements,
        )
    return rules


def label_rule(jurisdiction: str) -> LabelRule:
    found = label_rules().get(jurisdiction)
    if found is None:
        raise BadInputError(
            f"no label rules are configured for jurisdiction {jurisdiction!r}; configured: "
            f"{', '.join(sorted(label_rules()))}",
            field="jurisdiction",
        )
    return found


def statements_for(rule: LabelRule, origin: str, donor_tested: bool) -> list[LabelStatement]:
    """The statements the label must carry for a product of ``origin`` (AUTOLOGOUS or
    ALLOGENEIC) whose donor was or was not tested."""
    holds = {"ALWAYS", origin} | (set() if donor_tested else {"DONOR_NOT_TESTED"})
    return [s for s in rule.statements if s.when in holds]
