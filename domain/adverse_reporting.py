"""What an adverse-reaction case must be reported as, to whom and by when (reference data).

The rules live in ``domain/data/adverse_reaction_deadlines.json``, each citing its source: a rule
per jurisdiction x context x Taiwan regime x seriousness criteria. A case yields one required
report (an *obligation*) per jurisdiction it is reported to, with the earliest deadline among
the rules that apply to it; a serious case without criteria counts as having every criterion (the
strictest rule applies) and unknown expectedness counts as unexpected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any

from domain.reference import DeadlineRule, _load
from domain.shared import JURISDICTIONS, BadInputError


class Criterion(StrEnum):
    """Why a reaction is serious (ICH E2A / E2D)."""

    DEATH = "DEATH"
    LIFE_THREATENING = "LIFE_THREATENING"
    HOSPITALISATION = "HOSPITALISATION"
    DISABILITY = "DISABILITY"
    CONGENITAL_ANOMALY = "CONGENITAL_ANOMALY"
    OTHER_MEDICALLY_IMPORTANT = "OTHER_MEDICALLY_IMPORTANT"


class Context(StrEnum):
    CLINICAL_TRIAL = "CLINICAL_TRIAL"
    MARKETED = "MARKETED"


class TaiwanRegime(StrEnum):
    """Taiwan: a regenerative-medicine technology performed by an institution, or a product."""

    TECHNOLOGY = "TECHNOLOGY"
    PRODUCT = "PRODUCT"


class SubmissionKind(StrEnum):
    INITIAL = "INITIAL"
    FOLLOW_UP = "FOLLOW_UP"


# When the caller does not say: the context every report had before contexts were recorded
# (one rule per jurisdiction, for marketed products), and Taiwan's regenerative-medicine
# technology rule, the one Taiwanese rule before regimes were recorded.
DEFAULT_CONTEXT = Context.MARKETED
DEFAULT_TAIWAN_REGIME = TaiwanRegime.TECHNOLOGY


@dataclass(frozen=True)
class ReportingRule:
    rule: str
    jurisdiction: str
    applies_to: str
    days: int
    clock_starts: str
    source: str
    context: str | None = None
    taiwan_regime: str | None = None
    unexpected_only: bool = False
    criteria: tuple[str, ...] | None = None
    utc_offset: str = "+00:00"

    def applies(self, case: CaseFacts) -> bool:
        if self.context is not None and self.context != case.context:
            return False
        if self.taiwan_regime is not None and self.taiwan_regime != case.taiwan_regime:
            return False
        if self.applies_to == "ANY":
            return True
        if not case.serious or (self.unexpected_only and case.expected is True):
            return False
        return self.criteria is None or bool(set(self.criteria) & set(case.effective_criteria))

    def deadline(self, aware_at: datetime) -> datetime:
        return DeadlineRule(self.days, self.clock_starts, self.utc_offset).deadline(aware_at)


@dataclass(frozen=True)
class CaseFacts:
    """What the rules look at in a case."""

    serious: bool
    criteria: tuple[str, ...]
    expected: bool | None
    context: str
    taiwan_regime: str | None

    @property
    def effective_criteria(self) -> tuple[str, ...]:
        """A serious case that states no criterion is judged as if it met every one."""
        if self.serious and not self.criteria:
            return tuple(Criterion)
        return self.criteria


@dataclass(frozen=True)
class Obligation:
    """One report a case owes one jurisdiction's authority, by a deadline."""

    key: str
    jurisdiction: str
    authority: str
    kind: str
    rule: str
    source: str
    due_at: datetime
    submitted_at: datetime | None = None

    def as_record(self) -> dict[str, Any]:
        """As plain data, kept in the event that creates or moves it."""
        return {
            "key": self.key,
            "jurisdiction": self.jurisdiction,
            "authority": self.authority,
            "kind": self.kind,
            "rule": self.rule,
            "source": self.source,
            "due_at": self.due_at.isoformat(),
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Obligation:
        return cls(
            key=record["key"],
            jurisdiction=record["jurisdiction"],
            authority=record["authority"],
            kind=record["kind"],
            rule=record["rule"],
            source=record["source"],
            due_at=datetime.fromisoformat(record["due_at"]),
        )


@cache
def _data() -> tuple[dict[str, str], tuple[ReportingRule, ...]]:
    data = _load("adverse_reaction_deadlines.json")
    rules = tuple(
        ReportingRule(
            **{
                **rule,
                "criteria": tuple(rule["criteria"]) if "criteria" in rule else None,
            }
        )
        for rule in data["rules"]
    )
    return dict(data["authorities"]), rules


def rules() -> tuple[ReportingRule, ...]:
    return _data()[1]


def authority_of(jurisdiction: str) -> str:
    found = _data()[0].get(jurisdiction)
    if found is None:
        raise BadInputError(
            f"no authority receives adverse-reaction reports for {jurisdiction!r}; configured: "
            f"{', '.join(sorted(_data()[0]))}",
            field="alsoReportTo",
        )
    return found


def governing_rule(jurisdiction: str, case: CaseFacts, aware_at: datetime) -> ReportingRule:
    """The rule with the earliest deadline of those that apply in ``jurisdiction``."""
    applying = [r for r in rules() if r.jurisdiction == jurisdiction and r.applies(case)]
    if not applying:
        raise BadInputError(
            f"no adverse-reaction reporting rule is configured for {jurisdiction}",
            field="jurisdiction",
        )
    return min(applying, key=lambda r: r.deadline(aware_at))


def obligation(
    jurisdiction: str, case: CaseFacts, aware_at: datetime, kind: str, sequence: int = 0
) -> Obligation:
    rule = governing_rule(jurisdiction, case, aware_at)
    key = f"{jurisdiction}/{kind}" + (f"/{sequence}" if sequence else "")
    return Obligation(
        key=key,
        jurisdiction=jurisdiction,
        authority=authority_of(jurisdiction),
        kind=kind,
        rule=rule.rule,
        source=rule.source,
        due_at=rule.deadline(aware_at),
    )


def case_facts(
    *,
    serious: bool,
    criteria: list[str] | None,
    expected: bool | None,
    context: str | None,
    taiwan_regime: str | None,
    jurisdictions: list[str],
) -> CaseFacts:
    """Checked facts of a case: seriousness and criteria agree, codes are known, and the
    defaults (see the module) fill what the caller left out."""
    given = tuple(dict.fromkeys(criteria or ()))
    for c in given:
        if c not in Criterion.__members__:
            raise BadInputError(f"unknown seriousness criterion {c!r}", field="criteria")
    if given and not serious:
        raise BadInputError(
            f"a reaction meeting seriousness criteria ({', '.join(given)}) is serious: "
            "send serious: true, or no criteria",
            field="criteria",
            reason="SERIOUSNESS_CONTRADICTION",
        )
    if context is not None and context not in Context.__members__:
        raise BadInputError(f"unknown context {context!r}", field="context")
    if taiwan_regime is not None and taiwan_regime not in TaiwanRegime.__members__:
        raise BadInputError(f"unknown Taiwan regime {taiwan_regime!r}", field="taiwanRegime")
    if taiwan_regime is not None and "TW" not in jurisdictions:
        raise BadInputError(
            "taiwanRegime applies only to a case reported in Taiwan (TW)",
            field="taiwanRegime",
            reason="REGIME_OUTSIDE_TAIWAN",
        )
    regime = taiwan_regime or (DEFAULT_TAIWAN_REGIME if "TW" in jurisdictions else None)
    return CaseFacts(
        serious=bool(serious),
        criteria=tuple(Criterion(c).value for c in given),
        expected=expected,
        context=context or DEFAULT_CONTEXT,
        taiwan_regime=regime,
    )


def reported_to(own: str, also: list[str] | None) -> list[str]:
    """The jurisdictions a case goes to: the reporting site's, then the others named."""
    found = [own]
    for j in also or ():
        code = j.strip()
        if code not in JURISDICTIONS:
            raise BadInputError(
                f"unknown jurisdiction {code!r}; known: {', '.join(JURISDICTIONS)}",
                field="alsoReportTo",
            )
        if code not in found:
            found.append(code)
    for code in found:
        authority_of(code)
    return found
