"""The records a root field names, each of which must lie within the caller's reach.

A mutation names the site it acts at and the aggregates it changes: each command's declaration
(api/commands.py) gives, for every input field naming a record, one of the rules below, which
finds the records to check from the field's value (tests/unit/test_access_targets.py walks the
schema). Records that do not exist yet are let through: the command itself answers NOT_FOUND, or
creates them.

Queries name only sites here (the site register is public, so refusing one tells nothing). A
record a query names (a trace origin, an EPCIS scope) is looked up through the caller's reach
instead, so one beyond it is answered exactly as one that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError

from api.auth.identity import Identity
from api.auth.roles import Scope
from domain.isbt128 import normalise_donation_id
from domain.shared import DomainError
from projections.custody import container_site
from projections.scopes import ORIGIN_TYPES, patient_records, sites_of
from projections.sql import Sql


@dataclass(frozen=True)
class Target:
    # "site"; "aggregate" (one of the sites it touches must be within reach); "owned" (one of
    # the sites that own it); "position" (owned, the aggregate of the event there); "control" (a
    # batch whose own control site must sign); "patient" (a patient code: one of the records
    # naming it must be within reach); "container" (``batch/container``: the site where the
    # container is, or was given or destroyed, must be within reach)
    kind: str
    id: str

    def refusal(self, sql: Sql, identity: Identity, reach: tuple[str, ...] | None) -> str | None:
        """Why ``identity`` may not touch this record; None when it may."""
        if reach is None:
            return None
        if self.kind == "patient":
            return _patient_refusal(sql, identity, reach, self.id)
        if self.kind == "container":
            return _container_refusal(sql, identity, reach, self.id)
        return self._record_refusal(sql, identity, reach)

    def _record_refusal(  # noqa: PLR0911 (one return per reason, each with its own message)
        self, sql: Sql, identity: Identity, reach: tuple[str, ...]
    ) -> str | None:
        if self.kind == "site":
            if self.id in reach or not _site_exists(sql, self.id):
                return None
            return f"site {self.id!r} is outside what {identity.describe()} may act for"
        aggregate_id = _aggregate_at(sql, self.id) if self.kind == "position" else self.id
        owners = self.kind in ("owned", "position")
        sites = sites_of(sql, aggregate_id, owners=owners) if aggregate_id else []
        if not sites or aggregate_id is None:
            return None
        if self.kind == "control":
            control = _control_site(sql, aggregate_id)
            if control is None or control in identity.sites:
                return None
            return (
                f"{self.id} belongs to control site {control!r}; only its own quality unit "
                "signs for it"
            )
        if set(sites) & set(reach):
            return None
        if owners:
            return (
                f"{aggregate_id} belongs to {', '.join(sites)}, outside what "
                f"{identity.describe()} may change"
            )
        return f"{aggregate_id} is outside what {identity.describe()} may see"


def _patient_refusal(
    sql: Sql, identity: Identity, reach: tuple[str, ...], patient_code: str
) -> str | None:
    """A patient code is where the records naming it are (the batches given to it, the
    reactions it had): one of them must be within reach. A code nothing names is let through."""
    sites = {s for a in patient_records(sql, patient_code) for s in sites_of(sql, a)}
    if not sites or sites & set(reach):
        return None
    return f"patient {patient_code!r} is outside what {identity.describe()} may see"


def _container_refusal(
    sql: Sql, identity: Identity, reach: tuple[str, ...], node: str
) -> str | None:
    """A site accounts only for the containers it holds: the one where the container is (the
    institution that gave it, the site where it was destroyed). A container the batch does not
    have is let through: the command answers NOT_FOUND."""
    batch_id, container_id = node.rsplit("/", 1)  # a container id holds no '/'
    where = container_site(sql, batch_id, container_id)
    if where is None or where in reach:
        return None
    return (
        f"container {container_id!r} of batch {batch_id!r} is at site {where!r}, outside what "
        f"{identity.describe()} may act for"
    )


def _aggregate_at(sql: Sql, position: str) -> str | None:
    if not position.isdigit():
        return None
    found = sql.scalar("SELECT originator_id FROM ledger WHERE position = ?", (int(position),))
    return str(found) if found is not None else None


def _site_exists(sql: Sql, site_id: str) -> bool:
    return sql.one("SELECT 1 AS x FROM site_versions WHERE site_id = ?", (site_id,)) is not None


def _control_site(sql: Sql, batch_aggregate_id: str) -> str | None:
    found = sql.scalar(
        "SELECT control_site_id FROM batch_versions WHERE batch_id = ? AND valid_to IS NULL",
        (batch_aggregate_id.split(":", 1)[1],),
    )
    return None if found is None else str(found)


def first_refusal(sql: Sql, identity: Identity, targets: list[Target]) -> str | None:
    """Why ``identity`` may not touch one of ``targets`` (the first found); None when it may
    touch them all. A caller reaching every site is never refused, and reads nothing."""
    if not targets or identity.role.scope is Scope.ALL:
        return None
    reach = identity.reach(sql)
    for target in targets:
        refusal = target.refusal(sql, identity, reach)
        if refusal is not None:
            return refusal
    return None


# A rule of a command's input field: the records its (plain) value names, to check.
FieldRule = Callable[[Any], list[Target]]


@dataclass(frozen=True)
class InputRule:
    """A rule of an input field whose record is named together with other fields of the input
    (a container by its batch and its own id): it sees the field's value and the whole input,
    as plain values. ``reads``: the other fields it reads (each must be a field of the input)."""

    rule: Callable[[Any, Mapping[str, Any]], list[Target]]
    reads: tuple[str, ...]

    def __call__(self, value: Any, content: Mapping[str, Any]) -> list[Target]:
        return self.rule(value, content)


@dataclass(frozen=True)
class NoReach:
    """An input field that names a record yet needs no reach of its own, and why (a record the
    command creates, a shipment's destination)."""

    reason: str


def site(site_id: Any) -> list[Target]:
    return [Target("site", str(site_id))] if site_id else []


def of(aggregate_type: str) -> FieldRule:
    """A record (or a list of them) of which one of the sites it touches must be within reach."""

    def rule(keys: Any) -> list[Target]:
        listed = keys if isinstance(keys, list) else [keys]
        return [Target("aggregate", f"{aggregate_type}:{k}") for k in listed if k]

    return rule


def owned(aggregate_type: str) -> FieldRule:
    """A record the command changes: one of the sites that own it must be within reach."""
    return lambda key: [Target("owned", f"{aggregate_type}:{key}")] if key else []


def container_of(batch_field: str) -> InputRule:
    """A container of the batch the input's ``batch_field`` names: the site where it is (or
    was given, or destroyed) must be within reach, whichever sites its batch touches."""

    def rule(container_id: Any, content: Mapping[str, Any]) -> list[Target]:
        batch_id = content.get(batch_field)
        if not container_id or not batch_id:
            return []
        return [Target("container", f"{batch_id}/{container_id}")]

    return InputRule(rule, reads=(batch_field,))


def signed_by_control_site(key: Any) -> list[Target]:
    """A batch whose own control site must sign: only its quality unit may act."""
    return [Target("control", f"Batch:{key}")] if key else []


def donation(donation_id: Any) -> list[Target]:
    if not donation_id:
        return []
    try:
        key, _ = normalise_donation_id(str(donation_id))
    except DomainError:
        return []  # the command refuses it with the reason
    return of("Donation")(key)


def donations(donation_ids: Any) -> list[Target]:
    """Several donations (a pool), each within reach."""
    return [t for d in donation_ids or [] for t in donation(d)]


def origin(o: Any) -> list[Target]:
    """Every kind of trace origin (a plain ``{"kind", "id", "window"}``) names a record whose
    sites are known (tests check each)."""
    if not o:
        return []
    kind, key = o["kind"], o["id"]
    if kind == "SITE":
        return site(key)
    if kind == "DONATION":
        return donation(key)
    if kind == "PATIENT":
        return [Target("patient", str(key))] if key else []
    if kind == "CONTAINER":  # batchId/containerId: the batch's sites
        return of("Batch")(str(key).rsplit("/", 1)[0])
    return of(ORIGIN_TYPES[kind])(key)


def at_position(position: Any) -> list[Target]:
    """An event's ledger position: the aggregate of the event there, which it must own."""
    return [Target("position", str(position))] if position is not None else []


def callers_only_site(identity: Identity) -> str | None:
    """The site a partner acting for exactly one site acts at when it names none (None for a
    caller whose scope is not a list of sites, who names the site or acts at none)."""
    if identity.role.scope is not Scope.SITES:
        return None
    if len(identity.sites) != 1:
        raise GraphQLError(
            "siteId is needed: this credential acts for several sites",
            extensions={"code": "BAD_INPUT", "field": "siteId"},
        )
    return identity.sites[0]


def site_origin(o: Any) -> list[Target]:
    return site(o.id) if o is not None and o.kind.value == "SITE" else []


QUERIES: dict[str, Callable[[dict[str, Any]], list[Target]]] = {
    "dmMasterFile": lambda kw: site(kw.get("control_site_id")),
    "institutionRecord": lambda kw: site(kw.get("site_id")),
    # Any other origin is looked up through the reach (projections/lineage.py); so are the
    # records an epcisDocument scope names (projections/epcis_document.py).
    "recallTrace": lambda kw: site_origin(kw.get("origin")),
}


def targets_of_query(field: str, kwargs: dict[str, Any]) -> list[Target]:
    rule = QUERIES.get(field)
    return rule(kwargs) if rule is not None else []
