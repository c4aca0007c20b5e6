"""Site authorisation as data (domain/data/site_authorisation.json): which kinds of site need a
licence in each jurisdiction, which kinds may administer to patients, that a decentralised site's
control site is in its own regulatory area, and which authorities may supervise an EU site.

Each rule is a function the command groups call before they record anything; each refusal names
the rule's legal source, so a partner sees why, and a quality unit changes the rule by editing
the data file, not the code.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from domain.shared import RuleViolationError
from domain.site import Site, SiteKind


@dataclass(frozen=True)
class LicenceRule:
    kinds: frozenset[SiteKind]
    source: str


@dataclass(frozen=True)
class Authorisation:
    licence_required: dict[str, LicenceRule]
    may_administer: frozenset[SiteKind]
    administer_source: str
    same_area_source: str
    eu_authorities: dict[str, tuple[tuple[str, ...], ...]]
    eu_source: str


@cache
def authorisation() -> Authorisation:
    text = resources.files("domain.data").joinpath("site_authorisation.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    eu = data["eu_supervising_authorities"]
    return Authorisation(
        licence_required={
            jurisdiction: LicenceRule(frozenset(SiteKind(k) for k in rule["kinds"]), rule["source"])
            for jurisdiction, rule in data["licence_required"].items()
        },
        may_administer=frozenset(SiteKind(k) for k in data["may_administer"]["kinds"]),
        administer_source=data["may_administer"]["source"],
        same_area_source=data["control_site_same_area"]["source"],
        eu_authorities={
            state: tuple(tuple(names) for names in authorities)
            for state, authorities in eu["states"].items()
        },
        eu_source=eu["source"],
    )


def needs_licence(jurisdiction: str, kind: SiteKind) -> bool:
    rule = authorisation().licence_required.get(jurisdiction)
    return rule is not None and kind in rule.kinds


def require_licence(site: Site, verb: str) -> None:
    """A site whose kind needs a licence in its jurisdiction has one before it works."""
    if site.licence_number or not needs_licence(site.jurisdiction, site.kind):
        return
    rule = authorisation().licence_required[site.jurisdiction]
    raise RuleViolationError(
        f"site {site.key!r} is a {site.kind.value} in {site.jurisdiction}, which needs a licence "
        f"to be {verb}; it was registered without a licenceNumber ({rule.source})",
        site_id=site.key,
    )


def require_may_administer(site: Site) -> None:
    """Administration only at a kind of site allowed to administer, licensed where required."""
    rules = authorisation()
    if site.kind not in rules.may_administer:
        allowed = ", ".join(sorted(k.value for k in rules.may_administer))
        raise RuleViolationError(
            f"site {site.key!r} is a {site.kind.value}; a product is administered only at "
            f"a {allowed} ({rules.administer_source})",
            site_id=site.key,
        )
    require_licence(site, "administering")


def require_same_area(control: Site, jurisdiction: str, country: str) -> None:
    """A decentralised site's control site is in the site's own regulatory area."""
    if control.jurisdiction == jurisdiction:
        return
    raise RuleViolationError(
        f"control site {control.key!r} is in {control.jurisdiction} ({control.country}); a site "
        f"in {jurisdiction} ({country}) answers to a control site of its own regulatory area "
        f"({authorisation().same_area_source})",
        control_site_id=control.key,
    )


def require_supervising_authority(jurisdiction: str, country: str, authority: str) -> None:
    """An EU site is supervised by an authority of its own member state (a list as data)."""
    if jurisdiction != "EU":
        return
    rules = authorisation()
    own = rules.eu_authorities.get(country)
    if not own:
        raise RuleViolationError(
            f"no supervising authority of member state {country} is listed yet; the list is "
            "data to extend (domain/data/site_authorisation.json, eu_supervising_authorities)",
            country=country,
        )
    foreign = [
        names[0]
        for state, authorities in rules.eu_authorities.items()
        if state != country
        for names in authorities
        if _names_any(authority, names)
    ]
    if foreign or not any(_names_any(authority, names) for names in own):
        listed = "; ".join(" / ".join(names) for names in own)
        raise RuleViolationError(
            f"supervisingAuthority {authority!r} is not an authority of {country}"
            f"{' (it names ' + ', '.join(foreign) + ')' if foreign else ''}; a site in {country} "
            f"is supervised by one of: {listed} ({rules.eu_source})",
            country=country,
        )


def _names_any(text: str, names: tuple[str, ...]) -> bool:
    return any(re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text, re.IGNORECASE) for name in names)
