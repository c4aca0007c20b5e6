"""Holds on a batch: what stops a batch at the point of use, after release as before it.

A hold is derived from facts already in the ledger; no event places it. Each reason names the
event that raised it (``key`` = ``KIND:<aggregate id>@<version>``; an expiry is
``EXPIRED:<batch aggregate id>``), so a lift can name exactly what it lifts and a later fact
raises a new reason rather than reopening an old one. A batch B is held when:

- LOT_REJECTED: a material lot a step of B used is rejected (before or after use);
- CONSENT_WITHDRAWN / ELIGIBILITY_REVOKED: B's donor (any donor of a pooled B) withdraws
  consent or has eligibility revoked (look-back) once B is under way;
- QC_FAILED: any QC result of B fails, before or after release, whatever a retest says later;
- TEMPERATURE_EXCURSION: a shipment carrying B records a temperature outside the product's
  storage range, or a leg of B's starting material one outside the range stated at its
  dispatch (domain/custody_commands.py);
- EXPIRED: B's expiry (end of manufacture plus shelf life, frozen at release) has passed at the
  moment asked about, while B is still in the chain (not rejected, destroyed or administered);
- SITE_SUSPENDED: a site where a step of B was done was suspended (or terminated) with an
  effective time covering that step, even if the suspension was recorded later;
- RELEASE_VALUE_CORRECTED: after release, a correction re-wrote a field of a QC result or step
  recorded before the release.

Active holds are those raised minus those lifted (``Batch.HoldLifted``). Every fact recorded
counts, whatever business time it states; only expiry depends on the moment asked about. The
sources are loaded through the unit of work, so a fact recorded concurrently with a gated
command makes that command's save refuse (CONFLICT) instead of slipping past the gate.

Once B (or any container of a split B) is administered, every reason other than expiry recorded
after the first administration is a duty of each administering institution to tell the treating
physician of each patient given B or a container of it, open until acknowledged
(``Batch.PhysicianNotificationAcknowledged``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from domain import reference
from domain.batch import FINAL, Batch
from domain.donation import Donation
from domain.donor import Donor
from domain.material_lot import MaterialLot
from domain.shared import LedgerAggregate, LedgerEvent, RuleViolationError, utcnow
from domain.shipment import Shipment
from domain.site import Site

if TYPE_CHECKING:
    from domain.ledger import LedgerApplication, UnitOfWork


class HoldKind(StrEnum):
    LOT_REJECTED = "LOT_REJECTED"
    CONSENT_WITHDRAWN = "CONSENT_WITHDRAWN"
    ELIGIBILITY_REVOKED = "ELIGIBILITY_REVOKED"
    QC_FAILED = "QC_FAILED"
    TEMPERATURE_EXCURSION = "TEMPERATURE_EXCURSION"
    EXPIRED = "EXPIRED"
    SITE_SUSPENDED = "SITE_SUSPENDED"
    RELEASE_VALUE_CORRECTED = "RELEASE_VALUE_CORRECTED"


# An expired batch is never made usable again: it is rejected or destroyed.
NOT_LIFTABLE = frozenset({HoldKind.EXPIRED})
# Site changes that stop a site from making anything from their effective time on.
_STOPS = (Site.Suspended, Site.Terminated)
# The events of B whose values supported its release.
_RELEASE_VALUES = frozenset({"Batch.QcResultRecorded", "Batch.StepRecorded"})


@dataclass(frozen=True)
class HoldReason:
    kind: HoldKind
    key: str
    raised_at: datetime  # the business time the raising fact states (expiry: the expiry)
    description: str
    source_id: str
    source_version: int
    # When the ledger recorded the raising fact: what orders it against an administration.
    recorded_at: datetime


@dataclass(frozen=True)
class BatchHolds:
    """B's hold reasons at one moment, with what was lifted and acknowledged."""

    batch_id: str
    raised: tuple[HoldReason, ...]
    lifted: dict[str, datetime]
    # The duties every site that gave the batch (or a container of it) has acknowledged.
    acknowledged: frozenset[str]
    administered_recorded_at: datetime | None

    @property
    def active(self) -> list[HoldReason]:
        return [r for r in self.raised if r.key not in self.lifted]

    @property
    def duties(self) -> list[HoldReason]:
        """Reasons raised after the administration: the physician must be told of each."""
        given = self.administered_recorded_at
        if given is None:
            return []
        return [r for r in self.raised if r.kind is not HoldKind.EXPIRED and r.recorded_at > given]

    @property
    def open_duties(self) -> list[HoldReason]:
        return [r for r in self.duties if r.key not in self.acknowledged]

    def find(self, key: str) -> HoldReason | None:
        return next((r for r in self.raised if r.key == key), None)


# ------------------------------------------------------------------------------ public rules


def batch_holds(uow: UnitOfWork, batch: Batch, at: datetime) -> BatchHolds:
    """B's hold reasons as the ledger stands in ``uow``, expiry judged at ``at``."""
    history = events_of(uow, batch)
    found: dict[str, HoldReason] = {}
    for reason in _raised(uow, batch, history, at):
        found.setdefault(reason.key, reason)
    # A split batch: the first container given starts the duties, as a whole batch given does.
    given = [
        e.timestamp
        for e in history
        if isinstance(e, Batch.Administered | Batch.ContainerAdministered)
    ]
    return BatchHolds(
        batch_id=batch.key,
        raised=tuple(sorted(found.values(), key=lambda r: (r.recorded_at, r.key))),
        lifted=dict(batch.lifted),
        acknowledged=frozenset(
            k for k, sites in batch.acknowledged.items() if batch.given_at_sites <= sites
        ),
        administered_recorded_at=min(given, default=None),
    )


def holds_of(ledger: LedgerApplication, batch_id: str, at: datetime | None = None) -> BatchHolds:
    """B's holds from outside any command (a view's consistency check, a report)."""
    with ledger.unit_of_work() as uow:
        return batch_holds(uow, uow.load(Batch, batch_id), at or utcnow())


def active_holds(
    ledger: LedgerApplication, batch_id: str, at: datetime | None = None
) -> list[HoldReason]:
    return holds_of(ledger, batch_id, at).active


def describe(reasons: Iterable[HoldReason]) -> list[str]:
    return [f"hold {r.key} ({r.description})" for r in reasons]


def require_no_active_holds(uow: UnitOfWork, batch: Batch, at: datetime, act: str) -> None:
    """The gate at the point of use: refused while B has an active hold, naming every one."""
    active = batch_holds(uow, batch, at).active
    if active:
        raise RuleViolationError(
            f"batch {batch.key!r} is on hold; {act} is refused until the control site's "
            "quality person lifts it (or the batch is rejected or destroyed): "
            + "; ".join(describe(active)),
            batch_id=batch.key,
            holds=[r.key for r in active],
        )


def events_of(uow: UnitOfWork, aggregate: LedgerAggregate) -> list[LedgerEvent]:
    """The stored events of ``aggregate`` up to the version the unit of work read."""
    found = uow.ledger.events.get(aggregate.id, lte=aggregate.version)
    return [e for e in found if isinstance(e, LedgerEvent)]


# ------------------------------------------------------------------------------- derivation


def _reason(kind: HoldKind, event: LedgerEvent, raised_at: datetime, text: str) -> HoldReason:
    return HoldReason(
        kind=kind,
        key=f"{kind}:{event.originator_id}@{event.originator_version}",
        raised_at=raised_at,
        description=text,
        source_id=event.originator_id,
        source_version=event.originator_version,
        recorded_at=event.timestamp,
    )


def _raised(
    uow: UnitOfWork, batch: Batch, history: list[LedgerEvent], at: datetime
) -> Iterator[HoldReason]:
    steps = [e for e in history if isinstance(e, Batch.StepRecorded)]
    yield from _rejected_lots(uow, steps)
    for donation_id in batch.donation_ids:
        yield from _donor_holds(uow, batch, donation_id, history[0])
    yield from _failed_qc(history)
    yield from _excursions(uow, batch, history)
    yield from _starting_material_excursions(uow, batch)
    yield from _expiry(batch, history, at)
    yield from _suspended_sites(uow, steps)
    yield from _corrected_release_values(uow, history)


def _rejected_lots(uow: UnitOfWork, steps: list[Batch.StepRecorded]) -> Iterator[HoldReason]:
    for lot_id in sorted({lot for step in steps for lot in step.material_lots}):
        for e in events_of(uow, uow.load(MaterialLot, lot_id)):
            if isinstance(e, MaterialLot.Rejected):
                why = f": {e.reason}" if e.reason else ""
                yield _reason(
                    HoldKind.LOT_REJECTED, e, e.occurred_at, f"material lot {lot_id} rejected{why}"
                )


def _donor_holds(
    uow: UnitOfWork, batch: Batch, donation_id: str, started: LedgerEvent
) -> Iterator[HoldReason]:
    """Withdrawals and revocations once B is under way (earlier ones refused its start)."""
    donor = uow.load(Donor, uow.load(Donation, donation_id).donor_code)
    for e in events_of(uow, donor):
        if e.occurred_at < batch.started_at and e.timestamp < started.timestamp:
            continue
        if isinstance(e, Donor.ConsentWithdrawn):
            text = f"donor {donor.key} withdrew consent {e.consent_reference}: {e.reason}"
            yield _reason(HoldKind.CONSENT_WITHDRAWN, e, e.withdrawn_at, text)
        elif isinstance(e, Donor.EligibilityRevoked):
            text = f"eligibility of donor {donor.key} revoked: {e.reason}"
            yield _reason(HoldKind.ELIGIBILITY_REVOKED, e, e.occurred_at, text)


def _failed_qc(history: list[LedgerEvent]) -> Iterator[HoldReason]:
    for e in history:
        if isinstance(e, Batch.QcResultRecorded) and not e.passed:
            text = (
                f"{e.test} failed at {e.laboratory_site_id}: {e.result!r} against "
                f"{e.specification!r}"
            )
            yield _reason(HoldKind.QC_FAILED, e, e.tested_at, text)


def _excursions(uow: UnitOfWork, batch: Batch, history: list[LedgerEvent]) -> Iterator[HoldReason]:
    storage = reference.product(batch.product).storage
    shipments = dict.fromkeys(e.shipment_id for e in history if isinstance(e, Batch.Dispatched))
    for shipment_id in shipments:
        for e in events_of(uow, uow.load(Shipment, shipment_id)):
            if isinstance(e, Shipment.TemperatureExcursionRecorded) and not storage.allows(
                e.temperature_celsius
            ):
                text = (
                    f"shipment {shipment_id}: {e.temperature_celsius:g} °C for "
                    f"{e.duration_minutes} min, outside {storage.describe()}"
                )
                yield _reason(HoldKind.TEMPERATURE_EXCURSION, e, e.observed_at, text)


def _starting_material_excursions(uow: UnitOfWork, batch: Batch) -> Iterator[HoldReason]:
    """Temperatures outside the range stated for a leg of B's donation (each pooled one too),
    read by B's start (a shipped donation's legs are all received before a batch is started
    from it)."""
    legs = [e for d in batch.donation_ids for e in events_of(uow, uow.load(Donation, d))]
    for e in legs:
        if (
            isinstance(e, Donation.TemperatureRecorded)
            and e.outside_range
            and e.observed_at <= batch.started_at
        ):
            yield _reason(
                HoldKind.TEMPERATURE_EXCURSION, e, e.observed_at, starting_material_excursion(e)
            )


def starting_material_excursion(e: Donation.TemperatureRecorded) -> str:
    donation_id = e.originator_id.split(":", 1)[1]
    return (
        f"starting material {donation_id}, leg {e.shipment_id}: {e.temperature_celsius:g} °C "
        f"for {e.duration_minutes} min, outside the range stated at its dispatch"
    )


def _expiry(batch: Batch, history: list[LedgerEvent], at: datetime) -> Iterator[HoldReason]:
    if batch.status in FINAL:
        return
    released = [e for e in history if isinstance(e, Batch.Released)]
    expires_at = batch.expiry(reference.product(batch.product).shelf_life_days)
    if expires_at is None or at < expires_at:
        return
    source = released[-1] if released else history[-1]
    yield HoldReason(
        kind=HoldKind.EXPIRED,
        key=f"{HoldKind.EXPIRED}:{batch.id}",
        raised_at=expires_at,
        description=f"batch {batch.key} expired at {expires_at.isoformat()}",
        source_id=batch.id,
        source_version=source.originator_version,
        recorded_at=source.timestamp,
    )


def _suspended_sites(uow: UnitOfWork, steps: list[Batch.StepRecorded]) -> Iterator[HoldReason]:
    for step in steps:
        changes = [
            e
            for e in events_of(uow, uow.load(Site, step.site_id))
            if isinstance(e, Site.StatusChanged)
        ]
        in_force = [e for e in changes if e.occurred_at <= step.started_at]
        during = [e for e in changes if step.started_at < e.occurred_at <= step.completed_at]
        covering = in_force[-1:] + during
        for e in covering:
            if isinstance(e, _STOPS):
                text = (
                    f"site {step.site_id} {e.STATUS.lower()} from {e.occurred_at.isoformat()} "
                    f"({e.reason}), covering step {step.step!r} of {step.started_at.isoformat()}"
                )
                yield _reason(HoldKind.SITE_SUSPENDED, e, e.occurred_at, text)


def _corrected_release_values(uow: UnitOfWork, history: list[LedgerEvent]) -> Iterator[HoldReason]:
    released = next((e for e in history if isinstance(e, Batch.Released)), None)
    if released is None:
        return
    for e in history:
        if (
            isinstance(e, LedgerAggregate.Corrected)
            and e.originator_version > released.originator_version
            and e.corrected_event_type in _RELEASE_VALUES
            and _version_at(uow, e.corrected_position) < released.originator_version
        ):
            text = (
                f"after release, {e.field} of the {e.corrected_event_type} at ledger position "
                f"{e.corrected_position} was corrected from {e.old_value!r} to "
                f"{e.new_value!r}: {e.reason}"
            )
            yield _reason(HoldKind.RELEASE_VALUE_CORRECTED, e, e.occurred_at, text)


def _version_at(uow: UnitOfWork, position: int) -> int:
    """The aggregate version of the event stored at ledger ``position``."""
    found = uow.ledger.recorder.select_notifications(start=position, limit=1, stop=position)
    return int(found[0].originator_version) if found else 0
