"""The Donation aggregate (組織細胞取得): which site took what from which donor, when.

Its key is the donation identifier: an ISBT 128 Donation Identification Number kept as its 13
characters (whatever written form it arrived in), or a local identifier kept as given.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from domain.shared import LedgerAggregate, LedgerCreated


class DonationType(StrEnum):
    AUTOLOGOUS = "AUTOLOGOUS"
    ALLOGENEIC = "ALLOGENEIC"


class Donation(LedgerAggregate):
    TYPE = "Donation"

    class Recorded(LedgerAggregate.Event, LedgerCreated):
        donor_code: str
        donation_type: str
        site_id: str
        material: str
        acquired_at: datetime
        isbt128_din: str | None

    def __init__(
        self,
        donor_code: str,
        donation_type: str,
        site_id: str,
        material: str,
        acquired_at: datetime,
        isbt128_din: str | None,
    ) -> None:
        self.donor_code = donor_code
        self.donation_type = DonationType(donation_type)
        self.site_id = site_id
        self.material = material
        self.acquired_at = acquired_at
        self.isbt128_din = isbt128_din
