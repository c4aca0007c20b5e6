"""GraphQL types of the regulatory views: source-and-flow, adverse reactions, DM master file,
recall traces. Field names follow the partner contract; additions are marked in descriptions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from enum import Enum
from typing import Any

import strawberry

from api.chain.holds import BatchHold
from api.chain.inputs import EligibilityOutcome
from api.chain.types import (
    CHAIN_OF_IDENTITY_ID,
    BatchStatus,
    DinParts,
    EligibilityDetermination,
)
from api.common import PageInfo
from api.sites.types import Site
from api.views.recall_types import (
    RecallAction,
    RecallEffectivenessCheck,
    RecallNotification,
    RecallProgress,
    RecallReport,
    RecallStatus,
    RecallUnit,
)
from api.vigilance import ReportableDeviation
from domain.donation import DonationType
from domain.isbt128 import chain_of_identity_for
from domain.recall import Trace
from projections.adverse_events import (
    AdverseEventView,
    FollowUpView,
    ObligationView,
    SubmissionView,
)
from projections.hold_views import HoldView
from projections.recalls import RecallView
from projections.sites import SiteView
from projections.source_and_flow import SourceAndFlowView


@strawberry.type
class SourceRecord:
    donor_code: strawberry.ID
    donation_id: strawberry.ID
    donation_type: DonationType
    consent_reference: str
    consented_at: datetime
    eligibility: EligibilityDetermination | None
    acquisition_site: Site
    acquired_at: datetime
    isbt128_din: str | None = strawberry.field(description="the ISBT 128 DIN, when the id is one")

    @strawberry.field(description="the parts of donationId when it is an ISBT 128 DIN")
    def din(self) -> DinParts | None:
        return DinParts.of(self.donation_id)

    @strawberry.field(description=CHAIN_OF_IDENTITY_ID)
    def chain_of_identity_id(self) -> str:
        return chain_of_identity_for(self.donation_id)


@strawberry.type
class ManufactureRecord:
    step: str
    site: Site
    started_at: datetime
    completed_at: datetime
    material_lots: list[strawberry.ID]
    operator: str
    equipment: str | None


@strawberry.type
class ReleaseRecord:
    decision: str = strawberry.field(description="RELEASED or REJECTED")
    qualified_person: str
    decided_at: datetime
    signature_meaning: str | None = strawberry.field(description="what the QP's signature means")
    reason: str | None


@strawberry.type
class FlowRecord:
    shipment_id: strawberry.ID
    from_site: Site
    to_site: Site
    dispatched_at: datetime
    received_at: datetime | None
    courier: str
    condition_acceptable: bool | None
    temperature_excursions: int
    chain_of_identity_id: str = strawberry.field(
        description="the chain-of-identity identifier of the batch this movement carried"
    )
    quantity: int = strawberry.field(
        default=1,
        description="units delivered: the batch's containers this movement carried (1 for a "
        "batch never filled into containers, shipped whole)",
    )


@strawberry.type(description="a bag or vial the batch was filled into")
class ContainerRecord:
    container_id: strawberry.ID = strawberry.field(
        description="the container's identifier within its batch (batchId/containerId across "
        "the ledger, as recallTrace names it)"
    )
    kind: str = strawberry.field(description="BAG or VIAL")
    volume_ml: float
    dose: float
    dose_unit: str = strawberry.field(description="CELLS or VECTOR_GENOMES")
    filled_at: datetime
    patient_code: strawberry.ID | None = strawberry.field(
        default=None,
        description="the patient the container was used on (null until given; a batch given "
        "whole: see disposition)",
    )
    used_at: datetime | None = None
    used_at_site_id: strawberry.ID | None = strawberry.field(
        default=None, description="the institution that gave it"
    )


@strawberry.enum
class FinalDispositionKind(Enum):
    ADMINISTERED = "ADMINISTERED"
    DESTROYED = "DESTROYED"
    RETURNED = "RETURNED"


@strawberry.type
class FinalDisposition:
    kind: FinalDispositionKind
    site: Site
    at: datetime
    patient_code: strawberry.ID | None


@strawberry.type
class SourceAndFlowRecord:
    batch_id: strawberry.ID
    product: str
    status: BatchStatus
    source: SourceRecord
    manufacture: list[ManufactureRecord]
    release: ReleaseRecord | None
    flow: list[FlowRecord]
    final_disposition: FinalDisposition | None
    manufacturer_site: Site = strawberry.field(
        description="the active-ingredient manufacturer: the site where manufacture started"
    )
    manufactured_at: datetime = strawberry.field(
        description="completion of the last manufacturing step (its start if none yet)"
    )
    expires_at: datetime = strawberry.field(
        description="manufacturedAt plus the product's configured shelf life"
    )
    quantity: int = strawberry.field(
        description="units made: the containers the batch was filled into (1 for a batch never "
        "filled into containers)"
    )
    containers: list[ContainerRecord] = strawberry.field(
        default_factory=list, description="the containers the batch was filled into"
    )
    holds: list[BatchHold] = strawberry.field(
        description="every reason the batch is or was held, with its lift (as Batch.holds)"
    )
    # Added with the records an inspector files (issue 18).
    jurisdiction: str | None = strawberry.field(
        default=None, description="added: the batch's jurisdiction (its control site's)"
    )
    licence_number: str | None = strawberry.field(
        default=None,
        description="added: the product's licence or conditional-approval number (許可證字號) "
        "in the batch's jurisdiction",
    )
    licence_kind: str | None = strawberry.field(
        default=None, description="added: LICENCE or CONDITIONAL_APPROVAL"
    )
    manufactured_on: date | None = strawberry.field(
        default=None, description="added: manufacturedAt's day in the jurisdiction's calendar"
    )
    expires_on: date | None = strawberry.field(
        default=None, description="added: expiresAt's day in the jurisdiction's calendar"
    )
    retention_until: date | None = strawberry.field(
        default=None,
        description="added: the last day the manufacturer keeps this record "
        "(domain/data/record_retention.json)",
    )
    institution_retention_until: date | None = strawberry.field(
        default=None,
        description="added: the last day the institution that used the batch keeps its record",
    )

    @strawberry.field(description=CHAIN_OF_IDENTITY_ID)
    def chain_of_identity_id(self) -> str:
        return chain_of_identity_for(self.source.donation_id)

    @classmethod
    def of(cls, r: SourceAndFlowView, holds: list[HoldView]) -> SourceAndFlowRecord:
        site = _sites(r.sites)
        b = r.batch
        donor = r.donor
        eligibility = None
        if donor["eligibility_outcome"] is not None:
            eligibility = EligibilityDetermination(
                outcome=EligibilityOutcome(donor["eligibility_outcome"]),
                determined_at=donor["eligibility_determined_at"],
                determined_by=donor["eligibility_determined_by"],
                criteria_version=donor["eligibility_criteria_version"],
                revoked=bool(donor["eligibility_revoked"]),
            )
        uses = {u.container_id: u for u in r.uses}
        disposition = None
        if b.disposition_kind is not None and b.disposition_site and b.disposition_at:
            # A split batch: the patient whose container used it up (each container names its
            # own patient).
            patient = r.uses[-1].patient_code if r.uses else r.administered_to
            disposition = FinalDisposition(
                kind=FinalDispositionKind(b.disposition_kind),
                site=site(b.disposition_site),
                at=b.disposition_at,
                patient_code=None if patient is None else strawberry.ID(patient),
            )
        return cls(
            batch_id=strawberry.ID(b.batch_id),
            product=b.product,
            status=BatchStatus(b.shown_status),
            source=SourceRecord(
                donor_code=strawberry.ID(b.donor_code),
                donation_id=strawberry.ID(b.donation_id),
                donation_type=DonationType(r.donation["donation_type"]),
                consent_reference=donor["consent_reference"] or "",
                consented_at=donor["consented_at"],
                eligibility=eligibility,
                acquisition_site=site(r.donation["site_id"]),
                acquired_at=r.donation["acquired_at"],
                isbt128_din=r.donation["isbt128_din"],
            ),
            manufacture=[
                ManufactureRecord(
                    step=s.step,
                    site=site(s.site_id),
                    started_at=s.started_at,
                    completed_at=s.completed_at,
                    material_lots=[strawberry.ID(lot) for lot in s.material_lots],
                    operator=s.operator,
                    equipment=s.equipment,
                )
                for s in r.manufacture
            ],
            release=(
                ReleaseRecord(
                    decision=r.decision.decision,
                    qualified_person=r.decision.decided_by,
                    decided_at=r.decision.decided_at,
                    signature_meaning=r.decision.meaning,
                    reason=r.decision.reason,
                )
                if r.decision
                else None
            ),
            flow=[
                FlowRecord(
                    shipment_id=strawberry.ID(f.shipment_id),
                    from_site=site(f.from_site_id),
                    to_site=site(f.to_site_id),
                    dispatched_at=f.dispatched_at,
                    received_at=f.received_at,
                    courier=f.courier,
                    condition_acceptable=f.condition_acceptable,
                    temperature_excursions=f.excursions,
                    chain_of_identity_id=chain_of_identity_for(b.donation_id),
                    quantity=f.quantity,
                )
                for f in r.flow
            ],
            final_disposition=disposition,
            manufacturer_site=site(b.site_id),
            manufactured_at=r.manufactured_at,
            expires_at=r.expires_at,
            quantity=r.quantity_made,
            containers=[
                ContainerRecord(
                    container_id=strawberry.ID(c.container_id),
                    kind=c.kind,
                    volume_ml=c.volume_ml,
                    dose=c.dose,
                    dose_unit=c.dose_unit,
                    filled_at=c.filled_at,
                    patient_code=strawberry.ID(u.patient_code) if u else None,
                    used_at=u.administered_at if u else None,
                    used_at_site_id=strawberry.ID(u.site_id) if u else None,
                )
                for c in r.containers
                for u in [uses.get(c.container_id)]
            ],
            holds=[BatchHold.of(h) for h in holds],
            jurisdiction=r.jurisdiction,
            licence_number=r.licence.number if r.licence else None,
            licence_kind=r.licence.kind if r.licence else None,
            manufactured_on=r.manufactured_on,
            expires_on=r.expires_on,
            retention_until=r.retention_until,
            institution_retention_until=r.institution_retention_until,
        )


def _sites(views: dict[str, SiteView]):  # type: ignore[no-untyped-def]
    cache: dict[str, Site] = {}

    def site(site_id: str) -> Site:
        if site_id not in cache:
            cache[site_id] = Site.of(views[site_id])
        return cache[site_id]

    return site


@strawberry.type
class SourceAndFlowConnection:
    nodes: list[SourceAndFlowRecord]
    page_info: PageInfo


@strawberry.input
class SourceAndFlowFilter:
    donor_code: strawberry.ID | None = None
    site_id: strawberry.ID | None = None
    product: str | None = None
    released_from: datetime | None = None
    released_to: datetime | None = None
    licence_number: str | None = strawberry.field(
        default=None,
        description="added: the batches made under this licence or conditional-approval number "
        "(許可證字號) in their jurisdiction",
    )


@strawberry.type(description="a report an adverse-reaction case owes one authority")
class RequiredReport:
    key: str = strawberry.field(description="JURISDICTION/INITIAL or JURISDICTION/FOLLOW_UP/n")
    jurisdiction: str
    authority: str
    kind: str = strawberry.field(description="INITIAL or FOLLOW_UP")
    rule: str = strawberry.field(description="the rule of the deadline (its data file's id)")
    source: str = strawberry.field(description="the text the rule rests on")
    due_at: datetime
    submitted_at: datetime | None
    overdue: bool = strawberry.field(description="not submitted and past due, now or at `asOf`")
    submitted_late: bool

    @classmethod
    def of(cls, o: ObligationView) -> RequiredReport:
        return cls(
            key=o.key,
            jurisdiction=o.jurisdiction,
            authority=o.authority,
            kind=o.kind,
            rule=o.rule,
            source=o.source,
            due_at=o.due_at,
            submitted_at=o.submitted_at,
            overdue=o.overdue,
            submitted_late=o.submitted_late,
        )


@strawberry.type(description="a report of a case as submitted to an authority")
class AdverseEventSubmission:
    jurisdiction: str
    authority: str
    kind: str
    submitted_at: datetime
    required_report: str | None = strawberry.field(
        description="the key of the required report it fulfils, if any"
    )

    @classmethod
    def of(cls, x: SubmissionView) -> AdverseEventSubmission:
        return cls(
            jurisdiction=x.jurisdiction,
            authority=x.authority,
            kind=x.kind,
            submitted_at=x.submitted_at,
            required_report=x.obligation_key,
        )


@strawberry.type(description="new information recorded on an adverse-reaction case")
class AdverseEventFollowUp:
    received_at: datetime
    information: str
    serious: bool
    criteria: list[str]
    expected: bool | None

    @classmethod
    def of(cls, x: FollowUpView) -> AdverseEventFollowUp:
        return cls(
            received_at=x.received_at,
            information=x.information,
            serious=x.serious,
            criteria=list(x.criteria),
            expected=x.expected,
        )


@strawberry.type
class AdverseEvent:
    id: strawberry.ID
    batch_id: strawberry.ID
    patient_code: strawberry.ID
    reported_by_site: Site
    serious: bool
    aware_at: datetime
    reporting_deadline: datetime
    submitted_to_authority_at: datetime | None
    overdue: bool = strawberry.field(
        description="not submitted and past its deadline, now or at `asOf`"
    )
    submitted_late: bool = strawberry.field(description="submitted, but after the deadline")
    description: str
    onset_at: datetime
    jurisdiction: str
    authority: str | None
    control_site_id: strawberry.ID
    criteria: list[str] = strawberry.field(
        description="the seriousness criteria met (SeriousnessCriterion values)"
    )
    expected: bool | None = strawberry.field(description="None: not known (taken as unexpected)")
    context: str = strawberry.field(description="CLINICAL_TRIAL or MARKETED")
    taiwan_regime: str | None = strawberry.field(description="TECHNOLOGY or PRODUCT (Taiwan)")
    required_reports: list[RequiredReport] = strawberry.field(
        description="each report the case owes an authority, with its deadline, rule and source"
    )
    submissions: list[AdverseEventSubmission]
    follow_ups: list[AdverseEventFollowUp] = strawberry.field(
        description="new information recorded on the case"
    )

    @classmethod
    def of(cls, v: AdverseEventView, sites: dict[str, SiteView]) -> AdverseEvent:
        return cls(
            id=strawberry.ID(v.adverse_event_id),
            batch_id=strawberry.ID(v.batch_id),
            patient_code=strawberry.ID(v.patient_code),
            reported_by_site=Site.of(sites[v.reported_by_site_id]),
            serious=v.serious,
            aware_at=v.aware_at,
            reporting_deadline=v.reporting_deadline_at,
            submitted_to_authority_at=v.submitted_at,
            overdue=v.overdue,
            submitted_late=v.submitted_late,
            description=v.description,
            onset_at=v.onset_at,
            jurisdiction=v.jurisdiction,
            authority=v.authority,
            control_site_id=strawberry.ID(v.control_site_id),
            criteria=list(v.criteria),
            expected=v.expected,
            context=v.context,
            taiwan_regime=v.taiwan_regime,
            required_reports=[RequiredReport.of(o) for o in v.obligations],
            submissions=[AdverseEventSubmission.of(x) for x in v.submissions],
            follow_ups=[AdverseEventFollowUp.of(x) for x in v.follow_ups],
        )


@strawberry.input
class AdverseEventFilter:
    batch_id: strawberry.ID | None = None
    site_id: strawberry.ID | None = None
    overdue: bool | None = None
    control_site_id: strawberry.ID | None = strawberry.field(
        default=None, description="the cases of the batches of one control site"
    )


@strawberry.type
class DmMasterFile:
    control_site: Site
    recalls: list[Recall] = strawberry.field(
        description="added: the recalls that touch or notified the control site or its sites, "
        "as your reach shows them"
    )
    sites: list[Site]
    adverse_reaction_reports: list[AdverseEvent]
    reportable_deviations: list[ReportableDeviation] = strawberry.field(
        default_factory=list,
        description="deviations of the batches of its sites marked reportable, with deadlines",
    )


@strawberry.enum
class TraceDirection(Enum):
    FORWARD = "FORWARD"
    BACKWARD = "BACKWARD"
    BOTH = "BOTH"


@strawberry.enum
class TraceNodeKind(Enum):
    DONOR = "DONOR"
    DONATION = "DONATION"
    CELL_BANK = strawberry.enum_value(
        "CELL_BANK", description="a master or working cell bank (vials of one donation's cells)"
    )
    MATERIAL_LOT = "MATERIAL_LOT"
    BATCH = "BATCH"
    CONTAINER = strawberry.enum_value(
        "CONTAINER", description="a bag or vial of a batch, its id batchId/containerId"
    )
    SHIPMENT = "SHIPMENT"
    SITE = "SITE"
    PATIENT = "PATIENT"
    ADVERSE_EVENT = "ADVERSE_EVENT"


# A plain dict: an edge names two kinds, and a wide trace has thousands of edges.
_NODE_KINDS = {k.value: k for k in TraceNodeKind}


@strawberry.input
class TimeWindow:
    from_: datetime = strawberry.field(name="from")
    to: datetime


@strawberry.input(
    description="A SITE origin with a window means: what was made or handled at that site "
    "during the window."
)
class TraceOrigin:
    kind: TraceNodeKind
    id: strawberry.ID
    window: TimeWindow | None = None


@strawberry.type
class TraceNode:
    kind: TraceNodeKind
    id: strawberry.ID


@strawberry.type
class TraceEdge:
    from_id: strawberry.ID
    to_id: strawberry.ID
    relation: str
    at: datetime
    from_kind: TraceNodeKind
    to_kind: TraceNodeKind


@strawberry.type
class RecallTrace:
    origin: TraceNode
    direction: TraceDirection
    nodes: list[TraceNode]
    edges: list[TraceEdge]
    affected_batches: list[strawberry.ID]
    affected_patients: list[strawberry.ID]
    affected_sites: list[strawberry.ID]
    position: int = strawberry.field(description="ledger position the answer reflects")

    @classmethod
    def of(cls, t: Trace) -> RecallTrace:
        # Straight from the trace, not through its record: that would write every edge's time
        # as text only to parse it back, which a trace reaching thousands of edges feels.
        kind = _NODE_KINDS.__getitem__
        return cls(
            origin=TraceNode(kind=kind(t.origin.kind), id=strawberry.ID(t.origin.id)),
            direction=TraceDirection(t.direction),
            nodes=[TraceNode(kind=kind(k), id=strawberry.ID(i)) for k, i in t.nodes],
            edges=[
                TraceEdge(
                    from_kind=kind(e.from_kind),
                    from_id=strawberry.ID(e.from_id),
                    to_kind=kind(e.to_kind),
                    to_id=strawberry.ID(e.to_id),
                    relation=e.relation,
                    at=e.at,
                )
                for e in t.edges
            ],
            affected_batches=[strawberry.ID(i) for i in t.ids_of("BATCH")],
            affected_patients=[strawberry.ID(i) for i in t.ids_of("PATIENT")],
            affected_sites=[strawberry.ID(i) for i in t.ids_of("SITE")],
            position=t.position,
        )

    @classmethod
    def from_record(cls, kind: str, origin_id: str, r: dict[str, object]) -> RecallTrace:
        """From the plain form a recall keeps in its event (see domain.recall.Trace)."""
        nodes: list[list[str]] = r["nodes"]  # type: ignore[assignment]
        edges: list[list[str]] = r["edges"]  # type: ignore[assignment]
        return cls(
            origin=TraceNode(kind=TraceNodeKind(kind), id=strawberry.ID(origin_id)),
            direction=TraceDirection(r["direction"]),
            nodes=[TraceNode(kind=TraceNodeKind(k), id=strawberry.ID(i)) for k, i in nodes],
            edges=[
                TraceEdge(
                    from_kind=TraceNodeKind(fk),
                    from_id=strawberry.ID(fi),
                    to_kind=TraceNodeKind(tk),
                    to_id=strawberry.ID(ti),
                    relation=relation,
                    at=datetime.fromisoformat(at),
                )
                for fk, fi, tk, ti, relation, at in edges
            ],
            affected_batches=[strawberry.ID(i) for i in r["affected_batches"]],  # type: ignore[attr-defined]
            affected_patients=[strawberry.ID(i) for i in r["affected_patients"]],  # type: ignore[attr-defined]
            affected_sites=[strawberry.ID(i) for i in r["affected_sites"]],  # type: ignore[attr-defined]
            position=int(r["position"]),  # type: ignore[call-overload]
        )


@strawberry.type(description="A scope the recall was widened by (extendRecall), with its trace")
class RecallExtension:
    id: strawberry.ID
    reason: str
    origin: TraceNode
    trace: RecallTrace
    extended_at: datetime
    extended_by: str
    position: int


@strawberry.type
class Recall:
    id: strawberry.ID
    reason: str
    trace: RecallTrace
    initiated_at: datetime
    initiated_by: str
    # Added with the recall lifecycle (issue 17).
    status: RecallStatus = strawberry.field(description="added: OPEN until closeRecall")
    jurisdiction: str | None = strawberry.field(
        description="added: whose recall classes apply (domain/data/recall_classes.json)"
    )
    classification: str | None = strawberry.field(description="added: the recall class")
    classification_defaulted: bool = strawberry.field(
        description="added: true when none was given and the most urgent class was applied"
    )
    authority: str | None = strawberry.field(description="added: the authority informed")
    progress: RecallProgress = strawberry.field(description="added")
    notifications: list[RecallNotification] = strawberry.field(
        description="added: every notification when you are within the recall's own sites; "
        "otherwise those to your sites"
    )
    units: list[RecallUnit] = strawberry.field(description="added: the units to account for")
    actions: list[RecallAction] = strawberry.field(
        description="added: every action when you are within the recall's own sites; "
        "otherwise those at your sites"
    )
    extensions: list[RecallExtension] = strawberry.field(description="added")
    reports: list[RecallReport] = strawberry.field(description="added: to the authority")
    effectiveness_checks: list[RecallEffectivenessCheck] = strawberry.field(description="added")
    closed_at: datetime | None = strawberry.field(description="added")
    closed_by: str | None = strawberry.field(description="added")
    conclusion: str | None = strawberry.field(description="added: the closure's conclusion")

    @classmethod
    def of(cls, v: RecallView, cut: Callable[[str, str, dict[str, Any]], dict[str, Any]]) -> Recall:
        """From the view (with details); ``cut`` gives a stored trace as the reader may see it
        (projections.scopes.cut_trace with the reader's reach)."""
        initial = next(s for s in v.scopes if s.scope_id == "")
        return cls(
            id=strawberry.ID(v.recall_id),
            reason=v.reason,
            trace=RecallTrace.from_record(
                v.origin_kind, v.origin_id, cut(v.origin_kind, v.origin_id, initial.trace)
            ),
            initiated_at=v.initiated_at,
            initiated_by=v.initiated_by,
            status=RecallStatus(v.status),
            jurisdiction=v.jurisdiction,
            classification=v.classification,
            classification_defaulted=v.classification_defaulted,
            authority=v.authority,
            progress=RecallProgress(
                notified=v.notified,
                acknowledged=v.acknowledged,
                overdue_acknowledgements=v.overdue,
                units_in_scope=v.units_in_scope,
                units_accounted_for=v.units_accounted,
                units_quarantined=v.units_quarantined,
            ),
            notifications=[RecallNotification.of(n) for n in v.notifications],
            units=[RecallUnit.of(u) for u in v.units] if v.full else [],
            actions=[RecallAction.of(a) for a in v.actions],
            extensions=[
                RecallExtension(
                    id=strawberry.ID(s.scope_id),
                    reason=s.reason,
                    origin=TraceNode(
                        kind=TraceNodeKind(s.origin_kind), id=strawberry.ID(s.origin_id)
                    ),
                    trace=RecallTrace.from_record(
                        s.origin_kind, s.origin_id, cut(s.origin_kind, s.origin_id, s.trace)
                    ),
                    extended_at=s.scoped_at,
                    extended_by=s.scoped_by,
                    position=s.position,
                )
                for s in v.scopes
                if s.scope_id
            ],
            reports=[RecallReport.of(r) for r in v.reports],
            effectiveness_checks=[RecallEffectivenessCheck.of(c) for c in v.checks],
            closed_at=v.closed_at,
            closed_by=v.closed_by,
            conclusion=v.conclusion,
        )


@strawberry.type
class RecallConnection:
    nodes: list[Recall]
    page_info: PageInfo


@strawberry.input
class InitiateRecallInput:
    recall_id: strawberry.ID
    origin: TraceOrigin
    reason: str
    # Added with the recall lifecycle (issue 17); all optional.
    classification: str | None = strawberry.field(
        default=None,
        description="added: the recall class of the jurisdiction (e.g. CLASS_1 in the EU, UK "
        "and Taiwan, CLASS_I in the US; domain/data/recall_classes.json); when left out the "
        "most urgent class applies and the recall records that it was defaulted",
    )
    authority: str | None = strawberry.field(
        default=None, description="added: the authority to inform (a default per jurisdiction)"
    )
    jurisdiction: str | None = strawberry.field(
        default=None,
        description="added: whose classes apply; by default that of the control site of the "
        "first batch reached",
    )
    initiated_at: datetime | None = strawberry.field(
        default=None, description="added: when the decision was taken (default: now)"
    )
