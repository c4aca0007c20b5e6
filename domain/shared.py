"""What every aggregate shares: the acting principal, the base events, errors and identifiers.

Every event in the ledger is a ``LedgerEvent``: it names the aggregate it belongs to, its version,
the principal who caused it (``actor``, ``actor_role``) and the business time it states
(``occurred_at``), which is distinct from the moment the ledger recorded it.

Errors raised by command methods form one tree; each carries the code partner systems receive in
``extensions.code``:

    DomainError                      (abstract)
    ├── BadInputError        BAD_INPUT       malformed input: empty names, bad country, naive times
    ├── NotFoundError        NOT_FOUND       an identifier names nothing in the ledger
    ├── ConflictError        CONFLICT        the identifier is taken, or a concurrent write won
    └── RuleViolationError   RULE_VIOLATION  well-formed, but a regulatory rule forbids it
        ├── SiteNotActiveError               a site (or its control site) is not active
        └── SiteTerminatedError              a terminated site never comes back
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any, ClassVar, Protocol

from eventsourcing.domain import (
    BaseAggregate,
    CanInitAggregate,
    CanMutateAggregate,
    MetaDomainEvent,
)

# A statement of business time may run ahead of the ledger clock by this much (clock skew
# between partner systems), never more: the ledger records what happened, not what is planned.
CLOCK_SKEW_TOLERANCE = timedelta(minutes=5)


class Sealer(Protocol):
    """Encrypts identifying details before they enter an event (the ledger keeps only this)."""

    def seal(self, plaintext: bytes, context: str) -> str: ...

    def open(self, sealed: str, context: str) -> bytes: ...


@dataclass(frozen=True)
class Principal:
    """Who acts: the authenticated caller, recorded on every event."""

    id: str
    role: str


# --------------------------------------------------------------------------------------- errors


class DomainError(Exception):
    """A command refused: nothing was stored."""

    code: ClassVar[str] = "INTERNAL"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class BadInputError(DomainError):
    code = "BAD_INPUT"


class NotFoundError(DomainError):
    code = "NOT_FOUND"


class ConflictError(DomainError):
    code = "CONFLICT"


class RuleViolationError(DomainError):
    code = "RULE_VIOLATION"


class SiteNotActiveError(RuleViolationError):
    def __init__(self, site_id: str, status: str, at: datetime | None = None) -> None:
        when = f" at {at.isoformat()}" if at else ""
        super().__init__(
            f"site {site_id!r} is {status}{when}; it must be ACTIVE",
            site_id=site_id,
            status=status,
        )


class SiteTerminatedError(RuleViolationError):
    def __init__(self, site_id: str) -> None:
        super().__init__(
            f"site {site_id!r} is TERMINATED; a terminated site never comes back "
            "(register a new site instead)",
            site_id=site_id,
        )


# --------------------------------------------------------------------------------------- events


@dataclass(frozen=True)
class LedgerEvent(CanMutateAggregate[str], metaclass=MetaDomainEvent):
    """Base of every event: identity, version, recorded timestamp, actor and business time."""

    originator_id: str
    originator_version: int
    timestamp: datetime
    actor: str
    actor_role: str
    occurred_at: datetime


@dataclass(frozen=True)
class LedgerCreated(CanInitAggregate[str], LedgerEvent):
    originator_topic: str


class LedgerAggregate(BaseAggregate[str]):
    """An aggregate whose id is ``<Type>:<caller-chosen identifier>``, readable in the ledger."""

    TYPE: ClassVar[str] = ""

    class Event(LedgerEvent):
        pass

    class Corrected(Event):
        """A correction (21 CFR Part 11, EU GMP Annex 11): the event at ``corrected_position``
        said ``old_value`` for ``field``; it should have said ``new_value``. The original stays
        in the ledger untouched; views show the corrected value from this position on.
        ``correction_of`` is the position of an earlier correction this one corrects."""

        corrected_position: int
        corrected_event_type: str
        field: str
        old_value: Any
        new_value: Any
        reason: str
        correction_of: int | None

        def apply(self, aggregate: LedgerAggregate) -> None:
            aggregate.corrections[(self.corrected_position, self.field)] = self.new_value

    @property
    def corrections(self) -> dict[tuple[int, str], Any]:
        """Corrected values by (position of the corrected event, field)."""
        found: dict[tuple[int, str], Any] | None = self.__dict__.get("_corrections")
        if found is None:
            found = self.__dict__["_corrections"] = {}
        return found

    @classmethod
    def ledger_id(cls, key: str) -> str:
        return f"{cls.TYPE}:{key}"

    @property
    def key(self) -> str:
        return self.id.split(":", 1)[1]


def aggregate_type_of(originator_id: str) -> str:
    return originator_id.split(":", 1)[0]


# ---------------------------------------------------------------------------------- validation


def require_text(value: str | None, field: str) -> str:
    """A required free-text field: present, not blank and within its length limit."""
    if value is None or not value.strip():
        raise BadInputError(f"{field} is required and must not be blank", field=field)
    refusal = length_refusal(value, field)
    if refusal is not None:
        raise BadInputError(refusal, field=field, limit=text_limit(field))
    return value.strip()


def _text_limits() -> tuple[int, dict[str, int]]:
    text = resources.files("domain.data").joinpath("text_limits.json").read_text(encoding="utf-8")
    data = json.loads(text)
    by_field = {f: int(k["max_length"]) for k in data["kinds"].values() for f in k["fields"]}
    return int(data["default"]), by_field


# The longest text each kind of field may hold (domain/data/text_limits.json): a name is a name,
# not a document; a megabyte in a site name costs every reader of every view that shows it.
DEFAULT_TEXT_LIMIT, TEXT_LIMITS = _text_limits()


def text_limit(field: str) -> int:
    """The length limit of ``field``, named as the partner contract names it; a path such as
    ``input.screening[0].test`` is limited as its last name (``test``)."""
    name = field.rsplit(".", 1)[-1].split("[", 1)[0]
    first, *rest = name.split("_")  # a Python name (site_id) as the contract's (siteId)
    return TEXT_LIMITS.get(first + "".join(w.capitalize() for w in rest), DEFAULT_TEXT_LIMIT)


def length_refusal(text: str, field: str) -> str | None:
    """Why ``text`` is too long for ``field``; None when it is not."""
    limit = text_limit(field)
    if len(text) <= limit:
        return None
    return f"{field} is {len(text):,} characters long; the limit is {limit:,}"


# JSON values a partner sends (batch-step parameters, personal data, a corrected value) nest at
# most this deep: they state a fact's details, not a data structure, and every later reader (the
# codec, the views, an export) can then walk them without running out of stack.
MAX_JSON_DEPTH = 32


def nests_deeper(value: Any, limit: int) -> bool:
    """Whether the lists and objects of ``value`` nest deeper than ``limit`` (a scalar nests
    0 levels, ``[1]`` one). Found without recursion, so a value of any depth can be measured."""
    pending = [(value, 1)] if isinstance(value, dict | list | tuple) else []
    while pending:
        item, depth = pending.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        pending.extend((c, depth + 1) for c in children if isinstance(c, dict | list | tuple))
    return False


def require_json_depth(value: Any, field: str) -> Any:
    if nests_deeper(value, MAX_JSON_DEPTH):
        raise BadInputError(
            f"{field} nests deeper than the {MAX_JSON_DEPTH} levels a JSON value may have",
            field=field,
            limit=MAX_JSON_DEPTH,
        )
    return value


def require_identifier(value: str, field: str) -> str:
    text = require_text(value, field)
    if len(text) > 64 or any(c.isspace() or c == ":" for c in text):
        raise BadInputError(
            f"{field} {value!r} must be 1-64 characters without spaces or ':'", field=field
        )
    return text


def require_offset(value: datetime, field: str) -> datetime:
    """Timestamps must carry a UTC offset: a local time without one is ambiguous evidence."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise BadInputError(
            f"{field} {value.isoformat()} has no UTC offset; send e.g. {value.isoformat()}+00:00",
            field=field,
        )
    return value


def require_not_future(value: datetime, field: str, now: datetime) -> datetime:
    require_offset(value, field)
    if value > now + CLOCK_SKEW_TOLERANCE:
        raise BadInputError(
            f"{field} {value.isoformat()} is in the future; record a change when it takes effect",
            field=field,
        )
    return value


def require_time(value: datetime, field: str) -> datetime:
    """A business time stated by a caller: with a UTC offset, and not in the future."""
    return require_not_future(value, field, utcnow())


def require_order(earlier: datetime, later: datetime, earlier_field: str, later_field: str) -> None:
    if later < earlier:
        raise RuleViolationError(
            f"{later_field} {later.isoformat()} precedes {earlier_field} {earlier.isoformat()}",
            field=later_field,
        )


def utcnow() -> datetime:
    return datetime.now(UTC)


def _country_data(name: str) -> dict[str, list[str]]:
    text = resources.files("domain.data").joinpath(name).read_text(encoding="utf-8")
    data: dict[str, list[str]] = json.loads(text)
    return {k: v for k, v in data.items() if not k.startswith("_")}


ISO_3166_ALPHA2 = frozenset(_country_data("countries.json")["iso3166_alpha2"])
# Which countries each jurisdiction's law covers (domain/data/jurisdictions.json), in the order
# partners see the jurisdictions; every list of jurisdictions and member states reads these.
JURISDICTION_COUNTRIES: dict[str, frozenset[str]] = {
    jurisdiction: frozenset(countries)
    for jurisdiction, countries in _country_data("jurisdictions.json").items()
}
JURISDICTIONS = tuple(JURISDICTION_COUNTRIES)
EU_MEMBER_STATES = JURISDICTION_COUNTRIES["EU"]


def require_country(country: str, jurisdiction: str) -> str:
    code = (country or "").strip()
    if code not in ISO_3166_ALPHA2:
        raise BadInputError(
            f"country {country!r} is not an ISO 3166-1 alpha-2 code (e.g. TW, DE, GB)",
            field="country",
        )
    allowed = JURISDICTION_COUNTRIES.get(jurisdiction)
    if allowed is None:
        raise BadInputError(f"unknown jurisdiction {jurisdiction!r}", field="jurisdiction")
    if code not in allowed:
        raise BadInputError(
            f"country {code} is not under jurisdiction {jurisdiction} "
            f"(allowed: {', '.join(sorted(allowed))})",
            field="country",
        )
    return code


@dataclass(frozen=True)
class CommandResult:
    """What a command answers: where in the ledger its last event landed."""

    position: int
    aggregate_id: str
    version: int
