"""Donor-protection rules that read other records in the command's unit of work: the donor's
sealed personal data, the site that registered the donor and the site that collects.

The data they apply is in domain/donor_protection.py; these functions only find which
jurisdiction and which facts apply, so the donor commands stay one call per rule.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from domain.donation import DonationType
from domain.donor import Donor
from domain.donor_protection import (
    every_panel_jurisdiction,
    missing_markers,
    representative_needed,
    require_tissue_allowed,
    required_markers,
)
from domain.ledger import UnitOfWork
from domain.shared import RuleViolationError, Sealer
from domain.site import Site


def donor_jurisdiction(uow: UnitOfWork, donor: Donor) -> str | None:
    """Where the donor was registered; None when no site was named."""
    return None if donor.site_id is None else uow.load(Site, donor.site_id).jurisdiction


def opened_personal_data(sealer: Sealer | None, donor: Donor) -> Mapping[str, Any]:
    """The donor's sealed personal data, opened in memory only to decide a rule; never
    recorded, returned or logged."""
    if donor.sealed_personal_data is None:
        return {}
    if sealer is None:
        raise RuleViolationError(
            f"donor {donor.key!r} has sealed personal data (date of birth, capacity) that decides "
            "whether consent needs a legal representative, and no personal-data key is "
            "configured to read it",
            donor_code=donor.key,
        )
    opened = json.loads(sealer.open(donor.sealed_personal_data, donor.id))
    return opened if isinstance(opened, dict) else {}


def consent_representative_needed(
    uow: UnitOfWork, sealer: Sealer | None, donor: Donor, signed_at: datetime
) -> str | None:
    """Why this donor's consent needs a legal representative (a minor by the age of majority
    of the registering site's jurisdiction, or declared without full capacity), or None."""
    personal = opened_personal_data(sealer, donor)
    return representative_needed(personal, donor_jurisdiction(uow, donor), signed_at)


def eligibility_markers(uow: UnitOfWork, donor: Donor) -> tuple[str, ...]:
    """The panel of the donor's jurisdiction; not knowing it, every configured panel's."""
    jurisdiction = donor_jurisdiction(uow, donor)
    return required_markers([jurisdiction] if jurisdiction else every_panel_jurisdiction())


def require_source_allowed(
    donor: Donor, donation_type: DonationType, site: Site, tissue: str, at: datetime
) -> None:
    """The tissue may be used where it is collected; an allogeneic donation rests on a
    determination whose screening covers the collecting jurisdiction's panel for the tissue
    (e.g. HTLV for leukocyte-rich cells in Taiwan)."""
    require_tissue_allowed(site.jurisdiction, tissue)
    if donation_type is not DonationType.ALLOGENEIC:
        return
    index = donor.latest_determination(at)
    screening = () if index is None else donor.determinations[index].screening
    missing = missing_markers(screening, required_markers([site.jurisdiction], tissue))
    if missing:
        raise RuleViolationError(
            f"donor {donor.key!r}'s eligibility screening has no negative result for "
            f"{', '.join(missing)}, which {site.jurisdiction} requires for {tissue}",
            donor_code=donor.key,
        )
