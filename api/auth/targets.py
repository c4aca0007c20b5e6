"""The records a root field names, each of which must lie within the caller's reach.

A mutation names the site it acts at and the aggregates it changes (every mutation of the schema
has a rule here: tests/unit/test_access_targets.py). Records that do not exist yet are let
through: the command itself answers NOT_FOUND, or creates them.

Queries name only sites here (the site register is public, so refusing one tells nothing). A
record a query names (a trace origin, an EPCIS scope) is looked up through the caller's reach
instead, so one beyond it is answered exactly as one that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError

from api.auth.identity import Identity
from api.auth.roles import EVERY_MUTATION, Scope
from domain.isbt128 import normalise_donation_id
from domain.shared import DomainError
from projections.scopes import ORIGIN_TYPES, patient_records, sites_of
from projections.sql import Sql


@dataclass(frozen=True)
class Target:
    # "site"; "aggregate" (one of the sites it touches must be within reach); "owned" (one of
    # the sites that own it); "position" (owned, the aggregate of the event there); "control" (a
    # batch whose own control site must sign); "patient" (a patient code: one of the records
    # naming it must be within reach)
    kind: str
    id: str

    def refusal(self, sql: Sql, identity: Identity, reach: tuple[str, ...] | None) -> str | None:
        """Why ``identity`` may not touch this record; None when it may."""
        if reach is None:
            return None
        if self.kind == "patient":
            return _patient_refusal(sql, identity, reach, self.id)
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


def site(site_id: Any) -> list[Target]:
    return [Target("site", str(site_id))] if site_id else []


def of(aggregate_type: str, *keys: Any) -> list[Target]:
    return [Target("aggregate", f"{aggregate_type}:{k}") for k in keys if k]


def owned(aggregate_type: str, key: Any) -> list[Target]:
    return [Target("owned", f"{aggregate_type}:{key}")] if key else []


def donation(donation_id: Any) -> list[Target]:
    try:
        key, _ = normalise_donation_id(str(donation_id))
    except DomainError:
        return []  # the command refuses it with the reason
    return of("Donation", key)


def origin(o: Any) -> list[Target]:
    """Every kind of trace origin names a record whose sites are known (tests check each)."""
    if o is None:
        return []
    kind = o.kind.value
    if kind == "SITE":
        return site(o.id)
    if kind == "DONATION":
        return donation(o.id)
    if kind == "PATIENT":
        return [Target("patient", str(o.id))] if o.id else []
    return of(ORIGIN_TYPES[kind], o.id)


def site_origin(o: Any) -> list[Target]:
    return site(o.id) if o is not None and o.kind.value == "SITE" else []


def at_position(position: Any) -> list[Target]:
    return [Target("position", str(position))]


Rule = Callable[[Any], list[Target]]

MUTATIONS: dict[str, Rule] = {
    # The new site's own id names nothing yet; the control site it names must be within reach.
    "registerSite": lambda i: site(i.control_site_id),
    "activateSite": lambda i: site(i.site_id),
    "suspendSite": lambda i: site(i.site_id),
    "reinstateSite": lambda i: site(i.site_id),
    "terminateSite": lambda i: site(i.site_id),
    "relocateSite": lambda i: site(i.site_id),
    "registerDonor": lambda i: site(i.site_id),
    "recordConsent": lambda i: owned("Donor", i.donor_code),
    "withdrawConsent": lambda i: owned("Donor", i.donor_code),
    "determineEligibility": lambda i: owned("Donor", i.donor_code),
    "revokeEligibility": lambda i: owned("Donor", i.donor_code),
    "recordDonation": lambda i: site(i.site_id) + of("Donor", i.donor_code),
    "receiveMaterialLot": lambda i: site(i.site_id),
    "releaseMaterialLot": lambda i: owned("MaterialLot", i.lot_id),
    "rejectMaterialLot": lambda i: owned("MaterialLot", i.lot_id),
    # The control site is the site's own (the command checks it), so a spoke may name it.
    "startBatch": lambda i: site(i.site_id) + donation(i.donation_id),
    "recordBatchStep": lambda i: (
        site(i.site_id) + owned("Batch", i.batch_id) + of("MaterialLot", *(i.material_lots or []))
    ),
    "recordQcResult": lambda i: site(i.laboratory_site_id) + of("Batch", i.batch_id),
    "openDeviation": lambda i: owned("Batch", i.batch_id),
    "closeDeviation": lambda i: owned("Batch", i.batch_id),
    "releaseBatch": lambda i: [Target("control", f"Batch:{i.batch_id}")],
    "rejectBatch": lambda i: [Target("control", f"Batch:{i.batch_id}")],
    "destroyBatch": lambda i: owned("Batch", i.batch_id),
    "dispatchShipment": lambda i: site(i.from_site_id) + of("Batch", *i.batch_ids),
    "recordTemperatureExcursion": lambda i: of("Shipment", i.shipment_id),
    "receiveShipment": lambda i: of("Shipment", i.shipment_id),
    "recordAdministration": lambda i: site(i.site_id) + of("Batch", i.batch_id),
    "reportAdverseEvent": lambda i: site(i.reported_by_site_id) + of("Batch", i.batch_id),
    "submitAdverseEventToAuthority": lambda i: owned("AdverseEvent", i.adverse_event_id),
    "initiateRecall": lambda i: origin(i.origin),
    "correctEvent": lambda i: at_position(i.position),
}

# Input fields that name a record yet need no reach of their own, and why. Every other field
# naming a record (an ID, a trace origin, an event's position) must feed a target of its
# mutation's rule: tests/unit/test_access_targets.py checks both against the schema.
NEEDS_NO_REACH: dict[tuple[str, str], str] = {
    ("registerSite", "id"): "the site it creates",
    ("registerDonor", "donor_code"): "the donor it registers",
    ("recordDonation", "donation_id"): "the donation it records",
    ("receiveMaterialLot", "lot_id"): "the lot it receives",
    ("startBatch", "batch_id"): "the batch it starts",
    ("startBatch", "control_site_id"): "the command requires the spoke's own control site",
    ("startBatch", "patient_code"): "the patient the batch is made for, named by this act",
    ("openDeviation", "deviation_id"): "the deviation it opens, on the batch checked",
    ("closeDeviation", "deviation_id"): "a deviation of the batch checked",
    ("dispatchShipment", "shipment_id"): "the shipment it dispatches",
    ("dispatchShipment", "to_site_id"): "a shipment may go to any registered site",
    ("recordAdministration", "patient_code"): "the patient treated, named by this act",
    ("reportAdverseEvent", "adverse_event_id"): "the report it files",
    ("reportAdverseEvent", "patient_code"): "the patient of the batch checked",
    ("initiateRecall", "recall_id"): "the recall it initiates",
}

if set(MUTATIONS) != EVERY_MUTATION:  # a command without a rule would be checked against nothing
    raise ImportError(
        "target rules and role table disagree on "
        + ", ".join(sorted(set(MUTATIONS) ^ EVERY_MUTATION))
    )

QUERIES: dict[str, Callable[[dict[str, Any]], list[Target]]] = {
    "dmMasterFile": lambda kw: site(kw.get("control_site_id")),
    # Any other origin is looked up through the reach (projections/lineage.py); so are the
    # records an epcisDocument scope names (projections/epcis_document.py).
    "recallTrace": lambda kw: site_origin(kw.get("origin")),
}


def targets_of(field: str, kwargs: dict[str, Any], identity: Identity) -> list[Target]:
    rule = MUTATIONS.get(field)
    if rule is not None and "input" in kwargs:
        _default_site(field, kwargs["input"], identity)
        return rule(kwargs["input"])
    query_rule = QUERIES.get(field)
    return query_rule(kwargs) if query_rule is not None else []


def _default_site(field: str, input: Any, identity: Identity) -> None:
    """A donor registered by a partner acting for one site is registered at that site."""
    if field != "registerDonor" or input.site_id or identity.role.scope is not Scope.SITES:
        return
    if len(identity.sites) != 1:
        raise GraphQLError(
            "siteId is needed: this credential acts for several sites",
            extensions={"code": "BAD_INPUT", "field": "siteId"},
        )
    input.site_id = identity.sites[0]
