"""An independent reading of the ledger, for the tests of the regulatory views and recall lineage.

Everything here is computed by the tests themselves from the stored events (read in ledger order
through the recorder and turned back into domain events by the application's mapper), never by
projection code: a view that drifts from the ledger then disagrees with this fold.

Also here: databases of the tests' own (a seeded ledger that read-only tests share without touching
the per-test fixtures) and a small world built through the ledger's commands.
"""

from __future__ import annotations

import os
import time as clock
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import psycopg
import pytest
from psycopg import sql as pgsql

from api.settings import Settings, parse_database_url
from api.wiring import Regentrace, migrate
from demo.network import seed
from domain import reference
from domain.isbt128 import chain_of_identity_for
from domain.shared import CommandResult, Principal, utcnow
from tests.conftest import POSTGRES_URL

MAX_EVENTS = 100_000

# ------------------------------------------------------------------------------ reading events


@dataclass(frozen=True)
class Stored:
    """One event at its ledger position, with the ledger time the tests derive for it."""

    position: int
    recorded_at: datetime
    event: Any

    @property
    def kind(self) -> str:
        return type(self.event).__qualname__

    @property
    def key(self) -> str:
        return str(self.event.originator_id).split(":", 1)[1]


def read_ledger(service: Regentrace) -> list[Stored]:
    """Every stored event in ledger order. Ledger time never runs backwards: an event's time is
    its own timestamp or the time of the event before it, whichever is later."""
    notifications = service.recorder.select_notifications(1, MAX_EVENTS)
    assert len(notifications) < MAX_EVENTS, "the fold reads the whole ledger in one go"
    found: list[Stored] = []
    latest: datetime | None = None
    for notification in notifications:
        event = service.app.mapper.to_domain_event(notification)
        latest = event.timestamp if latest is None else max(latest, event.timestamp)
        found.append(Stored(int(notification.id), latest, event))
    positions = [s.position for s in found]
    assert positions == sorted(positions), "the recorder answered out of ledger order"
    return found


def head_of(events: list[Stored]) -> int:
    return events[-1].position if events else 0


def position_at(events: list[Stored], moment: datetime) -> int:
    """The last position recorded at or before ``moment``."""
    return max((s.position for s in events if s.recorded_at <= moment), default=0)


def positions_of(events: list[Stored], kind: str) -> list[int]:
    return [s.position for s in events if s.kind == kind]


def stored_at(events: list[Stored], position: int) -> Stored:
    return next(s for s in events if s.position == position)


# ----------------------------------------------------------------------------------- the fold


@dataclass(frozen=True)
class Edge:
    """A lineage link: upstream ``from`` to downstream ``to``, with its business time and the
    event (position, order within it) that stated it."""

    from_kind: str
    from_id: str
    to_kind: str
    to_id: str
    at: datetime
    position: int
    seq: int

    @property
    def shape(self) -> tuple[str, str, str, str, datetime]:
        return (self.from_kind, self.from_id, self.to_kind, self.to_id, self.at)


@dataclass
class World:
    """The state of every record at one ledger position, as plain data."""

    position: int
    sites: dict[str, dict[str, Any]] = field(default_factory=dict)
    donors: dict[str, dict[str, Any]] = field(default_factory=dict)
    donations: dict[str, dict[str, Any]] = field(default_factory=dict)
    lots: dict[str, dict[str, Any]] = field(default_factory=dict)
    batches: dict[str, dict[str, Any]] = field(default_factory=dict)
    shipments: dict[str, dict[str, Any]] = field(default_factory=dict)
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    recalls: dict[str, Stored] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)


STATUS_AFTER = {
    "Batch.Released": "RELEASED",
    "Batch.Rejected": "REJECTED",
    "Batch.Destroyed": "DESTROYED",
    "Batch.Dispatched": "DISTRIBUTED",
    "Batch.Administered": "ADMINISTERED",
}


def fold(events: list[Stored], position: int | None = None) -> World:
    """Replay the events up to ``position`` (all of them when None)."""
    until = head_of(events) if position is None else position
    world = World(until)
    for stored in events:
        if stored.position > until:
            break
        _apply(world, stored)
    return world


def _edge(world: World, s: Stored, seq: int, fk: str, fi: str, tk: str, ti: str, at: Any) -> None:
    world.edges.append(Edge(fk, fi, tk, ti, at, s.position, seq))


def _given(w: World, s: Stored, key: str, e: Any) -> None:
    """The batch, or the container of it named, given to the patient."""
    if e.container_id:
        node = f"{key}/{e.container_id}"
        _edge(w, s, 0, "CONTAINER", node, "PATIENT", e.patient_code, e.administered_at)
    else:
        _edge(w, s, 0, "BATCH", key, "PATIENT", e.patient_code, e.administered_at)
    # The institution handled the batch when it gave it.
    _edge(w, s, 1, "SITE", e.site_id, "BATCH", key, e.administered_at)


def _apply(w: World, s: Stored) -> None:
    e, key, kind = s.event, s.key, s.kind
    if kind == "Site.Registered":
        w.sites[key] = {
            "kind": e.kind,
            "jurisdiction": e.jurisdiction,
            "control_site_id": e.control_site_id,
            "status": "REGISTERED",
            "history": [("REGISTERED", e.occurred_at, None, e.actor, s.position)],
        }
    elif kind in ("Site.Activated", "Site.Reinstated", "Site.Suspended", "Site.Terminated"):
        status = {"Activated": "ACTIVE", "Reinstated": "ACTIVE"}.get(
            kind.split(".")[1], kind.split(".")[1].upper()
        )
        w.sites[key]["status"] = status
        w.sites[key]["history"].append((status, e.occurred_at, e.reason, e.actor, s.position))
    elif kind == "Donor.Registered":
        w.donors[key] = {"consent": None, "determinations": []}
    elif kind == "Donor.ConsentRecorded":
        w.donors[key]["consent"] = {
            "reference": e.consent_reference,
            "signed_at": e.signed_at,
            "withdrawn_at": None,
        }
    elif kind == "Donor.ConsentWithdrawn":
        w.donors[key]["consent"]["withdrawn_at"] = e.withdrawn_at
    elif kind == "Donor.EligibilityDetermined":
        w.donors[key]["determinations"].append(
            {
                "outcome": e.outcome,
                "determined_at": e.determined_at,
                "determined_by": e.actor,
                "criteria_version": e.criteria_version,
                "revoked": False,
            }
        )
    elif kind == "Donor.EligibilityRevoked":
        in_force = eligibility_in_force(w.donors[key])
        assert in_force is not None
        in_force["revoked"] = True
    elif kind == "Donation.Recorded":
        w.donations[key] = {
            "donor_code": e.donor_code,
            "donation_type": e.donation_type,
            "site_id": e.site_id,
            "acquired_at": e.acquired_at,
        }
        _edge(w, s, 0, "DONOR", e.donor_code, "DONATION", key, e.acquired_at)
        _edge(w, s, 1, "SITE", e.site_id, "DONATION", key, e.acquired_at)
    elif kind == "Batch.Pooled":
        for seq, donation_id in enumerate(e.donation_ids):
            _edge(w, s, seq, "DONATION", donation_id, "BATCH", key, e.pooled_at)
            w.batches[key]["involved"].add(w.donations[donation_id]["site_id"])
    elif kind == "CellBank.Banked":
        seq = 0
        if e.parent_bank_id is None:
            _edge(w, s, 0, "DONATION", e.donation_id, "CELL_BANK", key, e.banked_at)
            seq = 1
        _edge(w, s, seq, "SITE", e.site_id, "CELL_BANK", key, e.banked_at)
    elif kind == "CellBank.VialsTaken":
        _edge(w, s, 0, "CELL_BANK", key, e.for_kind, e.for_id, e.taken_at)
    elif kind == "MaterialLot.Received":
        w.lots[key] = {"status": "QUARANTINED", "site_id": e.site_id}
    elif kind in ("MaterialLot.Released", "MaterialLot.Rejected"):
        w.lots[key]["status"] = kind.split(".")[1].upper()
    elif kind == "Batch.Started":
        donation = w.donations[e.donation_id]
        w.batches[key] = {
            "product": e.product,
            "donation_id": e.donation_id,
            "donor_code": donation["donor_code"],
            "patient_code": e.patient_code,
            "control_site_id": e.control_site_id,
            "site_id": e.site_id,
            "started_at": e.started_at,
            "status": "IN_PROCESS",
            "location": e.site_id,
            "released_at": None,
            "steps": [],
            "decision": None,
            "shipments": [],
            "disposition": None,
            "recalls": [],
            "involved": {donation["site_id"], e.control_site_id, e.site_id},
            "labs": set(),
        }
        _edge(w, s, 0, "DONATION", e.donation_id, "BATCH", key, e.started_at)
        _edge(w, s, 1, "SITE", e.site_id, "BATCH", key, e.started_at)
    elif kind == "Batch.StepRecorded":
        batch = w.batches[key]
        batch["steps"].append(
            {
                "step": e.step,
                "site_id": e.site_id,
                "started_at": e.started_at,
                "completed_at": e.completed_at,
                "operator": e.operator,
                "equipment": e.equipment,
                "material_lots": list(e.material_lots),
            }
        )
        batch["location"] = e.site_id
        batch["involved"].add(e.site_id)
        _edge(w, s, 0, "SITE", e.site_id, "BATCH", key, e.started_at)
        for n, lot in enumerate(e.material_lots, start=1):
            _edge(w, s, n, "MATERIAL_LOT", lot, "BATCH", key, e.started_at)
    elif kind == "Batch.QcResultRecorded":
        w.batches[key]["involved"].add(e.laboratory_site_id)
        w.batches[key]["labs"].add(e.laboratory_site_id)
        _edge(w, s, 0, "SITE", e.laboratory_site_id, "BATCH", key, e.tested_at)
    elif kind == "Batch.Released":
        batch = w.batches[key]
        batch["status"] = "RELEASED"
        batch["released_at"] = e.released_at
        batch["decision"] = {
            "decision": "RELEASED",
            "decided_by": e.qualified_person,
            "decided_at": e.released_at,
            "meaning": e.signature_meaning,
        }
    elif kind == "Batch.Rejected":
        batch = w.batches[key]
        batch["status"] = "REJECTED"
        batch["decision"] = {
            "decision": "REJECTED",
            "decided_by": e.actor,
            "decided_at": e.occurred_at,
            "meaning": None,
        }
    elif kind == "Batch.Destroyed":
        batch = w.batches[key]
        batch["status"] = "DESTROYED"
        batch["disposition"] = ("DESTROYED", e.site_id, e.occurred_at, None)
    elif kind == "Batch.Dispatched":
        w.batches[key]["status"] = "DISTRIBUTED"
    elif kind == "Batch.Received":
        w.batches[key]["location"] = e.site_id
    elif kind == "Batch.Administered":
        batch = w.batches[key]
        batch["status"] = "ADMINISTERED"
        batch["location"] = e.site_id
        # A batch split into containers ends with its last container; the record's final
        # disposition names the patient given it (each container's patient is in the record's
        # containers and in the lineage).
        batch["disposition"] = ("ADMINISTERED", e.site_id, e.administered_at, e.patient_code)
        batch["involved"].add(e.site_id)
        _given(w, s, key, e)
    elif kind == "Batch.ContainerAdministered":
        w.batches[key]["involved"].add(e.site_id)
        _given(w, s, key, e)
    elif kind == "Batch.ContainersFilled":
        for n, c in enumerate(e.containers):
            node = f"{key}/{c['container_id']}"
            _edge(w, s, n, "BATCH", key, "CONTAINER", node, e.filled_at)
    elif kind == "Batch.Recalled":
        w.batches[key]["recalls"].append(e.recall_id)
    elif kind == "Shipment.Dispatched":
        w.shipments[key] = {
            "batch_ids": list(e.batch_ids),
            "from_site_id": e.from_site_id,
            "to_site_id": e.to_site_id,
            "courier": e.courier,
            "dispatched_at": e.dispatched_at,
            "received_at": None,
            "condition_acceptable": None,
            "excursions": 0,
        }
        _edge(w, s, 0, "SITE", e.from_site_id, "SHIPMENT", key, e.dispatched_at)
        # Where it is going is known from dispatch: a recall must warn it while in transit.
        _edge(w, s, 0, "SHIPMENT", key, "SITE", e.to_site_id, e.dispatched_at)
        for n, batch_id in enumerate(e.batch_ids, start=1):
            batch = w.batches[batch_id]
            batch["shipments"].append(key)
            batch["involved"] |= {e.from_site_id, e.to_site_id}
            _edge(w, s, n, "BATCH", batch_id, "SHIPMENT", key, e.dispatched_at)
        for n, node in enumerate(e.containers, start=len(e.batch_ids) + 1):
            _edge(w, s, n, "CONTAINER", node, "SHIPMENT", key, e.dispatched_at)
    elif kind == "Shipment.TemperatureExcursionRecorded":
        w.shipments[key]["excursions"] += 1
    elif kind == "Shipment.Received":
        shipment = w.shipments[key]
        shipment["received_at"] = e.received_at
        shipment["condition_acceptable"] = e.condition_acceptable
        _edge(w, s, 0, "SHIPMENT", key, "SITE", shipment["to_site_id"], e.received_at)
        # The receiving site handled every batch in the shipment.
        for batch_id in shipment["batch_ids"]:
            _edge(w, s, 1, "SITE", shipment["to_site_id"], "BATCH", batch_id, e.received_at)
    elif kind == "AdverseEvent.Reported":
        batch = w.batches[e.batch_id]
        site = w.sites[e.reported_by_site_id]
        w.reports[key] = {
            "batch_id": e.batch_id,
            "patient_code": e.patient_code,
            "reported_by_site_id": e.reported_by_site_id,
            "control_site_id": batch["control_site_id"],
            "jurisdiction": site["jurisdiction"],
            "serious": e.serious,
            "onset_at": e.onset_at,
            "aware_at": e.aware_at,
            "deadline": reporting_deadline(site["jurisdiction"], e.serious, e.aware_at),
            "submitted_at": None,
            "authority": None,
            # What is still owed to the authority: the initial report, then a follow-up report
            # for new information that arrives after it ('deadline': the earliest still owed,
            # or the earliest of all once none is).
            "owed": {"INITIAL": reporting_deadline(site["jurisdiction"], e.serious, e.aware_at)},
            "dues": [],
            "open": True,
        }
        _edge(w, s, 0, "BATCH", e.batch_id, "ADVERSE_EVENT", key, e.aware_at)
        _edge(w, s, 1, "PATIENT", e.patient_code, "ADVERSE_EVENT", key, e.onset_at)
        _edge(w, s, 2, "SITE", e.reported_by_site_id, "ADVERSE_EVENT", key, e.aware_at)
    elif kind == "AdverseEvent.FollowUpRecorded":
        r = w.reports[key]
        r["serious"] = e.serious
        due = reporting_deadline(r["jurisdiction"], e.serious, e.received_at)
        if "INITIAL" in r["owed"]:  # not sent yet: the earlier deadline holds
            r["owed"]["INITIAL"] = min(r["owed"]["INITIAL"], due)
        else:
            r["follow_ups"] = r.get("follow_ups", 0) + 1
            r["owed"][f"FOLLOW_UP/{r['follow_ups']:04d}"] = due
        _owed(r)
    elif kind == "AdverseEvent.SubmittedToAuthority":
        r = w.reports[key]
        if r["submitted_at"] is None:
            r["submitted_at"] = e.submitted_at
            r["authority"] = e.authority
        if getattr(e, "kind", "INITIAL") == "INITIAL":
            r["dues"].append(r["owed"].pop("INITIAL"))
        elif any(k.startswith("FOLLOW_UP") for k in r["owed"]):
            first = min(k for k in r["owed"] if k.startswith("FOLLOW_UP"))
            r["dues"].append(r["owed"].pop(first))
        _owed(r)
    elif kind == "Recall.Initiated":
        w.recalls[key] = s


def _owed(report: dict[str, Any]) -> None:
    report["open"] = bool(report["owed"])
    report["deadline"] = min(report["owed"].values() or report["dues"])


def eligibility_in_force(donor: dict[str, Any]) -> dict[str, Any] | None:
    """The determination in force: the latest by when it was made (ties: the one entered last)."""
    made = donor["determinations"]
    if not made:
        return None
    return max(enumerate(made), key=lambda pair: (pair[1]["determined_at"], pair[0]))[1]


# ------------------------------------------------------------------------ source-and-flow records


def source_and_flow(world: World, batch_id: str) -> dict[str, Any]:
    """What the Taiwan source-and-flow record of ``batch_id`` must say at ``world.position``."""
    b = world.batches[batch_id]
    donation = world.donations[b["donation_id"]]
    donor = world.donors[b["donor_code"]]
    consent = donor["consent"] or {}
    eligibility = eligibility_in_force(donor)
    flows = sorted(
        (world.shipments[s] | {"shipment_id": s} for s in b["shipments"]),
        key=lambda f: (f["dispatched_at"], f["shipment_id"]),
    )
    return {
        "batch_id": batch_id,
        "product": b["product"],
        "status": b["status"],
        "recalls": sorted(b["recalls"]),
        "patient_code": b["patient_code"],
        "source": {
            "donor_code": b["donor_code"],
            "donation_id": b["donation_id"],
            "donation_type": donation["donation_type"],
            "consent_reference": consent.get("reference"),
            "consented_at": consent.get("signed_at"),
            "eligibility": None
            if eligibility is None
            else (
                eligibility["outcome"],
                eligibility["determined_at"],
                eligibility["determined_by"],
                eligibility["criteria_version"],
                eligibility["revoked"],
            ),
            "acquisition_site": donation["site_id"],
            "acquired_at": donation["acquired_at"],
        },
        "manufacture": [
            (
                s["step"],
                s["site_id"],
                s["started_at"],
                s["completed_at"],
                s["material_lots"],
                s["operator"],
                s["equipment"],
            )
            for s in b["steps"]
        ],
        "release": None
        if b["decision"] is None
        else (
            b["decision"]["decision"],
            b["decision"]["decided_by"],
            b["decision"]["decided_at"],
            b["decision"]["meaning"],
        ),
        "flow": [
            (
                f["shipment_id"],
                f["from_site_id"],
                f["to_site_id"],
                f["dispatched_at"],
                f["received_at"],
                f["courier"],
                f["condition_acceptable"],
                f["excursions"],
            )
            for f in flows
        ],
        "disposition": b["disposition"],
    }


def projected(view: Any) -> dict[str, Any]:
    """A projection's ``SourceAndFlowView`` in the shape of ``source_and_flow``."""
    b, donor, donation = view.batch, view.donor, view.donation
    eligibility = None
    if donor["eligibility_outcome"] is not None:
        eligibility = (
            donor["eligibility_outcome"],
            donor["eligibility_determined_at"],
            donor["eligibility_determined_by"],
            donor["eligibility_criteria_version"],
            bool(donor["eligibility_revoked"]),
        )
    disposition = None
    if b.disposition_kind is not None:
        disposition = (b.disposition_kind, b.disposition_site, b.disposition_at, view.final_patient)
    return {
        "batch_id": b.batch_id,
        "product": b.product,
        "status": b.status,
        "recalls": sorted(b.recalls),
        "patient_code": b.patient_code,
        "source": {
            "donor_code": b.donor_code,
            "donation_id": b.donation_id,
            "donation_type": donation["donation_type"],
            "consent_reference": donor["consent_reference"],
            "consented_at": donor["consented_at"],
            "eligibility": eligibility,
            "acquisition_site": donation["site_id"],
            "acquired_at": donation["acquired_at"],
        },
        "manufacture": [
            (
                s.step,
                s.site_id,
                s.started_at,
                s.completed_at,
                s.material_lots,
                s.operator,
                s.equipment,
            )
            for s in view.manufacture
        ],
        "release": None
        if view.decision is None
        else (
            view.decision.decision,
            view.decision.decided_by,
            view.decision.decided_at,
            view.decision.meaning,
        ),
        "flow": [
            (
                f.shipment_id,
                f.from_site_id,
                f.to_site_id,
                f.dispatched_at,
                f.received_at,
                f.courier,
                f.condition_acceptable,
                f.excursions,
            )
            for f in view.flow
        ],
        "disposition": disposition,
    }


def sites_named(record: dict[str, Any], world: World, batch_id: str) -> set[str]:
    """Every site a source-and-flow record names (each must come with its site record)."""
    named = {record["source"]["acquisition_site"], world.batches[batch_id]["site_id"]}
    named |= {m[1] for m in record["manufacture"]}
    named |= {f[1] for f in record["flow"]} | {f[2] for f in record["flow"]}
    if record["disposition"]:
        named.add(record["disposition"][1])
    return named


# ----------------------------------------------------------------------------- adverse events

TAIPEI = timezone(timedelta(hours=8))


def reporting_deadline(jurisdiction: str, serious: bool, aware_at: datetime) -> datetime:
    """The legal deadline as the tests read the law (DOMAIN.md): a serious reaction in Taiwan
    within 7 days counted from the day after the day of awareness, in Taiwan's calendar whatever
    offset the awareness was written in, so to the last instant of the seventh such day there;
    serious reactions in the EU and UK (and the US) within 15 days of awareness; non-serious
    ones in the periodic report, 90 days after awareness."""
    if not serious:
        return aware_at + timedelta(days=90)
    if jurisdiction == "TW":
        day_of_awareness: date = aware_at.astimezone(TAIPEI).date()
        seventh_day = day_of_awareness + timedelta(days=7)
        return datetime.combine(seventh_day, time.max, tzinfo=TAIPEI)
    return aware_at + timedelta(days=15)


def adverse_events(world: World, moment: datetime) -> dict[str, dict[str, Any]]:
    """Every report at ``world.position``; overdue when not submitted and past its deadline."""
    return {
        report_id: r | {"overdue": r["open"] and moment > r["deadline"]}
        for report_id, r in world.reports.items()
    }


# ----------------------------------------------------------------------------------- lineage

TERMINAL = frozenset({"SITE", "PATIENT"})


@dataclass
class Traced:
    nodes: set[tuple[str, str]]
    edges: set[Edge]

    def ids(self, kind: str) -> list[str]:
        return sorted(i for k, i in self.nodes if k == kind)

    @property
    def shapes(self) -> Counter[tuple[str, str, str, str, datetime]]:
        return Counter(e.shape for e in self.edges)


def trace(
    world: World,
    kind: str,
    node_id: str,
    direction: str = "FORWARD",
    window: tuple[datetime, datetime] | None = None,
) -> Traced:
    """Breadth-first over the graph of ``world``: FORWARD along the edges, BACKWARD against them,
    BOTH each from the origin. Sites and patients reached are not walked on from; the origin is.
    A window keeps, of the origin's own edges, those with a time inside it."""
    origin = (kind, node_id)
    result = Traced({origin}, set())
    walks = {"FORWARD": (True,), "BACKWARD": (False,), "BOTH": (True, False)}[direction]
    for forward in walks:
        adjacent: dict[tuple[str, str], list[Edge]] = defaultdict(list)
        for edge in world.edges:
            near = (edge.from_kind, edge.from_id) if forward else (edge.to_kind, edge.to_id)
            adjacent[near].append(edge)
        seen = {origin}
        frontier = [origin]
        while frontier:
            node = frontier.pop(0)
            for edge in adjacent[node]:
                if node == origin and window is not None and not window[0] <= edge.at <= window[1]:
                    continue
                result.edges.add(edge)
                far = (edge.to_kind, edge.to_id) if forward else (edge.from_kind, edge.from_id)
                result.nodes.add(far)
                if far not in seen:
                    seen.add(far)
                    if far[0] not in TERMINAL:
                        frontier.append(far)
    return result


def trace_shape(t: Any) -> tuple[set[tuple[str, str]], Counter[Any]]:
    """A projection's (or a recall's) trace as a node set and a multiset of edge shapes."""
    nodes = [tuple(n) for n in t.nodes]
    assert len(nodes) == len(set(nodes)), f"a node is listed twice: {nodes}"
    return set(nodes), Counter((e.from_kind, e.from_id, e.to_kind, e.to_id, e.at) for e in t.edges)


def record_shape(record: dict[str, Any]) -> tuple[set[tuple[str, str]], Counter[Any]]:
    """The trace a recall keeps in its event, in the same shape."""
    nodes = [tuple(n) for n in record["nodes"]]
    assert len(nodes) == len(set(nodes)), f"a node is listed twice: {nodes}"
    return set(nodes), Counter(
        (fk, fi, tk, ti, datetime.fromisoformat(at)) for fk, fi, tk, ti, _, at in record["edges"]
    )


# ------------------------------------------------------------------ databases of the tests' own


@contextmanager
def own_database(request: pytest.FixtureRequest, tmp_path_factory: Any, tag: str) -> Iterator[Any]:
    """Settings for an empty, migrated ledger of the tests' own on ``request.param``'s database.

    On PostgreSQL it is a database next to the per-test one (same server, named with this process
    id so that a run that dies leaves nothing the next run does not drop), so the per-test fixtures
    that reset their own database never touch it.
    """
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp(tag) / 'ledger.sqlite3'}"
        settings = Settings(
            database_url=url, environment="development", dev_principal_enabled=True, _env_file=None
        )  # type: ignore[call-arg]
        migrate(settings.database)
        yield settings
        return
    request.getfixturevalue("postgres_database")  # skips (or fails under CI) like every PG test
    db = parse_database_url(POSTGRES_URL)
    name = f"{db.dbname}_{tag}_{os.getpid()}"
    admin_info = psycopg.conninfo.make_conninfo(db.conninfo, dbname="postgres")
    drop = pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(name))
    with psycopg.connect(admin_info, autocommit=True) as admin:
        admin.execute(drop)
        admin.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))
    try:
        url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
        settings = Settings(
            database_url=url, environment="development", dev_principal_enabled=True, _env_file=None
        )  # type: ignore[call-arg]
        migrate(settings.database)
        yield settings
    finally:
        with psycopg.connect(admin_info, autocommit=True) as admin:
            admin.execute(drop)


@dataclass
class Seeded:
    """A ledger seeded once, read (never written) by the tests that share it."""

    service: Regentrace
    settings: Settings
    events: list[Stored]
    built: Any = None


@contextmanager
def seeded_database(
    request: pytest.FixtureRequest,
    tmp_path_factory: Any,
    tag: str,
    build: Callable[[Regentrace], Any],
) -> Iterator[Seeded]:
    with own_database(request, tmp_path_factory, tag) as settings:
        service = Regentrace(settings)
        try:
            built = build(service)
            yield Seeded(service, settings, read_ledger(service), built)
        finally:
            service.close()


_SEEDED: dict[tuple[str, str], Seeded] = {}


def shared_database(
    request: pytest.FixtureRequest,
    tmp_path_factory: Any,
    name: str,
    build: Callable[[Regentrace], Any],
) -> Seeded:
    """``seeded_database`` built once per run and database for every module that asks by
    ``name`` (they only read it), closed and dropped when the run ends."""
    key = (name, str(request.param))
    if key not in _SEEDED:
        stack = ExitStack()
        _SEEDED[key] = stack.enter_context(seeded_database(request, tmp_path_factory, name, build))

        def close() -> None:
            _SEEDED.pop(key, None)
            stack.close()

        request.config.add_cleanup(close)
    return _SEEDED[key]


def demo_database(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Seeded:
    """The demo (``demo.network.seed``), seeded once per run and database."""
    return shared_database(request, tmp_path_factory, "demo", lambda s: seed(s.app))


def small_world_database(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Seeded:
    """The small world below, built once per run and database."""
    return shared_database(request, tmp_path_factory, "world", small_world)


# --------------------------------------------------------------------------------- small world

CTRL = "TW-CTRL"
CTRL2 = "TW-CTRL-2"
MU1 = "TW-MU-1"
MU2 = "TW-MU-2"
MU3 = "TW-MU-3"
HOSP = "TW-MI-1"
EU_HOSP = "DE-MI-1"
UK_HOSP = "GB-MI-1"
LAB = "TW-LAB-1"
HSA = "HSA-1"  # human serum albumin, plasma-derived: shared by B1, B3, B5, B6
MEDIUM = "MED-1"  # expansion medium: B2, B4, B6

ADMIN = Principal("network-admin", "administrator")
OPERATOR = Principal("spoke-operator", "spoke_operator")
ANALYST = Principal("qc-analyst", "qc_laboratory")
QP = Principal("dr-lin-qp", "qualified_person")
COURIER = Principal("courier", "courier")
CLINIC = Principal("hospital-pharmacist", "medical_institution")
PHYSICIAN = Principal("dr-chen-physician", "medical_institution")
PV = Principal("pharmacovigilance", "pharmacovigilance")

SCREENING = [
    {"test": "HIV", "result": "non-reactive", "reactive": False},
    {"test": "HBV", "result": "non-reactive", "reactive": False},
    {"test": "HCV", "result": "non-reactive", "reactive": False},
    {"test": "SYPHILIS", "result": "non-reactive", "reactive": False},
    {"test": "HTLV", "result": "non-reactive", "reactive": False},
]


def din(n: int) -> str:
    return f"A999925{n:06d}"


@dataclass
class SmallWorld:
    """Two control sites, spokes, hospitals in Taiwan, Germany and the UK, a QC laboratory, two
    shared material lots, three donors and six batches in every state, three adverse reactions.

        B1  DNR-1 autologous  MU1  HSA-1 + MED-1 -> TW hospital, administered, AE-TW (serious,
                                                     aware 23:30 Taipei time, never submitted)
        B2  DNR-2 autologous  MU2  MED-1         -> DE hospital, administered, AE-EU (submitted
                                                     in time), AE-UK (by a UK site, submitted late)
        B3  DNR-3 allogeneic  MU1  HSA-1         -> TW hospital, received, not administered
        B4  DNR-3 allogeneic  MU2  MED-1            sterility failed, rejected
        B5  DNR-3 allogeneic  MU1  HSA-1            every QC passed, awaiting release
        B6  DNR-3 allogeneic  MU2  HSA-1 + MED-1    released, not dispatched

    and AE-TW-Z on B1, written in UTC by the Taiwanese hospital's partner system. MU2 is
    suspended and reinstated after everything was made.

    Business times are hours after ``base`` (30 days before now). ``marks`` names moments between
    commands with the ledger position that stood then.
    """

    service: Regentrace
    base: datetime
    marks: dict[str, tuple[datetime, int]] = field(default_factory=dict)
    last: int = 0

    @property
    def app(self) -> Any:
        return self.service.app

    def h(self, hours: float) -> datetime:
        return self.base + timedelta(hours=hours)

    def run(self, method: Callable[..., CommandResult], *args: Any, **kwargs: Any) -> int:
        result = method(*args, **kwargs)
        self.last = result.position
        return result.position

    def mark(self, name: str) -> None:
        """Remember now, between two commands, with the position that stands at it."""
        clock.sleep(0.003)
        self.marks[name] = (datetime.now(UTC), self.last)
        clock.sleep(0.003)


def site(w: SmallWorld, site_id: str, kind: str, control: str | None = None, **more: Any) -> None:
    fields = {
        "name": f"Site {site_id}",
        "jurisdiction": "TW",
        "country": "TW",
        "supervising_authority": "TFDA",
        # Taiwan licenses control sites, processing sites and medical institutions.
        "licence_number": f"LIC-{site_id}",
    } | more
    w.run(
        w.app.sites.register_site,
        ADMIN,
        site_id=site_id,
        kind=kind,
        control_site_id=control,
        registered_at=w.h(0 if control is None else 1),
        **fields,
    )


def lone_site(service: Regentrace, site_id: str = CTRL) -> str:
    """A ledger holding one control site, for checks that need a site to exist and nothing more."""
    service.app.sites.register_site(
        ADMIN,
        site_id=site_id,
        name=f"Site {site_id}",
        kind="CONTROL_SITE",
        jurisdiction="TW",
        country="TW",
        supervising_authority="TFDA",
    )
    return site_id


def donor(w: SmallWorld, code: str, n: int, donation_type: str) -> None:
    w.run(w.app.donors.register_donor, CLINIC, code)
    w.run(w.app.donors.record_consent, CLINIC, code, f"ICF-{code}", w.h(4))
    w.run(
        w.app.donors.determine_eligibility,
        PHYSICIAN,
        code,
        "ELIGIBLE",
        "TFDA-2025.1",
        SCREENING,
        w.h(5),
    )
    w.run(
        w.app.donors.record_donation,
        CLINIC,
        din(n),
        code,
        donation_type,
        HOSP,
        "Leukapheresis",
        w.h(6),
        source_tissue="PERIPHERAL_BLOOD_APHERESIS",
        # An autologous donation is collected for its donor's own patient code (PT-<n>).
        intended_patient_code=f"PT-{n}" if donation_type == "AUTOLOGOUS" else None,
    )


def made(
    w: SmallWorld,
    batch: str,
    n: int,
    patient: str,
    spoke: str,
    lots: list[str],
    start: float,
    *,
    product: str = "MSC-ALLO",
    failing: str | None = None,
) -> None:
    """Started, one or two steps, every required QC result (``failing`` fails)."""
    w.run(
        w.app.batches.start_batch,
        OPERATOR,
        batch,
        product,
        din(n),
        patient,
        CTRL,
        spoke,
        w.h(start),
    )
    for k, lot in enumerate(lots):
        step = f"Step {k + 1} ({lot})"
        w.run(
            w.app.batches.record_batch_step,
            OPERATOR,
            batch,
            step,
            spoke,
            w.h(start + 1 + k),
            w.h(start + 2 + k),
            f"op-{spoke.lower()}",
            f"{spoke}-ISOLATOR",
            [lot],
            {"k": k},
        )
    for test in sorted(reference.product(product).required_qc_tests):
        w.run(
            w.app.batches.record_qc_result,
            ANALYST,
            batch,
            test,
            "validated method",
            "per specification",
            "does not conform" if test == failing else "conforms",
            test != failing,
            w.h(start + 4),
            LAB,
        )


def released(w: SmallWorld, batch: str, at: float) -> None:
    w.run(w.app.batches.release_batch, QP, batch, "QP certification", w.h(at))


def delivered(w: SmallWorld, batch: str, shipment: str, spoke: str, to: str, at: float) -> None:
    w.run(
        w.app.distribution.dispatch_shipment,
        COURIER,
        shipment,
        [batch],
        spoke,
        to,
        "ColdChain",
        w.h(at),
    )
    w.run(w.app.distribution.receive_shipment, CLINIC, shipment, w.h(at + 1), True)


def small_world(service: Regentrace) -> SmallWorld:
    w = SmallWorld(service, (utcnow() - timedelta(days=30)).replace(microsecond=0))
    site(w, CTRL, "CONTROL_SITE")
    site(w, CTRL2, "CONTROL_SITE")
    for control in (CTRL, CTRL2):
        w.run(w.app.sites.activate_site, ADMIN, control, "QMS certified", w.h(1))
    site(w, MU1, "MODULAR_UNIT", CTRL)
    site(w, MU2, "MODULAR_UNIT", CTRL)
    site(w, MU3, "MODULAR_UNIT", CTRL2)
    site(w, HOSP, "MEDICAL_INSTITUTION")
    site(w, LAB, "TESTING_LABORATORY")
    site(
        w,
        EU_HOSP,
        "MEDICAL_INSTITUTION",
        jurisdiction="EU",
        country="DE",
        supervising_authority="PEI",
    )
    site(
        w,
        UK_HOSP,
        "MEDICAL_INSTITUTION",
        jurisdiction="UK",
        country="GB",
        supervising_authority="MHRA",
    )
    for site_id in (MU1, MU2, MU3, HOSP, LAB, EU_HOSP, UK_HOSP):
        w.run(w.app.sites.activate_site, ADMIN, site_id, "qualified", w.h(2))
    for lot in (HSA, MEDIUM):
        w.run(
            w.app.batches.receive_material_lot,
            OPERATOR,
            lot,
            f"material {lot}",
            "Supplier",
            MU1,
            w.h(3),
        )
        w.run(w.app.batches.release_material_lot, QP, lot, "CoA reviewed", decided_at=w.h(3.5))
    donor(w, "DNR-1", 1, "AUTOLOGOUS")
    donor(w, "DNR-2", 2, "AUTOLOGOUS")
    donor(w, "DNR-3", 3, "ALLOGENEIC")
    w.mark("donated")

    made(w, "B1", 1, "PT-1", MU1, [HSA, MEDIUM], 7, product="CART-CD19-AUTO")
    w.mark("B1 made")
    released(w, "B1", 12)
    w.run(
        w.app.distribution.dispatch_shipment,
        COURIER,
        "SHP-1",
        ["B1"],
        MU1,
        HOSP,
        "ColdChain",
        w.h(13),
    )
    w.run(w.app.distribution.record_temperature_excursion, COURIER, "SHP-1", w.h(13.5), -110.0, 12)
    w.mark("B1 in transit")
    # -110 °C is outside the LN2-vapour range: held until the QP judges it and lifts the hold.
    w.run(
        w.app.holds.lift_batch_hold,
        QP,
        "B1",
        ["TEMPERATURE_EXCURSION:Shipment:SHP-1@2"],
        "12 min at -110 °C is within the validated transport excursion",
        "QP decision: hold lifted",
        w.h(13.8),
    )
    w.run(w.app.distribution.receive_shipment, CLINIC, "SHP-1", w.h(14), True)
    w.run(
        w.app.distribution.record_administration,
        CLINIC,
        "B1",
        HOSP,
        "PT-1",
        w.h(15),
        True,
        chain_of_identity_id=chain_of_identity_for(din(1)),
    )

    made(w, "B2", 2, "PT-2", MU2, [MEDIUM], 20, product="CART-CD19-AUTO")
    released(w, "B2", 25)
    delivered(w, "B2", "SHP-2", MU2, EU_HOSP, 26)
    w.run(
        w.app.distribution.record_administration,
        CLINIC,
        "B2",
        EU_HOSP,
        "PT-2",
        w.h(28),
        True,
        chain_of_identity_id=chain_of_identity_for(din(2)),
    )
    w.mark("B2 administered")

    made(w, "B3", 3, "PT-3", MU1, [HSA], 30)
    released(w, "B3", 35)
    delivered(w, "B3", "SHP-3", MU1, HOSP, 36)
    made(w, "B4", 3, "PT-4", MU2, [MEDIUM], 50, failing="STERILITY")
    w.run(w.app.batches.reject_batch, QP, "B4", "Sterility test failed")
    made(w, "B5", 3, "PT-5", MU1, [HSA], 60)
    made(w, "B6", 3, "PT-6", MU2, [HSA, MEDIUM], 52)
    released(w, "B6", 58)
    w.mark("made")

    # Adverse reactions. AE-TW: aware at 23:30 Taipei time on the day after administration.
    aware_tw = datetime.combine(w.h(15).astimezone(TAIPEI).date(), time(23, 30), tzinfo=TAIPEI)
    aware_tw += timedelta(days=1)
    w.run(
        w.app.distribution.report_adverse_event,
        PV,
        "AE-TW",
        "B1",
        "PT-1",
        HOSP,
        True,
        "Cytokine release syndrome grade 3",
        aware_tw - timedelta(hours=3),
        aware_tw,
    )
    w.run(
        w.app.distribution.report_adverse_event,
        PV,
        "AE-EU",
        "B2",
        "PT-2",
        EU_HOSP,
        True,
        "ICANS grade 2",
        w.h(40),
        w.h(41),
    )
    w.mark("reported")
    w.run(
        w.app.distribution.submit_adverse_event_to_authority,
        PV,
        "AE-EU",
        "PEI",
        w.h(41) + timedelta(days=3),
    )
    w.run(
        w.app.distribution.report_adverse_event,
        PV,
        "AE-UK",
        "B2",
        "PT-2",
        UK_HOSP,
        True,
        "Prolonged cytopenia",
        w.h(42),
        w.h(43),
    )
    w.run(
        w.app.distribution.submit_adverse_event_to_authority,
        PV,
        "AE-UK",
        "MHRA",
        w.h(43) + timedelta(days=16),
    )
    # AE-TW-Z: the Taiwanese hospital's partner system writes times in UTC. Aware at 11:00 in
    # Taipei (03:00 UTC, the same calendar day in both) two days after AE-TW's awareness.
    aware_z = datetime.combine(aware_tw.date() + timedelta(days=2), time(11), tzinfo=TAIPEI)
    w.run(
        w.app.distribution.report_adverse_event,
        PV,
        "AE-TW-Z",
        "B1",
        "PT-1",
        HOSP,
        True,
        "Hypogammaglobulinaemia",
        (aware_z - timedelta(hours=1)).astimezone(UTC),
        aware_z.astimezone(UTC),
    )
    w.mark("submitted")

    # The DM procedure at work on MU2 after everything above was made there.
    w.run(w.app.sites.suspend_site, ADMIN, MU2, "Environmental monitoring excursion", w.h(100))
    w.mark("MU2 suspended")
    w.run(w.app.sites.reinstate_site, ADMIN, MU2, "Requalified", w.h(110))
    w.mark("end")
    return w
