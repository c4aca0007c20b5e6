"""The site register: every site's state and status history, at any ledger position.

``site_versions`` keeps one row per version of a site's record, valid from the position that
produced it until the position that replaced it, so "as of position P" is a plain range filter.
A control site's status is copied onto each of its decentralised sites' records, so suspending a
control site shows on every spoke. ``site_status_history`` is append-only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.site import Site
from projections.ledger import Appended
from projections.projection import Projection
from projections.sql import Sql
from projections.versioned import VersionedTable, equal

TABLES = ("site_status_history", "site_versions")

SITES = VersionedTable(
    "site_versions",
    "site_id",
    (
        "site_id",
        "name",
        "kind",
        "jurisdiction",
        "country",
        "supervising_authority",
        "licence_number",
        "control_site_id",
        "location",
        "contact",
        "status",
        "control_site_status",
        "registered_at",
    ),
)


@dataclass(frozen=True)
class StatusChangeView:
    status: str
    at: datetime
    reason: str | None
    actor: str
    actor_role: str
    position: int
    recorded_at: datetime


@dataclass(frozen=True)
class SiteView:
    site_id: str
    name: str
    kind: str
    jurisdiction: str
    country: str
    supervising_authority: str
    licence_number: str | None
    control_site_id: str | None
    location: str | None
    contact: str | None
    status: str
    control_site_status: str | None
    registered_at: datetime
    history: list[StatusChangeView] = field(default_factory=list)

    @property
    def effective_status(self) -> str:
        """A spoke operates only while both it and its control site are ACTIVE."""
        if self.status == "ACTIVE" and self.control_site_status not in (None, "ACTIVE"):
            return "SUSPENDED"
        return self.status


# ------------------------------------------------------------------------------------ writing


def _on_registered(sql: Sql, appended: Appended) -> None:
    event = appended.event
    assert isinstance(event, Site.Registered)
    control_status = None
    if event.control_site_id:
        control = SITES.current(sql, event.control_site_id)
        control_status = control["status"] if control else None
    site_id = event.originator_id.split(":", 1)[1]
    row: dict[str, Any] = {
        "site_id": site_id,
        "name": event.name,
        "kind": event.kind,
        "jurisdiction": event.jurisdiction,
        "country": event.country,
        "supervising_authority": event.supervising_authority,
        "licence_number": event.licence_number,
        "control_site_id": event.control_site_id,
        "location": event.location,
        "contact": event.contact,
        "status": "REGISTERED",
        "control_site_status": control_status,
        "registered_at": event.occurred_at,
    }
    SITES.insert(sql, row, appended.position)
    _record_history(sql, site_id, "REGISTERED", None, appended)


def _on_status_changed(sql: Sql, appended: Appended) -> None:
    event = appended.event
    assert isinstance(event, Site.StatusChanged)
    site_id = event.originator_id.split(":", 1)[1]
    status = event.STATUS.value
    SITES.change(sql, site_id, appended.position, status=status)
    _record_history(sql, site_id, status, event.reason, appended)
    spokes = sql.all(
        "SELECT site_id FROM site_versions WHERE control_site_id = ? AND valid_to IS NULL",
        (site_id,),
    )
    for spoke in spokes:
        SITES.change(sql, spoke["site_id"], appended.position, control_site_status=status)


def _on_relocated(sql: Sql, appended: Appended) -> None:
    event = appended.event
    assert isinstance(event, Site.Relocated)
    SITES.change(
        sql,
        event.originator_id.split(":", 1)[1],
        appended.position,
        location=event.location,
        country=event.country,
        supervising_authority=event.supervising_authority,
    )


PROJECTION = Projection(
    name="sites",
    tables=TABLES,
    handles={
        Site.Registered: _on_registered,
        Site.StatusChanged: _on_status_changed,
        Site.Relocated: _on_relocated,
    },
)


def _record_history(
    sql: Sql, site_id: str, status: str, reason: str | None, appended: Appended
) -> None:
    event = appended.event
    sql.execute(
        "INSERT INTO site_status_history (site_id, position, status, effective_at, reason,"
        " actor, actor_role, recorded_at) VALUES (?,?,?,?,?,?,?,?)",
        (
            site_id,
            appended.position,
            status,
            event.occurred_at,
            reason,
            event.actor,
            event.actor_role,
            appended.recorded_at,
        ),
    )


# ------------------------------------------------------------------------------------ reading


def find_sites(
    sql: Sql,
    position: int,
    *,
    site_ids: list[str] | None = None,
    control_site_id: str | None = None,
    status: str | None = None,
    jurisdiction: str | None = None,
    country: str | None = None,
    decentralised_only: bool = False,
) -> list[SiteView]:
    """Sites as they stood at ``position``, with their history up to it, ordered by id."""
    where, params = equal(
        control_site_id=control_site_id, status=status, jurisdiction=jurisdiction, country=country
    )
    if site_ids is not None:
        if not site_ids:
            return []
        where.append(f"site_id IN ({', '.join('?' * len(site_ids))})")
        params.extend(site_ids)
    if decentralised_only:
        where.append("control_site_id IS NOT NULL")
    rows = SITES.select(sql, position, where, params)
    histories = _histories(sql, [r["site_id"] for r in rows], position)
    return [SiteView(**r, history=histories.get(r["site_id"], [])) for r in rows]


def _histories(sql: Sql, site_ids: list[str], position: int) -> dict[str, list[StatusChangeView]]:
    found: dict[str, list[StatusChangeView]] = {}
    for start in range(0, len(site_ids), 500):
        chunk = site_ids[start : start + 500]
        rows = sql.all(
            "SELECT site_id, status, effective_at, reason, actor, actor_role, position,"
            " recorded_at FROM site_status_history"
            f" WHERE position <= ? AND site_id IN ({', '.join('?' * len(chunk))})"
            " ORDER BY position",
            (position, *chunk),
        )
        for r in rows:
            found.setdefault(r.pop("site_id"), []).append(
                StatusChangeView(at=r.pop("effective_at"), **r)
            )
    return found
