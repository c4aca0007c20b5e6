"""Commands on the site network: each checks every rule first, then records, or stores nothing."""

from __future__ import annotations

from datetime import datetime

from domain.ledger import LedgerApplication, UnitOfWork, actor
from domain.shared import (
    BadInputError,
    CommandResult,
    ConflictError,
    Principal,
    RuleViolationError,
    require_country,
    require_identifier,
    require_not_future,
    require_text,
    utcnow,
)
from domain.site import DECENTRALISED_KINDS, Site, SiteKind, SiteStatus
from domain.site_authorisation import (
    require_licence,
    require_same_area,
    require_supervising_authority,
)


class SiteCommands:
    """Registering sites and changing their status or location."""

    def __init__(self, ledger: LedgerApplication) -> None:
        self.ledger = ledger

    def register_site(
        self,
        principal: Principal,
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
        registered_at: datetime | None = None,
        contact: str | None = None,
    ) -> CommandResult:
        site_id = require_identifier(site_id, "id")
        site_kind = _site_kind(kind)
        country = require_country(country, jurisdiction)
        occurred_at = require_not_future(registered_at or utcnow(), "registeredAt", utcnow())
        name = require_text(name, "name")
        supervising_authority = require_text(supervising_authority, "supervisingAuthority")
        licence_number, location = _optional_text(licence_number), _optional_text(location)
        contact = _optional_text(contact)
        with self.ledger.unit_of_work() as uow:
            control_site_id = _check_control_site_link(uow, site_kind, control_site_id)
            if uow.exists(Site, site_id):
                raise ConflictError(f"site {site_id!r} is already registered", id=site_id)
            require_supervising_authority(jurisdiction, country, supervising_authority)
            if control_site_id is not None:
                require_same_area(uow.load(Site, control_site_id), jurisdiction, country)
            site = Site.create(
                site_id=site_id,
                name=name,
                kind=site_kind.value,
                jurisdiction=jurisdiction,
                country=country,
                supervising_authority=supervising_authority,
                licence_number=licence_number,
                control_site_id=control_site_id,
                location=location,
                contact=contact,
                occurred_at=occurred_at,
                **actor(principal),
            )
            return uow.save(site)

    def activate_site(
        self, principal: Principal, site_id: str, reason: str, effective_at: datetime | None = None
    ) -> CommandResult:
        reason, at = _status_change_input(reason, effective_at)
        with self.ledger.unit_of_work() as uow:
            site = uow.load(Site, site_id)
            _require_control_site_active(uow, site, at, "activated")
            require_licence(site, "activated")
            site.activate(reason, at, **actor(principal))
            return uow.save(site)

    def suspend_site(
        self, principal: Principal, site_id: str, reason: str, effective_at: datetime | None = None
    ) -> CommandResult:
        reason, at = _status_change_input(reason, effective_at)
        with self.ledger.unit_of_work() as uow:
            site = uow.load(Site, site_id)
            site.suspend(reason, at, **actor(principal))
            return uow.save(site)

    def reinstate_site(
        self, principal: Principal, site_id: str, reason: str, effective_at: datetime | None = None
    ) -> CommandResult:
        reason, at = _status_change_input(reason, effective_at)
        with self.ledger.unit_of_work() as uow:
            site = uow.load(Site, site_id)
            _require_control_site_active(uow, site, at, "reinstated")
            require_licence(site, "reinstated")
            site.reinstate(reason, at, **actor(principal))
            return uow.save(site)

    def terminate_site(
        self, principal: Principal, site_id: str, reason: str, effective_at: datetime | None = None
    ) -> CommandResult:
        reason, at = _status_change_input(reason, effective_at)
        with self.ledger.unit_of_work() as uow:
            site = uow.load(Site, site_id)
            site.terminate(reason, at, **actor(principal))
            return uow.save(site)

    def relocate_site(
        self,
        principal: Principal,
        site_id: str,
        location: str,
        reason: str,
        *,
        country: str | None = None,
        supervising_authority: str | None = None,
        effective_at: datetime | None = None,
    ) -> CommandResult:
        reason, at = _status_change_input(reason, effective_at)
        with self.ledger.unit_of_work() as uow:
            site = uow.load(Site, site_id)
            location = require_text(location, "location")
            new_country = require_country(country or site.country, site.jurisdiction)
            if new_country != site.country and not supervising_authority:
                raise BadInputError(
                    f"moving site {site_id!r} from {site.country} to {new_country} changes who "
                    "supervises it; give the new supervisingAuthority",
                    field="supervisingAuthority",
                )
            authority = require_text(
                supervising_authority or site.supervising_authority, "supervisingAuthority"
            )
            require_supervising_authority(site.jurisdiction, new_country, authority)
            site.relocate(location, new_country, authority, reason, at, **actor(principal))
            return uow.save(site)


# -------------------------------------------------------------------------------- internals


def _status_change_input(reason: str, effective_at: datetime | None) -> tuple[str, datetime]:
    reason = require_text(reason, "reason")
    return reason, require_not_future(effective_at or utcnow(), "effectiveAt", utcnow())


def _check_control_site_link(
    uow: UnitOfWork, kind: SiteKind, control_site_id: str | None
) -> str | None:
    control_site_id = _optional_text(control_site_id)
    if kind is SiteKind.CONTROL_SITE:
        if control_site_id:
            raise BadInputError(
                "a CONTROL_SITE answers to no other site; leave controlSiteId empty",
                field="controlSiteId",
            )
        return None
    if control_site_id is None:
        if kind in DECENTRALISED_KINDS:
            raise BadInputError(
                f"a {kind.value} is a decentralised site and must name its control site "
                "in controlSiteId",
                field="controlSiteId",
            )
        return None
    control = uow.load(Site, control_site_id)
    if not control.is_control_site:
        raise RuleViolationError(
            f"site {control_site_id!r} is a {control.kind.value}, not a CONTROL_SITE",
            control_site_id=control_site_id,
        )
    if control.status is SiteStatus.TERMINATED:
        raise RuleViolationError(
            f"control site {control_site_id!r} is TERMINATED and takes no new sites",
            control_site_id=control_site_id,
        )
    return control_site_id


def _require_control_site_active(uow: UnitOfWork, site: Site, at: datetime, verb: str) -> None:
    if site.control_site_id is None:
        return
    control = uow.load(Site, site.control_site_id)
    if control.status is not SiteStatus.ACTIVE or control.status_at(at) is not SiteStatus.ACTIVE:
        raise RuleViolationError(
            f"site {site.key!r} can be {verb} only while its control site "
            f"{control.key!r} is ACTIVE (it is {control.status.value})",
            site_id=site.key,
            control_site_id=control.key,
        )


def _site_kind(kind: str) -> SiteKind:
    try:
        return SiteKind(kind)
    except ValueError:
        raise BadInputError(
            f"kind {kind!r} is not one of {', '.join(k.value for k in SiteKind)}", field="kind"
        ) from None


def _optional_text(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None
