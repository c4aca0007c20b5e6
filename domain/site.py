"""The Site aggregate: control sites and the decentralised sites they answer for.

Lifecycle (UK DM procedure for activating, suspending and terminating sites):

    REGISTERED --activate--> ACTIVE --suspend--> SUSPENDED --reinstate--> ACTIVE
         \\________________________\\_______________\\--terminate--> TERMINATED (final)

A modular unit or mobile unit may be relocated while it is not ACTIVE; it must then be
reinstated (requalified) before it makes anything again.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from domain.shared import (
    LedgerAggregate,
    LedgerCreated,
    RuleViolationError,
    SiteNotActiveError,
    SiteTerminatedError,
)

if TYPE_CHECKING:
    from domain.ledger import UnitOfWork


class SiteKind(StrEnum):
    CONTROL_SITE = "CONTROL_SITE"
    MODULAR_UNIT = "MODULAR_UNIT"
    POC_MOBILE = "POC_MOBILE"
    POC_HEALTHCARE_ESTABLISHMENT = "POC_HEALTHCARE_ESTABLISHMENT"
    POC_HOME = "POC_HOME"
    MEDICAL_INSTITUTION = "MEDICAL_INSTITUTION"
    CELL_BANK = "CELL_BANK"
    TESTING_LABORATORY = "TESTING_LABORATORY"


# Decentralised manufacturing sites: they operate only under a control site's quality system.
DECENTRALISED_KINDS = frozenset(
    {
        SiteKind.MODULAR_UNIT,
        SiteKind.POC_MOBILE,
        SiteKind.POC_HEALTHCARE_ESTABLISHMENT,
        SiteKind.POC_HOME,
    }
)
RELOCATABLE_KINDS = frozenset({SiteKind.MODULAR_UNIT, SiteKind.POC_MOBILE})


class SiteStatus(StrEnum):
    REGISTERED = "REGISTERED"
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    TERMINATED = "TERMINATED"


class Site(LedgerAggregate):
    TYPE = "Site"

    class Registered(LedgerAggregate.Event, LedgerCreated):
        name: str
        kind: str
        jurisdiction: str
        country: str
        supervising_authority: str
        licence_number: str | None
        control_site_id: str | None
        location: str | None
        contact: str | None = None

    class StatusChanged(LedgerAggregate.Event):
        """A change under the activation/suspension/termination procedure; always with a reason."""

        STATUS: ClassVar[SiteStatus]
        reason: str

        def apply(self, site: Site) -> None:
            site.status = self.STATUS
            site.history.append((self.STATUS, self.occurred_at))
            site.last_change_at = self.occurred_at

    class Activated(StatusChanged):
        STATUS = SiteStatus.ACTIVE

    class Suspended(StatusChanged):
        STATUS = SiteStatus.SUSPENDED

    class Reinstated(StatusChanged):
        STATUS = SiteStatus.ACTIVE

    class Terminated(StatusChanged):
        STATUS = SiteStatus.TERMINATED

    class Relocated(LedgerAggregate.Event):
        location: str
        country: str
        supervising_authority: str
        reason: str

        def apply(self, site: Site) -> None:
            site.location = self.location
            site.country = self.country
            site.supervising_authority = self.supervising_authority
            site.last_change_at = self.occurred_at

    def __init__(
        self,
        name: str,
        kind: str,
        jurisdiction: str,
        country: str,
        supervising_authority: str,
        licence_number: str | None,
        control_site_id: str | None,
        location: str | None,
        occurred_at: datetime,
        contact: str | None = None,
    ) -> None:
        self.name = name
        self.kind = SiteKind(kind)
        self.jurisdiction = jurisdiction
        self.country = country
        self.supervising_authority = supervising_authority
        self.licence_number = licence_number
        self.control_site_id = control_site_id
        self.location = location
        self.contact = contact
        self.status = SiteStatus.REGISTERED
        self.history: list[tuple[SiteStatus, datetime]] = [(SiteStatus.REGISTERED, occurred_at)]
        self.last_change_at = occurred_at

    @classmethod
    def create(
        cls,
        *,
        site_id: str,
        name: str,
        kind: str,
        jurisdiction: str,
        country: str,
        supervising_authority: str,
        licence_number: str | None = None,
        control_site_id: str | None = None,
        location: str | None = None,
        contact: str | None = None,
        occurred_at: datetime,
        actor: str,
        actor_role: str,
    ) -> Site:
        """A new site named ``site_id``: its Registered event, pending until saved."""
        return cls._create(
            cls.Registered,
            id=cls.ledger_id(site_id),
            name=name,
            kind=kind,
            jurisdiction=jurisdiction,
            country=country,
            supervising_authority=supervising_authority,
            licence_number=licence_number,
            control_site_id=control_site_id,
            location=location,
            contact=contact,
            occurred_at=occurred_at,
            actor=actor,
            actor_role=actor_role,
        )

    # ------------------------------------------------------------------------------- queries

    @property
    def is_control_site(self) -> bool:
        return self.kind is SiteKind.CONTROL_SITE

    def status_at(self, at: datetime) -> SiteStatus | None:
        """The status in force at business time ``at`` (None before registration)."""
        current: SiteStatus | None = None
        for status, effective in self.history:
            if effective > at:
                break
            current = status
        return current

    def require_active(self, at: datetime | None = None, until: datetime | None = None) -> None:
        """ACTIVE at ``at`` (now when None) and, given ``until``, without a break up to then."""
        status = self.status if at is None else self.status_at(at)
        if status is not SiteStatus.ACTIVE:
            raise SiteNotActiveError(self.key, status.value if status else "NOT_REGISTERED", at)
        if at is not None and until is not None:
            for change, effective in self.history:
                if at < effective <= until and change is not SiteStatus.ACTIVE:
                    raise SiteNotActiveError(self.key, change.value, effective)

    # ------------------------------------------------------------------------------ commands

    def activate(self, reason: str, occurred_at: datetime, **actor: Any) -> None:
        self._require_transition(SiteStatus.REGISTERED, "activated", occurred_at)
        self.trigger_event(self.Activated, reason=reason, occurred_at=occurred_at, **actor)

    def suspend(self, reason: str, occurred_at: datetime, **actor: Any) -> None:
        self._require_transition(SiteStatus.ACTIVE, "suspended", occurred_at)
        self.trigger_event(self.Suspended, reason=reason, occurred_at=occurred_at, **actor)

    def reinstate(self, reason: str, occurred_at: datetime, **actor: Any) -> None:
        self._require_transition(SiteStatus.SUSPENDED, "reinstated", occurred_at)
        self.trigger_event(self.Reinstated, reason=reason, occurred_at=occurred_at, **actor)

    def terminate(self, reason: str, occurred_at: datetime, **actor: Any) -> None:
        self._require_not_terminated()
        self._require_in_order(occurred_at)
        self.trigger_event(self.Terminated, reason=reason, occurred_at=occurred_at, **actor)

    def relocate(
        self,
        location: str,
        country: str,
        supervising_authority: str,
        reason: str,
        occurred_at: datetime,
        **actor: Any,
    ) -> None:
        self._require_not_terminated()
        if self.kind not in RELOCATABLE_KINDS:
            raise RuleViolationError(
                f"site {self.key!r} is a {self.kind.value}; only modular and mobile units "
                "are relocated",
                site_id=self.key,
            )
        if self.status is SiteStatus.ACTIVE:
            raise RuleViolationError(
                f"site {self.key!r} is ACTIVE; suspend it before relocating, then reinstate it "
                "once requalified at the new location",
                site_id=self.key,
            )
        self._require_in_order(occurred_at)
        self.trigger_event(
            self.Relocated,
            location=location,
            country=country,
            supervising_authority=supervising_authority,
            reason=reason,
            occurred_at=occurred_at,
            **actor,
        )

    # ---------------------------------------------------------------------------- internals

    def _require_not_terminated(self) -> None:
        if self.status is SiteStatus.TERMINATED:
            raise SiteTerminatedError(self.key)

    def _require_transition(self, expected: SiteStatus, verb: str, occurred_at: datetime) -> None:
        self._require_not_terminated()
        if self.status is not expected:
            raise RuleViolationError(
                f"site {self.key!r} is {self.status.value}; only a site that is "
                f"{expected.value} can be {verb}",
                site_id=self.key,
                status=self.status.value,
            )
        self._require_in_order(occurred_at)

    def _require_in_order(self, occurred_at: datetime) -> None:
        if occurred_at < self.last_change_at:
            raise RuleViolationError(
                f"effectiveAt {occurred_at.isoformat()} precedes the site's last recorded change "
                f"({self.last_change_at.isoformat()}); changes are recorded in order",
                site_id=self.key,
            )


def operating_site(
    uow: UnitOfWork, site_id: str, at: datetime, until: datetime | None = None
) -> Site:
    """The site, provided it (and its control site, if any) was ACTIVE at ``at`` and, given
    ``until``, throughout the time up to it. Both are read in ``uow``, so a change to either
    before the command's save refuses it (CONFLICT)."""
    site = uow.load(Site, site_id)
    site.require_active(at, until)
    if site.control_site_id is not None:
        control = uow.load(Site, site.control_site_id)
        try:
            control.require_active(at, until)
        except SiteNotActiveError as error:
            raise SiteNotActiveError(
                site_id, f"under control site {control.key!r}, which was not ACTIVE", at
            ) from error
    return site
