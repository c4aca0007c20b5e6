"""The Batch aggregate (製劑批次): one patient's product from start to administration.

    IN_PROCESS --release--> RELEASED --dispatch--> DISTRIBUTED --administer--> ADMINISTERED
        |  \\--reject--> REJECTED                     (received, dispatched on...)
        \\--------- destroy (any time before administration) ---------> DESTROYED

Steps are recorded only while IN_PROCESS. QC results, deviations and custody are kept so the
release decision and the chain of custody can be checked without looking anywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from domain.custody import Whereabouts
from domain.isbt128 import chain_of_identity_for
from domain.shared import LedgerAggregate, LedgerCreated, RuleViolationError


class BatchStatus(StrEnum):
    IN_PROCESS = "IN_PROCESS"
    RELEASED = "RELEASED"
    REJECTED = "REJECTED"
    DISTRIBUTED = "DISTRIBUTED"
    ADMINISTERED = "ADMINISTERED"
    DESTROYED = "DESTROYED"


FINAL = frozenset({BatchStatus.REJECTED, BatchStatus.ADMINISTERED, BatchStatus.DESTROYED})


@dataclass(frozen=True)
class Receipt:
    shipment_id: str
    site_id: str
    received_at: datetime
    condition_acceptable: bool


CONTAINER_KINDS = ("BAG", "VIAL")
DOSE_UNITS = ("CELLS", "VECTOR_GENOMES")


def container_node(batch_id: str, container_id: str) -> str:
    """A container's identifier across the ledger: its batch's, then its own (a container id
    names a container within its batch, like a division of a donation's product code)."""
    return f"{batch_id}/{container_id}"


@dataclass
class Container:
    """One filled unit of a batch (a bag, a vial): what it holds, where it is and was (from its
    filling, by business time), how it ended."""

    container_id: str
    kind: str
    volume_ml: float
    dose: float
    dose_unit: str
    location: str
    whereabouts: Whereabouts
    in_transit: str | None = None
    receipt: Receipt | None = None
    administered_to: str | None = None
    administered_at: datetime | None = None
    destroyed: bool = False
    destroyed_at: datetime | None = None

    @property
    def used(self) -> bool:
        return self.administered_to is not None or self.destroyed

    @property
    def used_at(self) -> datetime | None:
        """When it was given or destroyed (None: neither)."""
        return self.administered_at if self.administered_to is not None else self.destroyed_at


class Batch(LedgerAggregate):
    TYPE = "Batch"

    class Started(LedgerAggregate.Event, LedgerCreated):
        class_version = 2

        product: str
        donation_id: str
        patient_code: str
        control_site_id: str
        site_id: str
        started_at: datetime
        chain_of_identity_id: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Batches started before the chain of identity was kept carry their donation's
            identifier, derived from the donation key as it is for a new batch."""
            state["chain_of_identity_id"] = chain_of_identity_for(state["donation_id"])

    class Pooled(LedgerAggregate.Event):
        """Further donations pooled with the first as the batch's starting material (an
        allogeneic batch from several donors): every pooled donor's rules apply to the batch."""

        donation_ids: tuple[str, ...]
        site_id: str
        pooled_at: datetime

        def apply(self, batch: Batch) -> None:
            batch.pooled_donation_ids = tuple(self.donation_ids)

    class StepRecorded(LedgerAggregate.Event):
        step: str
        site_id: str
        started_at: datetime
        completed_at: datetime
        operator: str
        equipment: str | None
        material_lots: tuple[str, ...]
        parameters: dict[str, Any] | None

        def apply(self, batch: Batch) -> None:
            batch.sites.add(self.site_id)
            batch.location = self.site_id
            batch.made_by = max(batch.made_by, self.completed_at)
            batch.moved(self.started_at)

    class ContainersFilled(LedgerAggregate.Event):
        """The batch filled into containers, each with its own identifier, volume and dose."""

        containers: tuple[dict[str, Any], ...]
        site_id: str
        filled_at: datetime

        def apply(self, batch: Batch) -> None:
            for c in self.containers:
                batch.containers[c["container_id"]] = Container(
                    container_id=c["container_id"],
                    kind=c["kind"],
                    volume_ml=c["volume_ml"],
                    dose=c["dose"],
                    dose_unit=c["dose_unit"],
                    location=self.site_id,
                    whereabouts=Whereabouts(self.site_id, self.filled_at),
                )

    class QcResultRecorded(LedgerAggregate.Event):
        test: str
        method: str
        specification: str
        result: str
        passed: bool
        tested_at: datetime
        laboratory_site_id: str

        def apply(self, batch: Batch) -> None:
            batch.qc.setdefault(self.test.upper(), []).append((self.tested_at, self.passed))
            batch.sites.add(self.laboratory_site_id)

    class DeviationOpened(LedgerAggregate.Event):
        deviation_id: str
        description: str

        def apply(self, batch: Batch) -> None:
            batch.deviations[self.deviation_id] = True
            batch.deviation_opened_at[self.deviation_id] = self.occurred_at

    class DeviationClosed(LedgerAggregate.Event):
        deviation_id: str
        resolution: str

        def apply(self, batch: Batch) -> None:
            batch.deviations[self.deviation_id] = False

    class Released(LedgerAggregate.Event):
        """The QP's certification: who signed, when, and what the signature means; with the
        shelf life and expiry in force at release, frozen so later product data never moves
        them (None on releases stored before version 2: the product data then tells)."""

        class_version = 2
        signature_meaning: str
        released_at: datetime
        qualified_person: str
        shelf_life_days: int | None
        expires_at: datetime | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["shelf_life_days"] = None
            state["expires_at"] = None

        def apply(self, batch: Batch) -> None:
            batch.status = BatchStatus.RELEASED
            batch.released_at = self.released_at
            batch.expires_at = self.expires_at

    class Rejected(LedgerAggregate.Event):
        reason: str

        def apply(self, batch: Batch) -> None:
            batch.status = BatchStatus.REJECTED

    class Destroyed(LedgerAggregate.Event):
        reason: str
        site_id: str

        def apply(self, batch: Batch) -> None:
            batch.status = BatchStatus.DESTROYED
            batch.used_at = self.occurred_at
            for c in batch.containers.values():
                if not c.used:
                    c.destroyed, c.destroyed_at = True, self.occurred_at

    class ContainersDestroyed(LedgerAggregate.Event):
        """Some of the batch's containers destroyed where they are; the rest stay usable."""

        container_ids: tuple[str, ...]
        reason: str
        site_id: str

        def apply(self, batch: Batch) -> None:
            for container_id in self.container_ids:
                container = batch.containers[container_id]
                container.destroyed, container.destroyed_at = True, self.occurred_at

    class Dispatched(LedgerAggregate.Event):
        """Version 2 names the containers moved (none for a batch not filled into any)."""

        class_version = 2
        shipment_id: str
        from_site_id: str
        to_site_id: str
        dispatched_at: datetime
        container_ids: tuple[str, ...] = ()

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["container_ids"] = ()

        def apply(self, batch: Batch) -> None:
            batch.status = BatchStatus.DISTRIBUTED
            batch.in_transit = self.shipment_id
            batch.last_moved_at = self.dispatched_at
            for container_id in self.container_ids:
                container = batch.containers[container_id]
                container.in_transit = self.shipment_id
                container.whereabouts.moved(None, self.dispatched_at, self.shipment_id)
            batch.moved(self.dispatched_at)

    class Received(LedgerAggregate.Event):
        """Version 2 names the containers received (those the shipment carried)."""

        class_version = 2
        shipment_id: str
        site_id: str
        received_at: datetime
        condition_acceptable: bool
        container_ids: tuple[str, ...] = ()

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["container_ids"] = ()

        def apply(self, batch: Batch) -> None:
            receipt = Receipt(
                self.shipment_id, self.site_id, self.received_at, self.condition_acceptable
            )
            for container_id in self.container_ids:
                container = batch.containers[container_id]
                container.in_transit = None
                container.location = self.site_id
                container.receipt = receipt
                container.whereabouts.moved(self.site_id, self.received_at)
            if not any(c.in_transit for c in batch.containers.values()):
                batch.in_transit = None
            batch.location = self.site_id
            batch.last_moved_at = self.received_at
            batch.receipts.append(receipt)
            batch.moved(self.received_at)

    class ReturnQuarantined(LedgerAggregate.Event):
        """A product received back on a return shipment: quarantined until the quality unit
        assesses it (issue 18, item 2)."""

        shipment_id: str
        site_id: str
        received_at: datetime

        def apply(self, batch: Batch) -> None:
            batch.returned_on = self.shipment_id

    class ReturnAssessed(LedgerAggregate.Event):
        """The quality unit's decision on a returned product: RELEASE_FOR_REUSE or DESTROY."""

        shipment_id: str
        outcome: str
        reason: str
        assessed_at: datetime

        def apply(self, batch: Batch) -> None:
            batch.returned_on = None
            batch.return_outcome = self.outcome

    class Recalled(LedgerAggregate.Event):
        """A recall reached this batch: it may not be released, dispatched or administered."""

        recall_id: str

        def apply(self, batch: Batch) -> None:
            batch.recalls.append(self.recall_id)

    class Administered(LedgerAggregate.Event):
        """The batch used up: given whole, or its last container given (``container_id``,
        version 2; None when the batch was given whole)."""

        class_version = 2
        site_id: str
        patient_code: str
        administered_at: datetime
        identity_verified: bool
        container_id: str | None = None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["container_id"] = None

        def apply(self, batch: Batch) -> None:
            batch.status = BatchStatus.ADMINISTERED
            batch.administered_at = self.administered_at
            batch.used_at = self.administered_at
            batch.administered_site_id = self.site_id
            batch.administered_patients.add(self.patient_code)
            batch.given_at_sites.add(self.site_id)
            given = [self.container_id] if self.container_id else list(batch.containers)
            for container_id in given:
                container = batch.containers[container_id]
                if not container.used:
                    container.administered_to = self.patient_code
                    container.administered_at = self.administered_at

    class ContainerAdministered(LedgerAggregate.Event):
        """One container given to a patient while others of the batch remain to be used (an
        allogeneic batch split into doses for many patients)."""

        container_id: str
        site_id: str
        patient_code: str
        administered_at: datetime
        identity_verified: bool

        def apply(self, batch: Batch) -> None:
            container = batch.containers[self.container_id]
            container.administered_to = self.patient_code
            container.administered_at = self.administered_at
            batch.administered_patients.add(self.patient_code)
            batch.given_at_sites.add(self.site_id)

    class HoldLifted(LedgerAggregate.Event):
        """The control site's quality person lifts holds (domain/holds.py), a signed decision."""

        keys: tuple[str, ...]
        reason: str
        signature_meaning: str
        lifted_at: datetime
        deviation_id: str | None

        def apply(self, batch: Batch) -> None:
            for key in self.keys:
                batch.lifted[key] = self.lifted_at

    class PhysicianNotificationAcknowledged(LedgerAggregate.Event):
        """The administering institution told the treating physician of holds raised after
        the administration (each site that gave the batch or a container of it tells its own
        patients' physicians)."""

        keys: tuple[str, ...]
        site_id: str
        acknowledged_at: datetime
        note: str | None

        def apply(self, batch: Batch) -> None:
            for key in self.keys:
                batch.acknowledged.setdefault(key, set()).add(self.site_id)

    def __init__(
        self,
        product: str,
        donation_id: str,
        patient_code: str,
        control_site_id: str,
        site_id: str,
        started_at: datetime,
        chain_of_identity_id: str,
    ) -> None:
        self.product = product
        self.donation_id = donation_id
        self.patient_code = patient_code
        self.control_site_id = control_site_id
        self.site_id = site_id
        self.started_at = started_at
        self.chain_of_identity_id = chain_of_identity_id
        self.status = BatchStatus.IN_PROCESS
        self.sites: set[str] = {site_id}
        self.qc: dict[str, list[tuple[datetime, bool]]] = {}
        self.deviations: dict[str, bool] = {}
        self.deviation_opened_at: dict[str, datetime] = {}  # business time of each opening
        self.released_at: datetime | None = None
        self.location = site_id
        self.in_transit: str | None = None
        self.last_moved_at = started_at
        self.receipts: list[Receipt] = []
        self.recalls: list[str] = []
        # A return received and not yet assessed (its shipment), and the last assessment.
        self.returned_on: str | None = None
        self.return_outcome: str | None = None
        self.made_by = started_at
        self.administered_at: datetime | None = None
        self.administered_site_id: str | None = None
        self.expires_at: datetime | None = None  # frozen at release
        self.lifted: dict[str, datetime] = {}  # hold key -> when it was lifted
        # hold key -> the administering sites that told their patients' physicians of it
        self.acknowledged: dict[str, set[str]] = {}
        self.containers: dict[str, Container] = {}  # filled units, in the order filled
        self.administered_patients: set[str] = set()
        self.given_at_sites: set[str] = set()  # where the batch or any container was given
        self.pooled_donation_ids: tuple[str, ...] = ()  # donations pooled with the first
        # Where the batch was, by business time: its location and transit as they changed
        # (a step at another site, a dispatch, a receipt); and when it was used up (given
        # whole or its last container given, or destroyed).
        self.whereabouts = Whereabouts(site_id, started_at)
        self.used_at: datetime | None = None

    def moved(self, at: datetime) -> None:
        """Note where the batch is from ``at`` (in transit while it, or any container of it,
        is on a shipment; else its location), as its events change it."""
        moving = self.in_transit
        if moving is not None:
            moving = next((c.in_transit for c in self.containers.values() if c.in_transit), moving)
        self.whereabouts.moved(None if moving else self.location, at, moving)

    def first_given_to(self, patient_code: str) -> datetime | None:
        """When ``patient_code`` was first given the batch or a container of it."""
        times = [
            c.administered_at for c in self.containers.values() if c.administered_to == patient_code
        ]
        if patient_code == self.patient_code and self.administered_at is not None:
            times.append(self.administered_at)
        return min((t for t in times if t is not None), default=None)

    @classmethod
    def create(
        cls,
        *,
        batch_id: str,
        product: str,
        donation_id: str,
        patient_code: str,
        control_site_id: str,
        site_id: str,
        started_at: datetime,
        occurred_at: datetime,
        actor: str,
        actor_role: str,
    ) -> Batch:
        """A new batch named ``batch_id``: its Started event, pending until saved."""
        return cls._create(
            cls.Started,
            id=cls.ledger_id(batch_id),
            product=product,
            donation_id=donation_id,
            patient_code=patient_code,
            control_site_id=control_site_id,
            site_id=site_id,
            started_at=started_at,
            chain_of_identity_id=chain_of_identity_for(donation_id),
            occurred_at=occurred_at,
            actor=actor,
            actor_role=actor_role,
        )

    def pool(self, donation_ids: tuple[str, ...], **fields: Any) -> None:
        """Name the donations pooled with the first (the group checked each may be used)."""
        self.trigger_event(
            self.Pooled,
            donation_ids=donation_ids,
            site_id=self.site_id,
            pooled_at=self.started_at,
            occurred_at=self.started_at,
            **fields,
        )

    @property
    def donation_ids(self) -> tuple[str, ...]:
        """Every donation the batch was made from: the first, then those pooled with it."""
        return (self.donation_id, *self.pooled_donation_ids)

    # ------------------------------------------------------------------------------- queries

    @property
    def open_deviations(self) -> list[str]:
        return sorted(d for d, is_open in self.deviations.items() if is_open)

    def qc_outcome(self, test: str, at: datetime) -> bool | None:
        """The latest result of ``test`` obtained by ``at`` (None when there is none yet)."""
        results = [r for r in self.qc.get(test, []) if r[0] <= at]
        return max(results, key=lambda r: r[0])[1] if results else None

    def release_blockers(self, required_tests: frozenset[str], at: datetime) -> list[str]:
        """What stands in the way of a release at ``at``, as far as the batch itself knows."""
        reasons = []
        outcomes = {t: self.qc_outcome(t, at) for t in required_tests}
        missing = sorted(t for t, passed in outcomes.items() if passed is None)
        failed = sorted(t for t, passed in outcomes.items() if passed is False)
        if missing:
            reasons.append(f"required QC results missing: {', '.join(missing)}")
        if failed:
            reasons.append(f"required QC tests not passed: {', '.join(failed)}")
        if self.open_deviations:
            reasons.append(f"deviations still open: {', '.join(self.open_deviations)}")
        return reasons

    def expiry(self, shelf_life_days: int | None) -> datetime | None:
        """End of manufacture plus the shelf life: frozen at release when it was recorded."""
        if self.expires_at is not None or shelf_life_days is None:
            return self.expires_at
        return self.made_by + timedelta(days=shelf_life_days)

    def lift_holds(self, keys: tuple[str, ...], lifted_at: datetime, **fields: Any) -> None:
        """Lift the named holds (the group checked they are active and may be lifted)."""
        if lifted_at < self.started_at:
            raise RuleViolationError(
                f"liftedAt {lifted_at.isoformat()} precedes the start of batch {self.key!r}",
                batch_id=self.key,
            )
        self.trigger_event(
            self.HoldLifted, keys=keys, lifted_at=lifted_at, occurred_at=lifted_at, **fields
        )

    def acknowledge_notification(
        self, keys: tuple[str, ...], site_id: str, acknowledged_at: datetime, **fields: Any
    ) -> None:
        """Record that the physician was told (the group checked the keys are open duties)."""
        if site_id not in self.given_at_sites | {self.administered_site_id}:
            raise RuleViolationError(
                f"batch {self.key!r} was not administered at {site_id!r}; only the "
                "administering institution acknowledges the physician's notification",
                batch_id=self.key,
            )
        if self.administered_at is not None and acknowledged_at < self.administered_at:
            raise RuleViolationError(
                f"acknowledgedAt {acknowledged_at.isoformat()} precedes the administration",
                batch_id=self.key,
            )
        self.trigger_event(
            self.PhysicianNotificationAcknowledged,
            keys=keys,
            site_id=site_id,
            acknowledged_at=acknowledged_at,
            occurred_at=acknowledged_at,
            **fields,
        )

    def received_at_site(self, site_id: str) -> Receipt | None:
        """The last receipt of the batch at ``site_id`` if it is there now."""
        if self.in_transit is not None or self.location != site_id:
            return None
        return next((r for r in reversed(self.receipts) if r.site_id == site_id), None)

    # ------------------------------------------------------------------------------ commands

    def require_not_recalled(self, act: str) -> None:
        if self.recalls:
            raise RuleViolationError(
                f"batch {self.key!r} is under recall {', '.join(self.recalls)}; {act} is refused",
                batch_id=self.key,
            )

    def require_return_assessed(self, act: str) -> None:
        """A returned product waits in quarantine for the quality unit's assessment; one
        assessed for destruction never moves again."""
        if self.returned_on is not None:
            raise RuleViolationError(
                f"batch {self.key!r} was returned on shipment {self.returned_on!r} and is "
                f"quarantined until the quality unit assesses it (assessReturn); {act} is refused",
                batch_id=self.key,
                reason="RETURN_NOT_ASSESSED",
            )
        if self.return_outcome == "DESTROY":
            raise RuleViolationError(
                f"batch {self.key!r} was assessed for destruction after its return; {act} is "
                "refused",
                batch_id=self.key,
                reason="RETURN_TO_BE_DESTROYED",
            )

    def quarantine_return(self, shipment_id: str, site_id: str, at: datetime, **actor: Any) -> None:
        self.trigger_event(
            self.ReturnQuarantined,
            shipment_id=shipment_id,
            site_id=site_id,
            received_at=at,
            occurred_at=at,
            **actor,
        )

    def assess_return(self, outcome: str, reason: str, at: datetime, **actor: Any) -> None:
        if self.returned_on is None:
            raise RuleViolationError(
                f"batch {self.key!r} awaits no assessment: no return of it was received since "
                "the last one",
                batch_id=self.key,
            )
        if outcome == "RELEASE_FOR_REUSE" and self.recalls:
            raise RuleViolationError(
                f"batch {self.key!r} is under recall {', '.join(self.recalls)}; a recalled "
                "product returned is not released for reuse",
                batch_id=self.key,
                reason="RECALLED_NOT_REUSED",
            )
        self._require_not_before_last_move(at)
        self.trigger_event(
            self.ReturnAssessed,
            shipment_id=self.returned_on,
            outcome=outcome,
            reason=reason,
            assessed_at=at,
            occurred_at=at,
            **actor,
        )

    def mark_recalled(self, recall_id: str, **context: Any) -> None:
        """Mark the batch recalled, unless it no longer exists to recall (rejected or
        destroyed: the recall's trace still lists it)."""
        gone = self.status in (BatchStatus.REJECTED, BatchStatus.DESTROYED)
        if recall_id not in self.recalls and not gone:
            self.trigger_event(self.Recalled, recall_id=recall_id, **context)

    def require_status(self, allowed: frozenset[BatchStatus] | set[BatchStatus], act: str) -> None:
        if self.status not in allowed:
            raise RuleViolationError(
                f"batch {self.key!r} is {self.status.value}; {act} needs it "
                f"{' or '.join(sorted(s.value for s in allowed))}",
                batch_id=self.key,
                status=self.status.value,
            )

    def require_after_start(self, at: datetime, field: str) -> None:
        if at < self.started_at:
            raise RuleViolationError(
                f"{field} {at.isoformat()} precedes the start of batch {self.key!r} "
                f"({self.started_at.isoformat()})",
                batch_id=self.key,
            )

    def _require_not_before_last_move(self, at: datetime) -> None:
        """A decision on the batch (rejection, destruction) takes effect where it is, so not
        before it got there (nor before its start)."""
        if at < self.last_moved_at:
            raise RuleViolationError(
                f"decidedAt {at.isoformat()} precedes the batch's start or last movement "
                f"({self.last_moved_at.isoformat()})",
                batch_id=self.key,
            )

    def record_step(self, **fields: Any) -> None:
        self.require_status({BatchStatus.IN_PROCESS}, "recording a manufacturing step")
        self.require_after_start(fields["started_at"], "startedAt")
        self.trigger_event(self.StepRecorded, occurred_at=fields["completed_at"], **fields)

    def fill_containers(
        self,
        containers: tuple[dict[str, Any], ...],
        site_id: str,
        filled_at: datetime,
        **actor: Any,
    ) -> None:
        """Fill the batch into containers: before release, after the start, each identifier new
        to the batch."""
        self.require_status({BatchStatus.IN_PROCESS}, "filling containers")
        self.require_after_start(filled_at, "filledAt")
        known = sorted(
            c["container_id"] for c in containers if c["container_id"] in self.containers
        )
        if known:
            raise RuleViolationError(
                f"batch {self.key!r} already has containers {', '.join(known)}",
                batch_id=self.key,
                container_ids=known,
            )
        self.trigger_event(
            self.ContainersFilled,
            containers=containers,
            site_id=site_id,
            filled_at=filled_at,
            occurred_at=filled_at,
            **actor,
        )

    def container(self, container_id: str) -> Container:
        """The batch's container ``container_id`` (refused when the batch has none of that id)."""
        found = self.containers.get(container_id)
        if found is None:
            raise RuleViolationError(
                f"batch {self.key!r} has no container {container_id!r}",
                batch_id=self.key,
                container_id=container_id,
            )
        return found

    @property
    def containers_left(self) -> list[Container]:
        """Containers neither administered nor destroyed."""
        return [c for c in self.containers.values() if not c.used]

    def record_qc_result(self, **fields: Any) -> None:
        self.require_status({BatchStatus.IN_PROCESS, BatchStatus.RELEASED}, "a QC result")
        self.require_after_start(fields["tested_at"], "testedAt")
        self.trigger_event(self.QcResultRecorded, occurred_at=fields["tested_at"], **fields)

    def open_deviation(self, deviation_id: str, description: str, **context: Any) -> None:
        if deviation_id in self.deviations:
            raise RuleViolationError(
                f"deviation {deviation_id!r} is already recorded on batch {self.key!r}",
                batch_id=self.key,
            )
        self.require_status(set(BatchStatus) - FINAL, "opening a deviation")
        self.require_after_start(context["occurred_at"], "openedAt")
        self.trigger_event(
            self.DeviationOpened, deviation_id=deviation_id, description=description, **context
        )

    def close_deviation(self, deviation_id: str, resolution: str, **context: Any) -> None:
        if self.deviations.get(deviation_id) is not True:
            state = "already closed" if deviation_id in self.deviations else "not recorded"
            raise RuleViolationError(
                f"deviation {deviation_id!r} is {state} on batch {self.key!r}", batch_id=self.key
            )
        opened_at = self.deviation_opened_at[deviation_id]
        if context["occurred_at"] < opened_at:
            raise RuleViolationError(
                f"closedAt {context['occurred_at'].isoformat()} precedes the opening of deviation "
                f"{deviation_id!r} ({opened_at.isoformat()})",
                batch_id=self.key,
            )
        self.trigger_event(
            self.DeviationClosed, deviation_id=deviation_id, resolution=resolution, **context
        )

    def release(
        self,
        signature_meaning: str,
        released_at: datetime,
        shelf_life_days: int | None = None,
        **actor: Any,
    ) -> None:
        self.require_status({BatchStatus.IN_PROCESS}, "release")
        self.require_not_recalled("release")
        if released_at < self.made_by:
            raise RuleViolationError(
                f"releasedAt {released_at.isoformat()} precedes the completion of the last "
                f"manufacturing step of batch {self.key!r} ({self.made_by.isoformat()})",
                batch_id=self.key,
            )
        self.trigger_event(
            self.Released,
            signature_meaning=signature_meaning,
            released_at=released_at,
            qualified_person=actor["actor"],
            shelf_life_days=shelf_life_days,
            expires_at=self.expiry(shelf_life_days),
            occurred_at=released_at,
            **actor,
        )

    def reject(self, reason: str, **context: Any) -> None:
        self.require_status({BatchStatus.IN_PROCESS, BatchStatus.RELEASED}, "rejection")
        if self.in_transit:
            raise RuleViolationError(
                f"batch {self.key!r} is in transit; receive it before rejecting", batch_id=self.key
            )
        self._require_not_before_last_move(context["occurred_at"])
        self.trigger_event(self.Rejected, reason=reason, **context)

    def destroy(self, reason: str, **context: Any) -> None:
        self.require_status(set(BatchStatus) - FINAL | {BatchStatus.REJECTED}, "destruction")
        if self.in_transit:
            raise RuleViolationError(
                f"batch {self.key!r} is in transit; receive it before destroying",
                batch_id=self.key,
            )
        self._require_not_before_last_move(context["occurred_at"])
        self.trigger_event(self.Destroyed, reason=reason, site_id=self.location, **context)

    def dispatch(
        self,
        shipment_id: str,
        from_site_id: str,
        to_site_id: str,
        at: datetime,
        container_ids: tuple[str, ...] = (),
        returning: bool = False,
        **actor: Any,
    ) -> tuple[str, ...]:
        """Dispatch the batch, or the named containers of it; the containers moved are
        returned (every container left at ``from_site_id`` when none is named). A return
        (``returning``, checked by the caller to go to the batch's control or manufacturing
        site) is the one dispatch a recalled batch may have."""
        self.require_status({BatchStatus.RELEASED, BatchStatus.DISTRIBUTED}, "dispatch")
        if not returning:
            self.require_not_recalled("dispatch")
        self.require_return_assessed("dispatch")
        if self.containers or container_ids:
            moved = self._containers_to_dispatch(from_site_id, container_ids)
            received = [self.containers[c].receipt for c in moved]
            since = [r.received_at for r in received if r is not None]
            if self.released_at is not None:
                since.append(self.released_at)
            if any(at < moment for moment in since):
                raise RuleViolationError(
                    f"dispatchedAt {at.isoformat()} precedes the batch's release or the "
                    "containers' last receipt",
                    batch_id=self.key,
                )
            self.trigger_event(
                self.Dispatched,
                shipment_id=shipment_id,
                from_site_id=from_site_id,
                to_site_id=to_site_id,
                dispatched_at=at,
                container_ids=moved,
                occurred_at=at,
                **actor,
            )
            return moved
        if self.in_transit is not None:
            raise RuleViolationError(
                f"batch {self.key!r} is already in transit in shipment {self.in_transit!r}",
                batch_id=self.key,
            )
        if self.location != from_site_id:
            raise RuleViolationError(
                f"batch {self.key!r} is at site {self.location!r}, not {from_site_id!r}",
                batch_id=self.key,
            )
        if at < self.last_moved_at or (self.released_at and at < self.released_at):
            raise RuleViolationError(
                f"dispatchedAt {at.isoformat()} precedes the batch's release or last movement",
                batch_id=self.key,
            )
        self.trigger_event(
            self.Dispatched,
            shipment_id=shipment_id,
            from_site_id=from_site_id,
            to_site_id=to_site_id,
            dispatched_at=at,
            container_ids=(),
            occurred_at=at,
            **actor,
        )
        return ()

    def _containers_to_dispatch(
        self, from_site_id: str, container_ids: tuple[str, ...]
    ) -> tuple[str, ...]:
        if not self.containers:
            raise RuleViolationError(
                f"batch {self.key!r} was not filled into containers; it is shipped whole",
                batch_id=self.key,
            )
        named = [self.container(c) for c in container_ids]
        if not named:
            named = [c for c in self.containers_left if not c.in_transit]
            named = [c for c in named if c.location == from_site_id]
            if not named:
                raise RuleViolationError(
                    f"batch {self.key!r} has no container left at {from_site_id!r} to dispatch",
                    batch_id=self.key,
                )
        for c in named:
            if c.used or c.in_transit or c.location != from_site_id:
                where = (
                    "used"
                    if c.used
                    else f"in transit in {c.in_transit!r}"
                    if c.in_transit
                    else f"at {c.location!r}"
                )
                raise RuleViolationError(
                    f"container {c.container_id!r} of batch {self.key!r} is {where}, not "
                    f"ready at {from_site_id!r}",
                    batch_id=self.key,
                    container_id=c.container_id,
                )
        return tuple(c.container_id for c in named)

    def receive(
        self, shipment_id: str, site_id: str, at: datetime, acceptable: bool, **actor: Any
    ) -> None:
        carried = tuple(
            c.container_id for c in self.containers.values() if c.in_transit == shipment_id
        )
        self.trigger_event(
            self.Received,
            shipment_id=shipment_id,
            site_id=site_id,
            received_at=at,
            condition_acceptable=acceptable,
            container_ids=carried,
            occurred_at=at,
            **actor,
        )

    def administer(
        self,
        site_id: str,
        patient_code: str,
        at: datetime,
        identity_verified: bool,
        container_id: str | None = None,
        one_patient: bool = True,
        **actor: Any,
    ) -> None:
        """Give the batch whole, or one container of it. ``one_patient``: the product is made
        for the batch's patient only (autologous); an allogeneic batch's containers may each go
        to another patient."""
        self.require_status({BatchStatus.DISTRIBUTED}, "administration")
        self.require_not_recalled("administration")
        self.require_return_assessed("administration")
        if container_id is not None:
            self._administer_container(
                container_id, site_id, patient_code, at, identity_verified, one_patient, **actor
            )
            return
        if any(c.used for c in self.containers.values()):
            raise RuleViolationError(
                f"some containers of batch {self.key!r} are already used; name the container "
                "given (containerId)",
                batch_id=self.key,
            )
        receipt = self.received_at_site(site_id)
        if receipt is None:
            raise RuleViolationError(
                f"batch {self.key!r} has not been received at {site_id!r}; administration needs "
                "a received shipment at that institution",
                batch_id=self.key,
            )
        if not receipt.condition_acceptable:
            raise RuleViolationError(
                f"batch {self.key!r} was received at {site_id!r} in unacceptable condition",
                batch_id=self.key,
            )
        if not identity_verified or patient_code != self.patient_code:
            raise RuleViolationError(
                f"chain-of-identity check failed for batch {self.key!r}: the patient code must "
                "match the batch and identity must be verified at the bedside",
                batch_id=self.key,
            )
        if at < receipt.received_at:
            raise RuleViolationError(
                f"administeredAt {at.isoformat()} precedes receipt at {site_id!r} "
                f"({receipt.received_at.isoformat()})",
                batch_id=self.key,
            )
        self.trigger_event(
            self.Administered,
            site_id=site_id,
            patient_code=patient_code,
            administered_at=at,
            identity_verified=identity_verified,
            container_id=None,
            occurred_at=at,
            **actor,
        )

    def _administer_container(
        self,
        container_id: str,
        site_id: str,
        patient_code: str,
        at: datetime,
        identity_verified: bool,
        one_patient: bool,
        **actor: Any,
    ) -> None:
        container = self.container(container_id)
        if container.used:
            raise RuleViolationError(
                f"container {container_id!r} of batch {self.key!r} is already "
                + ("destroyed" if container.destroyed else "administered"),
                batch_id=self.key,
                container_id=container_id,
            )
        receipt = container.receipt
        if container.in_transit or container.location != site_id or receipt is None:
            raise RuleViolationError(
                f"container {container_id!r} of batch {self.key!r} has not been received at "
                f"{site_id!r}; administration needs a received shipment at that institution",
                batch_id=self.key,
                container_id=container_id,
            )
        if not receipt.condition_acceptable:
            raise RuleViolationError(
                f"container {container_id!r} of batch {self.key!r} was received at "
                f"{site_id!r} in unacceptable condition",
                batch_id=self.key,
                container_id=container_id,
            )
        if not identity_verified or (one_patient and patient_code != self.patient_code):
            raise RuleViolationError(
                f"chain-of-identity check failed for batch {self.key!r}: the patient code must "
                "match the batch and identity must be verified at the bedside",
                batch_id=self.key,
            )
        if at < receipt.received_at:
            raise RuleViolationError(
                f"administeredAt {at.isoformat()} precedes receipt of container "
                f"{container_id!r} at {site_id!r} ({receipt.received_at.isoformat()})",
                batch_id=self.key,
            )
        last = [c.container_id for c in self.containers_left] == [container_id]
        fields = {
            "site_id": site_id,
            "patient_code": patient_code,
            "administered_at": at,
            "identity_verified": identity_verified,
            "container_id": container_id,
            "occurred_at": at,
        }
        self.trigger_event(
            self.Administered if last else self.ContainerAdministered, **fields, **actor
        )

    def destroy_containers(
        self, container_ids: tuple[str, ...], reason: str, **context: Any
    ) -> None:
        """Destroy the named containers where they are; the batch itself is destroyed when no
        container is left."""
        self.require_status(set(BatchStatus) - FINAL | {BatchStatus.REJECTED}, "destruction")
        named = [self.container(c) for c in container_ids]
        sites = {c.location for c in named}
        for c in named:
            if c.used or c.in_transit:
                state = "in transit" if c.in_transit else "already used"
                raise RuleViolationError(
                    f"container {c.container_id!r} of batch {self.key!r} is {state}; it cannot "
                    "be destroyed",
                    batch_id=self.key,
                    container_id=c.container_id,
                )
        if len(sites) != 1:
            raise RuleViolationError(
                f"containers {', '.join(container_ids)} of batch {self.key!r} are at different "
                "sites; destroy them one site at a time",
                batch_id=self.key,
            )
        site_id = sites.pop()
        if {c.container_id for c in named} == {c.container_id for c in self.containers_left}:
            self.destroy(reason, **context)
            return
        self.trigger_event(
            self.ContainersDestroyed,
            container_ids=container_ids,
            reason=reason,
            site_id=site_id,
            **context,
        )
